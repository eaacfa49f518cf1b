package cli

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/localsock"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// newPathsCmd is p2pchat paths: where the state is, and whether a daemon runs.
func newPathsCmd(o *options, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "paths",
		Short: "print where p2pchat keeps its state, its socket and whether a daemon runs",
		Args:  args(0, 0, "[--json]"),
		RunE: func(*cobra.Command, []string) error {
			home, sock, err := homeAndSocket(o)
			if err != nil {
				return err
			}
			pid, running := localsock.LockHolder(home)
			state := "not running"
			if running {
				state = fmt.Sprintf("running (pid %d)", pid)
			}
			fields := map[string]any{"home": home, "identity": filepath.Join(home, identity.KeyFileName), "database": filepath.Join(home, room.DatabaseFile),
				"socket": sock, "lock": filepath.Join(home, localsock.LockFileName), "daemon_running": running}
			if running {
				fields["daemon_pid"] = pid
			}
			newPrinter(stdout, o.json).info("paths", fields, fmt.Sprintf("state directory: %s\nidentity:        %s\ndatabase:        %s\nAPI socket:      %s\nlock file:       %s\ndaemon:          %s",
				home, fields["identity"], fields["database"], sock, fields["lock"], state))
			return nil
		},
	}
}
