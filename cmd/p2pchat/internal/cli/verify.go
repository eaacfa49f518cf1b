package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// memberName is how a member is named to people: nick#fp, or #fp alone
// for a peer whose nick is not known.
func memberName(mb room.Member) string {
	return clean(mb.Nick) + "#" + mb.Fingerprint.Short()
}

// matchMembers returns the members that who names: a nick, or nick#fp
// (the short fingerprint in any case). A peer that is in several of the
// lists counts once.
func matchMembers(ms []room.Member, who string) []room.Member {
	nick, short, withFP := strings.Cut(who, "#")
	var found []room.Member
	seen := map[peer.ID]bool{}
	for _, mb := range ms {
		if seen[mb.Peer] {
			continue
		}
		if (mb.Nick == nick || (nick == "" && withFP)) && (!withFP || strings.EqualFold(mb.Fingerprint.Short(), short)) {
			found = append(found, mb)
			seen[mb.Peer] = true
		}
	}
	return found
}

// candidates lists members as nick#fp and peer ID, for an ambiguous name.
func candidates(ms []room.Member) string {
	var list []string
	for _, mb := range ms {
		list = append(list, fmt.Sprintf("%s %s", memberName(mb), mb.Peer))
	}
	return strings.Join(list, ", ")
}

// safetyNumber returns the safety number of p and the node b, or "" if
// it cannot be had (b unreachable, or p's ID does not embed an Ed25519 key).
func safetyNumber(ctx context.Context, b api.Backend, p peer.ID) string {
	self, err := b.Self(ctx)
	if err != nil {
		return ""
	}
	sn, err := identity.PeerSafetyNumber(self.PeerID, p)
	if err != nil {
		return ""
	}
	return sn
}

// fingerprintText is the answer to "verify WHO": the fingerprint, the
// safety number and what to do with them; again is the command to type
// with what was compared.
func fingerprintText(desc string, mb room.Member, verified bool, sn, again string) string {
	state := "not verified yet"
	if verified {
		state = "verified ✓"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "* %s %s (%s)\n  fingerprint   %s", desc, mb.Peer, state, mb.Fingerprint)
	if sn != "" {
		fmt.Fprintf(&b, "\n  safety number %s", sn)
	}
	fmt.Fprintf(&b, "\n  compare the fingerprint with what `p2pchat id` prints on their machine")
	if sn != "" {
		b.WriteString(", or read the safety number aloud (`p2pchat verify` shows them the same one)")
	}
	fmt.Fprintf(&b, ", then type %s FINGERPRINT", again)
	if sn != "" {
		b.WriteString(" (or the safety number)")
	}
	return b.String()
}

// verifyError is the error event for a failed verification of the member
// called desc. A key mismatch does not quote err: err may spell out the
// real fingerprint, which invites pasting it back.
func verifyError(roomName, desc string, p peer.ID, err error) room.Event {
	if errors.Is(err, room.ErrFingerprint) {
		return room.Event{Type: room.EventError, Room: roomName, Peer: p, Reason: room.ReasonFingerprintMismatch,
			Err: fmt.Errorf("the fingerprints differ: the key %s uses is not the one whose fingerprint you typed; do not trust it until you know why (its verification, if any, is cleared) (%w)", desc, room.ErrFingerprint)}
	}
	return room.Event{Type: room.EventError, Room: roomName, Peer: p, Err: fmt.Errorf("verify %s: %w", desc, err)}
}
