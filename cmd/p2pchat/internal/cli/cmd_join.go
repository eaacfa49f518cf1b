package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/room"
)

// newJoinCmd is p2pchat join: make the daemon join (and remember) a room.
func newJoinCmd(o *options, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var (
		joinPass bool
		wait     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "join ROOM",
		Short: "make the daemon join ROOM (and remember it)",
		Long: `Make the daemon join ROOM and remember it across restarts. With -p (or
--passphrase-file, or $P2PCHAT_PASSPHRASE) ROOM is a passphrase room: -p
asks for the passphrase on the terminal, or reads the first line of stdin
when it is not one. Without, ROOM is open, or joined with the passphrase
stored when it was last joined with one. It waits up to --wait for the
room key and prints the joined event; a member refusing the passphrase
is an error (exit 1).`,
		Args: args(1, 1, "ROOM [-p | --passphrase-file FILE]"),
		RunE: func(cmd *cobra.Command, a []string) error {
			name, err := room.Normalize(a[0])
			if err != nil {
				return usageError{fmt.Errorf("room %q: %v", a[0], err)}
			}
			pass, err := startPassphrase(o.passFile)
			if err != nil {
				return err
			}
			defer clear(pass)
			if joinPass && pass == nil {
				if pass, err = askPassphrase(cmd.Context(), name, stdin, stderr); err != nil {
					return err
				}
			}
			return remote(o, func(ctx context.Context, c *api.Client) error {
				return joinRoom(ctx, c, name, pass, wait, newPrinter(stdout, o.json))
			})(cmd, a)
		},
	}
	waitFlag(cmd.Flags(), &wait, 15*time.Second, "how long to wait for the room key (0: do not wait)")
	cmd.Flags().BoolVarP(&joinPass, "passphrase", "p", false, "join as a passphrase room: ask for it (or read the first stdin line)")
	cmd.Flags().StringVar(&o.passFile, "passphrase-file", "", "join as a passphrase room with the passphrase in `FILE`")
	return cmd
}
