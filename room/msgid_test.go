package room_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/store"
)

// TestMessageIDsDifferAcrossRooms: alice's first message in lobby and her
// first in vault (both seq 1) have different ids; the receiver, the stored
// history and a record's verification all give each message the same id.
func TestMessageIDsDifferAcrossRooms(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		a := newPeerAt(t, "alice", t.TempDir())
		b := newPeer(t, "bob")
		connect(t, a, b)
		ids := map[string]string{}
		for _, name := range []string{"lobby", "vault"} {
			a.join(name)
			b.join(name)
			b.waitEvent("alice in "+name, func(ev room.Event) bool {
				return ev.Type == room.EventMemberJoined && ev.Room == name && ev.Peer == a.id.PeerID()
			})
			msg, err := a.m.Send(ctx, name, "first")
			if err != nil {
				t.Fatal(err)
			}
			if msg.Seq != 1 {
				t.Fatalf("%s: seq %d, want 1", name, msg.Seq)
			}
			ids[name] = msg.ID
			got := b.waitEvent("the message in "+name, func(ev room.Event) bool {
				return ev.Type == room.EventMessage && ev.Room == name && ev.Message.Text == "first"
			})
			if got.Message.ID != msg.ID {
				t.Errorf("%s: bob has id %s, alice %s", name, got.Message.ID, msg.ID)
			}
			hist, err := a.m.History(ctx, name, 0)
			if err != nil || len(hist) != 1 || hist[0].ID != msg.ID {
				t.Fatalf("%s: history %v, %v; want the message with id %s", name, hist, err, msg.ID)
			}
			rec, err := room.VerifyRecord(hist[0].Record)
			if err != nil || rec.ID != msg.ID {
				t.Errorf("%s: VerifyRecord id %v, %v; want %s", name, rec, err, msg.ID)
			}
		}
		if ids["lobby"] == ids["vault"] {
			t.Errorf("the first messages of lobby and vault share the id %s", ids["lobby"])
		}
	})
}

// TestOldStoredIDs: a message stored under a v1 id (before ids named the
// room) is read back with its current id.
func TestOldStoredIDs(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		home := t.TempDir()
		a := newPeerAt(t, "alice", home)
		a.join("lobby")
		a.waitEvent("joined", func(ev room.Event) bool { return ev.Type == room.EventJoined })
		msg, err := a.m.Send(ctx, "lobby", "old")
		if err != nil {
			t.Fatal(err)
		}
		pub, err := identity.PublicKeyOf(a.id.PeerID())
		if err != nil {
			t.Fatal(err)
		}
		// What v0.6 stored: the id of author and seq alone.
		v1 := sha256.Sum256(append(append([]byte("p2pchat/v1/message-id"), pub...), binary.BigEndian.AppendUint64(nil, msg.Seq)...))
		db, err := sql.Open("sqlite", filepath.Join(home, store.FileName))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if res, err := db.Exec(`UPDATE messages SET id = ? WHERE room = 'lobby' AND seq = ?`, v1[:16], int64(msg.Seq)); err != nil {
			t.Fatal(err)
		} else if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("rewrote %d rows to a v1 id, want 1", n)
		}
		hist, err := a.m.History(ctx, "lobby", 0)
		if err != nil || len(hist) != 1 {
			t.Fatalf("history %v, %v", hist, err)
		}
		if old := hist[0]; old.Text != "old" || old.ID == hex.EncodeToString(v1[:16]) || old.ID != msg.ID {
			t.Errorf("the old message reads back as %+v; want its current id %s, not the stored v1 one", old, msg.ID)
		}
	})
}
