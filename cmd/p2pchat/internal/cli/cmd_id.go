package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newIDCmd is p2pchat id: this node's peer ID and fingerprint.
func newIDCmd(o *options, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "print this node's peer ID and fingerprint",
		Args:  args(0, 0, "(no arguments)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdID(o, stdout)
		},
	}
}
