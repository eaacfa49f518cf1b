package room_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/store"
)

// TestAlteredRecord: one message edited in bob's database (text and signed
// record alike) is left out, with a count, by history, export and search,
// which still show everything else; bob's node says at start that the
// database was altered, counts it in its status and takes alice's verified
// copy in its place at the next sync.
func TestAlteredRecord(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		dir := t.TempDir()
		a, b := newHomePair(t, dir)
		for _, text := range []string{"one", "two", "three"} {
			if _, err := a.m.Send(ctx, "lobby", text); err != nil {
				t.Fatal(err)
			}
		}
		b.waitMessage("lobby", "three")
		b.close()
		hb := filepath.Join(dir, "b")
		alterText(t, hb, "two", "TWO")

		h, err := room.OpenHistory(ctx, hb)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := h.History(ctx, "lobby", 0, time.Time{})
		if err != nil {
			t.Fatalf("History stops at the altered message: %v", err)
		}
		if got := texts(msgs); got != "one,three" {
			t.Errorf("History shows %q, want one,three", got)
		}
		if exp, err := h.Export(ctx, "lobby"); err != nil || texts(exp) != "one,three" {
			t.Errorf("Export = %q, %v", texts(exp), err)
		}
		if hits, err := h.Search(ctx, "TWO", "", 10); err != nil || len(hits) != 0 {
			t.Errorf("Search finds the altered text: %d hits, %v", len(hits), err)
		}
		if hits, err := h.Search(ctx, "three", "", 10); err != nil || len(hits) != 1 {
			t.Errorf("Search three: %d hits, %v", len(hits), err)
		}
		if n, err := h.Altered(); n != 1 || !errors.Is(err, room.ErrAltered) {
			t.Errorf("Altered() = %d, %v; want 1 and ErrAltered", n, err)
		}
		h.Close()

		// Bob starts again: he is told, and alice's copy replaces it.
		b = newPeerAt(t, "bob", hb)
		connect(t, a, b)
		b.join("lobby")
		ev := b.waitEvent("the database was altered", func(ev room.Event) bool {
			return ev.Type == room.EventError && errors.Is(ev.Err, room.ErrAltered)
		})
		if ev.Reason != room.ReasonStore {
			t.Errorf("reason %q, want %q", ev.Reason, room.ReasonStore)
		}
		if n := mustRoom(t, b, "lobby").Status().Drops[room.DropAltered]; n != 1 {
			t.Errorf("status counts %d altered messages, want 1", n)
		}
		b.waitEvent("two again by sync", func(ev room.Event) bool {
			return ev.Type == room.EventMessage && ev.Message.Synced && ev.Message.Text == "two"
		})
		msgs, err = b.m.History(ctx, "lobby", 0)
		if err != nil || texts(msgs) != "one,two,three" {
			t.Errorf("history after sync = %q, %v; want one,two,three", texts(msgs), err)
		}
	})
}

// alterText edits, in the closed database of home, the message whose text
// is from: its text column and the text inside its signed record.
func alterText(t *testing.T, home, from, to string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(home, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rec []byte
	if err := db.QueryRow(`SELECT record FROM messages WHERE text = ?`, from).Scan(&rec); err != nil {
		t.Fatal(err)
	}
	altered := bytes.Replace(rec, []byte(from), []byte(to), 1)
	if bytes.Equal(altered, rec) {
		t.Fatal("text not found in the record")
	}
	if _, err := db.Exec(`UPDATE messages SET text = ?, record = ? WHERE text = ?`, to, altered, from); err != nil {
		t.Fatal(err)
	}
}

func texts(msgs []*room.Message) string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return joinComma(out)
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x)
	}
	return b.String()
}
