package room

import (
	"context"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Transport is the network as a room sees it: a publish/subscribe layer
// with per-topic validation, and authenticated streams to peers. The daemon
// passes roomnet.Transport(n) (gossipsub and Noise-secured libp2p streams);
// tests pass an in-memory network (room/internal/memnet).
//
// Implementations must only ever hand room streams whose remote peer is
// authenticated as [Stream.RemotePeer]: admission trusts it.
type Transport interface {
	// ID is this endpoint's peer ID.
	ID() peer.ID
	// Join subscribes to topic; v validates every message on it, our own
	// included, before it is delivered or forwarded. allow, if not nil,
	// says which peers the topic exchanges messages with: a peer it refuses
	// is sent nothing on the topic (neither our messages nor ones we
	// forward), and what it sends is dropped before v sees it. It is
	// called often, from the transport's goroutines, and must be cheap and
	// must not block. A topic can be joined once at a time.
	Join(topic string, v Validator, allow func(peer.ID) bool) (Topic, error)
	// Open opens a stream to p for protocol proto, dialing p if needed.
	Open(ctx context.Context, p peer.ID, proto string) (Stream, error)
	// Handle serves proto with h, replacing any previous handler. h runs in
	// its own goroutine for each inbound stream and owns the stream.
	Handle(proto string, h func(Stream))
	// RemoveHandler stops serving proto. Running handlers are not
	// interrupted.
	RemoveHandler(proto string)
	// Addrs returns the addresses this endpoint listens on, each ending in
	// /p2p/<ID>.
	Addrs() []string
	// ConnectedPeers returns the peers this endpoint is connected to, each
	// once, sorted.
	ConnectedPeers() []peer.ID
	// RemoteAddrs returns the remote addresses of the connections to p.
	RemoteAddrs(p peer.ID) []string
}

// Topic is a joined topic with one subscription. Its methods are safe for
// concurrent use.
type Topic interface {
	// Publish validates data (the validator sees local) and sends it to
	// the peers subscribed to the topic. local must not be nil. A nil error
	// does not mean any peer received it.
	Publish(ctx context.Context, data []byte, local any) error
	// Next returns the next accepted message, our own included, blocking
	// until one arrives, ctx is done or the topic is closed.
	Next(ctx context.Context) (Delivery, error)
	// Peers returns the connected peers known to be subscribed, sorted.
	Peers() []peer.ID
	// NextPeerEvent returns the next change in the topic's subscribed
	// peers. Peers already subscribed when the topic was joined are
	// reported as joins.
	NextPeerEvent(ctx context.Context) (PeerEvent, error)
	// Close leaves the topic; blocked Next and NextPeerEvent calls return
	// an error. It is idempotent.
	Close() error
}

// Delivery is one message accepted on a topic.
type Delivery struct {
	Data []byte
	// From is the peer that sent it to us (our own ID for our own).
	From peer.ID
	// Value is what the validator returned with its Accept.
	Value any
}

// PeerEvent reports that a peer subscribed to a topic (Joined) or left it
// (unsubscribed or disconnected).
type PeerEvent struct {
	Peer   peer.ID
	Joined bool
}

// Verdict is a [Validator]'s judgement of a message.
type Verdict int

const (
	// Accept delivers and forwards the message.
	Accept Verdict = iota
	// Ignore drops it quietly.
	Ignore
	// Reject drops it and penalises the peer that sent it.
	Reject
)

// Validator judges a message on a topic before it is delivered or
// forwarded. from is the peer that sent it to us; local is the value given
// to [Topic.Publish] for our own messages and nil for everyone else's. With
// Accept, the returned value is handed to [Topic.Next] as [Delivery.Value].
//
// For received messages a Validator runs on one goroutine per topic, which
// keeps each sender's messages in order; for our own it runs in the
// goroutine calling Publish. It must not block for long.
type Validator func(from peer.ID, data []byte, local any) (Verdict, any)

// Stream is a bidirectional, reliable, authenticated byte stream to a peer.
type Stream interface {
	io.ReadWriteCloser
	// Reset aborts the stream in both directions.
	Reset() error
	// SetDeadline bounds reads and writes.
	SetDeadline(time.Time) error
	// RemotePeer is the authenticated peer at the other end.
	RemotePeer() peer.ID
}
