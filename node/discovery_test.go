package node

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// testServiceName returns a fresh mDNS service name, so that a test's nodes
// find only each other and not other p2pchat nodes on the machine or LAN.
func testServiceName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "_p2pchat-t" + hex.EncodeToString(b) + "._udp"
}

// multicastInterface reports whether the machine has an interface that is
// up, not loopback, and multicast capable: the mDNS library sends and listens
// only on such interfaces.
func multicastInterface() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast != 0 && i.Flags&net.FlagLoopback == 0 {
			return true
		}
	}
	return false
}

// TestMDNSDiscovery starts two nodes with mDNS and no configured peers: they
// must find and connect to each other. It is skipped only on machines with no
// multicast-capable interface, where mDNS cannot work at all.
func TestMDNSDiscovery(t *testing.T) {
	if !multicastInterface() {
		t.Skip("no up, multicast-capable, non-loopback interface: mDNS cannot work here")
	}
	service := testServiceName(t)
	start := time.Now()
	a := newTestNode(t, Config{mdnsService: service})
	b := newTestNode(t, Config{mdnsService: service})
	waitFor(t, "mDNS discovery", func() bool {
		return slices.Equal(a.ConnectedPeers(), []peer.ID{b.ID()}) && slices.Equal(b.ConnectedPeers(), []peer.ID{a.ID()})
	})
	t.Logf("found each other over mDNS in %v (%d+%d dials, %d+%d connections)", time.Since(start),
		a.mdnsDials.Load(), b.mdnsDials.Load(),
		len(a.host.Network().ConnsToPeer(b.ID())), len(b.host.Network().ConnsToPeer(a.ID())))
}

// TestDiscoveryDedupe delivers the same discovery 50 times at once, as the
// mDNS library may: the node must dial once and hold one connection.
func TestDiscoveryDedupe(t *testing.T) {
	a := newTestNode(t, Config{NoMDNS: true})
	b := newTestNode(t, Config{NoMDNS: true})
	notifee := discoveryNotifee{b}
	found := peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()}

	notifee.HandlePeerFound(peer.AddrInfo{ID: b.ID(), Addrs: b.host.Addrs()}) // ourselves

	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			<-release
			notifee.HandlePeerFound(found)
		})
	}
	close(release)
	wg.Wait()
	waitFor(t, "connection", func() bool { return slices.Equal(b.ConnectedPeers(), []peer.ID{a.ID()}) })
	waitFor(t, "dials to finish", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.dialing) == 0
	})

	// Already connected: no new dial.
	notifee.HandlePeerFound(found)
	waitFor(t, "dials to finish", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.dialing) == 0
	})

	if got := b.mdnsDials.Load(); got != 1 {
		t.Errorf("%d dial attempts, want 1", got)
	}
	if got := len(b.host.Network().ConnsToPeer(a.ID())); got != 1 {
		t.Errorf("%d connections from B to A, want 1", got)
	}
	if got := len(a.host.Network().ConnsToPeer(b.ID())); got != 1 {
		t.Errorf("%d connections from A to B, want 1", got)
	}
	if got := a.ConnectedPeers(); !slices.Equal(got, []peer.ID{b.ID()}) {
		t.Errorf("A's peers %v", got)
	}
}

// TestDiscoveryAfterClose checks that a late discovery (the mDNS library can
// deliver one after it is closed) starts nothing.
func TestDiscoveryAfterClose(t *testing.T) {
	a := newTestNode(t, Config{NoMDNS: true})
	b := newTestNode(t, Config{NoMDNS: true})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	discoveryNotifee{b}.HandlePeerFound(peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()})
	if got := b.mdnsDials.Load(); got != 0 {
		t.Errorf("%d dials after Close", got)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.dialing) != 0 {
		t.Error("a dial was registered after Close")
	}
}

// TestDiscoveryRetries: the mDNS library reports a peer once, so a failed
// dial is retried a bounded number of times, and a peer that comes up during
// the retries is connected.
func TestDiscoveryRetries(t *testing.T) {
	ghostKey := newKey(t)
	ghost, err := peer.IDFromPrivateKey(ghostKey)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr, err := multiaddr.NewMultiaddr(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port))
	if err != nil {
		t.Fatal(err)
	}
	found := peer.AddrInfo{ID: ghost, Addrs: []multiaddr.Multiaddr{addr}}

	t.Run("gives up", func(t *testing.T) {
		b := newTestNode(t, Config{NoMDNS: true, backoffMin: time.Millisecond, backoffMax: 4 * time.Millisecond})
		discoveryNotifee{b}.HandlePeerFound(found)
		waitFor(t, "dials to stop", func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return len(b.dialing) == 0
		})
		if got := b.mdnsDials.Load(); got != mdnsDialAttempts {
			t.Errorf("%d dial attempts, want %d", got, mdnsDialAttempts)
		}
	})

	t.Run("connects when the peer comes up", func(t *testing.T) {
		// Attempts at about 0, 0.2, 0.6, 1.4 and 2.4 s; the peer starts
		// right after the second.
		b := newTestNode(t, Config{NoMDNS: true, backoffMin: 200 * time.Millisecond, backoffMax: time.Second})
		discoveryNotifee{b}.HandlePeerFound(found)
		waitFor(t, "a second attempt", func() bool { return b.mdnsDials.Load() >= 2 })
		newTestNodeWithKey(t, ghostKey, Config{NoMDNS: true, ListenAddrs: []string{addr.String()}})
		waitFor(t, "connection", func() bool { return slices.Equal(b.ConnectedPeers(), []peer.ID{ghost}) })
	})
}

// TestDiscoveredPeerRedialed: a peer found by mDNS that drops the connection
// is dialed again, since mDNS will not report it again for a long time.
func TestDiscoveredPeerRedialed(t *testing.T) {
	a := newTestNode(t, Config{NoMDNS: true})
	b := newTestNode(t, Config{NoMDNS: true, backoffMin: time.Millisecond})
	dialsDone := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.dialing) == 0
	}
	discoveryNotifee{b}.HandlePeerFound(peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()})
	waitFor(t, "connection", func() bool { return len(a.ConnectedPeers()) == 1 && len(b.ConnectedPeers()) == 1 })
	// Let the dial finish, so that the drop below starts a new one (a drop
	// during a dial is retried by that dial, from its attempt budget).
	waitFor(t, "first dial to end", dialsDone)
	if err := a.host.Network().ClosePeer(b.ID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second dial", func() bool { return b.mdnsDials.Load() == 2 })
	waitFor(t, "reconnection", func() bool { return slices.Equal(b.ConnectedPeers(), []peer.ID{a.ID()}) })
	waitFor(t, "second dial to end", dialsDone)

	// A peer that is gone for good is dialed a bounded number of times and
	// then forgotten.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dials to stop", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.dialing) == 0 && len(b.discovered) == 0
	})
	if got := b.mdnsDials.Load(); got != 2+mdnsDialAttempts {
		t.Errorf("%d dials in total, want %d", got, 2+mdnsDialAttempts)
	}
}
