package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

func testMessage(room string, author byte, seq, clock uint64, text string) Message {
	var id [16]byte
	id[0], id[1], id[2] = author, byte(seq), byte(seq>>8)
	return Message{
		Room: room, ID: id, Author: bytes.Repeat([]byte{author}, 32), Seq: seq, Clock: clock,
		Time: time.Unix(int64(clock), 0), Kind: 1, Nick: fmt.Sprintf("n%d", author), Text: text,
		Record: []byte("record"), Received: time.Now(),
	}
}

func TestMessages(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	for _, m := range []Message{
		testMessage("lobby", 1, 1, 1, "hello world"),
		testMessage("lobby", 2, 1, 2, "hi there"),
		testMessage("lobby", 1, 2, 3, "the quick brown fox"),
		testMessage("lobby", 1, 4, 5, "quick again, after a gap"),
		testMessage("other", 1, 1, 1, "quick in another room"),
	} {
		if added, err := s.AddMessage(ctx, m); err != nil || !added {
			t.Fatalf("add %q: %v %v", m.Text, added, err)
		}
	}
	if added, err := s.AddMessage(ctx, testMessage("lobby", 1, 1, 1, "hello world")); err != nil || added {
		t.Fatalf("duplicate added: %v %v", added, err)
	}
	h, err := s.History(ctx, "lobby", 0, time.Time{})
	if err != nil || len(h) != 4 || h[0].Text != "hello world" || h[3].Text != "quick again, after a gap" {
		t.Fatalf("history: %v %v", h, err)
	}
	if h, _ := s.History(ctx, "lobby", 2, time.Time{}); len(h) != 2 || h[1].Clock != 5 {
		t.Fatalf("last 2: %v", h)
	}
	r, err := s.Ranges(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if got := r[string(bytes.Repeat([]byte{1}, 32))]; len(got) != 2 || got[0] != (Range{1, 2}) || got[1] != (Range{4, 4}) {
		t.Errorf("ranges of author 1: %v", got)
	}
	hits, err := s.Search(ctx, "quick", "lobby", 10)
	if err != nil || len(hits) != 2 {
		t.Fatalf("search: %v %v", hits, err)
	}
	if !bytes.Contains([]byte(hits[0].Snippet), []byte("[quick]")) {
		t.Errorf("snippet not highlighted: %q", hits[0].Snippet)
	}
	if hits, err := s.Search(ctx, `quick" OR "x`, "", 10); err != nil || len(hits) != 0 {
		t.Errorf("operators in input must be literal: %v %v", hits, err)
	}
	if hits, _ := s.Search(ctx, "quick", "", 10); len(hits) != 3 {
		t.Errorf("search all rooms: %d hits", len(hits))
	}
	if n, _ := s.LastSeq(ctx, "lobby", bytes.Repeat([]byte{1}, 32)); n != 4 {
		t.Errorf("last seq %d", n)
	}
	if c, _ := s.MaxClock(ctx, "lobby"); c != 5 {
		t.Errorf("max clock %d", c)
	}
	m := testMessage("lobby", 3, 1, 9, "mine")
	m.State = StatePending
	s.AddMessage(ctx, m)
	if p, _ := s.Pending(ctx, "lobby"); len(p) != 1 {
		t.Fatalf("pending: %v", p)
	}
	s.SetState(ctx, "lobby", m.ID, StateSent)
	if p, _ := s.Pending(ctx, "lobby"); len(p) != 0 {
		t.Fatalf("still pending: %v", p)
	}
}

// BenchmarkHistory fills a room with a large history once, prints how long
// reopening it takes (start-up), and times a ranked full-text search. Run with -benchtime=1x and
// P2PCHAT_BENCH_MESSAGES to change the size (default 100,000; the issue's
// figure is 1,000,000).
func BenchmarkHistory(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s := open(b, dir)
	n := benchMessages()
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	start := time.Now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		text := fmt.Sprintf("message %d %s %s", i, words[i%len(words)], words[(i/8)%len(words)])
		var id [16]byte
		copy(id[:], fmt.Sprintf("%016d", i))
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages (room, id, author, seq, clock, time, kind, nick, text, record, received, state)
			VALUES ('lobby', ?, ?, ?, ?, ?, 1, 'n', ?, x'00', ?, '')`, id[:], bytes.Repeat([]byte{byte(i % 7)}, 32), i, i, i, text, i); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d messages in %v", n, time.Since(start))
	s.Close()
	start = time.Now()
	s = open(b, dir)
	b.Logf("open (start-up, with quick_check) of %d messages: %v", n, time.Since(start))
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Search(ctx, "charlie hotel", "lobby", 20); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMessages() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("P2PCHAT_BENCH_MESSAGES"), &n); err != nil || n <= 0 {
		return 100_000
	}
	return n
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if _, ok, err := s.Setting(ctx, SettingNick); ok || err != nil {
		t.Fatalf("unset nick: %v %v", ok, err)
	}
	s.SetSetting(ctx, SettingNick, "alice")
	s.SetSetting(ctx, SettingNick, "alicia")
	s.Close()
	s = open(t, dir)
	if v, ok, err := s.Setting(ctx, SettingNick); v != "alicia" || !ok || err != nil {
		t.Fatalf("nick after reopen: %q %v %v", v, ok, err)
	}
}

// TestImpossibleClock: the store refuses clocks at or above ClockLimit (a
// wrapped or forged clock can never be restored after a restart).
func TestImpossibleClock(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	for _, clock := range []uint64{ClockLimit, 1<<64 - 1} {
		if added, err := s.AddMessage(ctx, testMessage("lobby", 1, 1, clock, "x")); err == nil || added {
			t.Errorf("clock %d stored: %v %v", clock, added, err)
		}
	}
	if added, err := s.AddMessage(ctx, testMessage("lobby", 1, 2, ClockLimit-1, "y")); err != nil || !added {
		t.Fatalf("clock 2^62-1: %v %v", added, err)
	}
	if c, err := s.MaxClock(ctx, "lobby"); err != nil || c != ClockLimit-1 {
		t.Errorf("MaxClock = %d, %v", c, err)
	}
}
