package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/room"
)

// newLeaveCmd is p2pchat leave: make the daemon leave a room.
func newLeaveCmd(o *options, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "leave ROOM",
		Short: "make the daemon leave ROOM (and forget its passphrase)",
		Args:  args(1, 1, "ROOM"),
		RunE: func(cmd *cobra.Command, a []string) error {
			return remote(o, func(ctx context.Context, c *api.Client) error {
				if err := c.Leave(ctx, a[0]); err != nil {
					return err
				}
				name, _ := room.Normalize(a[0])
				newPrinter(stdout, o.json).info("left", map[string]any{"room": name}, fmt.Sprintf("* [%s] left", name))
				return nil
			})(cmd, a)
		},
	}
}
