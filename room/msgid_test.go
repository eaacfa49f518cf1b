package room_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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
		a := newPeerAt(t, "alice", t.TempDir())
		a.join("lobby")
		a.waitEvent("joined", func(ev room.Event) bool { return ev.Type == room.EventJoined })
		msg, err := a.m.Send(ctx, "lobby", "new")
		if err != nil {
			t.Fatal(err)
		}
		pub, err := identity.PublicKeyOf(a.id.PeerID())
		if err != nil {
			t.Fatal(err)
		}
		first, err := a.m.History(ctx, "lobby", 0)
		if err != nil || len(first) != 1 {
			t.Fatalf("history %v, %v", first, err)
		}
		// What v0.6 stored: the id of author and seq alone.
		v1 := sha256.Sum256(append(append([]byte("p2pchat/v1/message-id"), pub...), binary.BigEndian.AppendUint64(nil, msg.Seq+100)...))
		if added, err := a.st.AddMessage(ctx, store.Message{Room: "lobby", ID: [16]byte(v1[:16]), Author: pub, Seq: msg.Seq + 100, Clock: msg.Clock + 1,
			Time: msg.Time, Nick: "alice", Text: "old", Record: first[0].Record, Received: msg.Time}); err != nil || !added {
			t.Fatalf("storing the old message: added %v, %v", added, err)
		}
		hist, err := a.m.History(ctx, "lobby", 0)
		if err != nil || len(hist) != 2 {
			t.Fatalf("history %v, %v", hist, err)
		}
		if old := hist[1]; old.Text != "old" || old.ID == hex.EncodeToString(v1[:16]) || old.ID == msg.ID || len(old.ID) != 32 {
			t.Errorf("the old message reads back as %+v; want a current id, not the stored v1 one", old)
		}
	})
}
