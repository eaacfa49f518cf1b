package tui

import (
	"errors"
	"regexp"
	"testing"

	"github.com/p2pchat/p2pchat/room"
)

// TestMismatchClearsVerified: a /verify that finds another key clears the
// ✓ the UI showed for the peer (verification is otherwise sticky) and
// marks it ! until it is verified again.
func TestMismatchClearsVerified(t *testing.T) {
	core := newFakeCore(t)
	bob := member(t, 1, "bob", true)
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob}})
	m := newTestModel(t, core, "lobby", 160, 40)
	if f := plain(t, m); !regexp.MustCompile(`✓ bob#`).MatchString(f) {
		t.Fatalf("bob not shown verified to begin with:\n%s", f)
	}
	bob.Verified = false // the core cleared it
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob}})
	ev := room.Event{Type: room.EventError, Room: "lobby", Peer: bob.Peer, Reason: room.ReasonFingerprintMismatch,
		Err: errors.New("the fingerprints differ")}
	send(m, commandDoneMsg{res: CommandResult{Current: "lobby", Output: []Output{{Event: &ev}}}})
	f := plain(t, m)
	if regexp.MustCompile(`✓ bob#`).MatchString(f) || !regexp.MustCompile(`! bob#`).MatchString(f) {
		t.Errorf("after a mismatch bob is not marked !:\n%s", f)
	}
	bob.Verified = true // verified again
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob}})
	send(m, SnapshotMsg{})
	if f := plain(t, m); !regexp.MustCompile(`✓ bob#`).MatchString(f) {
		t.Errorf("verified again, bob is not ✓:\n%s", f)
	}
}
