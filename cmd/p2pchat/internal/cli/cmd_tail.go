package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/room"
)

// newTailCmd is p2pchat tail: print a room's events as the daemon sees them.
func newTailCmd(o *options, stdout io.Writer) *cobra.Command {
	var (
		tailN   int
		tailMax int
	)
	var name string
	cmd := newClientCmd(o, stdout, clientCmd{use: "tail ROOM", short: "print ROOM's events as they happen (Ctrl-C stops)",
		long: `Print the events of ROOM as the daemon sees them, as line mode does
(--json: the objects of docs/CLI.md, with event_id), until interrupted.
-n N first prints the last N stored messages (type history); --count N
exits after N messages. A dropped connection to the daemon is resumed
without losing or repeating events.`,
		args: args(1, 1, "ROOM [-n N] [--json]"),
		check: func(_ *cobra.Command, a []string) (err error) {
			if name, err = room.Normalize(a[0]); err != nil {
				return usageError{fmt.Errorf("room %q: %v", a[0], err)}
			}
			return nil
		},
		run: func(ctx context.Context, c *api.Client, _ []string, out *printer) error {
			return tailRoom(ctx, c, name, tailN, tailMax, out)
		}})
	cmd.Flags().IntVarP(&tailN, "n", "n", 0, "first print the last `N` stored messages")
	cmd.Flags().IntVar(&tailMax, "count", 0, "exit after printing `N` messages (stored ones included); 0: never")
	return cmd
}
