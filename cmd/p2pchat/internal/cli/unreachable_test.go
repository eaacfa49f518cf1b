package cli

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/multiformats/go-multiaddr"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
)

// TestUnreachableLine: an unreachable --peer is one line with the address
// and the reason in words, without libp2p's nested dial errors.
func TestUnreachableLine(t *testing.T) {
	const id = "12D3KooWD8BYwSQ5pK4h3yHS7hXyQ3kBvG3bUQ3p7ZyMvyUrg7iz"
	p, err := peer.Decode(id)
	if err != nil {
		t.Fatal(err)
	}
	addr := "/ip4/10.79.0.1/tcp/35337/p2p/" + id
	dial := &swarm.DialError{Peer: p, DialErrors: []swarm.TransportError{{
		Address: multiaddr.StringCast("/ip4/10.79.0.1/tcp/35337"),
		Cause:   fmt.Errorf("dial tcp4 10.79.0.1:35337: connect: %w", syscall.ECONNREFUSED),
	}}}
	ev := unreachable(node.Notice{Kind: node.NoticePeerUnreachable, Peer: p, Addr: addr,
		Err: fmt.Errorf("node: dial: failed to dial: %w", dial)})
	want := "cannot reach --peer " + addr + ": connection refused; still trying in the background"
	if got := ev.Err.Error(); got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	if ev.Peer != p || strings.Contains(ev.Err.Error(), "\n") {
		t.Errorf("event %+v", ev)
	}
}

// TestReadyLineNamesNick: the plain ready line names us as nick#fp, as the
// UI does, not by the raw peer ID (that is in the listening addresses).
func TestReadyLineNamesNick(t *testing.T) {
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fp := id.Fingerprint()
	newPrinter(&b, false).ready(api.Self{PeerID: id.PeerID(), Fingerprint: fp, Nick: "alice\x1b", Addrs: []string{"/ip4/127.0.0.1/tcp/1/p2p/" + id.PeerID().String()}})
	want := fmt.Sprintf("* you are alice\\x1b#%s (fingerprint %s)\n* listening on /ip4/127.0.0.1/tcp/1/p2p/%s\n", fp.Short(), fp, id.PeerID())
	if b.String() != want {
		t.Errorf("ready lines %q, want %q", b.String(), want)
	}
}
