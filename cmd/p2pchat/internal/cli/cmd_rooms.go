package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// newRoomsCmd is p2pchat rooms: the daemon's rooms.
func newRoomsCmd(o *options, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "rooms",
		Short: "list the daemon's rooms",
		Args:  args(0, 0, "[--json]"),
		RunE: remote(o, func(ctx context.Context, c *api.Client) error {
			rs, err := c.Rooms(ctx)
			if err != nil {
				return err
			}
			var names, lines []string
			for _, r := range rs {
				names = append(names, r.Name)
				state := "waiting for the room key"
				if r.Ready {
					state = "ready"
				}
				lines = append(lines, fmt.Sprintf("%-20s %-10s %-24s %d other member(s)", r.Name, r.Kind, state, len(r.Members)))
			}
			if len(lines) == 0 {
				lines = []string{"not in any room"}
			}
			newPrinter(stdout, o.json).info("rooms", map[string]any{"rooms": names}, strings.Join(lines, "\n"))
			return nil
		}),
	}
}
