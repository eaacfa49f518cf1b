package main

import (
	"context"
	"fmt"
	"time"
)

// rekeyResult is one room size's rekey figures (p2pchat only).
type rekeyResult struct {
	times []float64 // ms from Leave to every remaining member on the new epoch
	lost  int       // messages sent during the rekeys that some remaining member never got
	sent  int
	stall time.Duration // the slowest Send during the rekeys
}

// rekeyOnce: in a room of n, member 0 sends at rekeyRate while the
// highest-numbered members leave one after the other. For each departure:
// the time until every remaining member holds one new epoch whose roster
// excludes it. Afterwards: how many of the messages sent never reached
// every member that stays.
func (b *bench) rekeyOnce(ctx context.Context, n int) (rekeyResult, error) {
	var res rekeyResult
	trials := b.cfg.rekeyTrials
	stay := n - trials
	cl, col, _, err := b.room(ctx, stackP2P, n, span(1, stay))
	if err != nil {
		return res, err
	}
	defer cl.close()
	pc := cl.(*p2pCluster)
	p := startPacer(ctx, cl, col, 0, b.cfg.rekeyRate, b.cfg.size)
	defer p.halt()
	settle(ctx)
	for k := range trials {
		leaver := n - 1 - k
		remaining := span(0, leaver)
		before := make([]uint32, len(remaining))
		for i, m := range remaining {
			st, _ := pc.status(m)
			before[i] = st.Epoch
		}
		t0 := time.Now()
		left := make(chan error, 1)
		go func() { left <- pc.leave(ctx, leaver) }()
		var last string
		wctx, cancel := context.WithTimeout(ctx, b.cfg.setup)
		err := poll(wctx, 5*time.Millisecond, func() string { return "rekey never completed: " + last }, func() bool {
			key := ""
			for i, m := range remaining {
				st, ok := pc.status(m)
				switch {
				case !ok || st.Epoch <= before[i] || st.Roster != len(remaining):
					last = fmt.Sprintf("member %d: epoch %d (was %d), roster %d, want %d", m, st.Epoch, before[i], st.Roster, len(remaining))
					return false
				case key != "" && st.KeyID != key:
					last = fmt.Sprintf("member %d holds another key", m)
					return false
				}
				key = st.KeyID
			}
			return true
		})
		cancel()
		elapsed := time.Since(t0)
		if err != nil {
			return res, err
		}
		if err := <-left; err != nil {
			return res, fmt.Errorf("leave: %w", err)
		}
		res.times = append(res.times, ms(elapsed))
		b.logf("rekey N=%d: member %d left, %d members rekeyed in %v", n, leaver, len(remaining), elapsed.Round(time.Millisecond))
		settle(ctx)
	}
	if err := p.halt(); err != nil {
		return res, fmt.Errorf("send: %w", err)
	}
	res.stall = p.longest
	col.waitAll(ctx, 0, b.cfg.repair)
	t := col.tally()
	res.lost, res.sent = t.missing, t.sent
	return res, ctx.Err()
}

func (b *bench) rekey(ctx context.Context) error {
	t := &table{
		title: fmt.Sprintf("rekey (p2pchat only): %d member(s) leave one after the other while another sends %.0f msgs/s", b.cfg.rekeyTrials, b.cfg.rekeyRate),
		head:  []string{"N", "metric", "stock", "p2pchat", "ratio", "target"},
	}
	if !b.cfg.has(stackP2P) {
		t.note("skipped: p2pchat is not among -stacks")
		b.emit(t)
		return nil
	}
	for _, n := range b.cfg.rekeyN {
		r, err := b.rekeyOnce(ctx, n)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			b.fail(fmt.Sprintf("rekey N=%d", n), err)
			continue
		}
		prefix := fmt.Sprintf("rekey_n%d_", n)
		b.res.set(prefix+"time", median(r.times))
		b.res.set(prefix+"time_max", maxOf(r.times))
		b.res.set(prefix+"lost", float64(r.lost))
		b.res.set(prefix+"sent", float64(r.sent))
		b.res.set(prefix+"stall", ms(r.stall))
		rows := []struct{ key, label string }{
			{"time", "leave → all on the new epoch (ms, median)"},
			{"time_max", "leave → all on the new epoch (ms, max)"},
			{"sent", "messages sent during the rekeys"},
			{"lost", "of which not delivered to every remaining member"},
			{"stall", "slowest Send during the rekeys (ms)"},
		}
		for _, row := range rows {
			t.add(fmt.Sprint(n), row.label, "n/a", num(b.res.get(prefix+row.key)), "", b.res.verdict(prefix+row.key))
		}
	}
	t.note("stock gossipsub has no keys: nothing to rekey. The leaver calls Manager.Leave (goodbye, unsubscribe); new epoch = higher number, roster without it, one key id on all remaining members (polled every 5 ms).")
	t.note("lost: counted after %v more for late deliveries; Send waits for the new epoch after a departure, so the sender stalls instead.", b.cfg.repair)
	b.emit(t)
	return nil
}
