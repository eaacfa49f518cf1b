package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/node/roomnet"
	"github.com/p2pchat/p2pchat/room"
)

// TestLocalThroughAPI drives a real node (one, on loopback, with a
// database) through the Server and Client, events included.
func TestLocalThroughAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a libp2p node")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	home := t.TempDir()
	id, _, err := identity.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	st, err := room.OpenStore(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(ctx, id.PrivKey(), node.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, NoMDNS: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := room.New(room.Config{Identity: id, Transport: roomnet.Transport(n), Nick: "alice", Store: st,
		Timing: room.Timing{FoundWait: 200 * time.Millisecond, Tick: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	local := NewLocal(m)
	_, _, c := serve(t, ServerConfig{Backend: local})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
		<-local.done
		n.Close()
		st.Close()
	})

	events, err := c.Events(ctx, EventsOptions{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	var streamed []Event
	next := func(typ room.EventType) Event {
		t.Helper()
		for {
			ev, err := events.Next()
			if err != nil {
				t.Fatalf("waiting for %s: %v", typ, err)
			}
			streamed = append(streamed, ev)
			if ev.Type == typ {
				if ev.EventID == 0 {
					t.Errorf("%s event without an event id", typ)
				}
				return ev
			}
		}
	}

	self, err := c.Self(ctx)
	if err != nil || self.PeerID != id.PeerID() || self.Fingerprint != id.Fingerprint() || len(self.Addrs) == 0 {
		t.Fatalf("Self: %+v, %v", self, err)
	}
	ri, err := c.Join(ctx, "Lobby", nil)
	if err != nil || ri.Name != "lobby" || ri.Kind != room.KindOpen {
		t.Fatalf("Join: %+v, %v", ri, err)
	}
	if ev := next(room.EventJoined); ev.Room != "lobby" || ev.Kind != room.KindOpen {
		t.Errorf("joined event %+v", ev)
	}
	msg, err := c.Send(ctx, "lobby", "hello <world>", false)
	if err != nil || !msg.Self || msg.Text != "hello <world>" || msg.From != id.PeerID() {
		t.Fatalf("Send: %+v, %v", msg, err)
	}
	if ev := next(room.EventMessage); ev.Message.ID != msg.ID {
		t.Errorf("message event %+v, want %s", ev.Message, msg.ID)
	}
	if h, err := c.History(ctx, "lobby", 10); err != nil || len(h) != 1 || h[0].ID != msg.ID {
		t.Errorf("History: %v, %v", h, err)
	}
	if hits, err := c.Search(ctx, "hello", "", 0); err != nil || len(hits) != 1 || hits[0].Snippet != "[hello] <world>" {
		t.Errorf("Search: %+v, %v", hits, err)
	}
	// A verified peer joins: its member_joined says so, on both paths.
	bobID, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(ctx, bobID.PeerID(), bobID.Fingerprint().String()); err != nil {
		t.Fatal(err)
	}
	bobNode, err := node.New(ctx, bobID.PrivKey(), node.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, NoMDNS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bobNode.Close()
	bob, err := room.New(room.Config{Identity: bobID, Transport: roomnet.Transport(bobNode), Nick: "bob",
		Timing: room.Timing{FoundWait: 200 * time.Millisecond, Tick: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range bob.Events() {
		}
	}()
	defer bob.Close(ctx)
	if err := bobNode.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: n.Addrs()}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, "lobby", room.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := next(room.EventMemberJoined); ev.Peer != bobID.PeerID() || !ev.Verified {
		t.Errorf("member_joined %+v, want bob verified", ev)
	}
	if _, err := c.Join(ctx, "vault", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if kind, err := c.StoredKind(ctx, "vault"); err != nil || kind != room.KindPassphrase {
		t.Errorf("StoredKind: %q, %v", kind, err)
	}
	if err := c.Leave(ctx, "vault"); err != nil {
		t.Fatal(err)
	}
	if ev := next(room.EventLeft); ev.Room != "vault" {
		t.Errorf("left event %+v", ev)
	}
	other, _ := identity.Generate()
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"unknown room", func() error { _, err := c.Room(ctx, "nowhere"); return err }(), room.ErrNotJoined},
		{"empty passphrase", func() error { _, err := c.Join(ctx, "v2", []byte{}); return err }(), room.ErrPassphrase},
		{"bad nick", c.SetNick(ctx, "a#b"), room.ErrNick},
		{"mismatch", c.Verify(ctx, other.PeerID(), id.Fingerprint().String()), room.ErrFingerprint},
		{"bad fingerprint", c.Verify(ctx, other.PeerID(), "x"), identity.ErrBadFingerprint},
	} {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if err := c.Verify(ctx, other.PeerID(), other.Fingerprint().String()); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Verified(ctx, other.PeerID()); err != nil || !v {
		t.Errorf("Verified: %v, %v", v, err)
	}

	// The in-process face reads the same log: the same events, ids and
	// annotations as the socket's stream, up to the last one streamed.
	stop := errors.New("stop")
	var inproc []string
	want := streamed[len(streamed)-1].EventID
	err = local.Follow(ctx, EventsOptions{FromStart: true}, func(e Event) error {
		inproc = append(inproc, summary(e))
		if e.EventID == want {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("Local.Follow: %v", err)
	}
	var socket []string
	for _, e := range streamed {
		socket = append(socket, summary(e))
	}
	if !slices.Equal(inproc, socket) {
		t.Errorf("in process:\n%s\nover the socket:\n%s", strings.Join(inproc, "\n"), strings.Join(socket, "\n"))
	}
}

// summary is what an event says, for comparing event paths.
func summary(e Event) string {
	s := fmt.Sprintf("%d %s room=%s kind=%s verified=%v peer=%s", e.EventID, e.Type, e.Room, e.Kind, e.Verified, e.Peer)
	if e.Message != nil {
		s += fmt.Sprintf(" msg=%s %q %s", e.Message.ID, e.Message.Text, e.Message.State)
	}
	return s
}
