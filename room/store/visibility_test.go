package store

import (
	"bytes"
	"context"
	"slices"
	"testing"
)

// recordUnder returns a record whose header names the epoch with key id k.
func recordUnder(k byte) []byte {
	rec := make([]byte, 100)
	copy(rec[KeyIDOffset:KeyIDOffset+16], bytes.Repeat([]byte{k}, 16))
	return rec
}

func key(k byte) [16]byte { var id [16]byte; copy(id[:], bytes.Repeat([]byte{k}, 16)); return id }

func TestMessagesFor(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	alice, bob, carol := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	// Epoch 0xA: alice, bob, carol; 0xB: alice, bob (carol away); 0xC: never recorded.
	if err := s.NoteRoster(ctx, "lobby", 1, key(0xA), [][]byte{alice, bob, carol}); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteRoster(ctx, "lobby", 2, key(0xB), [][]byte{alice, bob}); err != nil {
		t.Fatal(err)
	}
	// Noting again (a later install of the same epoch) changes nothing.
	if err := s.NoteRoster(ctx, "lobby", 2, key(0xB), [][]byte{alice, bob}); err != nil {
		t.Fatal(err)
	}
	for seq, k := range map[uint64]byte{1: 0xA, 2: 0xB, 3: 0xC, 4: 0xA} {
		m := testMessage("lobby", 1, seq, seq, "m")
		m.Record = recordUnder(k)
		if _, err := s.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(member []byte) []uint64 {
		msgs, err := s.MessagesFor(ctx, "lobby", alice, 1, 10, member, 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, m := range msgs {
			out = append(out, m.Seq)
		}
		return out
	}
	tests := []struct {
		name   string
		member []byte
		want   []uint64
	}{
		{"in both epochs", bob, []uint64{1, 2, 4}},
		{"away in 0xB", carol, []uint64{1, 4}},
		{"in none", bytes.Repeat([]byte{9}, 32), nil},
	}
	for _, tc := range tests {
		if got := seqs(tc.member); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if in, _ := s.InRoster(ctx, "lobby", key(0xB), carol); in {
		t.Error("carol in roster 0xB")
	}
	if in, _ := s.InRoster(ctx, "other", key(0xA), bob); in {
		t.Error("roster of lobby counted for another room")
	}
	if err := s.NoteRoster(ctx, "lobby", 3, key(0xD), [][]byte{{1, 2}}); err == nil {
		t.Error("short member key accepted")
	}
}

// TestRostersPruned: old rosters no stored message was sent under go,
// those of stored messages stay.
func TestRostersPruned(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	alice := bytes.Repeat([]byte{1}, 32)
	s.NoteRoster(ctx, "lobby", 1, key(0xA), [][]byte{alice})
	s.NoteRoster(ctx, "lobby", 2, key(0xB), [][]byte{alice})
	m := testMessage("lobby", 1, 1, 1, "m")
	m.Record = recordUnder(0xA)
	if _, err := s.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteRoster(ctx, "lobby", keepRosters+pruneEvery, key(0xE), [][]byte{alice}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[byte]bool{0xA: true, 0xB: false, 0xE: true} {
		if in, _ := s.InRoster(ctx, "lobby", key(k), alice); in != want {
			t.Errorf("roster %#x kept %v, want %v", k, in, want)
		}
	}
}
