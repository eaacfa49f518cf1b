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
	return newClientCmd(o, stdout, clientCmd{use: "leave ROOM", short: "make the daemon leave ROOM (and forget its passphrase)",
		args: args(1, 1, "ROOM"),
		run: func(ctx context.Context, c *api.Client, a []string, out *printer) error {
			if err := c.Leave(ctx, a[0]); err != nil {
				return err
			}
			name, _ := room.Normalize(a[0])
			out.info("left", map[string]any{"room": name}, fmt.Sprintf("* [%s] left", name))
			return nil
		}})
}
