package room_test

import (
	"context"
	"slices"
	"testing"

	"github.com/p2pchat/p2pchat/room"
)

// TestStoredRoomsOrder: the remembered rooms come back in the order they
// were joined (not by name), a rejoin keeps a room's place, a left room is
// forgotten, and JoinedBefore tells a new state directory from one whose
// rooms were all left.
func TestStoredRoomsOrder(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		home := t.TempDir()
		a := newPeerAt(t, "alice", home)
		if before, err := a.m.JoinedBefore(ctx); err != nil || before {
			t.Fatalf("JoinedBefore in a new state directory = %v, %v", before, err)
		}
		for _, name := range []string{"zeta", "alpha", "mid"} {
			if _, err := a.m.Join(ctx, name, room.JoinOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.m.Leave(ctx, "alpha"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.m.Join(ctx, "alpha", room.JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		a.close()

		a = newPeerAt(t, "alice", home)
		got, err := a.m.StoredRooms(ctx)
		if want := []string{"zeta", "mid", "alpha"}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("StoredRooms = %q, %v; want %q (the order joined)", got, err, want)
		}
		// Rejoining in that order keeps it.
		for _, name := range got {
			if _, err := a.m.Join(ctx, name, room.JoinOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if again, _ := a.m.StoredRooms(ctx); !slices.Equal(again, got) {
			t.Errorf("after rejoining: %q, want %q", again, got)
		}
		for _, name := range got {
			if err := a.m.Leave(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		if left, _ := a.m.StoredRooms(ctx); len(left) != 0 {
			t.Errorf("left rooms still remembered: %q", left)
		}
		if before, err := a.m.JoinedBefore(ctx); err != nil || !before {
			t.Errorf("JoinedBefore after leaving every room = %v, %v; want true", before, err)
		}
	})
}
