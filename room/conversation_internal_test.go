package room

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/internal/wire"
	"github.com/p2pchat/p2pchat/room/store"
)

// TestFoldAnyOrder: what a message looks like is the same whatever order
// its reply, reaction, edit and the message itself were stored in; a
// reaction, edit or reply that came before its message is applied when
// the message comes, and a reply to a message not held says so.
func TestFoldAnyOrder(t *testing.T) {
	ctx := context.Background()
	alice, bob := testIdentity(t), testIdentity(t)
	rid := wire.DeriveRoomID("lobby")
	var secret [32]byte
	e, err := wire.NewEpoch(rid, 1, [32]byte{}, &secret, []ed25519.PublicKey{alice.PublicKey(), bob.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	seal := func(id *identity.Identity, b *wire.Body) store.Message {
		b.Author, b.Nick, b.Time, b.Clock = id.PublicKey(), map[bool]string{true: "alice", false: "bob"}[id == alice], time.Now().UnixNano(), b.Seq*10+uint64(b.Kind)
		if _, err := wire.Seal(e, b, id.Sign); err != nil {
			t.Fatal(err)
		}
		mid := wire.MessageID(rid, b.Author, b.Seq)
		return store.Message{Room: "lobby", ID: mid, Author: b.Author, Seq: b.Seq, Clock: b.Clock, Time: time.Unix(0, b.Time),
			Kind: int(b.Kind), Ref: refOf(rid, b), Nick: b.Nick, Text: b.Text, Record: b.Record, Received: time.Now()}
	}
	target := seal(alice, &wire.Body{Kind: wire.KindText, Seq: 1, Text: "lunch?"})
	later := []store.Message{
		seal(bob, &wire.Body{Kind: wire.KindReact, Seq: 1, Text: "👍", Ref: target.ID}),
		seal(bob, &wire.Body{Kind: wire.KindReply, Seq: 2, Text: "yes", Ref: target.ID}),
		seal(alice, &wire.Body{Kind: wire.KindEdit, Seq: 2, Text: "lunch at 12?", RefSeq: 1}),
		seal(bob, &wire.Body{Kind: wire.KindReact, Seq: 3, Text: "🎉", Ref: target.ID}),
		seal(bob, &wire.Body{Kind: wire.KindReact, Seq: 4, Text: "🎉", Ref: target.ID}), // taken back
	}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {1, 3, 5, 0, 2, 4}} {
		dir := t.TempDir()
		st, err := store.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		all := append([]store.Message{target}, later...)
		a := &Archive{st: st}
		for i, k := range order {
			if _, err := st.AddMessage(ctx, all[k]); err != nil {
				t.Fatal(err)
			}
			h, err := a.History(ctx, "lobby", 0, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			held := slices.Contains(order[:i+1], 0)
			for _, m := range h {
				if m.ReplyTo != "" && !held && (m.ReplyNick != "" || m.ReplyText != "") {
					t.Errorf("order %v: a reply to a message not held quotes %q: %q", order, m.ReplyNick, m.ReplyText)
				}
			}
		}
		h, err := a.History(ctx, "lobby", 0, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 {
			t.Fatalf("order %v: history %+v", order, h)
		}
		m, r := h[0], h[1]
		if m.ID != hex.EncodeToString(target.ID[:]) || m.Text != "lunch at 12?" || !m.Edited ||
			len(m.Reactions) != 1 || !slices.Equal(m.Reactions["👍"], []peer.ID{bob.PeerID()}) {
			t.Errorf("order %v: the message is %+v", order, m)
		}
		if r.ReplyTo != m.ID || r.ReplyNick != "alice" || r.ReplyText != "lunch at 12?" {
			t.Errorf("order %v: the reply is %+v", order, r)
		}
		st.Close()
	}
}

func testIdentity(t *testing.T) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}
