package room_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/room"
)

func TestOpenHistory(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	a := newPeerAt(t, "alice", home)
	b := newPeer(t, "bob")
	connect(t, a, b)
	a.join("lobby")
	b.join("lobby")
	a.waitMember("lobby", b)
	if _, err := a.m.Send(ctx, "lobby", "hello offline world"); err != nil {
		t.Fatal(err)
	}
	b.waitMessage("lobby", "hello offline world")
	if _, err := b.m.Send(ctx, "lobby", "reply"); err != nil {
		t.Fatal(err)
	}
	a.waitMessage("lobby", "reply")
	a.close()

	h, err := room.OpenHistory(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	msgs, err := h.History(ctx, "Lobby", 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Text != "hello offline world" || !msgs[0].Self || msgs[1].Text != "reply" || msgs[1].Self {
		t.Fatalf("History = %+v", msgs)
	}
	if msgs[0].State == "" {
		t.Error("own message without a state")
	}
	if last, err := h.History(ctx, "lobby", 1, time.Time{}); err != nil || len(last) != 1 || last[0].Text != "reply" {
		t.Errorf("History(1) = %+v, %v", last, err)
	}
	exp, err := h.Export(ctx, "lobby")
	if err != nil || len(exp) != 2 {
		t.Fatalf("Export = %+v, %v", exp, err)
	}
	for _, m := range exp {
		v, err := room.VerifyRecord(m.Record)
		if err != nil || v.Text != m.Text {
			t.Errorf("exported %q: VerifyRecord = %+v, %v", m.Text, v, err)
		}
	}
	hits, err := h.Search(ctx, "offline", "", 10)
	if err != nil || len(hits) != 1 || hits[0].Room != "lobby" || hits[0].Message.Text != "hello offline world" {
		t.Fatalf("Search = %+v, %v", hits, err)
	}
	if _, err := h.History(ctx, "bad name#", 0, time.Time{}); err == nil || errors.Is(err, room.ErrAltered) {
		t.Errorf("History of a bad name: %v", err)
	}
}
