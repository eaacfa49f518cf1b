package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// outcome is what one stack did in one room for burst, steady and join.
type outcome struct {
	end      tally         // when deliveries stopped (burst) or after the drain (steady)
	repaired tally         // after the repair time (burst only)
	cpu      time.Duration // process CPU from the first send to end
	heap     float64       // live heap per member, bytes, once the room formed
	firsts   []float64     // join: start → first message, ms
	joins    []float64     // join: start → join call returned, ms
	readies  []float64     // join: start → able to read, ms
	seenAll  []float64     // steady, p2pchat: sent → seen by all, ms
}

// room starts a room of n members on stack whose messages receivers are
// expected to get, and warms it up from member 0. It returns the live heap
// per member, measured after the warm-up.
func (b *bench) room(ctx context.Context, stack string, n int, receivers []int) (cluster, *collector, float64, error) {
	if m, ok := b.broken[stack]; ok && n >= m {
		return nil, nil, 0, fmt.Errorf("%w: a room of %d did not form earlier in this run", errSkipped, m)
	}
	col := newCollector(receivers)
	heap0 := heapInUse()
	t0 := time.Now()
	cl, err := startCluster(ctx, b.cfg, stack, n, col.received)
	if err == nil {
		if err = col.warmup(ctx, cl, 0, b.cfg.size, b.cfg.setup); err != nil {
			cl.close()
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			if m, ok := b.broken[stack]; !ok || n < m {
				b.broken[stack] = n
			}
		}
		if !errors.Is(err, errNoRoom) {
			err = fmt.Errorf("%w: %w", errNoRoom, err)
		}
		return nil, nil, 0, err
	}
	heap := (float64(heapInUse()) - float64(heap0)) / float64(n)
	b.vlogf("  %s N=%d formed in %v (%s)", stack, n, time.Since(t0).Round(time.Millisecond), resources())
	settle(ctx)
	return cl, col, heap, nil
}

func span(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// agg pools the runs of one stack.
type agg struct {
	sent, receipts, complete, repaired int // receipts and complete at end; repaired receipts
	busy                               time.Duration
	cpu                                time.Duration
	heap                               float64
	lat                                []time.Duration
	firsts, joins, readies, seenAll    []float64
	runs                               int
}

func pool(runs []outcome) agg {
	var a agg
	for _, r := range runs {
		a.runs++
		a.sent += r.end.sent * r.end.receivers
		a.receipts += r.end.receipts
		a.complete += r.end.complete
		a.repaired += r.repaired.receipts
		if r.end.complete > 0 {
			a.busy += r.end.endTime.Sub(r.end.firstSend)
		}
		a.cpu += r.cpu
		a.heap += r.heap
		a.lat = append(a.lat, r.end.lat...)
		a.firsts = append(a.firsts, r.firsts...)
		a.joins = append(a.joins, r.joins...)
		a.readies = append(a.readies, r.readies...)
		a.seenAll = append(a.seenAll, r.seenAll...)
	}
	return a
}

// metric returns one figure of the pooled runs (NaN if there were none).
func (a agg) metric(name string) float64 {
	if a.runs == 0 {
		return nan
	}
	pct := func(x int) float64 {
		if a.sent == 0 {
			return nan
		}
		return 100 * float64(x) / float64(a.sent)
	}
	switch name {
	case "throughput":
		if a.busy <= 0 {
			return 0
		}
		return float64(a.complete) / a.busy.Seconds()
	case "delivered_pct":
		return pct(a.receipts)
	case "repaired_pct":
		return pct(a.repaired)
	case "p50":
		return percentile(a.lat, 50)
	case "p99":
		return percentile(a.lat, 99)
	case "max":
		return percentile(a.lat, 100)
	case "cpu_us":
		if a.receipts == 0 || !haveCPUTime {
			return nan
		}
		return float64(a.cpu.Microseconds()) / float64(a.receipts)
	case "heap_kb":
		return a.heap / float64(a.runs) / 1024
	case "first_msg":
		return median(a.firsts)
	case "first_msg_max":
		return maxOf(a.firsts)
	case "joined":
		return median(a.joins)
	case "ready":
		return median(a.readies)
	case "ready_max":
		return maxOf(a.readies)
	case "seen_all":
		return median(a.seenAll)
	}
	panic("unknown metric " + name)
}

func maxOf(xs []float64) float64 {
	if len(xs) == 0 {
		return nan
	}
	m := xs[0]
	for _, x := range xs[1:] {
		m = max(m, x)
	}
	return m
}

// rounds runs once per round and stack, alternating the stack order (round
// i uses b.order(i+offset)), and pools each stack's runs. A stack that
// fails is not tried again.
func (b *bench) rounds(ctx context.Context, what string, n, rounds, offset int, once func(stack string) (outcome, error)) (map[string]agg, error) {
	runs := map[string][]outcome{}
	failed := map[string]bool{}
	for i := range rounds {
		for _, stack := range b.order(i + offset) {
			if failed[stack] {
				continue
			}
			t0 := time.Now()
			r, err := once(stack)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				b.fail(fmt.Sprintf("%s N=%d %s", what, n, stack), err)
				failed[stack] = true
				continue
			}
			runs[stack] = append(runs[stack], r)
			b.logf("%s N=%d round %d %s: delivered %d/%d, %v", what, n, i+1, stack,
				r.end.receipts, r.end.sent*r.end.receivers, time.Since(t0).Round(time.Millisecond))
		}
	}
	out := map[string]agg{}
	for s, rs := range runs {
		out[s] = pool(rs)
	}
	return out, nil
}

// store writes metrics of both stacks under prefix.
func (b *bench) store(prefix string, a map[string]agg, metrics []string) {
	for _, m := range metrics {
		b.res.compare(prefix+m, a[stackStock].metric(m), a[stackP2P].metric(m))
	}
}

var metricLabels = map[string]string{
	"throughput":    "msgs/s delivered to all",
	"delivered_pct": "delivered %",
	"repaired_pct":  "delivered % after repair",
	"p50":           "latency p50 (ms)",
	"p99":           "latency p99 (ms)",
	"max":           "latency max (ms)",
	"cpu_us":        "CPU µs per delivery",
	"heap_kb":       "live heap per member (KB)",
	"first_msg":     "start → first message (ms, median)",
	"first_msg_max": "start → first message (ms, max)",
	"joined":        "start → joined: connected, subscribed (ms, median)",
	"ready":         "start → can read (ms, median)",
	"ready_max":     "start → can read (ms, max)",
}
