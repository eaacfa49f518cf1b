package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestWALBounded: writing 13 MB of messages never lets the WAL grow past
// its documented bound (walAutoCheckpoint pages plus one transaction), and an idle database's
// WAL is truncated to zero bytes.
func TestWALBounded(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	var page int64
	if err := s.db.QueryRow("PRAGMA page_size").Scan(&page); err != nil {
		t.Fatal(err)
	}
	// Frames carry a 24-byte header; the commit that crosses the limit adds
	// its pages (a message of 32 KB with its index entries: well under 512 KiB).
	bound := walAutoCheckpoint*(page+24) + 512<<10
	var largest int64
	text := strings.Repeat("x", 16000)
	for i := 1; i <= 400; i++ {
		m := Message{Room: "lobby", ID: msgID(i), Author: make([]byte, 32), Seq: uint64(i), Clock: uint64(i), Time: t0,
			Kind: 1, Nick: "alice", Text: text, Record: make([]byte, 16500), Received: time.Now()}
		if _, err := s.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		largest = max(largest, s.walSize())
	}
	if largest > bound {
		t.Errorf("the WAL grew to %d bytes, bound %d", largest, bound)
	}
	if s.walSize() == 0 {
		t.Fatal("no WAL after writes: the test checks nothing")
	}
	if s.idleCheckpoint(ctx) {
		t.Error("checkpointed a database that was just written to")
	}
	if !s.idleCheckpoint(ctx) || s.walSize() != 0 {
		t.Errorf("idle database: WAL of %d bytes, want 0", s.walSize())
	}
	if s.idleCheckpoint(ctx) {
		t.Error("checkpointed an empty WAL again")
	}
	t.Logf("largest WAL %d bytes (bound %d)", largest, bound)
}
