package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// The commands that read the stored history without a node: history,
// search and export, one historyCmd each (see history.go).

// newHistoryCmd is p2pchat history: a room's stored messages.
func newHistoryCmd(o *options, stdout, stderr io.Writer) *cobra.Command {
	h := &historyCmd{o: o, stdout: stdout, stderr: stderr}
	cmd := h.command("history ROOM", "print a room's stored messages, in room order", "ROOM [flags]", (*historyCmd).history)
	cmd.Flags().StringVar(&h.since, "since", "", "only messages sent since `T`: RFC 3339 time or a duration such as 2h")
	cmd.Flags().IntVarP(&h.n, "n", "n", 0, "only the last `N` messages (0: all)")
	return cmd
}

// newSearchCmd is p2pchat search: full-text search of stored messages.
func newSearchCmd(o *options, stdout, stderr io.Writer) *cobra.Command {
	h := &historyCmd{o: o, stdout: stdout, stderr: stderr}
	cmd := h.command("search TEXT", "full-text search of stored messages, best first", "TEXT (quote it) [flags]", (*historyCmd).search)
	cmd.Flags().StringVar(&h.roomName, "room", "", "search only this room")
	cmd.Flags().IntVarP(&h.n, "n", "n", 20, "at most `N` results")
	return cmd
}

// newExportCmd is p2pchat export: a room's stored messages with their
// signed records.
func newExportCmd(o *options, stdout, stderr io.Writer) *cobra.Command {
	h := &historyCmd{o: o, stdout: stdout, stderr: stderr}
	return h.command("export ROOM --json", "every stored message of a room with its signed record", "ROOM --json", (*historyCmd).export)
}
