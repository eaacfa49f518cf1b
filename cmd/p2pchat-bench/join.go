package main

import (
	"context"
	"fmt"
	"time"
)

// joinWait bounds how long a newcomer may take to read its first message.
const joinWait = 15 * time.Second

// joinOnce: a room of joinN members is kept busy by member 0 at joinRate;
// newcomers join one after the other. For each: time from its start (before
// its host exists) to its first message, and (p2pchat) to holding the key.
func (b *bench) joinOnce(ctx context.Context, stack string) (outcome, error) {
	n := b.cfg.joinN
	cl, col, heap, err := b.room(ctx, stack, n, span(1, n))
	if err != nil {
		return outcome{}, err
	}
	defer cl.close()
	r := outcome{heap: heap}
	p := startPacer(ctx, cl, col, 0, b.cfg.joinRate, b.cfg.size)
	defer p.halt()
	settle(ctx)
	for range b.cfg.joinTrials {
		j, err := cl.add(ctx)
		if err != nil {
			return r, err
		}
		wctx, cancel := context.WithTimeout(ctx, joinWait)
		err = poll(wctx, 2*time.Millisecond, func() string { return "newcomer never got a message" }, func() bool {
			_, ok := col.firstAt(j.member)
			return ok
		})
		if err == nil {
			select {
			case <-j.ready:
			case <-wctx.Done():
				err = fmt.Errorf("newcomer never became ready: %w", wctx.Err())
			}
		}
		cancel()
		if err != nil {
			return r, err
		}
		first, _ := col.firstAt(j.member)
		r.firsts = append(r.firsts, ms(first.Sub(j.start)))
		r.joins = append(r.joins, ms(j.joined.Sub(j.start)))
		if stack == stackP2P {
			r.readies = append(r.readies, ms(j.readyAt.Sub(j.start)))
		}
		b.vlogf("  %s newcomer %d: first message %.1f ms, joined %.1f ms, ready %.1f ms after start",
			stack, j.member, ms(first.Sub(j.start)), ms(j.joined.Sub(j.start)), ms(j.readyAt.Sub(j.start)))
		settle(ctx) // let the room absorb the newcomer (p2pchat: its rekey)
	}
	if err := p.halt(); err != nil {
		return r, fmt.Errorf("send: %w", err)
	}
	col.waitAll(ctx, b.cfg.quiet, b.cfg.repair)
	r.end = col.tally()
	return r, ctx.Err()
}

func (b *bench) join(ctx context.Context) error {
	n := b.cfg.joinN
	a, err := b.rounds(ctx, "join", n, b.cfg.rounds, 0, func(stack string) (outcome, error) { return b.joinOnce(ctx, stack) })
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("join_n%d_", n)
	b.store(prefix, a, joinCompared)
	for _, m := range joinP2POnly {
		b.res.set(prefix+m, a[stackP2P].metric(m))
	}
	t := &table{
		title: fmt.Sprintf("join: %d newcomer(s) join a room of %d busy with %.0f msgs/s (%d round(s))", b.cfg.joinTrials, n, b.cfg.joinRate, b.cfg.rounds),
		head:  compareHead,
	}
	for _, m := range joinCompared {
		b.res.compareRow(t, fmt.Sprint(n), metricLabels[m], prefix+m)
	}
	for _, m := range joinP2POnly {
		t.add(fmt.Sprint(n), metricLabels[m], "", num(b.res.get(prefix+m)), "", b.res.verdict(prefix+m))
	}
	t.note("start: before the newcomer's host is created; it then connects to every member and joins (p2pchat: node, store, manager, Join; admission by CPace and a rekey that includes it).")
	t.note("can read: p2pchat's Room.Ready (EventJoined), when it holds the room key. Messages sent before that are not readable by design.")
	b.emit(t)
	return nil
}
