// Command p2pchat-bench measures p2pchat against stock go-libp2p gossipsub
// on loopback TCP, in one process and one run, alternating the two stacks so
// that machine drift hits both.
//
// Usage:
//
//	go run ./cmd/p2pchat-bench [flags]
//	go run ./cmd/p2pchat-bench -quick   # CI smoke run, well under a minute
//
// It prints a table per scenario (burst, steady, join, rekey, footprint,
// crypto) with both stacks, their ratio (p2pchat/stock) and the targets,
// and ends with one line of JSON holding every figure. The scenarios, the
// JSON keys and the latest results are in docs/BENCHMARKS.md. Targets are
// printed, never enforced: the command fails only if a scenario cannot run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if hogMain() {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if code := exitStatus(err); code != 0 {
		fmt.Fprintln(os.Stderr, "p2pchat-bench:", err)
		os.Exit(code)
	}
}
