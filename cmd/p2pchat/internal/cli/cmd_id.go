package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// newIDCmd is p2pchat id: this node's peer ID and fingerprint, with --qr
// also as a QR code.
func newIDCmd(o *options, stdout io.Writer) *cobra.Command {
	var withQR bool
	cmd := &cobra.Command{
		Use:   "id",
		Short: "print this node's peer ID and fingerprint (--qr: also as a QR code)",
		Args:  args(0, 0, "(no arguments)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdID(o, withQR, stdout)
		},
	}
	cmd.Flags().BoolVar(&withQR, "qr", false, "also print a QR code of the command that verifies this node on another one")
	return cmd
}

func cmdID(o *options, withQR bool, stdout io.Writer) error {
	id, _, err := loadIdentity(o)
	if err != nil {
		return err
	}
	fp := id.Fingerprint()
	verify := fmt.Sprintf("p2pchat verify %s %s", id.PeerID(), fp)
	var code string
	if withQR {
		if code, err = qrText(verify, os.Getenv("NO_COLOR") == ""); err != nil {
			return err
		}
	}
	if o.json {
		obj := map[string]any{"type": "id", "peer_id": id.PeerID().String(), "fingerprint": fp.String(), "short": fp.Short()}
		if withQR {
			obj["qr_text"] = verify
		}
		return writeJSON(stdout, obj)
	}
	fmt.Fprintf(stdout, "peer id:     %s\nfingerprint: %s\nshort:       %s\n", id.PeerID(), fp, fp.Short())
	if withQR {
		fmt.Fprintf(stdout, "\n%s\nthe code reads: %s\n", code, verify)
	}
	return nil
}
