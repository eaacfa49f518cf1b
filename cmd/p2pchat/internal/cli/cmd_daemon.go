package cli

import (
	"io"

	"github.com/spf13/cobra"
)

const daemonLong = `Run a headless node that stays in the rooms remembered in the state
directory (those joined and not left), keeps their history flowing, and
serves the local API (docs/API.md) on a Unix socket that only this user
can use. p2pchat status, rooms, join, leave, send, tail, peers, and plain
p2pchat (the UI) talk to it.

Logs go to stderr (--log-format text or json; --log-level, default info).
SIGINT, SIGTERM or SIGHUP stops it cleanly: the rooms hear a goodbye. Under
systemd (Type=notify) it reports readiness; see contrib/systemd.

Only one daemon runs per state directory (a lock file in it); a socket
left by a crash is removed when the next daemon starts.`

// newDaemonCmd is p2pchat daemon: a headless node serving the local API.
func newDaemonCmd(o *options, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "run a headless node with the local API, for scripts and the UI",
		Long:  daemonLong,
		Args:  args(0, 0, "[flags]"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("log-level") {
				o.logLevel = "info"
			}
			return daemon(cmd.Context(), o, stderr)
		},
	}
	nodeFlags(cmd, o)
	webFlags(cmd, o)
	cmd.Flags().StringVar(&o.logFormat, "log-format", "text", "`FORMAT` of the logs on stderr: text or json")
	return cmd
}
