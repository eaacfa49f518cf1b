package room_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/internal/syncbuf"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/node/roomnet"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/internal/memnet"
	"github.com/p2pchat/p2pchat/room/store"
)

// fastTiming keeps tests quick; the protocol is the same.
var fastTiming = room.Timing{
	FoundWait:    300 * time.Millisecond,
	Heartbeat:    time.Second,
	AdmitTimeout: 3 * time.Second,
	BufferTTL:    time.Second,
	RekeyWait:    time.Second,
	Tick:         100 * time.Millisecond,
	SyncInterval: time.Second,
}

// testNet is the network a test's peers run on: real libp2p hosts on
// loopback TCP, or an in-memory memnet.Network (then the test runs in a
// synctest bubble, on virtual time).
type testNet struct {
	mem *memnet.Network // nil: real sockets
}

var testNets sync.Map // testing.TB -> *testNet

// newTestNet makes the network that newPeer uses for tb's peers. Tests that
// do not call it run on real sockets.
func newTestNet(tb testing.TB, realSocket bool) *testNet {
	tn := &testNet{}
	if !realSocket {
		tn.mem = memnet.New(1)
	}
	testNets.Store(tb, tn)
	tb.Cleanup(func() { testNets.Delete(tb) })
	return tn
}

// inBubble runs f in a synctest bubble on a memnet network, with virtual
// time: goroutines left in the bubble fail the test.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		newTestNet(t, false)
		f(t)
	})
}

// quiet lets d pass so that anything in flight lands before a test checks
// that nothing (more) happened: on memnet it is virtual time, then
// synctest.Wait until every goroutine is idle.
func quiet(t testing.TB, d time.Duration) {
	if tn, ok := testNets.Load(t); ok && tn.(*testNet).mem != nil {
		<-time.After(d)
		synctest.Wait()
		return
	}
	time.Sleep(d)
}

// peerNode is one in-process p2pchat node, on real loopback TCP (n) or on
// memnet (ep).
type peerNode struct {
	t    testing.TB
	id   *identity.Identity
	n    *node.Node
	ep   *memnet.Endpoint
	tr   room.Transport
	mem  *memnet.Network
	m    *room.Manager
	st   *store.Store // nil without a home
	nick string

	closeOnce sync.Once

	mu     sync.Mutex
	events []room.Event
	wake   chan struct{}
	done   chan struct{}
}

// debugLogs holds, per test, the debug log of its nodes when
// P2PCHAT_TEST_DEBUG=mem.
var debugLogs sync.Map // testing.TB -> *syncbuf.Buffer

// debugLog returns the debug log kept for t's nodes and forgets it ("" if
// none was kept).
func debugLog(t testing.TB) string {
	buf, ok := debugLogs.LoadAndDelete(t)
	if !ok {
		return ""
	}
	return buf.(*syncbuf.Buffer).String()
}

func newPeer(t testing.TB, nick string) *peerNode {
	t.Helper()
	return newPeerAt(t, nick, "")
}

// newPeerAt starts a node whose identity and database live in home (none
// if home is ""), so that it can be stopped and started again.
func newPeerAt(t testing.TB, nick, home string) *peerNode {
	t.Helper()
	return newPeerTimed(t, nick, home, fastTiming)
}

// newPeerTimed is newPeerAt with the given timing.
func newPeerTimed(t testing.TB, nick, home string, timing room.Timing) *peerNode {
	t.Helper()
	var id *identity.Identity
	var st *store.Store
	var err error
	if home == "" {
		id, err = identity.Generate()
	} else {
		id, _, err = identity.LoadOrCreate(home)
		if err == nil {
			st, err = store.Open(context.Background(), home)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	p := &peerNode{t: t, id: id, st: st, nick: nick, wake: make(chan struct{}, 1), done: make(chan struct{})}
	var tr room.Transport
	if tn, ok := testNets.Load(t); ok && tn.(*testNet).mem != nil {
		p.mem = tn.(*testNet).mem
		p.ep = p.mem.Endpoint(id.PeerID())
		tr = p.ep
	} else {
		n, err := node.New(context.Background(), id.PrivKey(), node.Config{
			ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
			NoMDNS:      true,
		})
		if err != nil {
			t.Fatal(err)
		}
		p.n, tr = n, roomnet.Transport(n)
	}
	var lg *slog.Logger
	switch os.Getenv("P2PCHAT_TEST_DEBUG") {
	case "":
	case "mem":
		// Kept in memory, for a failing simulation seed to save (see
		// debugLog): logging to stderr slows nodes enough to hide races.
		buf, _ := debugLogs.LoadOrStore(t, new(syncbuf.Buffer))
		lg = slog.New(slog.NewTextHandler(buf.(*syncbuf.Buffer), &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", nick)
	default:
		lg = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", nick)
	}
	m, err := room.New(room.Config{Identity: id, Transport: tr, Nick: nick, Timing: timing, Store: st, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	p.m, p.tr = m, tr
	go func() {
		defer close(p.done)
		for ev := range m.Events() {
			p.mu.Lock()
			p.events = append(p.events, ev)
			p.mu.Unlock()
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *peerNode) close() {
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.m.Close(ctx)
		<-p.done
		p.closeNet()
		if p.st != nil {
			p.st.Close()
		}
	})
}

// closeNet takes the peer off the network without leaving its rooms.
func (p *peerNode) closeNet() {
	if p.ep != nil {
		p.ep.Close()
	} else {
		p.n.Close()
	}
}

// block cuts p off from q (on memnet, both ways).
func (p *peerNode) block(q *peerNode) {
	if p.ep != nil {
		p.mem.Block(p.id.PeerID(), q.id.PeerID())
	} else {
		p.n.Block(q.id.PeerID())
	}
}

func (p *peerNode) unblock(q *peerNode) {
	if p.ep != nil {
		p.mem.Unblock(p.id.PeerID(), q.id.PeerID())
	} else {
		p.n.Unblock(q.id.PeerID())
	}
}

func (p *peerNode) addr() peer.AddrInfo {
	return peer.AddrInfo{ID: p.n.ID(), Addrs: p.n.Addrs()}
}

func connect(t testing.TB, a, b *peerNode) {
	t.Helper()
	if a.ep != nil {
		if err := a.mem.Connect(a.id.PeerID(), b.id.PeerID()); err != nil {
			t.Fatal(err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.n.Connect(ctx, b.addr()); err != nil {
		t.Fatal(err)
	}
}

func (p *peerNode) join(name string) *room.Room {
	p.t.Helper()
	return p.joinWith(name, room.JoinOptions{})
}

func (p *peerNode) joinWith(name string, opts room.JoinOptions) *room.Room {
	p.t.Helper()
	r, err := p.m.Join(context.Background(), name, opts)
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// waitEvent waits (bounded) for an event matching f and returns it.
func (p *peerNode) waitEvent(what string, f func(room.Event) bool) room.Event {
	p.t.Helper()
	deadline := time.After(20 * time.Second)
	seen := 0
	for {
		p.mu.Lock()
		evs := p.events[seen:]
		p.mu.Unlock()
		for _, ev := range evs {
			seen++
			if f(ev) {
				return ev
			}
		}
		select {
		case <-p.wake:
		case <-deadline:
			p.t.Fatalf("%s: timed out waiting for %s; events: %v", p.nick, what, p.snapshot())
		}
	}
}

func (p *peerNode) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, ev := range p.events {
		s := string(ev.Type)
		if ev.Message != nil {
			s += ":" + ev.Message.Text
		}
		if ev.Nick != "" {
			s += ":" + ev.Nick
		}
		if ev.Err != nil {
			s += ":" + ev.Err.Error()
		}
		out = append(out, s)
	}
	return out
}

func (p *peerNode) waitMember(room string, q *peerNode) {
	p.t.Helper()
	p.waitEvent("member_joined "+q.nick, func(ev roomEvent) bool {
		return ev.Type == "member_joined" && ev.Room == room && ev.Peer == q.id.PeerID()
	})
}

type roomEvent = room.Event

// messages returns the texts of the message events from others in room.
func (p *peerNode) messages(roomName string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, ev := range p.events {
		if ev.Type == room.EventMessage && ev.Room == roomName && !ev.Message.Self {
			out = append(out, ev.Message.Text)
		}
	}
	return out
}

func (p *peerNode) waitMessage(roomName, text string) *room.Message {
	p.t.Helper()
	return p.waitEvent("message "+text, func(ev room.Event) bool {
		return ev.Type == room.EventMessage && ev.Room == roomName && ev.Message.Text == text
	}).Message
}

// TestThreeNodesChat runs on memnet and, as the real-socket check of chat
// over gossipsub, on libp2p.
func TestThreeNodesChat(t *testing.T) {
	t.Run("memnet", func(t *testing.T) {
		t.Parallel()
		inBubble(t, testThreeNodesChat)
	})
	t.Run("libp2p", func(t *testing.T) {
		t.Parallel()
		newTestNet(t, true)
		testThreeNodesChat(t)
	})
}

func testThreeNodesChat(t *testing.T) {
	a, b, c := newPeer(t, "alice"), newPeer(t, "bob"), newPeer(t, "carol")
	connect(t, b, a)
	connect(t, c, a)
	connect(t, c, b)
	a.join("lobby")
	<-mustRoom(t, a, "lobby").Ready()
	b.join("Lobby") // names are case-folded: same room
	c.join(" LOBBY ")
	all := []*peerNode{a, b, c}
	for _, x := range all {
		for _, y := range all {
			if x != y {
				x.waitMember("lobby", y)
			}
		}
	}
	for _, x := range all {
		if _, err := x.m.Send(context.Background(), "lobby", "hi from "+x.nick); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range all {
		for _, y := range all {
			if x != y {
				m := x.waitMessage("lobby", "hi from "+y.nick)
				if m.From != y.id.PeerID() || m.Nick != y.nick || m.Self {
					t.Errorf("%s got %+v from %s", x.nick, m, y.nick)
				}
			}
		}
	}
	// Key agreement: one key for all.
	key := a.m.Status().Rooms[0].KeyID
	for _, x := range all {
		st := x.m.Status().Rooms[0]
		if st.KeyID != key || st.Members != 2 {
			t.Errorf("%s: key %s members %d; want key %s and 2 members", x.nick, st.KeyID, st.Members, key)
		}
	}
	// Nothing shown twice.
	quiet(t, 200*time.Millisecond)
	for _, x := range all {
		if got := x.messages("lobby"); len(got) != 2 {
			t.Errorf("%s shows %d messages from others, want 2: %q", x.nick, len(got), got)
		}
	}
}

func mustRoom(t testing.TB, p *peerNode, name string) *room.Room {
	t.Helper()
	r, err := p.m.Room(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSendOnMemberJoined sends the instant member_joined fires, on both
// sides, many times over: each message must arrive.
func TestSendOnMemberJoined(t *testing.T) {
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			inBubble(t, func(t *testing.T) {
				a, b := newPeer(t, "alice"), newPeer(t, "bob")
				a.join("lobby")
				<-mustRoom(t, a, "lobby").Ready()
				connect(t, b, a)
				b.join("lobby")
				var wg sync.WaitGroup
				for _, pair := range [][2]*peerNode{{a, b}, {b, a}} {
					x, y := pair[0], pair[1]
					wg.Go(func() {
						x.waitMember("lobby", y)
						if _, err := x.m.Send(context.Background(), "lobby", "instant from "+x.nick); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				a.waitMessage("lobby", "instant from bob")
				b.waitMessage("lobby", "instant from alice")
			})
		})
	}
}

// TestSimultaneousStart starts nodes that each create a key before they
// meet (a partition heals, or all started at once): they must converge on
// one key, the one the rule picks, and then talk.
func TestSimultaneousStart(t *testing.T) {
	for _, connectFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("connected-before-join=%v", connectFirst), func(t *testing.T) {
			t.Parallel()
			inBubble(t, func(t *testing.T) {
				ps := []*peerNode{newPeer(t, "n0"), newPeer(t, "n1"), newPeer(t, "n2"), newPeer(t, "n3")}
				if connectFirst {
					for i := range ps {
						for j := range i {
							connect(t, ps[i], ps[j])
						}
					}
				}
				var wg sync.WaitGroup
				for _, p := range ps {
					wg.Go(func() { p.join("lobby") })
				}
				wg.Wait()
				keys := map[string]bool{}
				for _, p := range ps {
					<-mustRoom(t, p, "lobby").Ready()
					keys[p.m.Status().Rooms[0].KeyID] = true
				}
				t.Logf("%d distinct keys created before meeting", len(keys))
				if !connectFirst {
					if len(keys) != len(ps) {
						t.Fatalf("isolated nodes made %d keys, want %d", len(keys), len(ps))
					}
					for i := range ps {
						for j := range i {
							connect(t, ps[i], ps[j])
						}
					}
				}
				// Every node ends in one epoch whose roster is all of them.
				deadline := time.Now().Add(20 * time.Second)
				for {
					key, same := ps[0].m.Status().Rooms[0].KeyID, true
					for _, p := range ps {
						if st := p.m.Status().Rooms[0]; st.KeyID != key || st.Roster != len(ps) {
							same = false
						}
					}
					if same {
						break
					}
					if time.Now().After(deadline) {
						for _, p := range ps {
							t.Logf("%s: %+v", p.nick, p.m.Status().Rooms[0])
						}
						t.Fatal("keys did not converge")
					}
					quiet(t, 50*time.Millisecond)
				}
				for _, p := range ps {
					for _, q := range ps {
						if p != q {
							p.waitMember("lobby", q)
						}
					}
				}
				if _, err := ps[3].m.Send(context.Background(), "lobby", "converged"); err != nil {
					t.Fatal(err)
				}
				for _, p := range ps[:3] {
					p.waitMessage("lobby", "converged")
				}
			})
		})
	}
}

// newPair returns alice and bob, connected, both members of each room.
func newPair(t *testing.T, rooms ...string) (*peerNode, *peerNode) {
	t.Helper()
	a, b := newPeer(t, "alice"), newPeer(t, "bob")
	connect(t, a, b)
	for _, name := range rooms {
		a.join(name)
		b.join(name)
		a.waitMember(name, b)
		b.waitMember(name, a)
	}
	return a, b
}

func TestLeave(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b := newPair(t, "lobby")
		if err := b.m.Leave(context.Background(), "lobby"); err != nil {
			t.Fatal(err)
		}
		ev := a.waitEvent("member_left", func(ev room.Event) bool {
			return ev.Type == room.EventMemberLeft && ev.Peer == b.id.PeerID()
		})
		if ev.Reason != "left" {
			t.Errorf("reason %q, want left", ev.Reason)
		}
		if ms := mustRoom(t, a, "lobby").Members(); len(ms) != 0 {
			t.Errorf("members after leave: %v", ms)
		}
		if _, err := b.m.Send(context.Background(), "lobby", "x"); !errors.Is(err, room.ErrNotJoined) {
			t.Errorf("send after leave: %v", err)
		}
	})
}

func TestNickChange(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b := newPair(t, "lobby")
		if err := b.m.SetNick(context.Background(), "robert"); err != nil {
			t.Fatal(err)
		}
		a.waitEvent("nick", func(ev room.Event) bool {
			return ev.Type == room.EventNick && ev.Nick == "robert" && ev.OldNick == "bob"
		})
		if err := b.m.SetNick(context.Background(), "bad nick"); !errors.Is(err, room.ErrNick) {
			t.Errorf("SetNick with a space: %v", err)
		}
	})
}

func TestLimits(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a := newPeer(t, "alice")
		a.join("lobby")
		<-mustRoom(t, a, "lobby").Ready()
		_, err := a.m.Send(context.Background(), "lobby", strings.Repeat("x", room.MaxText+1))
		if !errors.Is(err, room.ErrTooLong) {
			t.Errorf("oversized message: %v", err)
		}
		if _, err := a.m.Send(context.Background(), "lobby", strings.Repeat("x", room.MaxText)); err != nil {
			t.Errorf("largest message: %v", err)
		}
		if _, err := a.m.Send(context.Background(), "nowhere", "x"); !errors.Is(err, room.ErrNotJoined) {
			t.Errorf("unknown room: %v", err)
		}
		for _, bad := range []string{"", "   ", "a b", "/x", strings.Repeat("a", room.MaxNameLen+1), "a\x00b"} {
			if _, err := a.m.Join(context.Background(), bad, room.JoinOptions{}); !errors.Is(err, room.ErrBadName) {
				t.Errorf("Join(%q): %v", bad, err)
			}
		}
	})
}
