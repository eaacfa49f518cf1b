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
	var (
		p  peer.ID
		fp identity.Fingerprint
	)
	check := func(_ *cobra.Command, a []string) (err error) {
		if p, err = peer.Decode(a[0]); err == nil {
			fp, err = identity.PeerFingerprint(p)
		}
		if err != nil {
			return usageError{fmt.Errorf("peer ID %q: %v", a[0], err)}
		}
		return nil
	}
	return newClientCmd(o, stdout, clientCmd{use: "verify PEER_ID [FINGERPRINT]",
		short: "show a peer's fingerprint, or mark it verified if FINGERPRINT is its",
		args:  args(1, 2, "PEER_ID [FINGERPRINT]"), check: check,
		run: func(ctx context.Context, c *api.Client, a []string, out *printer) error {
			fields := map[string]any{"peer_id": p.String(), "fp": fp.Short(), "fingerprint": fp.String()}
			if len(a) == 1 {
				v, err := c.Verified(ctx, p)
				if err != nil {
					return err
				}
				fields["verified"] = v
				out.info("fingerprint", fields, fmt.Sprintf("%s\n  fingerprint %s (verified: %v)", p, fp, v))
				return nil
			}
			if err := c.Verify(ctx, p, a[1]); err != nil {
				return err
			}
			out.info("verified", fields, fmt.Sprintf("* %s verified ✓: fingerprint %s matches", p, fp))
			return nil
		}})
}
