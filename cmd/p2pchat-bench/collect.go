package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Payloads are printable ASCII (p2pchat texts must be UTF-8): a phase
// letter, the sequence number in ten digits, then padding up to the size.
const (
	phaseWarmup  = 'w'
	phaseMeasure = 'm'
	minPayload   = 16
)

func payload(phase byte, seq, size int) []byte {
	b := make([]byte, size)
	copy(b, fmt.Sprintf("%c%010d ", phase, seq))
	for i := 12; i < size; i++ {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func parsePayload(b []byte) (phase byte, seq int, ok bool) {
	if len(b) < minPayload {
		return 0, 0, false
	}
	n, err := strconv.Atoi(string(b[1:11]))
	if err != nil {
		return 0, 0, false
	}
	return b[0], n, true
}

// collector records when each message was sent and when each expected
// receiver got it. Stacks call received from their receive goroutines; it
// is safe for concurrent use.
type collector struct {
	mu        sync.Mutex
	slot      map[int]int // member -> index in got, for expected receivers
	sent      []time.Time // by seq
	got       [][]bool    // by slot, by seq
	count     []int       // receivers that got seq
	receipts  int         // (receiver, message) pairs delivered
	complete  int         // messages delivered to every receiver
	firstSend time.Time
	lastDone  time.Time // when the latest message reached its last receiver
	lastRecv  time.Time
	lat       []time.Duration
	probed    map[int]bool      // receivers that got a warm-up message
	first     map[int]time.Time // first measured message per member (any member)
	wake      chan struct{}
}

func newCollector(receivers []int) *collector {
	c := &collector{slot: map[int]int{}, probed: map[int]bool{}, first: map[int]time.Time{}, wake: make(chan struct{}, 1)}
	for i, r := range receivers {
		c.slot[r] = i
	}
	c.got = make([][]bool, len(receivers))
	return c
}

// markSent assigns the next sequence number and notes its send time.
func (c *collector) markSent() int {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sent) == 0 {
		c.firstSend = now
	}
	c.sent = append(c.sent, now)
	c.count = append(c.count, 0)
	return len(c.sent) - 1
}

// received is a stack's sink: member got b at at.
func (c *collector) received(member int, b []byte, at time.Time) {
	phase, seq, ok := parsePayload(b)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.signal()
	if phase == phaseWarmup {
		if _, ok := c.slot[member]; ok {
			c.probed[member] = true
		}
		return
	}
	if phase != phaseMeasure || seq >= len(c.sent) {
		return
	}
	if _, ok := c.first[member]; !ok {
		c.first[member] = at
	}
	s, ok := c.slot[member]
	if !ok {
		return
	}
	for len(c.got[s]) <= seq {
		c.got[s] = append(c.got[s], make([]bool, len(c.sent)-len(c.got[s])+64)...)
	}
	if c.got[s][seq] {
		return
	}
	c.got[s][seq] = true
	c.receipts++
	c.lastRecv = at
	c.lat = append(c.lat, at.Sub(c.sent[seq]))
	c.count[seq]++
	if c.count[seq] == len(c.slot) {
		c.complete++
		c.lastDone = at
	}
}

func (c *collector) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// firstAt returns when member got its first measured message.
func (c *collector) firstAt(member int) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.first[member]
	return t, ok
}

// errNotReady reports a room that never carried a message to everyone.
var errNotReady = errors.New("warm-up messages did not reach every member")

// warmup sends warm-up messages from member from every 20 ms until every
// expected receiver got one: then the mesh (and, for p2pchat, the key) is in
// place everywhere.
func (c *collector) warmup(ctx context.Context, cl cluster, from, size int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		c.mu.Lock()
		done := len(c.probed) == len(c.slot)
		c.mu.Unlock()
		if done {
			return nil
		}
		if err := cl.send(ctx, from, payload(phaseWarmup, seq, size)); err != nil && ctx.Err() == nil {
			return fmt.Errorf("warm-up send: %w", err)
		}
		select {
		case <-ctx.Done():
			c.mu.Lock()
			got := len(c.probed)
			c.mu.Unlock()
			return fmt.Errorf("%w (%d of %d within %v)", errNotReady, got, len(c.slot), limit)
		case <-tick.C:
		}
	}
}

// waitAll waits until every message sent reached every receiver, or until
// nothing arrived for quiet (if quiet > 0; counted from the call at the
// earliest), or until limit has passed.
func (c *collector) waitAll(ctx context.Context, quiet, limit time.Duration) {
	start := time.Now()
	deadline := start.Add(limit)
	for {
		c.mu.Lock()
		done := c.complete == len(c.sent)
		last := c.lastRecv
		c.mu.Unlock()
		if last.Before(start) {
			last = start
		}
		now := time.Now()
		if done || now.After(deadline) || (quiet > 0 && now.Sub(last) >= quiet) || ctx.Err() != nil {
			return
		}
		wait := deadline.Sub(now)
		if quiet > 0 {
			wait = min(wait, quiet-now.Sub(last))
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-c.wake:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// tally is a snapshot of a collector.
type tally struct {
	sent, receivers    int
	receipts, complete int
	firstSend, endTime time.Time // first send; when the last complete message was done
	lat                []time.Duration
	missing            int // messages that did not reach every receiver
}

func (c *collector) tally() tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := tally{sent: len(c.sent), receivers: len(c.slot), receipts: c.receipts, complete: c.complete,
		firstSend: c.firstSend, endTime: c.lastDone, lat: append([]time.Duration(nil), c.lat...)}
	t.missing = t.sent - t.complete
	return t
}
