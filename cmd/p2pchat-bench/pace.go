package main

import (
	"context"
	"sync"
	"time"
)

// pacer sends measured messages from one member at a fixed rate until
// halted, catching up without bursting if a send was slow.
type pacer struct {
	stop    chan struct{}
	once    sync.Once
	done    chan struct{}
	err     error
	longest time.Duration // the slowest send call (p2pchat waits out rekeys in Send)
}

func startPacer(ctx context.Context, cl cluster, col *collector, from int, rate float64, size int) *pacer {
	p := &pacer{stop: make(chan struct{}), done: make(chan struct{})}
	interval := time.Duration(float64(time.Second) / rate)
	go func() {
		defer close(p.done)
		next := time.Now()
		for {
			t := time.NewTimer(time.Until(next))
			select {
			case <-p.stop:
				t.Stop()
				return
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			// A message in flight when halt is called still completes:
			// it has been counted as sent.
			seq := col.markSent()
			t0 := time.Now()
			if err := cl.send(ctx, from, payload(phaseMeasure, seq, size)); err != nil {
				p.err = err
				return
			}
			p.longest = max(p.longest, time.Since(t0))
			// The schedule does not pile up behind a slow send: at most
			// one message goes out immediately after it.
			next = next.Add(interval)
			if behind := time.Now().Add(-interval); next.Before(behind) {
				next = behind
			}
		}
	}()
	return p
}

// halt stops the sender and returns the error that stopped it early, if
// any. It may be called more than once.
func (p *pacer) halt() error {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	return p.err
}
