package main

import (
	"context"
	"fmt"
)

// burstOnce: member 0 sends burstMsgs messages back to back; the burst
// phase ends when all arrived or nothing arrived for quiet, the repair
// phase after repair more.
func (b *bench) burstOnce(ctx context.Context, stack string, n int) (outcome, error) {
	cl, col, heap, err := b.room(ctx, stack, n, span(1, n))
	if err != nil {
		return outcome{}, err
	}
	defer func() {
		cl.close()
		b.vlogf("  %s N=%d closed (%s)", stack, n, resources())
	}()
	r := outcome{heap: heap}
	cpu0 := cpuTime()
	for range b.cfg.burstMsgs {
		seq := col.markSent()
		if err := cl.send(ctx, 0, payload(phaseMeasure, seq, b.cfg.size)); err != nil {
			return r, fmt.Errorf("send: %w", err)
		}
	}
	col.waitAll(ctx, b.cfg.quiet, b.cfg.setup)
	r.end, r.cpu = col.tally(), cpuTime()-cpu0
	col.waitAll(ctx, 0, b.cfg.repair)
	r.repaired = col.tally()
	return r, ctx.Err()
}

func (b *bench) burst(ctx context.Context) error {
	t := &table{
		title: fmt.Sprintf("burst: one member sends %d × %d B as fast as the API accepts them (%d round(s))", b.cfg.burstMsgs, b.cfg.size, b.cfg.rounds),
		head:  compareHead,
	}
	for i, n := range b.cfg.burstN {
		a, err := b.rounds(ctx, "burst", n, b.cfg.rounds, i, func(stack string) (outcome, error) { return b.burstOnce(ctx, stack, n) })
		if err != nil {
			return err
		}
		prefix := fmt.Sprintf("burst_n%d_", n)
		b.store(prefix, a, burstMetrics)
		for _, m := range burstMetrics {
			label := metricLabels[m]
			if m == "delivered_pct" {
				label = "delivered % at end of burst"
			}
			b.res.compareRow(t, fmt.Sprint(n), label, prefix+m)
		}
	}
	t.note("end of burst: every message arrived, or nothing arrived for %v; repair: %v more. Latency: send call → receipt, over receipts by the end of burst.", b.cfg.quiet, b.cfg.repair)
	t.note("CPU: getrusage(RUSAGE_SELF) user+system from the first send to the end of burst, per (receiver, message) delivered; all members share this process.")
	t.note("ratio = p2pchat / stock. Heap: live heap after GC once the room formed, minus before, per member.")
	b.emit(t)
	return nil
}
