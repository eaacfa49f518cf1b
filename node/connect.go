package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
)

// Connect dials p once, bounded by ctx. Unlike Config.Peers it does not keep
// the peer connected; it is for callers (and tests) that learned an address
// by other means.
func (n *Node) Connect(ctx context.Context, p peer.AddrInfo) error {
	// The caller asks for this dial now: skip the swarm's backoff from
	// earlier failures.
	n.clearBackoff(p.ID)
	if err := n.host.Connect(ctx, p); err != nil {
		return fmt.Errorf("node: connect to %s: %w", p.ID, err)
	}
	return nil
}

// clearBackoff forgets the swarm's dial backoff for p, so that the next
// dial tries its addresses now. It stands in for network.WithForceDirectDial,
// which skips the backoff too but makes the swarm look up each address's
// transport a second time, a lookup that dereferences nil when the host
// closes during the dial (go-libp2p v0.51 swarm.nonProxyAddr; upstream
// issue libp2p/go-libp2p#1545).
func (n *Node) clearBackoff(p peer.ID) {
	if sw, ok := n.host.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(p)
	}
}

// DialReason says in words why a dial failed ("connection refused"),
// without libp2p's nested per-address errors: for lines shown to a user,
// who can see the details in the debug log.
func DialReason(err error) string {
	var mismatch sec.ErrPeerIDMismatch
	switch {
	case errors.As(err, &mismatch):
		return "a different peer answers at that address"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return "no answer"
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "no answer"
	}
	return "could not connect"
}
