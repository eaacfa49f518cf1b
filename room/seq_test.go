package room_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/store"
)

// TestSeqAfterLostWrites: alice's database loses her latest messages (a
// deleted WAL, a power cut with synchronous=NORMAL, a restored copy); bob
// still holds them. After a restart her next messages must not reuse their
// sequence numbers, which would give them the ids of messages bob has and
// make him drop them as replays while alice reports them sent.
func TestSeqAfterLostWrites(t *testing.T) {
	for _, tc := range []struct {
		name string
		// lose damages alice's closed database in home; copy is a copy of
		// it taken before the 30 messages were sent.
		lose func(t *testing.T, home, copy string)
		// waitSync: the test waits for alice's own messages to come back by
		// sync before sending; otherwise it sends as soon as she holds the key.
		waitSync bool
	}{
		{"last rows lost, synced first", deleteLastRows, true},
		{"last rows lost, send at once", deleteLastRows, false},
		{"older copy restored, synced first", restoreCopy, true},
		{"older copy restored, send at once", restoreCopy, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inBubble(t, func(t *testing.T) { testSeqAfterLostWrites(t, tc.lose, tc.waitSync) })
		})
	}
}

func testSeqAfterLostWrites(t *testing.T, lose func(t *testing.T, home, copy string), waitSync bool) {
	ctx := context.Background()
	dir := t.TempDir()
	ha, hb, saved := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "copy")
	a, b := newPeerAt(t, "alice", ha), newPeerAt(t, "bob", hb)
	connect(t, a, b)
	a.join("lobby")
	b.join("lobby")
	a.waitMember("lobby", b)
	b.waitMember("lobby", a)
	// The copy: alice's database as it was before her messages.
	a.close()
	copyFile(t, filepath.Join(ha, store.FileName), filepath.Join(saved, store.FileName))
	a = newPeerAt(t, "alice", ha)
	connect(t, a, b)
	a.join("lobby")
	b.waitMember("lobby", a)

	for i := 1; i <= 30; i++ {
		if _, err := a.m.Send(ctx, "lobby", fmt.Sprintf("old %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b.waitMessage("lobby", "old 30")
	a.close()
	lose(t, ha, saved)

	a = newPeerAt(t, "alice", ha)
	connect(t, a, b)
	a.join("lobby")
	<-mustRoom(t, a, "lobby").Ready()
	if waitSync {
		a.waitEvent("own message 30 back by sync", func(ev room.Event) bool {
			return ev.Type == room.EventMessage && ev.Message.Self && ev.Message.Synced && ev.Message.Text == "old 30"
		})
	}
	for i := 1; i <= 5; i++ {
		msg, err := a.m.Send(ctx, "lobby", fmt.Sprintf("new %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if msg.Seq <= 30 {
			t.Errorf("new %d sent under sequence number %d, used before", i, msg.Seq)
		}
	}
	for i := 1; i <= 5; i++ {
		b.waitMessage("lobby", fmt.Sprintf("new %d", i))
	}
	if n := len(historyIDs(t, b, "lobby")); n != 35 {
		t.Errorf("bob stores %d messages, want 35", n)
	}
}

// deleteLastRows removes alice's last 10 messages from her database, as a
// lost WAL or a power cut would.
func deleteLastRows(t *testing.T, home, _ string) {
	db, err := sql.Open("sqlite", filepath.Join(home, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`DELETE FROM messages WHERE seq IN (SELECT seq FROM messages ORDER BY seq DESC LIMIT 10)`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 10 {
		t.Fatalf("deleted %d rows, want 10", n)
	}
}

// restoreCopy puts back the copy of alice's database from before her
// messages: everything written since is gone.
func restoreCopy(t *testing.T, home, saved string) {
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(filepath.Join(home, store.FileName+suffix)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(saved, store.FileName), filepath.Join(home, store.FileName))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
