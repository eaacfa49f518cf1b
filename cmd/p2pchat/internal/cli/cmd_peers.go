package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// newPeersCmd is p2pchat peers: the daemon's connected peers.
func newPeersCmd(o *options, stdout io.Writer) *cobra.Command {
	return newClientCmd(o, stdout, clientCmd{use: "peers", short: "list the daemon's connected peers",
		args: args(0, 0, "[--json]"), run: answer((*api.Client).Peers, peersAnswer)})
}

// peersAnswer is the answer of p2pchat peers: --json's peers object and
// the --plain text.
func peersAnswer(ps []api.PeerInfo) (typ string, fields map[string]any, text string) {
	var list []map[string]any
	lines := []string{fmt.Sprintf("%d peer(s) connected", len(ps))}
	for _, p := range ps {
		mark := trustMark(p.Verified, p.Mismatch)
		list = append(list, map[string]any{"peer_id": p.PeerID.String(), "fp": p.Fingerprint.Short(), "fingerprint": p.Fingerprint.String(),
			"nick": p.Nick, "verified": p.Verified, "mismatch": p.Mismatch, "addrs": p.Addrs})
		lines = append(lines, fmt.Sprintf("  %s#%s%s  %s  %s", clean(p.Nick), p.Fingerprint.Short(), mark, p.PeerID, strings.Join(p.Addrs, " ")))
	}
	return "peers", map[string]any{"peers": list}, strings.Join(lines, "\n")
}

// trustMark is what --plain lists put after a peer's nick#fp: " ✓" if the
// user verified it, a warning if the user's last check of its fingerprint
// found another key's, else nothing.
func trustMark(verified, mismatch bool) string {
	switch {
	case mismatch:
		return " ! (fingerprint did not match: verify again)"
	case verified:
		return " ✓"
	}
	return ""
}
