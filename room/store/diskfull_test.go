package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDiskFull: a write that SQLite refuses as full (here: a page limit
// on the connection, as a full disk does) says which disk is full and
// wraps ErrDiskFull; nothing is stored.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	var pages int
	if err := s.db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("PRAGMA max_page_count = " + strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	m := Message{Room: "lobby", ID: msgID(1), Author: make([]byte, 32), Seq: 1, Clock: 1, Time: t0,
		Kind: 1, Nick: "alice", Text: strings.Repeat("x", 16384), Record: make([]byte, 16500), Received: time.Now()}
	_, err := s.AddMessage(ctx, m)
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("AddMessage on a full database: %v, want ErrDiskFull", err)
	}
	var df *DiskFullError
	if !errors.As(err, &df) || df.Dir != dir || !strings.Contains(err.Error(), "the disk holding "+dir+" is full") {
		t.Errorf("error %q does not name the full disk %s", err, dir)
	}
	if err := s.SetSetting(ctx, "k", strings.Repeat("v", 1<<20)); !errors.Is(err, ErrDiskFull) {
		t.Errorf("SetSetting on a full database: %v, want ErrDiskFull", err)
	}
	if _, err := s.db.Exec("PRAGMA max_page_count = 1000000"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.History(ctx, "lobby", 0, time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("history after the refused write: %d messages, %v", len(got), err)
	}
	// An error that is not about space stays as it is.
	if err := s.diskFull(errors.New("other")); errors.Is(err, ErrDiskFull) {
		t.Error("an unrelated error taken for a full disk")
	}
}
