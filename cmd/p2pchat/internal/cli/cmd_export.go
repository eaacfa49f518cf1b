package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newExportCmd is p2pchat export: a room's stored messages with their
// signed records.
func newExportCmd(o *options, stdout io.Writer) *cobra.Command {
	h := &historyCmd{o: o, stdout: stdout}
	return h.command("export ROOM --json", "every stored message of a room with its signed record", "ROOM --json", (*historyCmd).export)
}
