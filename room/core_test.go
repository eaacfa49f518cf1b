package room_test

import (
	"context"
	"slices"
	"testing"

	"github.com/p2pchat/p2pchat/room"
)

func TestManagerCore(t *testing.T) {
	ctx := context.Background()
	a := newPeerAt(t, "alice", t.TempDir())
	b := newPeer(t, "bob")
	if err := a.m.Verify(ctx, b.id.PeerID(), b.id.Fingerprint().String()); err != nil {
		t.Fatal(err)
	}
	connect(t, a, b)
	a.join("lobby")
	b.join("lobby")
	if ev := a.waitEvent("joined", func(ev room.Event) bool { return ev.Type == room.EventJoined }); ev.Kind != room.KindOpen {
		t.Errorf("joined kind %q, want %q", ev.Kind, room.KindOpen)
	}
	ev := a.waitEvent("member_joined bob", func(ev room.Event) bool {
		return ev.Type == room.EventMemberJoined && ev.Peer == b.id.PeerID()
	})
	if !ev.Verified {
		t.Error("alice: bob's member_joined not verified")
	}
	ev = b.waitEvent("member_joined alice", func(ev room.Event) bool {
		return ev.Type == room.EventMemberJoined && ev.Peer == a.id.PeerID()
	})
	if ev.Verified {
		t.Error("bob: alice's member_joined verified")
	}

	self := a.m.Self()
	if self.PeerID != a.id.PeerID() || self.Fingerprint != a.id.Fingerprint() || self.Nick != "alice" || len(self.Addrs) == 0 {
		t.Errorf("Self = %+v", self)
	}
	if n := a.m.PeerCount(); n != 1 {
		t.Errorf("PeerCount = %d, want 1", n)
	}
	peers := a.m.Peers(ctx)
	if len(peers) != 1 {
		t.Fatalf("Peers = %+v, want bob", peers)
	}
	if p := peers[0]; p.PeerID != b.id.PeerID() || p.Fingerprint != b.id.Fingerprint() || p.Nick != "bob" || !p.Verified || len(p.Addrs) == 0 {
		t.Errorf("Peers[0] = %+v", p)
	}
	if kind, err := a.m.StoredKind(ctx, "Lobby"); err != nil || kind != room.KindOpen {
		t.Errorf("StoredKind = %q, %v; want %q", kind, err, room.KindOpen)
	}
	if names, err := a.m.StoredRooms(ctx); err != nil || !slices.Equal(names, []string{"lobby"}) {
		t.Errorf("StoredRooms = %q, %v", names, err)
	}
	if kind, err := b.m.StoredKind(ctx, "lobby"); err != nil || kind != "" {
		t.Errorf("no store: StoredKind = %q, %v", kind, err)
	}
	if err := a.m.Leave(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if kind, err := a.m.StoredKind(ctx, "lobby"); err != nil || kind != "" {
		t.Errorf("after leave: StoredKind = %q, %v", kind, err)
	}
	if _, err := a.m.StoredKind(ctx, "bad name#"); err == nil {
		t.Error("StoredKind of a bad name: no error")
	}
}
