// Package memnet is an in-memory [room.Transport] for tests: a Network of
// endpoints whose topics flood messages to subscribed, connected peers and
// whose streams are channel-backed pipes. It is built from channels and
// timers only, so it runs inside a testing/synctest bubble, where time is
// virtual: every goroutine it starts blocks on channels, never on real I/O.
//
// Each receiving topic validates messages on one goroutine, in the order
// they arrive, so each sender's messages are judged in order unless the
// Reorder knob is set. Loss and Reorder are drawn from a random source
// seeded by [New]. Per-link delays ([Network.SetLinkDelay]) and slow
// validators ([Network.SetValidateCost]) model uneven networks and
// CPU-starved nodes.
package memnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// Errors returned by endpoints.
var (
	ErrClosed      = errors.New("memnet: closed")
	ErrUnreachable = errors.New("memnet: peer unreachable")
	ErrNoHandler   = errors.New("memnet: protocol not supported")
	ErrReset       = errors.New("memnet: stream reset")
	ErrDeadline    = errors.New("memnet: deadline exceeded")
)

// Network is a set of endpoints and the links between them. Its knobs may
// be changed at any time; they apply to messages published afterwards.
type Network struct {
	mu        sync.Mutex // held briefly, never across a blocking operation
	rng       *rand.Rand
	delay     time.Duration
	reorder   time.Duration
	loss      float64
	endpoints map[peer.ID]*Endpoint
	order     []peer.ID
	links     map[[2]peer.ID]bool
	blocked   map[[2]peer.ID]bool
	published map[string][][]byte // every topic message published, for Published
	linkDelay map[[2]peer.ID]time.Duration
	valCost   map[peer.ID]time.Duration
}

// maxPublished bounds the messages Published remembers per topic.
const maxPublished = 4096

// Published returns the messages published on topic so far (the first
// maxPublished), whoever could receive them: a wiretap for tests that check
// what traffic would reveal to someone it reached.
func (n *Network) Published(topic string) [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.published[topic])
}

// New returns an empty network whose random choices come from seed.
func New(seed uint64) *Network {
	return &Network{
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		endpoints: map[peer.ID]*Endpoint{},
		links:     map[[2]peer.ID]bool{},
		blocked:   map[[2]peer.ID]bool{},
		published: map[string][][]byte{},
		linkDelay: map[[2]peer.ID]time.Duration{},
		valCost:   map[peer.ID]time.Duration{},
	}
}

// SetDelay delays every topic message by d.
func (n *Network) SetDelay(d time.Duration) { n.mu.Lock(); n.delay = d; n.mu.Unlock() }

// SetReorder adds to each topic message's delay a random extra of up to d,
// so that messages may overtake each other.
func (n *Network) SetReorder(d time.Duration) { n.mu.Lock(); n.reorder = d; n.mu.Unlock() }

// SetLoss drops each topic message to each receiver with probability p.
func (n *Network) SetLoss(p float64) { n.mu.Lock(); n.loss = p; n.mu.Unlock() }

// SetLinkDelay adds d to the delay of every topic message between a and b
// (both ways), on top of SetDelay's; 0 removes it.
func (n *Network) SetLinkDelay(a, b peer.ID, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if d <= 0 {
		delete(n.linkDelay, pair(a, b))
		return
	}
	n.linkDelay[pair(a, b)] = d
}

// SetValidateCost makes endpoint id's topics spend d of (virtual) time
// validating each message from another peer, one message at a time: a
// CPU-starved node whose validation queue falls behind. 0 removes it.
func (n *Network) SetValidateCost(id peer.ID, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if d <= 0 {
		delete(n.valCost, id)
		return
	}
	n.valCost[id] = d
}

func (n *Network) validateCost(id peer.ID) time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.valCost[id]
}

func pair(a, b peer.ID) [2]peer.ID {
	if b < a {
		a, b = b, a
	}
	return [2]peer.ID{a, b}
}

// Endpoint adds an endpoint with peer ID id (the ID of the identity that
// will use it: rooms check that it matches). An ID whose endpoint was
// closed may come back (a restarted node); it starts unlinked.
func (n *Network) Endpoint(id peer.ID) *Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	old, ok := n.endpoints[id]
	if ok && !old.closed {
		panic(fmt.Sprintf("memnet: endpoint %s exists", id))
	}
	e := &Endpoint{n: n, id: id, index: len(n.order), topics: map[string]*topic{}, handlers: map[string]func(room.Stream){}}
	n.endpoints[id] = e
	if !ok {
		n.order = append(n.order, id)
	}
	return e
}

// Connect links a and b (both ways), unless the pair is blocked. Topics
// both have joined see each other join.
func (n *Network) Connect(a, b peer.ID) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.connectLocked(a, b)
}

func (n *Network) connectLocked(a, b peer.ID) error {
	ea, eb := n.endpoints[a], n.endpoints[b]
	if ea == nil || eb == nil || ea.closed || eb.closed || a == b {
		return fmt.Errorf("memnet: connect %s-%s: %w", a, b, ErrUnreachable)
	}
	k := pair(a, b)
	if n.blocked[k] {
		return fmt.Errorf("memnet: connect %s-%s: blocked: %w", a, b, ErrUnreachable)
	}
	if n.links[k] {
		return nil
	}
	n.links[k] = true
	n.peerEventsLocked(ea, eb, true)
	return nil
}

// Disconnect removes the link between a and b; topics both have joined see
// each other leave. A later Open or Connect links them again.
func (n *Network) Disconnect(a, b peer.ID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.disconnectLocked(a, b)
}

func (n *Network) disconnectLocked(a, b peer.ID) {
	k := pair(a, b)
	if !n.links[k] {
		return
	}
	delete(n.links, k)
	n.peerEventsLocked(n.endpoints[a], n.endpoints[b], false)
}

// Block partitions a from b: their link goes down and nothing can bring it
// up until [Network.Unblock].
func (n *Network) Block(a, b peer.ID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.disconnectLocked(a, b)
	n.blocked[pair(a, b)] = true
}

// Unblock heals a partition made by Block and links a and b again.
func (n *Network) Unblock(a, b peer.ID) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.blocked, pair(a, b))
	return n.connectLocked(a, b)
}

// peerEventsLocked tells the topics a and b share that the other joined or
// left.
func (n *Network) peerEventsLocked(a, b *Endpoint, joined bool) {
	for name, ta := range a.topics {
		if tb := b.topics[name]; tb != nil {
			ta.event(room.PeerEvent{Peer: b.id, Joined: joined})
			tb.event(room.PeerEvent{Peer: a.id, Joined: joined})
		}
	}
}

func (n *Network) linkedLocked(a, b peer.ID) bool { return n.links[pair(a, b)] }

// Endpoint is one peer on a [Network]; it implements [room.Transport].
type Endpoint struct {
	n        *Network
	id       peer.ID
	index    int
	closed   bool                         // under n.mu
	topics   map[string]*topic            // under n.mu
	handlers map[string]func(room.Stream) // under n.mu
	refused  atomic.Uint64                // messages dropped before validation by a topic's allow
}

var _ room.Transport = (*Endpoint)(nil)

// Refused returns how many topic messages this endpoint dropped before
// validation because the topic's allow function refused their sender.
func (e *Endpoint) Refused() uint64 { return e.refused.Load() }

// ID returns the endpoint's peer ID.
func (e *Endpoint) ID() peer.ID { return e.id }

func (e *Endpoint) addr() string { return fmt.Sprintf("/memnet/%d/p2p/%s", e.index, e.id) }

// Addrs returns the endpoint's one address.
func (e *Endpoint) Addrs() []string { return []string{e.addr()} }

// ConnectedPeers returns the peers linked to e, sorted.
func (e *Endpoint) ConnectedPeers() []peer.ID {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	var out []peer.ID
	for k := range e.n.links {
		switch e.id {
		case k[0]:
			out = append(out, k[1])
		case k[1]:
			out = append(out, k[0])
		}
	}
	slices.Sort(out)
	return out
}

// RemoteAddrs returns p's address if e is linked to it.
func (e *Endpoint) RemoteAddrs(p peer.ID) []string {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	if !e.n.linkedLocked(e.id, p) {
		return nil
	}
	return []string{e.n.endpoints[p].addr()}
}

// Close leaves every topic and takes down every link of e.
func (e *Endpoint) Close() error {
	e.n.mu.Lock()
	if e.closed {
		e.n.mu.Unlock()
		return nil
	}
	for _, p := range e.n.order {
		e.n.disconnectLocked(e.id, p)
	}
	e.closed = true
	topics := make([]*topic, 0, len(e.topics))
	for _, t := range e.topics {
		topics = append(topics, t)
	}
	e.n.mu.Unlock()
	for _, t := range topics {
		t.Close()
	}
	return nil
}

// Handle serves proto with h.
func (e *Endpoint) Handle(proto string, h func(room.Stream)) {
	e.n.mu.Lock()
	e.handlers[proto] = h
	e.n.mu.Unlock()
}

// RemoveHandler stops serving proto.
func (e *Endpoint) RemoveHandler(proto string) {
	e.n.mu.Lock()
	delete(e.handlers, proto)
	e.n.mu.Unlock()
}

// Open opens a stream to p, linking e and p first if they are not (as a
// libp2p dial would), and runs p's handler for proto on the other end.
func (e *Endpoint) Open(ctx context.Context, p peer.ID, proto string) (room.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.n.mu.Lock()
	if e.closed {
		e.n.mu.Unlock()
		return nil, ErrClosed
	}
	if err := e.n.connectLocked(e.id, p); err != nil {
		e.n.mu.Unlock()
		return nil, err
	}
	h := e.n.endpoints[p].handlers[proto]
	e.n.mu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("memnet: open %s to %s: %w", proto, p, ErrNoHandler)
	}
	local, remote := Pipe(e.id, p)
	go h(remote)
	return local, nil
}
