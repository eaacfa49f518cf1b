package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// MaxMessageSize is the largest gossipsub RPC the node sends or accepts
// (64 KiB). A published message travels in an RPC together with its topic
// name and a few bytes of framing, so the largest payload is slightly
// smaller; [Topic.Publish] refuses payloads that would not fit.
const MaxMessageSize = 64 << 10

// queueSize sizes gossipsub's per-peer outbound queues, its validation queue
// and each subscription's buffer. A message that overflows any of them is
// dropped silently (and marked seen, so gossip never repairs it).
const queueSize = 4096

// messageIDLen is the length of a message ID: a SHA-256 prefix of the data.
const messageIDLen = 20

// messageID identifies a message by its content, since messages carry no
// author or sequence number. Identical payloads therefore count as one
// message: callers must make payloads unique (a nonce does).
func messageID(m *pb.Message) string {
	sum := sha256.Sum256(m.GetData())
	return string(sum[:messageIDLen])
}

// Validator checks a gossipsub message before it is delivered to subscribers
// or forwarded to other peers. from is the peer that sent it to us (our own ID
// for our own publishes); local is true for our own publishes, in which case
// msg.ValidatorData holds the value given to [Topic.Publish]. It returns
// pubsub.ValidationAccept, ValidationIgnore (drop quietly) or ValidationReject
// (drop and penalise the sender).
//
// For received messages a Validator runs on gossipsub's single validation
// goroutine, which keeps each sender's messages in order; for our own it runs
// in the goroutine calling Publish, so it can run concurrently with itself.
// It must not block for long: received messages wait behind it.
type Validator func(ctx context.Context, from peer.ID, msg *pubsub.Message, local bool) pubsub.ValidationResult

// PeerEvent reports that a peer subscribed to a topic (Joined) or left it.
type PeerEvent struct {
	// Peer is the peer that joined or left.
	Peer peer.ID
	// Joined is true when Peer subscribed, false when it unsubscribed or
	// disconnected.
	Joined bool
}

// Topic is a joined gossipsub topic with one subscription. Its methods are
// safe for concurrent use. Close it with [Topic.Close] (or [Node.Close]).
type Topic struct {
	n            *Node
	name         string
	t            *pubsub.Topic
	sub          *pubsub.Subscription
	events       *pubsub.TopicEventHandler
	hasValidator bool

	// life is canceled by Close so that blocked NextPeerEvent calls return.
	life    context.Context
	endLife context.CancelFunc

	// subs mirrors the topic's subscribed peers (from watch), so that
	// Publish can count the allowed ones without a trip through
	// gossipsub's event loop; meshed is the count Publish last waited for.
	watch   *pubsub.TopicEventHandler
	watched sync.WaitGroup
	subsMu  sync.Mutex
	subs    map[peer.ID]bool
	meshed  atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// errTopicClosed is returned by Next and NextPeerEvent after Topic.Close.
var errTopicClosed = errors.New("node: topic closed")

// Join joins the gossipsub topic name and subscribes to it. v, if not nil,
// validates every message on the topic, ours included. A topic can be joined
// once per node at a time; Join fails if it already is, or if the node is
// closed.
func (n *Node) Join(name string, v Validator) (*Topic, error) {
	return n.JoinFiltered(name, v, nil)
}

// JoinFiltered is [Node.Join] with an allow function: if not nil, the topic
// exchanges messages only with peers it allows. Others are kept out of the
// topic's mesh and gossip (gossipsub's peer filter), so nothing we publish
// or forward on it reaches them, and a peer allowed by none of our topics
// gets an application score far below the graylist threshold: all its
// RPCs are dropped before validation. Peers that forward messages the
// validator rejects are penalised on the topic's score. allow runs on
// gossipsub's event loop: it must be cheap and must not block or call the
// node.
func (n *Node) JoinFiltered(name string, v Validator, allow func(peer.ID) bool) (*Topic, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("node: join: node is closed")
	}
	t, err := n.join(name, v, allow)
	if err != nil {
		return nil, fmt.Errorf("node: failed to join topic %q: %w", name, err)
	}
	n.topics[t] = struct{}{}
	return t, nil
}

func (n *Node) join(name string, v Validator, allow func(peer.ID) bool) (_ *Topic, err error) {
	n.allowMu.Lock()
	if _, dup := n.allows[name]; dup {
		n.allowMu.Unlock()
		return nil, errors.New("topic already joined")
	}
	n.allows[name] = allow
	n.allowMu.Unlock()
	pt, err := n.ps.Join(name)
	if err != nil {
		n.dropAllow(name)
		return nil, err
	}
	t := &Topic{n: n, name: name, t: pt}
	t.life, t.endLife = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			t.release()
		}
	}()
	if v != nil {
		self := n.ID()
		wrapped := func(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
			return v(ctx, from, msg, msg.Local || from == self)
		}
		// Inline: run on the validation worker instead of a goroutine per
		// message, which keeps each sender's messages in order.
		if err := n.ps.RegisterTopicValidator(name, wrapped, pubsub.WithValidatorInline(true)); err != nil {
			return nil, err
		}
		t.hasValidator = true
	}
	if err := pt.SetScoreParams(topicScoreParams()); err != nil {
		return nil, err
	}
	if t.sub, err = pt.Subscribe(pubsub.WithBufferSize(queueSize)); err != nil {
		return nil, err
	}
	if t.events, err = pt.EventHandler(); err != nil {
		return nil, err
	}
	if t.watch, err = pt.EventHandler(); err != nil {
		return nil, err
	}
	t.subs = map[peer.ID]bool{}
	t.watched.Go(t.watchPeers)
	return t, nil
}

// Publish validates data with the topic's validator (which sees local true
// and validatorData in msg.ValidatorData, so it can skip re-checking what it
// just built) and sends it to every peer known to be subscribed. It returns
// an error if the validator rejects the message, if data does not fit in
// [MaxMessageSize] (wrapping [ErrFrameTooLarge]), or if the topic is closed.
// A nil error does not mean any peer received the message.
func (t *Topic) Publish(ctx context.Context, data []byte, validatorData any) error {
	if size := rpcSize(t.name, data); size > MaxMessageSize {
		return fmt.Errorf("node: publish on %q: %d-byte message in a %d-byte RPC: %w", t.name, len(data), size, ErrFrameTooLarge)
	}
	if err := t.publish(ctx, data, validatorData); err != nil {
		return fmt.Errorf("node: publish on %q: %w", t.name, err)
	}
	return nil
}

// meshWait bounds how long Publish waits for the mesh to take in peers
// that just appeared. A variable only so that the package's tests, on
// machines too loaded to graft within three heartbeats, can wait longer.
var meshWait = 3 * heartbeat

// publish publishes to the topic's mesh (flood publishing is off, see
// pubsubOptions). Peers that just subscribed, or just became allowed, join
// the mesh at a heartbeat or when their GRAFT arrives; a message published
// before that would reach nobody. So when more allowed topic peers (up to
// gossipsub's Dlo) could be in the mesh than when it last waited, it waits
// until the mesh holds that many, at most meshWait, and then publishes
// anyway; it does not wait again for the same count.
func (t *Topic) publish(ctx context.Context, data []byte, validatorData any) error {
	want := int64(min(t.allowedSubs(), meshDlo))
	if want > t.meshed.Load() {
		wctx, cancel := context.WithTimeout(ctx, meshWait)
		err := t.t.Publish(wctx, data, pubsub.WithValidatorData(validatorData),
			pubsub.WithReadiness(func(rt pubsub.PubSubRouter, topic string) (bool, error) {
				return rt.EnoughPeers(topic, int(want)), nil
			}))
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			if err == nil {
				t.meshed.Store(want)
			}
			return err
		}
		t.meshed.Store(want) // not reachable now (backoff, score): do not wait for it again
	} else {
		t.meshed.Store(want) // peers left: wait again when they come back
	}
	return t.t.Publish(ctx, data, pubsub.WithValidatorData(validatorData))
}

// allowedSubs counts the topic's subscribed peers that its allow function
// lets through.
func (t *Topic) allowedSubs() int {
	t.subsMu.Lock()
	defer t.subsMu.Unlock()
	n := 0
	for p := range t.subs {
		if t.n.allowed(p, t.name) {
			n++
		}
	}
	return n
}

// watchPeers keeps subs up to date until the topic is closed.
func (t *Topic) watchPeers() {
	for {
		ev, err := t.watch.NextPeerEvent(t.life)
		if err != nil {
			return
		}
		t.subsMu.Lock()
		if ev.Type == pubsub.PeerJoin {
			t.subs[ev.Peer] = true
		} else {
			delete(t.subs, ev.Peer)
		}
		t.subsMu.Unlock()
	}
}

// rpcSize is the encoded size of the gossipsub RPC that carries one message
// with data on topic: gossipsub silently drops RPCs over its size limit, so
// Publish checks the same number first.
func rpcSize(topic string, data []byte) int {
	return proto.Size(&pb.RPC{Publish: []*pb.Message{{Data: data, Topic: &topic}}})
}

// Next returns the next message on the topic, ours included, blocking until
// one arrives, ctx is done, or the topic is closed.
func (t *Topic) Next(ctx context.Context) (*pubsub.Message, error) {
	m, err := t.sub.Next(ctx)
	if err != nil {
		if errors.Is(err, pubsub.ErrSubscriptionCancelled) {
			return nil, errTopicClosed
		}
		return nil, err
	}
	return m, nil
}

// Peers returns the connected peers known to be subscribed to the topic,
// sorted.
func (t *Topic) Peers() []peer.ID {
	ps := t.t.ListPeers()
	slices.Sort(ps)
	return ps
}

// NextPeerEvent returns the next change in the topic's subscribed peers,
// blocking until one happens, ctx is done, or the topic is closed. Peers
// already subscribed when the topic was joined are reported as joins. A peer
// that joins and leaves before it is reported may not be reported at all.
func (t *Topic) NextPeerEvent(ctx context.Context) (PeerEvent, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.life, cancel)
	defer stop()
	ev, err := t.events.NextPeerEvent(ctx)
	if err != nil {
		if t.life.Err() != nil {
			return PeerEvent{}, errTopicClosed
		}
		return PeerEvent{}, err
	}
	return PeerEvent{Peer: ev.Peer, Joined: ev.Type == pubsub.PeerJoin}, nil
}

// Close cancels the subscription and peer events, unregisters the validator
// and leaves the topic. Blocked Next and NextPeerEvent calls return an error.
// Close is idempotent.
func (t *Topic) Close() error {
	t.closeOnce.Do(func() {
		t.closeErr = t.release()
		t.n.mu.Lock()
		delete(t.n.topics, t)
		t.n.mu.Unlock()
	})
	return t.closeErr
}

// release undoes join, whatever part of it happened.
func (t *Topic) release() error {
	t.endLife()
	if t.events != nil {
		t.events.Cancel()
	}
	if t.watch != nil {
		t.watch.Cancel()
		t.watched.Wait()
	}
	if t.sub != nil {
		t.sub.Cancel()
	}
	var errs []error
	if t.hasValidator {
		if err := t.n.ps.UnregisterTopicValidator(t.name); err != nil {
			errs = append(errs, fmt.Errorf("failed to unregister validator: %w", err))
		}
	}
	if err := t.t.Close(); err != nil {
		errs = append(errs, err)
	}
	t.n.dropAllow(t.name)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node: close topic %q: %w", t.name, err)
	}
	return nil
}

func (n *Node) dropAllow(topic string) {
	n.allowMu.Lock()
	delete(n.allows, topic)
	n.allowMu.Unlock()
}
