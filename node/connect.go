package node

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Connect dials p once, bounded by ctx. Unlike Config.Peers it does not keep
// the peer connected; it is for callers (and tests) that learned an address
// by other means.
func (n *Node) Connect(ctx context.Context, p peer.AddrInfo) error {
	// The caller asks for this dial now: skip the swarm's backoff from
	// earlier failures.
	ctx = network.WithForceDirectDial(ctx, "p2pchat: connect")
	if err := n.host.Connect(ctx, p); err != nil {
		return fmt.Errorf("node: connect to %s: %w", p.ID, err)
	}
	return nil
}
