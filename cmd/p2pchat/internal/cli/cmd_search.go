package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newSearchCmd is p2pchat search: full-text search of stored messages.
func newSearchCmd(o *options, stdout io.Writer) *cobra.Command {
	h := &historyCmd{o: o, stdout: stdout}
	cmd := h.command("search TEXT", "full-text search of stored messages, best first", "TEXT (quote it) [flags]", (*historyCmd).search)
	cmd.Flags().StringVar(&h.roomName, "room", "", "search only this room")
	cmd.Flags().IntVarP(&h.n, "n", "n", 20, "at most `N` results")
	return cmd
}
