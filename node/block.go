package node

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// gater refuses connections to and from blocked peers.
type gater struct {
	mu      sync.Mutex
	blocked map[peer.ID]bool
}

var _ connmgr.ConnectionGater = (*gater)(nil)

func (g *gater) allowed(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.blocked[p]
}

func (g *gater) InterceptPeerDial(p peer.ID) bool                 { return g.allowed(p) }
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.allowed(p) }
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.allowed(p)
}
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// Block refuses every connection to and from p, in both directions, and
// closes the existing ones, until Unblock. Tests use it to partition
// networks; it is also the basis of a user block list.
func (n *Node) Block(p peer.ID) {
	n.gater.mu.Lock()
	n.gater.blocked[p] = true
	n.gater.mu.Unlock()
	n.host.Network().ClosePeer(p)
}

// Unblock lets p connect again. It does not dial p.
func (n *Node) Unblock(p peer.ID) {
	n.gater.mu.Lock()
	delete(n.gater.blocked, p)
	n.gater.mu.Unlock()
}
