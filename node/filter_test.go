package node

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// rpcTracer records the topic messages a node sends to and receives from
// each peer (gossipsub's raw tracer, called on its event loop).
type rpcTracer struct {
	mu   sync.Mutex
	sent map[peer.ID]int // topic messages sent to the peer
	recv map[peer.ID]int // topic messages in RPCs received from the peer
}

func newRPCTracer() *rpcTracer {
	return &rpcTracer{sent: map[peer.ID]int{}, recv: map[peer.ID]int{}}
}

func (r *rpcTracer) SendRPC(rpc *pubsub.RPC, p peer.ID) {
	r.mu.Lock()
	r.sent[p] += len(rpc.GetPublish())
	r.mu.Unlock()
}

func (r *rpcTracer) RecvRPC(rpc *pubsub.RPC) {
	r.mu.Lock()
	r.recv[rpc.From()] += len(rpc.GetPublish())
	r.mu.Unlock()
}

func (r *rpcTracer) counts(p peer.ID) (sent, recv int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent[p], r.recv[p]
}

func (r *rpcTracer) AddPeer(peer.ID, protocol.ID)          {}
func (r *rpcTracer) RemovePeer(peer.ID)                    {}
func (r *rpcTracer) Join(string)                           {}
func (r *rpcTracer) Leave(string)                          {}
func (r *rpcTracer) Graft(peer.ID, string)                 {}
func (r *rpcTracer) Prune(peer.ID, string)                 {}
func (r *rpcTracer) ValidateMessage(*pubsub.Message)       {}
func (r *rpcTracer) DeliverMessage(*pubsub.Message)        {}
func (r *rpcTracer) RejectMessage(*pubsub.Message, string) {}
func (r *rpcTracer) DuplicateMessage(*pubsub.Message)      {}
func (r *rpcTracer) ThrottlePeer(peer.ID)                  {}
func (r *rpcTracer) DropRPC(*pubsub.RPC, peer.ID)          {}
func (r *rpcTracer) UndeliverableMessage(*pubsub.Message)  {}

var _ pubsub.RawTracer = (*rpcTracer)(nil)

// TestOutsiderGetsNothing: two members join a topic whose allow function
// lets only each other through; a third node subscribes to the topic and
// publishes on it. The members deliver each other's messages, send the
// outsider no topic message (flood publishing included), and never
// validate what it publishes: its RPCs are dropped before validation.
func TestOutsiderGetsNothing(t *testing.T) {
	tracers := []*rpcTracer{newRPCTracer(), newRPCTracer()}
	var nodes []*Node
	for i := range 3 {
		var peers []string
		for _, p := range nodes {
			peers = append(peers, loopbackAddr(t, p))
		}
		cfg := Config{NoMDNS: true, Peers: peers}
		if i < 2 {
			cfg.tracer = tracers[i]
		}
		nodes = append(nodes, newTestNode(t, cfg))
	}
	for _, nd := range nodes {
		waitFor(t, "full mesh", func() bool { return len(nd.ConnectedPeers()) == 2 })
	}
	a, b, o := nodes[0], nodes[1], nodes[2]
	members := map[peer.ID]bool{a.ID(): true, b.ID(): true}
	allow := func(p peer.ID) bool { return members[p] }
	vals := []*recordingValidator{{}, {}}
	ta, err := joinMembers(a, "room", vals[0].validate, allow)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := joinMembers(b, "room", vals[1].validate, allow)
	if err != nil {
		t.Fatal(err)
	}
	to, err := o.Join("room", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "topic peers", func() bool { return len(ta.Peers()) == 2 && len(tb.Peers()) == 2 && len(to.Peers()) == 2 })

	for i := range 5 {
		if err := to.Publish(context.Background(), fmt.Appendf(nil, "forged %d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Both members have taken in the outsider's RPCs...
	for i, tr := range tracers {
		waitFor(t, "the outsider's RPCs", func() bool { _, recv := tr.counts(o.ID()); return recv >= 5 })
		_ = i
	}
	// ...and validate in order: once a member's validator has seen a later
	// message, it would have seen the outsider's.
	for i := range 5 {
		if err := ta.Publish(context.Background(), fmt.Appendf(nil, "member %d", i), nil); err != nil {
			t.Fatal(err)
		}
		for want := fmt.Sprintf("member %d", i); ; {
			got := nextData(t, tb)
			if got == want {
				break
			}
			t.Errorf("bob got %q from the outsider", got)
		}
	}
	if err := tb.Publish(context.Background(), []byte("reply"), nil); err != nil {
		t.Fatal(err)
	}
	for got := ""; got != "reply"; {
		got = nextData(t, ta) // her own messages come first
	}
	for i, v := range vals {
		for j := range 5 {
			if calls := v.callsFor(fmt.Sprintf("forged %d", j)); len(calls) != 0 {
				t.Errorf("member %d validated the outsider's message %d", i, j)
			}
		}
		if sent, _ := tracers[i].counts(o.ID()); sent != 0 {
			t.Errorf("member %d sent the outsider %d topic messages", i, sent)
		}
	}
}

func joinMembers(n *Node, name string, v Validator, allow func(peer.ID) bool) (*Topic, error) {
	return n.JoinFiltered(name, v, allow)
}

func (r *rpcTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (r *rpcTracer) OnClosedOutboundStream(peer.ID)                       {}
func (r *rpcTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}

// TestRejectedForwarderPenalised: a member that forwards messages the
// validator rejects loses score on the topic (P4) until it is graylisted;
// an honest member's score stays 0 and a stranger's is far below.
func TestRejectedForwarderPenalised(t *testing.T) {
	var mu sync.Mutex
	scores := map[peer.ID]float64{}
	var nodes []*Node
	for i := range 4 {
		var peers []string
		for _, p := range nodes {
			peers = append(peers, loopbackAddr(t, p))
		}
		cfg := Config{NoMDNS: true, Peers: peers}
		if i == 0 {
			cfg.scores = func(m map[peer.ID]float64) {
				mu.Lock()
				scores = m
				mu.Unlock()
			}
		}
		nodes = append(nodes, newTestNode(t, cfg))
	}
	for _, nd := range nodes {
		waitFor(t, "full mesh", func() bool { return len(nd.ConnectedPeers()) == 3 })
	}
	a, bad, good, stranger := nodes[0], nodes[1], nodes[2], nodes[3]
	members := map[peer.ID]bool{a.ID(): true, bad.ID(): true, good.ID(): true}
	allow := func(p peer.ID) bool { return members[p] }
	va := &recordingValidator{reject: map[string]bool{}}
	ta, err := a.JoinFiltered("room", va.validate, allow)
	if err != nil {
		t.Fatal(err)
	}
	// The honest member judges as a does (so it does not forward what a
	// rejects); the other forwards anything.
	vg := &recordingValidator{reject: va.reject}
	var tops []*Topic
	for _, v := range []Validator{nil, vg.validate} {
		n := bad
		if v != nil {
			n = good
		}
		tp, err := n.JoinFiltered("room", v, allow)
		if err != nil {
			t.Fatal(err)
		}
		tops = append(tops, tp)
	}
	if _, err := stranger.Join("room", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "topic peers", func() bool {
		return len(ta.Peers()) == 3 && tops[0].allowedSubs() == 2 && tops[1].allowedSubs() == 2
	})
	score := func(p peer.ID) (float64, bool) {
		mu.Lock()
		defer mu.Unlock()
		s, ok := scores[p]
		return s, ok
	}
	reject := func(msg string) {
		va.mu.Lock()
		vg.mu.Lock()
		va.reject[msg] = true
		vg.mu.Unlock()
		va.mu.Unlock()
		if err := tops[0].Publish(context.Background(), []byte(msg), nil); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of messages a's validator rejects (before any heartbeat can
	// prune the forwarder from a's mesh: a penalised peer loses its mesh
	// links too): they graylist it.
	for i := range 20 {
		reject(fmt.Sprintf("rejected %d", i))
	}
	waitFor(t, "the forwarder graylisted", func() bool { s, ok := score(bad.ID()); return ok && s < graylistThreshold })
	if err := tops[1].Publish(context.Background(), []byte("fine"), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the honest member's message", func() bool { return len(va.callsFor("fine")) > 0 })
	waitFor(t, "scores of the others", func() bool {
		g, ok1 := score(good.ID())
		s, ok2 := score(stranger.ID())
		return ok1 && ok2 && g == 0 && s <= strangerScore
	})
	s, _ := score(bad.ID())
	t.Logf("forwarder of rejected messages: %.1f", s)
}
