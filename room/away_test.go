package room_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/room"
)

// TestAway: a node marked away tells the members at once, with its text,
// and again when it is back; members list it as away meanwhile, and a
// member that joins later learns it from the presence it is answered
// with. A text no presence may carry is refused.
func TestAway(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := newHomePair(t, t.TempDir())
		if err := a.m.SetAway(ctx, "in a meeting until 3"); err != nil {
			t.Fatal(err)
		}
		b.waitEvent("alice away", func(ev room.Event) bool {
			return ev.Type == room.EventAway && ev.Peer == a.id.PeerID() && ev.Text == "in a meeting until 3"
		})
		r, err := b.m.Room("lobby")
		if err != nil {
			t.Fatal(err)
		}
		if ms := r.Members(); len(ms) != 1 || ms[0].Away != "in a meeting until 3" || ms[0].LastSeen.IsZero() {
			t.Errorf("bob's members %+v", ms)
		}
		c := newPeer(t, "carol")
		connect(t, c, a)
		connect(t, c, b)
		c.join("lobby")
		c.waitEvent("carol learns alice is away", func(ev room.Event) bool {
			return ev.Type == room.EventAway && ev.Peer == a.id.PeerID() && ev.Text == "in a meeting until 3"
		})
		if err := a.m.SetAway(ctx, ""); err != nil {
			t.Fatal(err)
		}
		b.waitEvent("alice back", func(ev room.Event) bool {
			return ev.Type == room.EventAway && ev.Peer == a.id.PeerID() && ev.Text == ""
		})
		if err := a.m.SetAway(ctx, strings.Repeat("x", 129)); !errors.Is(err, room.ErrAway) {
			t.Errorf("a 129-byte away text: %v", err)
		}
		if err := a.m.SetAway(ctx, "two\nlines"); !errors.Is(err, room.ErrAway) {
			t.Errorf("a two-line away text: %v", err)
		}
	})
}

// TestAbsent: a member that left is listed as absent, with its last nick
// and when it was last heard from; a present one is not.
func TestAbsent(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		dir := t.TempDir()
		a, _, c := newHomeTrio(t, dir, 0)
		if err := c.m.Leave(ctx, "lobby"); err != nil {
			t.Fatal(err)
		}
		a.waitEvent("carol left", func(ev room.Event) bool { return ev.Type == room.EventMemberLeft && ev.Peer == c.id.PeerID() })
		r, err := a.m.Room("lobby")
		if err != nil {
			t.Fatal(err)
		}
		abs, err := r.Absent(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(abs) != 1 || abs[0].Peer != c.id.PeerID() || abs[0].Nick != "carol" || abs[0].LastSeen.IsZero() {
			t.Errorf("alice's absent members %+v, want carol", abs)
		}
		for _, mb := range r.Members() {
			if mb.Peer == c.id.PeerID() {
				t.Error("carol is still listed present")
			}
		}
	})
}
