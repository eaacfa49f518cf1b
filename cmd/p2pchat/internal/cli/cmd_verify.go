package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/identity"
)

// newVerifyCmd is p2pchat verify: show or check a peer's fingerprint.
func newVerifyCmd(o *options, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "verify PEER_ID [FINGERPRINT]",
		Short: "show a peer's fingerprint, or mark it verified if FINGERPRINT is its",
		Args:  args(1, 2, "PEER_ID [FINGERPRINT]"),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := peer.Decode(a[0])
			if err != nil {
				return usageError{fmt.Errorf("peer ID %q: %v", a[0], err)}
			}
			fp, err := identity.PeerFingerprint(p)
			if err != nil {
				return usageError{fmt.Errorf("peer ID %q: %v", a[0], err)}
			}
			return remote(o, func(ctx context.Context, c *api.Client) error {
				fields := map[string]any{"peer_id": p.String(), "fp": fp.Short(), "fingerprint": fp.String()}
				if len(a) == 1 {
					v, err := c.Verified(ctx, p)
					if err != nil {
						return err
					}
					fields["verified"] = v
					newPrinter(stdout, o.json).info("fingerprint", fields, fmt.Sprintf("%s\n  fingerprint %s (verified: %v)", p, fp, v))
					return nil
				}
				if err := c.Verify(ctx, p, a[1]); err != nil {
					return err
				}
				newPrinter(stdout, o.json).info("verified", fields, fmt.Sprintf("* %s verified ✓: fingerprint %s matches", p, fp))
				return nil
			})(cmd, a)
		},
	}
}
