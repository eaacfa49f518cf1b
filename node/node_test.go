package node

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/transport"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/multiformats/go-multiaddr"
)

// waitTimeout bounds every wait for something to happen. It is generous on
// purpose: tests wait for events, they never assert how fast they happen.
const waitTimeout = 15 * time.Second

var loopback = []string{"/ip4/127.0.0.1/tcp/0"}

func newKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestNode starts a node on loopback (unless cfg says otherwise) and
// closes it when the test ends. cfg.NoMDNS is the caller's choice.
func newTestNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	return newTestNodeWithKey(t, newKey(t), cfg)
}

func newTestNodeWithKey(t testing.TB, k crypto.PrivKey, cfg Config) *Node {
	t.Helper()
	if cfg.ListenAddrs == nil {
		cfg.ListenAddrs = loopback
	}
	n, err := New(context.Background(), k, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// loopbackAddr returns n's IPv4 loopback address with /p2p.
func loopbackAddr(t testing.TB, n *Node) string {
	t.Helper()
	for _, a := range n.Addrs() {
		if strings.HasPrefix(a.String(), "/ip4/127.0.0.1/") {
			return a.String()
		}
	}
	t.Fatalf("no loopback address in %v", n.Addrs())
	return ""
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noticeLog collects notices; its add method is a valid Config.Notify.
type noticeLog struct {
	mu   sync.Mutex
	list []Notice
}

func (l *noticeLog) add(n Notice) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, n)
}

func (l *noticeLog) count(kind NoticeKind, p peer.ID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := 0
	for _, n := range l.list {
		if n.Kind == kind && n.Peer == p {
			c++
		}
	}
	return c
}

func (l *noticeLog) kinds(p peer.ID) []NoticeKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks []NoticeKind
	for _, n := range l.list {
		if n.Peer == p {
			ks = append(ks, n.Kind)
		}
	}
	return ks
}

func (l *noticeLog) find(kind NoticeKind, p peer.ID) (Notice, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.list {
		if n.Kind == kind && n.Peer == p {
			return n, true
		}
	}
	return Notice{}, false
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestNewRejectsBadConfig(t *testing.T) {
	ghost, err := peer.IDFromPrivateKey(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     crypto.PrivKey
		cfg     Config
		wantErr string
	}{
		{"nil key", nil, Config{NoMDNS: true}, "nil private key"},
		{"bad listen addr", key, Config{NoMDNS: true, ListenAddrs: []string{"tcp://0.0.0.0:1"}}, "tcp://0.0.0.0:1"},
		{"listen addr without transport", key, Config{NoMDNS: true, ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}}, "/ip4/127.0.0.1/udp/0/quic-v1"},
		{"bad peer addr", key, Config{NoMDNS: true, Peers: []string{"not-a-multiaddr"}}, "not-a-multiaddr"},
		{"peer addr without ID", key, Config{NoMDNS: true, Peers: []string{"/ip4/127.0.0.1/tcp/4001"}}, "/ip4/127.0.0.1/tcp/4001"},
		{"own ID as peer", key, Config{NoMDNS: true, Peers: []string{"/ip4/127.0.0.1/tcp/4001/p2p/" + self.String()}}, "own ID"},
		{"good and bad peer", key, Config{NoMDNS: true, Peers: []string{"/ip4/127.0.0.1/tcp/4001/p2p/" + ghost.String(), "/ip4/1.2.3/tcp/1"}}, "/ip4/1.2.3/tcp/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.ListenAddrs == nil {
				tt.cfg.ListenAddrs = loopback
			}
			n, err := New(context.Background(), tt.key, tt.cfg)
			if err == nil {
				n.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultListenAddrs(t *testing.T) {
	// Not newTestNode, which would replace nil with loopback.
	d, err := New(context.Background(), newKey(t), Config{NoMDNS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var v4, v4wild bool
	for _, a := range d.host.Network().ListenAddresses() {
		s := a.String()
		v4 = v4 || strings.HasPrefix(s, "/ip4/")
		v4wild = v4wild || strings.HasPrefix(s, "/ip4/0.0.0.0/tcp/")
	}
	if !v4 || !v4wild {
		t.Errorf("listen addresses %v: want /ip4/0.0.0.0/tcp/…", d.host.Network().ListenAddresses())
	}
	addrs := d.Addrs()
	if !slices.IsSortedFunc(addrs, func(a, b multiaddr.Multiaddr) int { return strings.Compare(a.String(), b.String()) }) {
		t.Errorf("Addrs not sorted: %v", addrs)
	}
	var sawLoopback bool
	for _, a := range addrs {
		if !strings.HasSuffix(a.String(), "/p2p/"+d.ID().String()) {
			t.Errorf("address %s does not end in /p2p/<id>", a)
		}
		sawLoopback = sawLoopback || strings.HasPrefix(a.String(), "/ip4/127.0.0.1/tcp/")
		if strings.Contains(a.String(), "0.0.0.0") {
			t.Errorf("Addrs returned an unspecified address: %s", a)
		}
	}
	if !sawLoopback {
		t.Errorf("Addrs %v has no loopback address", addrs)
	}
}

func TestConfiguredPeerConnects(t *testing.T) {
	var logA, logB noticeLog
	a := newTestNode(t, Config{NoMDNS: true, Notify: logA.add})
	start := time.Now()
	b := newTestNode(t, Config{NoMDNS: true, Notify: logB.add, Peers: []string{loopbackAddr(t, a)}})

	waitFor(t, "B connected to A", func() bool { return slices.Equal(b.ConnectedPeers(), []peer.ID{a.ID()}) })
	t.Logf("configured peer connected after %v", time.Since(start))
	waitFor(t, "A connected to B", func() bool { return slices.Equal(a.ConnectedPeers(), []peer.ID{b.ID()}) })

	for _, c := range b.host.Network().ConnsToPeer(a.ID()) {
		st := c.ConnState()
		if st.Security != noise.ID || st.Transport != "tcp" {
			t.Errorf("connection state %+v: want security %s over tcp", st, noise.ID)
		}
	}
	waitFor(t, "connected notices", func() bool {
		return logB.count(NoticePeerConnected, a.ID()) == 1 && logA.count(NoticePeerConnected, b.ID()) == 1
	})
	nt, _ := logB.find(NoticePeerConnected, a.ID())
	if !strings.HasPrefix(nt.Addr, "/ip4/127.0.0.1/tcp/") || nt.Err != nil {
		t.Errorf("connected notice %+v", nt)
	}
	if got := logB.count(NoticePeerUnreachable, a.ID()); got != 0 {
		t.Errorf("%d unreachable notices for a reachable peer", got)
	}
}

// TestConfiguredPeerRedials drops the connection, then restarts the peer on
// the same port: the node must reconnect both times.
func TestConfiguredPeerRedials(t *testing.T) {
	var logB noticeLog
	keyA := newKey(t)
	port := freePort(t)
	listenA := []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}
	a, err := New(context.Background(), keyA, Config{NoMDNS: true, ListenAddrs: listenA})
	if err != nil {
		t.Fatal(err)
	}
	addrA := loopbackAddr(t, a)
	b := newTestNode(t, Config{NoMDNS: true, Notify: logB.add, Peers: []string{addrA},
		backoffMin: 10 * time.Millisecond, backoffMax: 100 * time.Millisecond})

	waitFor(t, "first connection", func() bool { return logB.count(NoticePeerConnected, a.ID()) == 1 })
	// A registers its end of the connection a moment after B does.
	waitFor(t, "A's end of the connection", func() bool { return len(a.ConnectedPeers()) == 1 })

	// The remote side drops us.
	if err := a.host.Network().ClosePeer(b.ID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnect after drop", func() bool { return logB.count(NoticePeerConnected, a.ID()) == 2 })
	if got := logB.count(NoticePeerDisconnected, a.ID()); got != 1 {
		t.Errorf("%d disconnected notices after one drop", got)
	}

	// The peer restarts on the same address.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "disconnect on peer close", func() bool { return logB.count(NoticePeerDisconnected, a.ID()) == 2 })
	a2 := newTestNodeWithKey(t, keyA, Config{NoMDNS: true, ListenAddrs: listenA})
	waitFor(t, "reconnect after restart", func() bool { return logB.count(NoticePeerConnected, a.ID()) == 3 })
	if !slices.Equal(b.ConnectedPeers(), []peer.ID{a2.ID()}) {
		t.Errorf("B's peers %v, want [%s]", b.ConnectedPeers(), a2.ID())
	}
	want := []NoticeKind{NoticePeerConnected, NoticePeerDisconnected, NoticePeerConnected, NoticePeerDisconnected, NoticePeerConnected}
	// An unreachable notice may come between the restart's disconnect and
	// connect; drop it before comparing the connection story.
	got := slices.DeleteFunc(logB.kinds(a.ID()), func(k NoticeKind) bool { return k == NoticePeerUnreachable })
	if !slices.Equal(got, want) {
		t.Errorf("notices %v, want %v", got, want)
	}
}

func TestUnreachablePeerReportedOnce(t *testing.T) {
	var logB noticeLog
	ghostKey := newKey(t)
	ghost, err := peer.IDFromPrivateKey(ghostKey)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	ghostAddr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, ghost)
	b := newTestNode(t, Config{NoMDNS: true, Notify: logB.add, Peers: []string{ghostAddr},
		backoffMin: 5 * time.Millisecond, backoffMax: 20 * time.Millisecond})

	waitFor(t, "several redials", func() bool { return b.staticDials.Load() >= 6 })
	if got := logB.count(NoticePeerUnreachable, ghost); got != 1 {
		t.Fatalf("%d unreachable notices after %d dials, want 1", got, b.staticDials.Load())
	}
	nt, _ := logB.find(NoticePeerUnreachable, ghost)
	if nt.Err == nil || nt.Addr != ghostAddr {
		t.Errorf("unreachable notice %+v: want Err set and Addr %q", nt, ghostAddr)
	}

	// The peer comes up on the configured address: the node connects and
	// says so, without another unreachable notice.
	newTestNodeWithKey(t, ghostKey, Config{NoMDNS: true, ListenAddrs: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}})
	waitFor(t, "connection once the peer is up", func() bool { return logB.count(NoticePeerConnected, ghost) == 1 })
	if got := logB.count(NoticePeerUnreachable, ghost); got != 1 {
		t.Errorf("%d unreachable notices in total, want 1", got)
	}
}

func TestNoticeKindString(t *testing.T) {
	for k, want := range map[NoticeKind]string{
		NoticePeerUnreachable:  "peer-unreachable",
		NoticePeerConnected:    "peer-connected",
		NoticePeerDisconnected: "peer-disconnected",
		0:                      "NoticeKind(0)",
		42:                     "NoticeKind(42)",
	} {
		if got := k.String(); got != want {
			t.Errorf("NoticeKind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func TestCloseIdempotentAndNoNoticesAfter(t *testing.T) {
	var logB noticeLog
	a := newTestNode(t, Config{NoMDNS: true})
	b, err := New(context.Background(), newKey(t), Config{NoMDNS: true, ListenAddrs: loopback, Notify: logB.add, Peers: []string{loopbackAddr(t, a)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connection", func() bool { return logB.count(NoticePeerConnected, a.ID()) == 1 })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := logB.count(NoticePeerDisconnected, a.ID()); got != 0 {
		t.Errorf("%d disconnected notices from closing ourselves, want 0", got)
	}
	if _, err := b.Join("t", nil); err == nil {
		t.Error("Join after Close succeeded")
	}
}

// settledGoroutines waits until the goroutine count stops falling and
// returns it.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for stable := 0; stable < 5; {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m < n {
			n, stable = m, 0
			continue
		}
		stable++
	}
	return n
}

// TestNoGoroutineLeak runs nodes through everything that starts goroutines
// (mDNS, configured peers, an unreachable peer, topics, streams, handlers)
// and checks that closing them returns the process to its goroutine count.
func TestNoGoroutineLeak(t *testing.T) {
	// Warm up once-per-process goroutines (there are none known, but a
	// library may start one lazily), then measure.
	warm, err := New(context.Background(), newKey(t), Config{ListenAddrs: loopback, mdnsService: testServiceName(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := warm.Close(); err != nil {
		t.Fatal(err)
	}
	base := settledGoroutines()

	func() {
		service := testServiceName(t)
		ghost, err := peer.IDFromPrivateKey(newKey(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		var nodes []*Node
		start := func(cfg Config) *Node {
			cfg.ListenAddrs = loopback
			cfg.mdnsService = service
			n, err := New(ctx, newKey(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, n)
			return n
		}
		defer func() {
			for _, n := range nodes {
				if err := n.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
		}()
		a := start(Config{})
		b := start(Config{Peers: []string{loopbackAddr(t, a), fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", freePort(t), ghost)}})
		c := start(Config{NoMDNS: true, Peers: []string{loopbackAddr(t, a)}})
		waitFor(t, "connections", func() bool { return len(a.ConnectedPeers()) == 2 })

		blocked := make(chan struct{})
		a.Handle(testProto, func(s network.Stream) {
			close(blocked)
			_, _ = ReadFrame(s, 16) // returns when the stream is reset by Close
		})
		s, err := b.Open(ctx, a.ID(), testProto)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteFrame(s, nil); err != nil { // make the handler start
			t.Fatal(err)
		}
		_ = s // left open on purpose: Close must tear it down
		<-blocked

		var topics []*Topic
		for _, n := range []*Node{a, b, c} {
			tp, err := n.Join("leak", nil)
			if err != nil {
				t.Fatal(err)
			}
			topics = append(topics, tp)
		}
		waitFor(t, "topic peers", func() bool { return len(topics[0].Peers()) == 2 })
		if err := topics[0].Publish(ctx, []byte("hello"), nil); err != nil {
			t.Fatal(err)
		}
		for _, tp := range topics[1:] {
			if _, err := tp.Next(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// Leave one topic closed by hand and the others to Node.Close.
		if err := topics[2].Close(); err != nil {
			t.Fatal(err)
		}
	}()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			var sb strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&sb, 1)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, sb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHostServices checks what the host runs: the resource manager is on and
// nothing that reaches beyond the LAN (relay, hole punching, AutoNAT
// service) is mounted.
func TestHostServices(t *testing.T) {
	n := newTestNode(t, Config{NoMDNS: true})
	if _, null := n.host.Network().ResourceManager().(*network.NullResourceManager); null {
		t.Error("resource manager is off")
	}
	if n.host.ConnManager() != n.cm {
		t.Error("host does not use our connection manager")
	}
	protos := n.host.Mux().Protocols()
	for _, p := range protos {
		for _, bad := range []string{"circuit", "dcutr", "autonat", "holepunch"} {
			if strings.Contains(string(p), bad) {
				t.Errorf("host serves %s", p)
			}
		}
	}
	sw, ok := n.host.Network().(interface {
		TransportForDialing(multiaddr.Multiaddr) transport.Transport
	})
	if !ok {
		t.Fatalf("network %T does not expose its transports", n.host.Network())
	}
	other := newTestNode(t, Config{NoMDNS: true}).ID()
	for addr, wantOK := range map[string]bool{
		"/ip4/192.0.2.1/tcp/1":                                        true,
		"/ip4/192.0.2.1/udp/1/quic-v1":                                false,
		"/ip4/192.0.2.1/tcp/1/ws":                                     false,
		"/ip4/192.0.2.1/udp/1/webrtc-direct":                          false,
		"/ip4/192.0.2.1/tcp/1/p2p/" + other.String() + "/p2p-circuit": false,
	} {
		a, err := multiaddr.NewMultiaddr(addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := sw.TransportForDialing(a) != nil; got != wantOK {
			t.Errorf("can dial %s: %v, want %v", addr, got, wantOK)
		}
	}
	for _, want := range []string{"/ipfs/id/1.0.0", "/meshsub/1.1.0"} {
		if !slices.ContainsFunc(protos, func(p protocol.ID) bool { return string(p) == want }) {
			t.Errorf("host does not serve %s (serves %v)", want, protos)
		}
	}
}

func TestBlock(t *testing.T) {
	a := newTestNode(t, Config{})
	b := newTestNode(t, Config{})
	ctx := context.Background()
	if err := b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}); err != nil {
		t.Fatal(err)
	}
	a.Block(b.ID())
	if err := b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}); err == nil && len(a.ConnectedPeers()) != 0 {
		t.Fatal("blocked peer connected")
	}
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err == nil {
		t.Fatal("dialled a blocked peer")
	}
	a.Unblock(b.ID())
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatalf("after unblock: %v", err)
	}
}
