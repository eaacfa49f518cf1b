package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// sink is told that member got the payload b at at. Stacks call it from
// their receive goroutines, for messages from other members only.
type sink func(member int, b []byte, at time.Time)

// cluster is one room of in-process members on one stack, every member
// connected to every other on loopback TCP. Members are numbered from 0 in
// the order they were started.
type cluster interface {
	size() int
	// send publishes b from member from and returns when the stack's API
	// has accepted it.
	send(ctx context.Context, from int, b []byte) error
	// add starts a new member, connects it to every member, joins the room
	// and returns without waiting for any message.
	add(ctx context.Context) (joining, error)
	// close stops every member and waits for their goroutines.
	close()
}

// joining describes a member that add started.
type joining struct {
	member int
	start  time.Time // before its host was created
	joined time.Time // when the stack's join/subscribe call returned
	// ready is closed when the member can read the room (p2pchat: it holds
	// the room key); readyAt is then set. Stock members are ready at joined.
	ready   <-chan struct{}
	readyAt *time.Time
}

// startCluster starts a room of n members on stack, delivering to s, and
// waits until it has formed. It does not warm it up (see collector.warmup).
func startCluster(ctx context.Context, cfg *config, stack string, n int, s sink) (cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.setup)
	defer cancel()
	switch stack {
	case stackStock:
		return startStock(ctx, n, s)
	case stackP2P:
		var log io.Writer
		if cfg.roomLog {
			log = os.Stderr
		}
		return startP2P(ctx, n, s, cfg.persist, log)
	}
	return nil, fmt.Errorf("unknown stack %q", stack)
}

// connectAll dials every pair once, a few dials at a time.
func connectAll(ctx context.Context, infos []peer.AddrInfo, dial func(ctx context.Context, from int, to peer.AddrInfo) error) error {
	type pair struct{ from, to int }
	pairs := make(chan pair)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for p := range pairs {
				if err := dial(ctx, p.from, infos[p.to]); err != nil {
					select {
					case errs <- fmt.Errorf("connect %d to %d: %w", p.from, p.to, err):
					default:
					}
				}
			}
		})
	}
	for i := range infos {
		for j := range i {
			pairs <- pair{i, j}
		}
	}
	close(pairs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// poll calls done every interval until it returns true, or fails with what
// once ctx is done.
func poll(ctx context.Context, interval time.Duration, what func() string, done func() bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// resources describes the process's goroutines and open files, to watch
// for leaks between scenarios.
func resources() string {
	fds := "?"
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = fmt.Sprint(len(ents))
	}
	return fmt.Sprintf("goroutines=%d fds=%s", runtime.NumGoroutine(), fds)
}
