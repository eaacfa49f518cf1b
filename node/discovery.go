package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// maxMDNSDials bounds concurrent dials to peers found by mDNS. Discoveries
// beyond it are dropped (the peer will usually dial us, having found us too).
const maxMDNSDials = 16

// mdnsDialAttempts is how often a peer found by mDNS is dialed before giving
// up, with the same backoff as configured peers (1s, 2s, 4s, 8s). The mDNS
// library reports a peer once per record lifetime (about 53 minutes), so
// without retries one failed dial would hide the peer that long.
const mdnsDialAttempts = 5

// discoveryNotifee receives mDNS discoveries. The mDNS service calls it in a
// new goroutine per discovery, possibly several times for the same peer at
// once, and may still do so after it has been closed.
type discoveryNotifee struct{ n *Node }

// HandlePeerFound implements mdns.Notifee. It never blocks: the dial runs in
// its own goroutine, at most one per peer at a time.
func (d discoveryNotifee) HandlePeerFound(pi peer.AddrInfo) { d.n.peerFound(pi) }

func (n *Node) peerFound(pi peer.AddrInfo) {
	if pi.ID == n.ID() || pi.ID == "" {
		return
	}
	if n.host.Network().Connectedness(pi.ID) == network.Connected {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.discovered[pi.ID] = pi
	n.dialLocked(pi)
}

// rediscover redials a peer found by mDNS after its last connection closed,
// as if it had just been found again. Below the connection manager's low
// watermark only, so that we do not fight it when it trims connections.
func (n *Node) rediscover(p peer.ID) {
	if len(n.host.Network().Peers()) >= connLowWater {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	pi, ok := n.discovered[p]
	if !ok || n.closed {
		return
	}
	n.dialLocked(pi)
}

// dialLocked starts dialing pi unless a dial is already running. n.mu is
// held.
func (n *Node) dialLocked(pi peer.AddrInfo) {
	if _, ok := n.dialing[pi.ID]; ok {
		return
	}
	if len(n.dialing) >= maxMDNSDials {
		n.log.Debug("too many mDNS dials in flight; dropping discovery", "peer", pi.ID)
		return
	}
	n.dialing[pi.ID] = struct{}{}
	n.wg.Add(1)
	go n.dialDiscovered(pi)
}

func (n *Node) dialDiscovered(pi peer.AddrInfo) {
	defer n.wg.Done()
	backoff := n.backoffMin
	var err error
	for attempt := 0; ; attempt++ {
		if n.dialOver(pi.ID, attempt, err) {
			return
		}
		if err != nil {
			// Debug only: mDNS also advertises loopback and interfaces
			// that are not reachable from here, so failures are routine.
			n.log.Debug("cannot dial peer found by mDNS", "peer", pi.ID, "retry_in", backoff, "err", err)
			if !n.sleep(backoff) {
				continue // closing: dialOver ends the loop
			}
			backoff = min(2*backoff, n.backoffMax)
		}
		n.mdnsDials.Add(1)
		err = n.connect(pi)
	}
}

// dialOver reports whether dialDiscovered should stop after attempt dials
// (the last one ending with err): the node is closing, the peer is
// connected, or it has had all its attempts. If so it unregisters the dial.
// The check and the unregistering happen under n.mu, so a disconnect either
// finds the dial still registered and sees its next check fail, or finds it
// gone and starts a new one.
func (n *Node) dialOver(p peer.ID, attempt int, err error) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closed:
	case n.host.Network().Connectedness(p) == network.Connected:
		if attempt > 0 && err == nil {
			n.log.Debug("dialed peer found by mDNS", "peer", p)
		}
	case attempt >= mdnsDialAttempts:
		n.log.Debug("giving up on peer found by mDNS", "peer", p, "err", err)
		// Forget it: if it comes back, mDNS reports it again.
		delete(n.discovered, p)
	default:
		return false
	}
	delete(n.dialing, p)
	return true
}

// connect dials pi (the peerstore's addresses for it included) unless
// already connected.
func (n *Node) connect(pi peer.AddrInfo) error {
	ctx, cancel := context.WithTimeout(n.bg, dialTimeout)
	defer cancel()
	// Our callers keep their own backoff; skip the swarm's, which grows to
	// minutes and would turn our retries into instant "dial backoff"
	// failures.
	n.clearBackoff(pi.ID)
	return n.host.Connect(ctx, pi)
}

// staticPeer is a peer from Config.Peers.
type staticPeer struct {
	info  peer.AddrInfo
	addrs string // as configured, for notices
	// down receives a signal when the last connection to the peer closes.
	down chan struct{}
}

func (sp *staticPeer) signalDown() {
	select {
	case sp.down <- struct{}{}:
	default: // a signal is already pending
	}
}

// parsePeers groups the configured addresses by peer.
func parsePeers(addrs []string, self peer.ID) (map[peer.ID]*staticPeer, error) {
	peers := make(map[peer.ID]*staticPeer)
	for _, s := range addrs {
		a, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("node: invalid peer address %q: %w", s, err)
		}
		info, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, fmt.Errorf("node: invalid peer address %q (it must end in /p2p/<peer ID>): %w", s, err)
		}
		if info.ID == self {
			return nil, fmt.Errorf("node: peer address %q is this node's own ID", s)
		}
		sp := peers[info.ID]
		if sp == nil {
			sp = &staticPeer{info: peer.AddrInfo{ID: info.ID}, down: make(chan struct{}, 1)}
			peers[info.ID] = sp
		}
		sp.info.Addrs = append(sp.info.Addrs, info.Addrs...)
		if sp.addrs != "" {
			sp.addrs += ", "
		}
		sp.addrs += s
	}
	return peers, nil
}

// keepConnected dials a configured peer until the node closes, and redials it
// after every disconnect, backing off exponentially between attempts.
func (n *Node) keepConnected(sp *staticPeer) {
	defer n.wg.Done()
	backoff := n.backoffMin
	reported := false // an unreachable notice was sent for this outage
	for {
		if n.host.Network().Connectedness(sp.info.ID) != network.Connected {
			err := n.dialStatic(sp)
			if n.bg.Err() != nil {
				return
			}
			if err != nil {
				if !reported {
					reported = true
					// With Notify set, the notice is what the user is told:
					// the log has the details at debug level only.
					level := slog.LevelWarn
					if n.notify != nil {
						level = slog.LevelDebug
					}
					n.log.Log(n.bg, level, "configured peer is unreachable; retrying in the background",
						"peer", sp.info.ID, "addrs", sp.addrs, "err", err)
					n.emit(Notice{Kind: NoticePeerUnreachable, Peer: sp.info.ID, Addr: sp.addrs, Err: err})
				} else {
					n.log.Debug("configured peer still unreachable", "peer", sp.info.ID, "retry_in", backoff, "err", err)
				}
				if !n.sleep(backoff) {
					return
				}
				backoff = min(2*backoff, n.backoffMax)
				continue
			}
		}
		reported = false
		up := time.Now()
		select {
		case <-n.bg.Done():
			return
		case <-sp.down:
		}
		if n.host.Network().Connectedness(sp.info.ID) == network.Connected {
			continue // a stale signal, or a new connection already came up
		}
		// Back off after a disconnect too, so that a peer that accepts and
		// then drops us is not redialed in a tight loop; a connection that
		// held for a while resets the backoff.
		if time.Since(up) >= n.backoffMax {
			backoff = n.backoffMin
		}
		n.log.Debug("configured peer disconnected; redialing", "peer", sp.info.ID, "in", backoff)
		if !n.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, n.backoffMax)
	}
}

func (n *Node) dialStatic(sp *staticPeer) error {
	n.staticDials.Add(1)
	return n.connect(peer.AddrInfo{ID: sp.info.ID})
}

// sleep waits for d or until the node closes; it reports whether d elapsed.
func (n *Node) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.bg.Done():
		return false
	}
}
