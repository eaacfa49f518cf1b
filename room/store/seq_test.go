package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestReserveSeqDurable: a reservation (and a joined room) is in the main
// file as soon as ReserveSeq (SaveRoom) returns, so a database whose WAL is lost (deleted, or not yet
// synced at a power cut) still has it; later writes in the WAL are lost.
func TestReserveSeqDurable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if n, err := s.SeqReserved(ctx, "lobby"); err != nil || n != 0 {
		t.Fatalf("SeqReserved on a new database: %d, %v", n, err)
	}
	if err := s.ReserveSeq(ctx, "lobby", 1000); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRoom(ctx, RoomRecord{Name: "lobby", Kind: KindOpen, Joined: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSetting(ctx, SettingNick, "after"); err != nil {
		t.Fatal(err)
	}
	// The main file alone, as a lost WAL leaves it.
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	lost := t.TempDir()
	if err := os.WriteFile(filepath.Join(lost, FileName), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, lost)
	if n, err := s2.SeqReserved(ctx, "lobby"); err != nil || n != 1000 {
		t.Errorf("reservation after the WAL was lost: %d, %v; want 1000", n, err)
	}
	if _, ok, err := s2.Room(ctx, "lobby"); err != nil || !ok {
		t.Errorf("room joined before the WAL was lost: %v, %v; want it kept", ok, err)
	}
	if n, err := s2.SeqReserved(ctx, "other"); err != nil || n != 0 {
		t.Errorf("another room's reservation: %d, %v; want 0", n, err)
	}
}
