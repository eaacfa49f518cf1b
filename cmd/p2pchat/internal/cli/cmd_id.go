package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// newIDCmd is p2pchat id: this node's peer ID and fingerprint.
func newIDCmd(o *options, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "print this node's peer ID and fingerprint",
		Args:  args(0, 0, "(no arguments)"),
		RunE: func(*cobra.Command, []string) error {
			id, _, err := loadIdentity(o)
			if err != nil {
				return err
			}
			fp := id.Fingerprint()
			if o.json {
				return writeJSON(stdout, map[string]any{"type": "id", "peer_id": id.PeerID().String(), "fingerprint": fp.String(), "short": fp.Short()})
			}
			fmt.Fprintf(stdout, "peer id:     %s\nfingerprint: %s\nshort:       %s\n", id.PeerID(), fp, fp.Short())
			return nil
		},
	}
}
