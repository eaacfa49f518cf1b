package memnet

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestLinkDelayAndValidateCost: a link's own delay adds to the network's,
// for that link only, and a slow validator judges one message at a time.
func TestLinkDelayAndValidateCost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		a, b, c := n.Endpoint("a"), n.Endpoint("b"), n.Endpoint("c")
		n.Connect("a", "b")
		n.Connect("a", "c")
		ta, tb, tc := join(t, a, "x"), join(t, b, "x"), join(t, c, "x")
		n.SetDelay(10 * time.Millisecond)
		n.SetLinkDelay("c", "a", 90*time.Millisecond)
		start := time.Now()
		if err := ta.Publish(context.Background(), []byte("m"), "mine"); err != nil {
			t.Fatal(err)
		}
		next(t, ta)
		next(t, tb)
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("b received after %v, want 10ms", d)
		}
		next(t, tc)
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("c received after %v, want 100ms", d)
		}

		n.SetDelay(0)
		n.SetLinkDelay("a", "c", 0)
		n.SetValidateCost("b", 50*time.Millisecond)
		start = time.Now()
		for range 3 {
			if err := ta.Publish(context.Background(), []byte("m"), "mine"); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			next(t, ta)
			next(t, tc)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("c (no cost) received after %v, want 0", d)
		}
		for range 3 {
			next(t, tb)
		}
		if d := time.Since(start); d != 150*time.Millisecond {
			t.Errorf("b validated 3 messages in %v, want 150ms", d)
		}
	})
}
