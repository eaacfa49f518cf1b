package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pragma(t *testing.T, s *Store, name string) string {
	t.Helper()
	var v string
	if err := s.db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, SecretSize) }

func msgID(n int) (id [16]byte) {
	binary.BigEndian.PutUint64(id[8:], uint64(n))
	return id
}

func TestOpenNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := open(t, dir)
	path := filepath.Join(dir, FileName)
	if runtime.GOOS != "windows" {
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: mode %#o, want 0600", filepath.Base(p), m)
			}
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("dir mode %#o, want 0700", m)
		}
	}
	if got := pragma(t, s, "journal_mode"); got != "wal" {
		t.Errorf("journal_mode = %q, want wal", got)
	}
	if got, want := pragma(t, s, "user_version"), fmt.Sprint(len(migrations)); got != want {
		t.Errorf("user_version = %s, want %s", got, want)
	}
	if got, want := pragma(t, s, "application_id"), fmt.Sprint(appID); got != want {
		t.Errorf("application_id = %s, want %s", got, want)
	}
	if got := pragma(t, s, "foreign_keys"); got != "1" {
		t.Errorf("foreign_keys = %s, want 1", got)
	}
	if got := pragma(t, s, "synchronous"); got != "1" { // NORMAL
		t.Errorf("synchronous = %s, want 1", got)
	}
	if got := pragma(t, s, "busy_timeout"); got != "5000" {
		t.Errorf("busy_timeout = %s, want 5000", got)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	rooms := []RoomRecord{
		{Name: "b-secret", Kind: KindPassphrase, Secret: secret(7), Joined: t0},
		{Name: "a-open", Kind: KindOpen},
		{Name: "c-open", Kind: KindOpen, Secret: secret(9), Joined: t0.Add(time.Hour)},
	}
	for _, r := range rooms {
		if err := s.SaveRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.MarkSeen(ctx, "a-open", msgID(1), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVerified(ctx, "peerA", "fpA", true, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NoteNick(ctx, "peerA", "fpA", "bob", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	got, err := s.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []RoomRecord{rooms[1], rooms[0], rooms[2]}
	if len(got) != len(want) {
		t.Fatalf("Rooms() = %d rooms, want %d", len(got), len(want))
	}
	for i := range want {
		if !roomEqual(got[i], want[i]) {
			t.Errorf("Rooms()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	r, ok, err := s.Room(ctx, "b-secret")
	if err != nil || !ok || !roomEqual(r, rooms[0]) {
		t.Errorf("Room(b-secret) = %+v, %v, %v", r, ok, err)
	}
	if seen, err := s.Seen(ctx, "a-open", msgID(1)); err != nil || !seen {
		t.Errorf("Seen after reopen = %v, %v", seen, err)
	}
	p, ok, err := s.Peer(ctx, "peerA")
	if err != nil || !ok {
		t.Fatalf("Peer(peerA) = %v, %v", ok, err)
	}
	wantP := PeerRecord{PeerID: "peerA", Fingerprint: "fpA", Verified: true, VerifiedAt: t0,
		LastNick: "bob", FirstSeen: t0.Add(time.Minute), LastSeen: t0.Add(time.Minute)}
	if !peerEqual(p, wantP) {
		t.Errorf("Peer(peerA) = %+v, want %+v", p, wantP)
	}
}

func roomEqual(a, b RoomRecord) bool {
	return a.Name == b.Name && a.Kind == b.Kind && bytes.Equal(a.Secret, b.Secret) && a.Joined.Equal(b.Joined)
}

func peerEqual(a, b PeerRecord) bool {
	return a.PeerID == b.PeerID && a.Fingerprint == b.Fingerprint && a.Verified == b.Verified &&
		a.VerifiedAt.Equal(b.VerifiedAt) && a.LastNick == b.LastNick &&
		a.FirstSeen.Equal(b.FirstSeen) && a.LastSeen.Equal(b.LastSeen)
}

func TestRooms(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	if rs, err := s.Rooms(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("Rooms() on empty store = %v, %v", rs, err)
	}
	if _, ok, err := s.Room(ctx, "x"); err != nil || ok {
		t.Fatalf("Room(x) on empty store = %v, %v", ok, err)
	}

	in := RoomRecord{Name: "x", Kind: KindPassphrase, Secret: secret(1), Joined: t0}
	if err := s.SaveRoom(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.Secret[0] = 0xff // SaveRoom must have copied it
	r, _, _ := s.Room(ctx, "x")
	if !bytes.Equal(r.Secret, secret(1)) {
		t.Errorf("stored secret changed with the caller's slice")
	}

	upd := RoomRecord{Name: "x", Kind: KindOpen, Joined: t0.Add(time.Hour)}
	if err := s.SaveRoom(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := s.Room(ctx, "x"); err != nil || !ok || !roomEqual(r, upd) {
		t.Errorf("after upsert Room(x) = %+v, %v, %v; want %+v", r, ok, err, upd)
	}

	if err := s.ForgetRoom(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Room(ctx, "x"); err != nil || ok {
		t.Errorf("after ForgetRoom Room(x) = %v, %v", ok, err)
	}
	if err := s.ForgetRoom(ctx, "x"); err != nil {
		t.Errorf("ForgetRoom of unknown room: %v", err)
	}

	for _, bad := range []RoomRecord{
		{Name: "", Kind: KindOpen},
		{Name: "y", Kind: "secret", Secret: secret(1)},
		{Name: "y", Kind: KindPassphrase},
		{Name: "y", Kind: KindPassphrase, Secret: make([]byte, 31)},
		{Name: "y", Kind: KindOpen, Secret: make([]byte, 33)},
	} {
		err := s.SaveRoom(ctx, bad)
		if err == nil {
			t.Errorf("SaveRoom(%q, %q, %d-byte secret) succeeded", bad.Name, bad.Kind, len(bad.Secret))
		} else if !strings.HasPrefix(err.Error(), "store: save room ") {
			t.Errorf("SaveRoom error %q lacks context", err)
		}
	}
	if rs, _ := s.Rooms(ctx); len(rs) != 0 {
		t.Errorf("invalid rooms were stored: %+v", rs)
	}
}

func TestMarkSeen(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	for _, step := range []struct {
		room string
		id   int
		at   time.Time
		want bool
	}{
		{"r1", 1, t0, true},
		{"r1", 1, t0.Add(time.Hour), false},
		{"r2", 1, t0.Add(2 * time.Hour), true},
		{"r1", 2, t0.Add(2 * time.Hour), true},
	} {
		fresh, err := s.MarkSeen(ctx, step.room, msgID(step.id), step.at)
		if err != nil || fresh != step.want {
			t.Fatalf("MarkSeen(%s, %d) = %v, %v; want %v", step.room, step.id, fresh, err, step.want)
		}
	}
	if _, err := s.MarkSeen(ctx, "r1", msgID(3), time.Time{}); err == nil {
		t.Error("MarkSeen with zero time succeeded")
	}
	if seen, _ := s.Seen(ctx, "r3", msgID(1)); seen {
		t.Error("Seen(r3, 1) = true")
	}

	// r1/1 keeps its first time, t0, so a prune at t0+1h removes it only.
	n, err := s.PruneSeen(ctx, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneSeen = %d, %v; want 1", n, err)
	}
	for _, c := range []struct {
		room string
		id   int
		want bool
	}{{"r1", 1, false}, {"r2", 1, true}, {"r1", 2, true}} {
		if seen, err := s.Seen(ctx, c.room, msgID(c.id)); err != nil || seen != c.want {
			t.Errorf("after prune Seen(%s, %d) = %v, %v; want %v", c.room, c.id, seen, err, c.want)
		}
	}
	if n, err := s.PruneSeen(ctx, t0.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("second PruneSeen = %d, %v; want 0", n, err)
	}
}

func TestMarkSeenConcurrent(t *testing.T) {
	const workers, each = 8, 200
	ctx := context.Background()
	s := open(t, t.TempDir())
	var (
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		sharedNew, ownedNew int
	)
	for w := range workers {
		wg.Go(func() {
			var shared, owned int
			for i := range each {
				// Every worker marks the same ids in "shared": each must be
				// new to exactly one of them.
				fresh, err := s.MarkSeen(ctx, "shared", msgID(i), t0)
				if err != nil {
					t.Error(err)
					return
				}
				if fresh {
					shared++
				}
				fresh, err = s.MarkSeen(ctx, "owned", msgID(w*each+i), t0)
				if err != nil {
					t.Error(err)
					return
				}
				if fresh {
					owned++
				}
			}
			mu.Lock()
			sharedNew += shared
			ownedNew += owned
			mu.Unlock()
		})
	}
	wg.Wait()
	if sharedNew != each {
		t.Errorf("shared ids: %d new, want %d", sharedNew, each)
	}
	if ownedNew != workers*each {
		t.Errorf("owned ids: %d new, want %d", ownedNew, workers*each)
	}
	var rows int
	if err := s.db.QueryRow("SELECT count(*) FROM seen").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := each + workers*each; rows != want {
		t.Errorf("%d rows in seen, want %d", rows, want)
	}
}

func TestPeers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if _, ok, err := s.Peer(ctx, "peerA"); err != nil || ok {
		t.Fatalf("Peer(peerA) on empty store = %v, %v", ok, err)
	}

	note := func(peer, fp, nick string, at time.Time) []string {
		t.Helper()
		others, err := s.NoteNick(ctx, peer, fp, nick, at)
		if err != nil {
			t.Fatalf("NoteNick(%s, %s): %v", peer, nick, err)
		}
		ids := []string{}
		for _, o := range others {
			ids = append(ids, o.PeerID)
		}
		return ids
	}
	expect := func(got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("others = %v, want %v", got, want)
		}
	}
	expect(note("peerA", "fpA", "bob", t0))
	expect(note("peerA", "fpA", "bob", t0.Add(time.Second)))
	expect(note("peerB", "fpB", "bob", t0.Add(2*time.Second)), "peerA")
	expect(note("peerC", "fpC", "alice", t0.Add(3*time.Second)))
	expect(note("peerC", "fpC", "Bob", t0.Add(4*time.Second))) // case-sensitive
	// peerA is seen as bob again, later than peerB: most recent first.
	expect(note("peerA", "fpA", "bob", t0.Add(5*time.Second)), "peerB")
	expect(note("peerD", "fpD", "bob", t0.Add(6*time.Second)), "peerA", "peerB")
	// peerB renames; it was still bob once.
	expect(note("peerB", "fpB", "robert", t0.Add(7*time.Second)))
	expect(note("peerE", "fpE", "bob", t0.Add(8*time.Second)), "peerD", "peerA", "peerB")

	a, _, _ := s.Peer(ctx, "peerA")
	want := PeerRecord{PeerID: "peerA", Fingerprint: "fpA", LastNick: "bob", FirstSeen: t0, LastSeen: t0.Add(5 * time.Second)}
	if !peerEqual(a, want) {
		t.Errorf("Peer(peerA) = %+v, want %+v", a, want)
	}
	b, _, _ := s.Peer(ctx, "peerB")
	if b.LastNick != "robert" {
		t.Errorf("Peer(peerB).LastNick = %q, want robert", b.LastNick)
	}

	// SetVerified round trip, for a known and an unknown peer.
	if err := s.SetVerified(ctx, "peerA", "fpA", true, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVerified(ctx, "peerZ", "fpZ", true, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want.Verified, want.VerifiedAt = true, t0.Add(time.Hour)
	wantZ := PeerRecord{PeerID: "peerZ", Fingerprint: "fpZ", Verified: true, VerifiedAt: t0.Add(time.Hour)}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	for _, w := range []PeerRecord{want, wantZ} {
		if p, ok, err := s.Peer(ctx, w.PeerID); err != nil || !ok || !peerEqual(p, w) {
			t.Errorf("after reopen Peer(%s) = %+v, %v, %v; want %+v", w.PeerID, p, ok, err, w)
		}
	}

	// Unverify.
	if err := s.SetVerified(ctx, "peerZ", "fpZ", false, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := s.Peer(ctx, "peerZ"); p.Verified || !p.VerifiedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("after unverify Peer(peerZ) = %+v", p)
	}

	// A mismatch unverifies and is remembered across a reopen; verifying
	// again clears it.
	if err := s.SetMismatch(ctx, "peerZ", "fpZ", t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir)
	if p, _, _ := s.Peer(ctx, "peerZ"); !p.Mismatch || p.Verified {
		t.Errorf("after SetMismatch and reopen Peer(peerZ) = %+v, want a mismatch, not verified", p)
	}
	if err := s.SetVerified(ctx, "peerZ", "fpZ", true, t0.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := s.Peer(ctx, "peerZ"); p.Mismatch || !p.Verified {
		t.Errorf("after SetVerified Peer(peerZ) = %+v, want verified, no mismatch", p)
	}
	if err := s.SetMismatch(ctx, "", "fp", t0); err == nil {
		t.Error("SetMismatch of an empty peer id succeeded")
	}

	// Same fingerprint keeps the verification; a new one clears it.
	note("peerA", "fpA", "bob", t0.Add(2*time.Hour))
	if p, _, _ := s.Peer(ctx, "peerA"); !p.Verified {
		t.Errorf("NoteNick with the same fingerprint cleared verification: %+v", p)
	}
	note("peerA", "fpA2", "bob", t0.Add(3*time.Hour))
	if p, _, _ := s.Peer(ctx, "peerA"); p.Verified || !p.VerifiedAt.IsZero() || p.Fingerprint != "fpA2" {
		t.Errorf("NoteNick with a new fingerprint kept verification: %+v", p)
	}

	for _, bad := range [][3]string{{"", "fp", "bob"}, {"peerA", "fp", ""}} {
		if _, err := s.NoteNick(ctx, bad[0], bad[1], bad[2], t0); err == nil {
			t.Errorf("NoteNick(%q, %q, %q) succeeded", bad[0], bad[1], bad[2])
		}
	}
	if err := s.SetVerified(ctx, "", "fp", true, t0); err == nil {
		t.Error("SetVerified with empty peer id succeeded")
	}
}

// TestOpenRefuses checks that files Open must not use are refused with a
// one-line message naming the file, and left byte for byte as they were.
func TestOpenRefuses(t *testing.T) {
	garbage := make([]byte, 4096)
	rand.Read(garbage)
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		want error
	}{
		{"garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, garbage, 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt},
		{"text", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("SQLite format 3\x00 but not really\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt},
		{"foreign", func(t *testing.T, path string) {
			makeDB(t, path, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi')")
		}, ErrCorrupt},
		{"foreign-app-id", func(t *testing.T, path string) {
			makeDB(t, path, "PRAGMA application_id = 42; CREATE TABLE rooms (name TEXT); PRAGMA user_version = 1")
		}, ErrCorrupt},
		{"foreign-newer", func(t *testing.T, path string) {
			makeDB(t, path, "CREATE TABLE t (x); PRAGMA user_version = 99")
		}, ErrCorrupt},
		{"newer", func(t *testing.T, path string) {
			makeDB(t, path, fmt.Sprintf(
				"PRAGMA application_id = %d; CREATE TABLE messages (id BLOB, body TEXT); PRAGMA user_version = %d",
				appID, len(migrations)+1))
		}, ErrNewerSchema},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			tt.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(context.Background(), dir)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			checkRefusal(t, err, tt.want, path)
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("Open changed the file")
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Errorf("Open left files beside the database: %v", names)
			}
		})
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func checkRefusal(t *testing.T, err, want error, path string) {
	t.Helper()
	t.Logf("error: %v", err)
	if !errors.Is(err, want) {
		t.Errorf("error is not %v", want)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error message is not one line")
	}
	if !strings.Contains(msg, path) {
		t.Errorf("error message does not name %s", path)
	}
	if !strings.Contains(msg, "move it away to start a fresh database") {
		t.Errorf("error message does not say how to recover")
	}
}

// makeDB creates a SQLite database at path by running script.
func makeDB(t *testing.T, path, script string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(script); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenDamaged checks that a real database damaged after Close is
// refused rather than replaced.
func TestOpenDamaged(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
	}{
		{"truncated", func(t *testing.T, path string, size int64) {
			if err := os.Truncate(path, size/2); err != nil {
				t.Fatal(err)
			}
		}},
		// A page in the middle: only quick_check reads it at Open.
		{"page", func(t *testing.T, path string, size int64) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			junk := bytes.Repeat([]byte{0xa5}, 4096)
			if _, err := f.WriteAt(junk, size/2/4096*4096); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			s := open(t, dir)
			for i := range 2000 {
				if _, err := s.MarkSeen(ctx, "room", msgID(i), t0); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.SaveRoom(ctx, RoomRecord{Name: "room", Kind: KindPassphrase, Secret: secret(3)}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path + "-wal"); err == nil {
				t.Fatal("-wal file left after Close; damaging the main file would not damage all data")
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(t, path, fi.Size())
			before, _ := os.ReadFile(path)
			s, err = Open(ctx, dir)
			if err == nil {
				s.Close()
				t.Fatal("Open of a damaged database succeeded")
			}
			checkRefusal(t, err, ErrCorrupt, path)
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("Open changed the file")
			}
		})
	}
}

func TestOpenEmptyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	if got, want := pragma(t, s, "user_version"), fmt.Sprint(len(migrations)); got != want {
		t.Errorf("user_version = %s, want %s", got, want)
	}
}

func TestOpenTwice(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	schema := func(s *Store) string {
		t.Helper()
		rows, err := s.db.Query("SELECT type, name, coalesce(sql, '') FROM sqlite_schema ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var typ, name, sql string
			if err := rows.Scan(&typ, &name, &sql); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %s %s\n", typ, name, sql)
		}
		return b.String()
	}
	first := schema(s)
	if _, err := s.MarkSeen(ctx, "r", msgID(1), t0); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dir)
	if got := schema(s); got != first {
		t.Errorf("schema changed on second Open:\n%s\nwant:\n%s", got, first)
	}
	if got, want := pragma(t, s, "user_version"), fmt.Sprint(len(migrations)); got != want {
		t.Errorf("user_version = %s, want %s", got, want)
	}
	if seen, err := s.Seen(ctx, "r", msgID(1)); err != nil || !seen {
		t.Errorf("Seen after second Open = %v, %v", seen, err)
	}

	// Two stores on one directory (as two processes would be) share it.
	s2 := open(t, dir)
	if fresh, err := s2.MarkSeen(ctx, "r", msgID(1), t0); err != nil || fresh {
		t.Errorf("MarkSeen through second store = %v, %v; want false", fresh, err)
	}
}

// TestMigrate runs migrate step by step with a made-up list.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	list := []string{
		"CREATE TABLE a (x INTEGER)",
		"ALTER TABLE a ADD COLUMN y INTEGER; CREATE TABLE b (z INTEGER)",
	}
	version := func() int {
		var v int
		if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i, step := range []struct {
		list []string
		want int
	}{{list[:1], 1}, {list[:1], 1}, {list, 2}, {list, 2}} {
		if err := migrate(ctx, db, step.list); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if v := version(); v != step.want {
			t.Fatalf("step %d: user_version = %d, want %d", i, v, step.want)
		}
	}
	if _, err := db.Exec("INSERT INTO a (x, y) VALUES (1, 2); INSERT INTO b VALUES (3)"); err != nil {
		t.Fatal(err)
	}
	var ne *newerError
	if err := migrate(ctx, db, list[:1]); !errors.As(err, &ne) || ne.version != 2 {
		t.Errorf("migrate with a shorter list = %v, want newerError for version 2", err)
	}

	// A failing migration leaves neither its changes nor its version.
	bad := append(list[:2:2], "CREATE TABLE c (w INTEGER); CREATE TABLE a (x INTEGER)")
	if err := migrate(ctx, db, bad); err == nil {
		t.Fatal("failing migration succeeded")
	}
	if v := version(); v != 2 {
		t.Errorf("after failed migration user_version = %d, want 2", v)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'c'").Scan(&n); err != nil || n != 0 {
		t.Errorf("failed migration left table c (%d, %v)", n, err)
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkSeen(context.Background(), "r", msgID(1), t0); err == nil {
		t.Error("MarkSeen after Close succeeded")
	}
}

func BenchmarkMarkSeen(b *testing.B) {
	ctx := context.Background()
	s := open(b, b.TempDir())
	b.Run("new", func(b *testing.B) {
		n := 0
		for b.Loop() {
			if _, err := s.MarkSeen(ctx, "room", msgID(n), t0); err != nil {
				b.Fatal(err)
			}
			n++
		}
	})
	b.Run("dup", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.MarkSeen(ctx, "room", msgID(0), t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestOpenOtherFailure checks that a failure that is not corruption is not
// reported as ErrCorrupt, whose advice is to move the file away.
func TestOpenOtherFailure(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, FileName), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dir)
	if err == nil {
		s.Close()
		t.Fatal("Open of a directory succeeded")
	}
	t.Logf("error: %v", err)
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNewerSchema) {
		t.Errorf("error %q wraps a sentinel", err)
	}
	if !strings.Contains(err.Error(), "store: open") {
		t.Errorf("error %q lacks context", err)
	}
}
