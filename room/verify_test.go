package room_test

import (
	"context"
	"errors"
	"testing"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// TestVerifyOutcomes: with or without a store, another key's fingerprint
// is ErrFingerprint and a typo is ErrBadFingerprint; with a store, the
// mismatch clears an earlier verification and the typo does not.
func TestVerifyOutcomes(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		withStore := newPeerAt(t, "alice", t.TempDir())
		without := newPeer(t, "carol")
		bob, dave := newPeer(t, "bob"), newPeer(t, "dave")
		right := bob.id.Fingerprint().String()
		typo := right[:len(right)-1] + map[bool]string{true: "B", false: "A"}[right[len(right)-1] == 'A']
		for _, p := range []*peerNode{withStore, without} {
			if err := p.m.Verify(ctx, bob.id.PeerID(), dave.id.Fingerprint().String()); !errors.Is(err, room.ErrFingerprint) {
				t.Errorf("%s: another key's fingerprint: %v, want ErrFingerprint", p.nick, err)
			}
			if err := p.m.Verify(ctx, bob.id.PeerID(), typo); !errors.Is(err, identity.ErrBadFingerprint) || errors.Is(err, room.ErrFingerprint) {
				t.Errorf("%s: a typo: %v, want ErrBadFingerprint only", p.nick, err)
			}
		}
		if err := withStore.m.Verify(ctx, bob.id.PeerID(), right); err != nil {
			t.Fatal(err)
		}
		_ = withStore.m.Verify(ctx, bob.id.PeerID(), typo)
		if !withStore.m.Verified(bob.id.PeerID()) {
			t.Error("a typo cleared the verification")
		}
		_ = withStore.m.Verify(ctx, bob.id.PeerID(), dave.id.Fingerprint().String())
		if withStore.m.Verified(bob.id.PeerID()) {
			t.Error("another key's fingerprint left the verification in place")
		}
	})
}
