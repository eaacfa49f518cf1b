// Command p2pchat is a peer-to-peer, end-to-end encrypted chat for the LAN.
//
// See README.md for a walk-through and docs/CLI.md for the command line and
// the --json event stream.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
