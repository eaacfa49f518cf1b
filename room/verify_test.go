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

// TestMismatchRemembered (issue 13 item 8): a failed check of a member's
// fingerprint marks it as a mismatch, in Members and Mismatch, across a
// restart, until it is verified again.
func TestMismatchRemembered(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		home := t.TempDir()
		alice, bob, dave := newPeerAt(t, "alice", home), newPeer(t, "bob"), newPeer(t, "dave")
		connect(t, alice, bob)
		alice.join("lobby")
		bob.join("lobby")
		alice.waitMember("lobby", bob)
		if err := alice.m.Verify(ctx, bob.id.PeerID(), bob.id.Fingerprint().String()); err != nil {
			t.Fatal(err)
		}
		if err := alice.m.Verify(ctx, bob.id.PeerID(), dave.id.Fingerprint().String()); !errors.Is(err, room.ErrFingerprint) {
			t.Fatalf("another key's fingerprint: %v, want ErrFingerprint", err)
		}
		check := func(when string, want bool) {
			t.Helper()
			ms := mustRoom(t, alice, "lobby").Members()
			if len(ms) != 1 || ms[0].Mismatch != want || ms[0].Verified == want || alice.m.Mismatch(bob.id.PeerID()) != want {
				t.Errorf("%s: members %+v, Mismatch %v; want mismatch %v", when, ms, alice.m.Mismatch(bob.id.PeerID()), want)
			}
		}
		check("after the failed check", true)

		alice.close()
		alice = newPeerAt(t, "alice", home)
		connect(t, alice, bob)
		alice.join("lobby")
		alice.waitMember("lobby", bob)
		check("after a restart", true)

		if err := alice.m.Verify(ctx, bob.id.PeerID(), bob.id.Fingerprint().String()); err != nil {
			t.Fatal(err)
		}
		check("verified again", false)
	})
}
