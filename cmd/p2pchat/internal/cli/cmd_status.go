package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// newStatusCmd is p2pchat status: the daemon's node, peers and rooms.
func newStatusCmd(o *options, stdout io.Writer) *cobra.Command {
	return newClientCmd(o, stdout, clientCmd{use: "status", short: "show the daemon's node, peers and rooms",
		args: args(0, 0, "[--json]"), run: answer((*api.Client).Status, statusAnswer)})
}
