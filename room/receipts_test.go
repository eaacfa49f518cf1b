package room_test

import (
	"context"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/room"
)

// TestSeenSoon: an own message delivered to a member shows as seen by it
// within about a second (issue 13 item 7: it took up to the next periodic
// sync, 30 s by default), without waiting for the periodic sync.
func TestSeenSoon(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		slow := fastTiming
		slow.SyncInterval = 30 * time.Second // the default
		a := newPeerTimed(t, "alice", t.TempDir(), slow)
		b := newPeerTimed(t, "bob", t.TempDir(), slow)
		connect(t, a, b)
		a.join("lobby")
		<-mustRoom(t, a, "lobby").Ready()
		b.join("lobby")
		a.waitMember("lobby", b)
		b.waitMember("lobby", a)
		quiet(t, 2*time.Second) // the syncs that come with a new member are over
		msg, err := a.m.Send(context.Background(), "lobby", "did you get this?")
		if err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		b.waitMessage("lobby", "did you get this?")
		ev := a.waitEvent("seen by bob", func(ev room.Event) bool {
			return ev.Type == room.EventState && ev.Message != nil && ev.Message.ID == msg.ID && ev.Message.SeenBy >= 1
		})
		if took := time.Since(sent); took > 2*time.Second {
			t.Errorf("seen by bob %v after sending (virtual time), want within about a second: %+v", took, ev.Message)
		}
	})
}
