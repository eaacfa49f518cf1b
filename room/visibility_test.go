package room_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/room"
)

// newHomeTrio starts alice, bob and carol with homes under dir, alice's
// clock shifted by skew, all members of lobby.
func newHomeTrio(t *testing.T, dir string, skew time.Duration) (a, b, c *peerNode) {
	t.Helper()
	a = newPeerAt(t, "alice", filepath.Join(dir, "a"))
	a.m.SetClockForTest(func() time.Time { return time.Now().Add(skew) })
	b = newPeerAt(t, "bob", filepath.Join(dir, "b"))
	c = newPeerAt(t, "carol", filepath.Join(dir, "c"))
	connect(t, a, b)
	connect(t, a, c)
	connect(t, b, c)
	a.join("lobby")
	b.join("lobby")
	a.waitMember("lobby", b)
	b.waitMember("lobby", a)
	c.join("lobby")
	for _, p := range []*peerNode{a, b} {
		p.waitMember("lobby", c)
		c.waitMember("lobby", p)
	}
	return a, b, c
}

// TestRejoinedMemberNotServedAbsence: carol leaves, alice and bob talk
// under an epoch without her, carol is admitted again: sync must not
// hand her what was said while she was away (it did when visibility
// started at the time a member was first seen), and she still gets what
// was said under epochs that held her.
func TestRejoinedMemberNotServedAbsence(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b, c := newHomeTrio(t, t.TempDir(), 0)
		ctx := context.Background()
		if _, err := a.m.Send(ctx, "lobby", "before carol left"); err != nil {
			t.Fatal(err)
		}
		c.waitMessage("lobby", "before carol left")
		if err := c.m.Leave(ctx, "lobby"); err != nil {
			t.Fatal(err)
		}
		a.waitEvent("carol left", func(e room.Event) bool { return e.Type == room.EventMemberLeft && e.Peer == c.id.PeerID() })
		// Send waits for the epoch without carol.
		if _, err := a.m.Send(ctx, "lobby", "while carol was away"); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("lobby", "while carol was away")

		c.join("lobby")
		waitJoinedAgain(a, c)
		waitJoinedAgain(b, c)
		if _, err := b.m.Send(ctx, "lobby", "after carol came back"); err != nil {
			t.Fatal(err)
		}
		c.waitMessage("lobby", "after carol came back")
		quiet(t, 3*fastTiming.SyncInterval) // periodic syncs with both run
		if hasText(c, "lobby", "while carol was away") {
			t.Errorf("carol was served what was sent while she was away; events: %v", c.snapshot())
		}
		if got := historyTexts(t, c, "lobby"); strings.Contains(strings.Join(got, "|"), "while carol was away") {
			t.Errorf("carol stores %q", got)
		}
	})
}

// TestMissedWhilePartitioned: a member that misses a message (its
// envelopes are lost; it stays in the roster) gets it by sync, also when
// the author's clock is 3 days behind or ahead: what it may receive
// depends on the epoch, not on anyone's clock.
func TestMissedWhilePartitioned(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		skew time.Duration
	}{
		{"clocks agree", 0},
		{"author 3 days behind", -72 * time.Hour},
		{"author 3 days ahead", 72 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inBubble(t, func(t *testing.T) {
				a, b, c := newHomeTrio(t, t.TempDir(), tc.skew)
				// Let the join's syncs settle, so that the servers' first
				// sight of carol is well before the message.
				quiet(t, 100*time.Millisecond)
				// Every envelope is lost for a moment (shorter than the
				// member timeout; streams, and so sync, still work).
				a.mem.SetLoss(1)
				if _, err := a.m.Send(context.Background(), "lobby", "while carol was cut off"); err != nil {
					t.Fatal(err)
				}
				quiet(t, 200*time.Millisecond)
				if hasText(c, "lobby", "while carol was cut off") {
					t.Fatal("carol got the message although every envelope was lost")
				}
				a.mem.SetLoss(0)
				m := c.waitMessage("lobby", "while carol was cut off")
				if !m.Synced {
					t.Errorf("carol got it live, not by sync: %+v", m)
				}
				b.waitMessage("lobby", "while carol was cut off")
			})
		})
	}
}

// waitJoinedAgain waits for p's second member_joined event of q: q was
// admitted again (waitMember would see the first one).
func waitJoinedAgain(p, q *peerNode) {
	p.t.Helper()
	n := 0
	p.waitEvent("member_joined "+q.nick+" again", func(ev room.Event) bool {
		if ev.Type == room.EventMemberJoined && ev.Peer == q.id.PeerID() {
			n++
		}
		return n == 2
	})
}
