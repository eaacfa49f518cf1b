package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// newStatusCmd is p2pchat status: the daemon's node, peers and rooms.
func newStatusCmd(o *options, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "show the daemon's node, peers and rooms",
		Args:  args(0, 0, "[--json]"),
		RunE: remote(o, func(ctx context.Context, c *api.Client) error {
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			newPrinter(stdout, o.json).info(statusAnswer(st))
			return nil
		}),
	}
}
