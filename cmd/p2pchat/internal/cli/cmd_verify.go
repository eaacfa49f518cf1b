package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// newVerifyCmd is p2pchat verify: show or check a peer's fingerprint.
func newVerifyCmd(o *options, stdout io.Writer) *cobra.Command {
	return newClientCmd(o, stdout, clientCmd{use: "verify WHO [FINGERPRINT]",
		short: "show a peer's fingerprint and safety number, or mark it verified if FINGERPRINT (or the safety number) is its; WHO is a nick, nick#fp or peer ID",
		args:  args(1, 9, "WHO [FINGERPRINT]"), // a fingerprint or safety number may come in groups
		run: func(ctx context.Context, c *api.Client, a []string, out *printer) error {
			mb, err := resolveWho(ctx, c, a[0])
			if err != nil {
				return err
			}
			desc, fp := memberName(mb), mb.Fingerprint
			fields := map[string]any{"peer_id": mb.Peer.String(), "nick": mb.Nick, "fp": fp.Short(), "fingerprint": fp.String()}
			if len(a) == 1 {
				v, err := c.Verified(ctx, mb.Peer)
				if err != nil {
					return err
				}
				fields["verified"] = v
				sn := safetyNumber(ctx, c, mb.Peer)
				if sn != "" {
					fields["safety_number"] = sn
				}
				out.info("fingerprint", fields, fingerprintText(desc, mb, v, sn, "p2pchat verify "+a[0]))
				return nil
			}
			if err := c.Verify(ctx, mb.Peer, strings.Join(a[1:], " ")); err != nil {
				return errors.New(verifyError("", desc, mb.Peer, err).Err.Error())
			}
			out.info("verified", fields, fmt.Sprintf("* %s verified ✓: fingerprint %s matches", desc, fp))
			return nil
		}})
}

// resolveWho finds the peer that who names on the node c: a peer ID (a
// member or not), or a nick or nick#fp of a member of any joined room. An
// ambiguous or unknown name is a usage error that says what to type.
func resolveWho(ctx context.Context, c api.Backend, who string) (room.Member, error) {
	rooms, err := c.Rooms(ctx)
	if err != nil {
		return room.Member{}, err
	}
	var ms []room.Member
	for _, r := range rooms {
		ms = append(ms, r.Members...)
	}
	if p, err := peer.Decode(who); err == nil {
		for _, mb := range ms {
			if mb.Peer == p {
				return mb, nil
			}
		}
		fp, err := identity.PeerFingerprint(p)
		if err != nil {
			return room.Member{}, usageError{fmt.Errorf("%s is a peer ID without an Ed25519 key in it: p2pchat peers have one", who)}
		}
		return room.Member{Peer: p, Fingerprint: fp}, nil
	}
	found := matchMembers(ms, who)
	switch len(found) {
	case 0:
		return room.Member{}, usageError{fmt.Errorf("no member called %q in the joined rooms: give a nick, nick#fp or peer ID (p2pchat peers lists them)", who)}
	case 1:
		return found[0], nil
	}
	return room.Member{}, usageError{fmt.Errorf("%d members are called %q; say which with nick#fp or the peer ID: %s", len(found), who, candidates(found))}
}
