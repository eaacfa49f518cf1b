package tui

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

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

// TestMismatchAfterRestart: a UI started fresh (a restart) shows "!" for
// a member the core remembers a failed check of, with no event to say so.
func TestMismatchAfterRestart(t *testing.T) {
	core := newFakeCore(t)
	bob := member(t, 1, "bob", false)
	bob.Mismatch = true
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob}})
	m := newTestModel(t, core, "lobby", 160, 40)
	if f := plain(t, m); !regexp.MustCompile(`! bob#`).MatchString(f) {
		t.Errorf("bob, remembered as a mismatch, is not marked !:\n%s", f)
	}
}

// TestRoomsColumnOrder: the rooms column follows Config.Order (the order
// the rooms were named or remembered in), not the snapshot's by name;
// rooms it does not name come after.
func TestRoomsColumnOrder(t *testing.T) {
	core := newFakeCore(t)
	core.setRooms(
		RoomState{Name: "alpha", Kind: room.KindOpen, Ready: true},
		RoomState{Name: "mid", Kind: room.KindOpen, Ready: true},
		RoomState{Name: "other", Kind: room.KindOpen, Ready: true},
		RoomState{Name: "zeta", Kind: room.KindOpen, Ready: true},
	)
	m := New(context.Background(), Config{Core: core, Current: "mid", Order: []string{"zeta", "mid", "alpha"}, Now: clock(), Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	if want := []string{"zeta", "mid", "alpha", "other"}; !slices.Equal(m.order, want) {
		t.Errorf("rooms column %q, want %q", m.order, want)
	}
	if f := plain(t, m); !regexp.MustCompile(`(?s)1 zeta.*›2 mid.*3 alpha.*4 other`).MatchString(f) {
		t.Errorf("screen:\n%s", f)
	}
}

// TestOneMemberCount: the members column's header and the status line
// count the members alike (you included).
func TestOneMemberCount(t *testing.T) {
	m, _, _ := twoRooms(t)
	f := plain(t, m)
	head := regexp.MustCompile(`members (\d+)`).FindStringSubmatch(f)
	status := regexp.MustCompile(`· (\d+) members?, `).FindStringSubmatch(f)
	if head == nil || status == nil || head[1] != status[1] {
		t.Errorf("header says %v, status line %v:\n%s", head, status, f)
	}
}

// TestLeftInWords: why a member left is said in words, not as a code.
func TestLeftInWords(t *testing.T) {
	m, _, bob := twoRooms(t)
	for _, r := range []room.Reason{room.ReasonLeft, room.ReasonDisconnected, room.ReasonNotInEpoch} {
		send(m, EventMsg{room.Event{Type: room.EventMemberLeft, Room: "lobby", Peer: bob.Peer, Nick: "bob", Short: bob.Fingerprint.Short(), Reason: r}})
	}
	f := plain(t, m)
	for _, want := range []string{"bob#" + bob.Fingerprint.Short() + " left\n", "left: lost connection", "left: was removed when the room key changed"} {
		if !strings.Contains(f, want) && !strings.Contains(f, strings.TrimSuffix(want, "\n")+" ") {
			t.Errorf("screen lacks %q:\n%s", want, f)
		}
	}
	if strings.Contains(f, "left (") {
		t.Errorf("a reason code on the screen:\n%s", f)
	}
}
