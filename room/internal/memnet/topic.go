package memnet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// pending is a message on its way to one receiving topic.
type pending struct {
	due  time.Time
	seq  uint64
	from peer.ID
	data []byte
	// own is set for our own publishes, already validated: d is delivered.
	own bool
	d   room.Delivery
}

// topic is one endpoint's subscription to a topic. Its goroutine (run)
// validates arriving messages in order and hands out deliveries and peer
// events.
type topic struct {
	e    *Endpoint
	name string
	v    room.Validator
	// allow, if not nil, says which peers this subscription exchanges
	// messages with: others get nothing from it, and what they send is
	// dropped before validation (as gossipsub's peer filter and
	// graylisting do in node).
	allow func(peer.ID) bool

	mu    sync.Mutex // guards the boxes; held briefly
	inbox []pending
	evbox []room.PeerEvent
	seq   uint64
	wake  chan struct{} // capacity 1: something is in a box

	out   chan room.Delivery
	evOut chan room.PeerEvent
	done  chan struct{}
	once  sync.Once
}

// Join subscribes e to name; v validates every message, ours included;
// allow, if not nil, limits the peers messages are exchanged with.
func (e *Endpoint) Join(name string, v room.Validator, allow func(peer.ID) bool) (room.Topic, error) {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if e.topics[name] != nil {
		return nil, fmt.Errorf("memnet: topic %q already joined", name)
	}
	t := &topic{e: e, name: name, v: v, allow: allow, wake: make(chan struct{}, 1),
		out: make(chan room.Delivery), evOut: make(chan room.PeerEvent), done: make(chan struct{})}
	e.topics[name] = t
	for _, p := range e.n.order {
		o := e.n.endpoints[p]
		if ot := o.topics[name]; ot != nil && p != e.id && e.n.linkedLocked(e.id, p) {
			t.event(room.PeerEvent{Peer: p, Joined: true})
			ot.event(room.PeerEvent{Peer: e.id, Joined: true})
		}
	}
	go t.run()
	return t, nil
}

func (t *topic) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *topic) push(p pending) {
	t.mu.Lock()
	t.seq++
	p.seq = t.seq
	t.inbox = append(t.inbox, p)
	t.mu.Unlock()
	t.signal()
}

func (t *topic) event(ev room.PeerEvent) {
	t.mu.Lock()
	t.evbox = append(t.evbox, ev)
	t.mu.Unlock()
	t.signal()
}

func (t *topic) run() {
	var q []pending
	var deliveries []room.Delivery
	var events []room.PeerEvent
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		t.mu.Lock()
		q = append(q, t.inbox...)
		events = append(events, t.evbox...)
		t.inbox, t.evbox = nil, nil
		t.mu.Unlock()
		slices.SortStableFunc(q, func(a, b pending) int {
			if c := a.due.Compare(b.due); c != 0 {
				return c
			}
			return int(a.seq - b.seq)
		})
		now := time.Now()
		for len(q) > 0 && !q[0].due.After(now) {
			if d, ok := t.validate(q[0]); ok {
				deliveries = append(deliveries, d)
			}
			q = q[1:]
		}
		var tc <-chan time.Time
		if len(q) > 0 {
			timer.Reset(time.Until(q[0].due))
			tc = timer.C
		}
		var outc chan room.Delivery
		var d0 room.Delivery
		if len(deliveries) > 0 {
			outc, d0 = t.out, deliveries[0]
		}
		var evc chan room.PeerEvent
		var ev0 room.PeerEvent
		if len(events) > 0 {
			evc, ev0 = t.evOut, events[0]
		}
		select {
		case <-t.wake:
		case <-tc:
		case outc <- d0:
			deliveries = deliveries[1:]
		case evc <- ev0:
			events = events[1:]
		case <-t.done:
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

func (t *topic) validate(p pending) (room.Delivery, bool) {
	if p.own {
		return p.d, true
	}
	if t.allow != nil && !t.allow(p.from) {
		t.e.refused.Add(1)
		return room.Delivery{}, false
	}
	d := room.Delivery{Data: p.data, From: p.from}
	if cost := t.e.n.validateCost(t.e.id); cost > 0 {
		time.Sleep(cost)
	}
	if t.v == nil {
		return d, true
	}
	verdict, val := t.v(p.from, p.data, nil)
	if verdict != room.Accept {
		return room.Delivery{}, false
	}
	d.Value = val
	return d, true
}

// Publish validates data, delivers it to this subscription and floods it to
// every linked endpoint subscribed to the topic that allow lets through, subject to the network's
// delay, reordering and loss.
func (t *topic) Publish(ctx context.Context, data []byte, local any) error {
	if local == nil {
		return errors.New("memnet: publish needs a local value")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-t.done:
		return ErrClosed
	default:
	}
	val := local
	if t.v != nil {
		var verdict room.Verdict
		if verdict, val = t.v(t.e.id, data, local); verdict != room.Accept {
			return fmt.Errorf("memnet: publish on %q: validation failed", t.name)
		}
	}
	data = slices.Clone(data)
	now := time.Now()
	t.push(pending{due: now, own: true, d: room.Delivery{Data: data, From: t.e.id, Value: val}})
	n := t.e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.published[t.name]) < maxPublished {
		n.published[t.name] = append(n.published[t.name], data)
	}
	for _, p := range n.order {
		o := n.endpoints[p]
		ot := o.topics[t.name]
		if ot == nil || p == t.e.id || !n.linkedLocked(t.e.id, p) || (t.allow != nil && !t.allow(p)) {
			continue
		}
		if n.loss > 0 && n.rng.Float64() < n.loss {
			continue
		}
		due := now.Add(n.delay + n.linkDelay[pair(t.e.id, p)])
		if n.reorder > 0 {
			due = due.Add(time.Duration(n.rng.Int64N(int64(n.reorder))))
		}
		ot.push(pending{due: due, from: t.e.id, data: data})
	}
	return nil
}

func (t *topic) Next(ctx context.Context) (room.Delivery, error) {
	select {
	case d := <-t.out:
		return d, nil
	case <-ctx.Done():
		return room.Delivery{}, ctx.Err()
	case <-t.done:
		return room.Delivery{}, ErrClosed
	}
}

func (t *topic) NextPeerEvent(ctx context.Context) (room.PeerEvent, error) {
	select {
	case ev := <-t.evOut:
		return ev, nil
	case <-ctx.Done():
		return room.PeerEvent{}, ctx.Err()
	case <-t.done:
		return room.PeerEvent{}, ErrClosed
	}
}

// Peers returns the linked endpoints subscribed to the topic, sorted.
func (t *topic) Peers() []peer.ID {
	n := t.e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []peer.ID
	for _, p := range n.order {
		if p != t.e.id && n.endpoints[p].topics[t.name] != nil && n.linkedLocked(t.e.id, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Close leaves the topic: linked subscribers see this endpoint leave.
func (t *topic) Close() error {
	t.once.Do(func() {
		n := t.e.n
		n.mu.Lock()
		if t.e.topics[t.name] == t {
			delete(t.e.topics, t.name)
			for _, p := range n.order {
				if ot := n.endpoints[p].topics[t.name]; ot != nil && p != t.e.id && n.linkedLocked(t.e.id, p) {
					ot.event(room.PeerEvent{Peer: t.e.id, Joined: false})
				}
			}
		}
		n.mu.Unlock()
		close(t.done)
	})
	return nil
}
