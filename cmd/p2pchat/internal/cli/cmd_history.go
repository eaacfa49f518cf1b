package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newHistoryCmd is p2pchat history: a room's stored messages.
func newHistoryCmd(o *options, stdout io.Writer) *cobra.Command {
	h := &historyCmd{o: o, stdout: stdout}
	cmd := h.command("history ROOM", "print a room's stored messages, in room order", "ROOM [flags]", (*historyCmd).history)
	cmd.Flags().StringVar(&h.since, "since", "", "only messages sent since `T`: RFC 3339 time or a duration such as 2h")
	cmd.Flags().IntVarP(&h.n, "n", "n", 0, "only the last `N` messages (0: all)")
	return cmd
}
