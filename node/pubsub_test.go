package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// mesh starts n nodes, each configured to dial all earlier ones, and waits
// until they are all connected.
func mesh(t *testing.T, n int) []*Node {
	t.Helper()
	var nodes []*Node
	for range n {
		var peers []string
		for _, p := range nodes {
			peers = append(peers, loopbackAddr(t, p))
		}
		nodes = append(nodes, newTestNode(t, Config{NoMDNS: true, Peers: peers}))
	}
	for _, nd := range nodes {
		waitFor(t, "full mesh", func() bool { return len(nd.ConnectedPeers()) == n-1 })
	}
	return nodes
}

func joinAll(t *testing.T, nodes []*Node, name string, v func(*Node) Validator) []*Topic {
	t.Helper()
	var topics []*Topic
	for _, n := range nodes {
		var val Validator
		if v != nil {
			val = v(n)
		}
		tp, err := n.Join(name, val)
		if err != nil {
			t.Fatal(err)
		}
		topics = append(topics, tp)
	}
	return topics
}

func nextData(t *testing.T, tp *Topic) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	m, err := tp.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return string(m.Data)
}

// TestPublishRightAfterPeersAppear publishes as soon as Peers shows the
// others. Without flood publishing such messages go nowhere until the mesh
// forms at a heartbeat; every run must deliver.
func TestPublishRightAfterPeersAppear(t *testing.T) {
	const runs = 8
	var worst time.Duration
	for run := range runs {
		t.Run(strconv.Itoa(run), func(t *testing.T) {
			nodes := mesh(t, 3)
			topics := joinAll(t, nodes, "t", nil)
			want := []peer.ID{nodes[1].ID(), nodes[2].ID()}
			slices.Sort(want)
			waitFor(t, "topic peers", func() bool { return slices.Equal(topics[0].Peers(), want) })
			msg := fmt.Sprintf("run %d", run)
			sent := time.Now()
			if err := topics[0].Publish(context.Background(), []byte(msg), nil); err != nil {
				t.Fatal(err)
			}
			for i, tp := range topics[1:] {
				if got := nextData(t, tp); got != msg {
					t.Errorf("node %d got %q, want %q", i+1, got, msg)
				}
			}
			worst = max(worst, time.Since(sent))
		})
	}
	t.Logf("slowest delivery to both peers: %v", worst)
}

type validatorCall struct {
	from  peer.ID
	data  string
	local bool
	vdata any
}

type recordingValidator struct {
	mu     sync.Mutex
	calls  []validatorCall
	reject map[string]bool
}

func (r *recordingValidator) validate(_ context.Context, from peer.ID, msg *pubsub.Message, local bool) pubsub.ValidationResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, validatorCall{from, string(msg.Data), local, msg.ValidatorData})
	if r.reject[string(msg.Data)] {
		return pubsub.ValidationReject
	}
	return pubsub.ValidationAccept
}

func (r *recordingValidator) callsFor(data string) []validatorCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []validatorCall
	for _, c := range r.calls {
		if c.data == data {
			out = append(out, c)
		}
	}
	return out
}

func TestValidator(t *testing.T) {
	nodes := mesh(t, 2)
	a, b := nodes[0], nodes[1]
	va := &recordingValidator{reject: map[string]bool{"bad everywhere": true}}
	vb := &recordingValidator{reject: map[string]bool{"bad everywhere": true, "bad at b": true}}
	ta, err := a.Join("v", va.validate)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Join("v", vb.validate)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "topic peers", func() bool { return len(ta.Peers()) == 1 && len(tb.Peers()) == 1 })

	type marker struct{ n int }
	mark := &marker{42}
	ctx := context.Background()
	if err := ta.Publish(ctx, []byte("bad everywhere"), mark); err == nil {
		t.Error("Publish of a message our validator rejects succeeded")
	}
	if err := ta.Publish(ctx, []byte("bad at b"), mark); err != nil {
		t.Fatal(err)
	}
	if err := ta.Publish(ctx, []byte("good"), mark); err != nil {
		t.Fatal(err)
	}
	// Messages from one sender arrive in order, so the rejected ones would
	// have come first.
	if got := nextData(t, tb); got != "good" {
		t.Errorf("B received %q first, want %q", got, "good")
	}
	for _, want := range []string{"bad at b", "good"} {
		if got := nextData(t, ta); got != want {
			t.Errorf("A received %q, want %q", got, want)
		}
	}

	for _, c := range va.calls {
		if !c.local || c.from != a.ID() || c.vdata != mark {
			t.Errorf("A's validator call %+v: want local, from A, our marker", c)
		}
	}
	if got := len(va.callsFor("bad everywhere")); got != 1 {
		t.Errorf("A validated the locally rejected message %d times", got)
	}
	if got := len(vb.callsFor("bad everywhere")); got != 0 {
		t.Errorf("a message rejected at the publisher reached B's validator %d times", got)
	}
	for _, data := range []string{"bad at b", "good"} {
		calls := vb.callsFor(data)
		if len(calls) != 1 {
			t.Fatalf("B validated %q %d times", data, len(calls))
		}
		if c := calls[0]; c.local || c.from != a.ID() || c.vdata != nil {
			t.Errorf("B's validator call %+v: want remote, from A, no validator data", c)
		}
	}
}

// TestPerSenderOrder sends a burst through a validator and checks that it
// arrives complete and in order.
func TestPerSenderOrder(t *testing.T) {
	const count = 2000
	nodes := mesh(t, 2)
	busy := func(*Node) Validator {
		return func(_ context.Context, _ peer.ID, msg *pubsub.Message, _ bool) pubsub.ValidationResult {
			// Some work, so that concurrent validation would reorder.
			h := uint32(0)
			for range 2000 {
				for _, c := range msg.Data {
					h = h*31 + uint32(c)
				}
			}
			_ = h
			return pubsub.ValidationAccept
		}
	}
	topics := joinAll(t, nodes, "order", busy)
	waitFor(t, "topic peers", func() bool { return len(topics[0].Peers()) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	published := make(chan error, 1)
	go func() {
		for i := range count {
			if err := topics[0].Publish(ctx, []byte(strconv.Itoa(i)), nil); err != nil {
				published <- fmt.Errorf("Publish %d: %w", i, err)
				return
			}
		}
		published <- nil
	}()
	defer func() {
		cancel()
		if err := <-published; err != nil {
			t.Error(err)
		}
	}()
	for i := range count {
		m, err := topics[1].Next(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if got := string(m.Data); got != strconv.Itoa(i) {
			t.Fatalf("message %d is %q: out of order", i, got)
		}
	}
}

func TestPublishSizeLimit(t *testing.T) {
	nodes := mesh(t, 2)
	topics := joinAll(t, nodes, "size", nil)
	waitFor(t, "topic peers", func() bool { return len(topics[0].Peers()) == 1 })

	largest := MaxMessageSize
	for rpcSize("size", make([]byte, largest)) > MaxMessageSize {
		largest--
	}
	t.Logf("largest payload on a 4-byte topic: %d bytes (%d of framing)", largest, MaxMessageSize-largest)
	ctx := context.Background()
	if err := topics[0].Publish(ctx, make([]byte, largest+1), nil); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("Publish of %d bytes = %v, want ErrFrameTooLarge", largest+1, err)
	}
	big := bytes.Repeat([]byte("z"), largest)
	if err := topics[0].Publish(ctx, big, nil); err != nil {
		t.Fatal(err)
	}
	// The largest accepted payload must really arrive: gossipsub drops
	// oversized RPCs silently, so a wrong limit shows up here.
	if got := nextData(t, topics[1]); got != string(big) {
		t.Errorf("received %d bytes, want the %d-byte message", len(got), len(big))
	}
}

func TestPeerEvents(t *testing.T) {
	nodes := mesh(t, 2)
	a, b := nodes[0], nodes[1]
	ta, err := a.Join("ev", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	tb, err := b.Join("ev", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := ta.NextPeerEvent(ctx); err != nil || ev != (PeerEvent{Peer: b.ID(), Joined: true}) {
		t.Fatalf("first event %+v, %v; want B joined", ev, err)
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if ev, err := ta.NextPeerEvent(ctx); err != nil || ev != (PeerEvent{Peer: b.ID(), Joined: false}) {
		t.Fatalf("second event %+v, %v; want B left", ev, err)
	}

	// Closing the topic unblocks a waiting NextPeerEvent and Next.
	errs := make(chan error, 2)
	go func() { _, err := ta.NextPeerEvent(ctx); errs <- err }()
	go func() { _, err := ta.Next(ctx); errs <- err }()
	time.Sleep(20 * time.Millisecond) // let them block; the test holds either way
	if err := ta.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err == nil || ctx.Err() != nil {
			t.Errorf("blocked call returned %v (ctx %v); want an error from Close", err, ctx.Err())
		}
	}

	// The topic, validator included, can be joined again.
	again, err := a.Join("ev", func(context.Context, peer.ID, *pubsub.Message, bool) pubsub.ValidationResult {
		return pubsub.ValidationAccept
	})
	if err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	if _, err := a.Join("ev", nil); err == nil {
		t.Error("joining a topic twice succeeded")
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if err := again.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
