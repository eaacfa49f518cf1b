package store

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// ftsCheck runs FTS5's integrity check of messages_fts against its content
// table: it fails if the index holds a row that messages lacks, or differs.
func ftsCheck(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.db.Exec(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Fatalf("full-text index integrity check: %v", err)
	}
}

func queued(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM fts_pending`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIndexQueue: inserting a message only queues it for the full-text
// index; a search indexes the queue first, so it finds what was just
// stored; replacing a queued message found altered keeps the index sound;
// and a queue left by a crash is indexed when the store is opened again.
func TestIndexQueue(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	m := testMessage("lobby", 1, 1, 1, "zebrafinch at dawn")
	if _, err := s.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if hits, err := s.Search(ctx, "zebrafinch", "", 10); err != nil || len(hits) != 1 {
		t.Fatalf("search right after the insert: %d hits, %v", len(hits), err)
	}
	if n := queued(t, s); n != 0 {
		t.Errorf("%d messages still queued after a search", n)
	}
	ftsCheck(t, s)

	// Replaced while queued: the altered copy leaves the queue (it was never
	// indexed), the verified copy is queued and then indexed.
	m2 := testMessage("lobby", 2, 1, 2, "okapi tracks")
	if _, err := s.AddMessage(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAltered(ctx, "lobby", m2.ID); err != nil {
		t.Fatal(err)
	}
	if added, err := s.AddMessage(ctx, m2); err != nil || !added {
		t.Fatalf("verified copy: added %v, %v", added, err)
	}
	if n := queued(t, s); n != 1 {
		t.Errorf("%d queued after the replacement, want 1 (the verified copy)", n)
	}
	if err := s.Index(ctx); err != nil {
		t.Fatal(err)
	}
	ftsCheck(t, s)
	// Replaced once indexed: the index forgets the old row.
	if err := s.MarkAltered(ctx, "lobby", m2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMessage(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if hits, err := s.Search(ctx, "okapi", "", 10); err != nil || len(hits) != 1 {
		t.Fatalf("okapi after two replacements: %d hits, %v", len(hits), err)
	}
	ftsCheck(t, s)

	// A crash with messages queued: the next Open indexes them.
	m3 := testMessage("lobby", 3, 1, 3, "narwhal song")
	if _, err := s.AddMessage(ctx, m3); err != nil {
		t.Fatal(err)
	}
	s.Close() // the queue stays in the file (Close does not index)
	s = open(t, dir)
	deadline := time.Now().Add(10 * time.Second)
	for queued(t, s) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the queue left before the restart was not indexed after Open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'narwhal'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("narwhal in the index after reopening: %d, %v", n, err)
	}
	ftsCheck(t, s)
}

// TestIndexInBackground: without a search, what is stored is indexed
// indexDelay after the write, in one transaction for a burst.
func TestIndexInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, t.TempDir())
		for i := range 20 {
			if _, err := s.AddMessage(ctx, testMessage("lobby", 1, uint64(i+1), uint64(i+1), "heron")); err != nil {
				t.Fatal(err)
			}
		}
		if n := queued(t, s); n != 20 {
			t.Fatalf("%d queued right after the burst, want 20", n)
		}
		time.Sleep(indexDelay + time.Millisecond)
		synctest.Wait()
		if n := queued(t, s); n != 0 {
			t.Errorf("%d still queued %v after the burst", n, indexDelay)
		}
		var n int
		if err := s.db.QueryRow(`SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'heron'`).Scan(&n); err != nil || n != 20 {
			t.Errorf("heron in the index: %d, %v", n, err)
		}
	})
}
