package main

import (
	"context"
	"fmt"
	"time"
)

// steadyOnce: member 0 sends steadyRate messages a second for steadyDur,
// then deliveries drain (bounded by quiet and repair).
func (b *bench) steadyOnce(ctx context.Context, stack string, n int) (outcome, error) {
	cl, col, heap, err := b.room(ctx, stack, n, span(1, n))
	if err != nil {
		return outcome{}, err
	}
	defer cl.close()
	r := outcome{heap: heap}
	cpu0 := cpuTime()
	p := startPacer(ctx, cl, col, 0, b.cfg.steadyRate, b.cfg.size)
	select {
	case <-time.After(b.cfg.steadyDur):
	case <-ctx.Done():
	}
	if err := p.halt(); err != nil {
		return r, fmt.Errorf("send: %w", err)
	}
	col.waitAll(ctx, b.cfg.quiet, b.cfg.repair)
	r.end, r.cpu = col.tally(), cpuTime()-cpu0
	r.repaired = r.end
	if pc, ok := cl.(*p2pCluster); ok {
		// Receipts come a sync round after delivery: give the last ones
		// a moment, then keep what arrived.
		wait := time.NewTimer(2 * time.Second)
		select {
		case <-wait.C:
		case <-ctx.Done():
		}
		wait.Stop()
		r.seenAll = pc.seenAllMs()
	}
	return r, ctx.Err()
}

func (b *bench) steady(ctx context.Context) error {
	t := &table{
		title: fmt.Sprintf("steady: one member sends %.0f msgs/s × %d B for %v (%d round(s))", b.cfg.steadyRate, b.cfg.size, b.cfg.steadyDur, b.cfg.steadyRounds),
		head:  compareHead,
	}
	for i, n := range b.cfg.steadyN {
		a, err := b.rounds(ctx, "steady", n, b.cfg.steadyRounds, i, func(stack string) (outcome, error) { return b.steadyOnce(ctx, stack, n) })
		if err != nil {
			return err
		}
		prefix := fmt.Sprintf("steady_n%d_", n)
		b.store(prefix, a, steadyMetrics)
		for _, m := range steadyMetrics {
			b.res.compareRow(t, fmt.Sprint(n), metricLabels[m], prefix+m)
		}
		b.res.set(prefix+"seen_all", a[stackP2P].metric("seen_all"))
		t.add(fmt.Sprint(n), "sent → seen by all (ms, median; p2pchat only)", "", num(b.res.get(prefix+"seen_all")), "", b.res.verdict(prefix+"seen_all"))
	}
	t.note("delivered %%: after the sending stopped and deliveries drained (nothing for %v, at most %v). CPU: per delivery, sending and draining.", b.cfg.quiet, b.cfg.repair)
	b.emit(t)
	return nil
}
