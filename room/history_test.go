package room_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// historyIDs returns the ids of p's stored messages of room, in room order.
func historyIDs(t *testing.T, p *peerNode, roomName string) []string {
	t.Helper()
	msgs, err := p.st.History(context.Background(), roomName, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, hex.EncodeToString(m.ID[:]))
	}
	return ids
}

func partition(groups ...[]*peerNode) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, p := range g {
				for _, q := range h {
					p.block(q)
				}
			}
		}
	}
}

func heal(t *testing.T, ps []*peerNode) {
	for _, p := range ps {
		for _, q := range ps {
			if p != q {
				p.unblock(q)
			}
		}
	}
	connectAll(t, ps...)
}

// TestPartitionsConverge: five members with stores are split into two
// groups again and again; both sides send; after each heal every member
// holds exactly the same messages in the same order, nothing missing and
// nothing twice; one member is restarted from its state dir in between.
func TestPartitionsConverge(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		dir := t.TempDir()
		ps := make([]*peerNode, 5)
		for i := range ps {
			ps[i] = newPeerAt(t, fmt.Sprintf("n%d", i), filepath.Join(dir, fmt.Sprint(i)))
		}
		connectAll(t, ps...)
		for _, p := range ps {
			p.join("lobby")
		}
		waitAllMembers(t, ps)
		sent := 0
		send := func(p *peerNode, text string) {
			t.Helper()
			if _, err := p.m.Send(context.Background(), "lobby", text); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		for round := range 3 {
			a, b := ps[:2], ps[2:]
			if round == 1 {
				a, b = ps[:3], ps[3:]
			}
			partition(a, b)
			for _, p := range ps {
				send(p, fmt.Sprintf("round %d from %s", round, p.nick))
			}
			if round == 1 {
				// Restart n4 from its state dir while partitioned.
				home := filepath.Join(dir, "4")
				ps[4].close()
				ps[4] = newPeerAt(t, "n4", home)
				for _, q := range a {
					ps[4].block(q)
					q.block(ps[4])
				}
				connect(t, ps[4], ps[3])
				ps[4].join("lobby")
				<-mustRoom(t, ps[4], "lobby").Ready()
				send(ps[4], "n4 after restart")
			}
			heal(t, ps)
			waitFor(t, fmt.Sprintf("round %d: every member holds all %d messages", round, sent), func() bool {
				for _, p := range ps {
					if len(historyIDs(t, p, "lobby")) != sent {
						return false
					}
				}
				return true
			})
		}
		want := historyIDs(t, ps[0], "lobby")
		for _, p := range ps[1:] {
			if got := historyIDs(t, p, "lobby"); !slices.Equal(got, want) {
				t.Errorf("%s's history differs from n0's:\n%v\n%v", p.nick, got, want)
			}
		}
		seen := map[string]bool{}
		for _, id := range want {
			if seen[id] {
				t.Fatalf("message %s stored twice", id)
			}
			seen[id] = true
		}
	})
}

func waitAllMembers(t *testing.T, ps []*peerNode) {
	t.Helper()
	for _, p := range ps {
		for _, q := range ps {
			if p != q {
				p.waitMember("lobby", q)
			}
		}
	}
}

// newHomePair returns alice and bob with state dirs under dir, connected,
// both members of lobby.
func newHomePair(t *testing.T, dir string) (*peerNode, *peerNode) {
	t.Helper()
	a := newPeerAt(t, "alice", filepath.Join(dir, "a"))
	b := newPeerAt(t, "bob", filepath.Join(dir, "b"))
	connect(t, a, b)
	a.join("lobby")
	b.join("lobby")
	a.waitMember("lobby", b)
	b.waitMember("lobby", a)
	return a, b
}

// TestHistoryVisibility: a member that joins later gets, by sync, only
// what was sent after it joined; a peer that is not a member gets nothing.
func TestHistoryVisibility(t *testing.T) {
	t.Run("memnet", func(t *testing.T) {
		t.Parallel()
		inBubble(t, testHistoryVisibility)
	})
	t.Run("libp2p", func(t *testing.T) {
		t.Parallel()
		newTestNet(t, true)
		testHistoryVisibility(t)
	})
}

func testHistoryVisibility(t *testing.T) {
	dir := t.TempDir()
	a, b := newHomePair(t, dir)
	if _, err := a.m.Send(context.Background(), "lobby", "before carol"); err != nil {
		t.Fatal(err)
	}
	b.waitMessage("lobby", "before carol")
	quiet(t, 100*time.Millisecond) // carol's first-seen time must be later

	c := newPeerAt(t, "carol", filepath.Join(dir, "c"))
	// One member admits carol; concurrent admissions are covered by
	// TestConcurrentAdmissionsShowNoEarlierMessages.
	connect(t, c, a)
	c.join("lobby")
	a.waitMember("lobby", c)
	connect(t, c, b)
	if _, err := a.m.Send(context.Background(), "lobby", "after carol"); err != nil {
		t.Fatal(err)
	}
	c.waitMessage("lobby", "after carol")
	quiet(t, 2*fastTiming.SyncInterval) // periodic syncs run
	if hasText(c, "lobby", "before carol") {
		t.Errorf("carol got history from before she joined; events: %v; a: %+v; c: %+v", c.snapshot(), a.m.Status().Rooms[0], c.m.Status().Rooms[0])
	}
	if ids := historyIDs(t, c, "lobby"); len(ids) != 1 {
		t.Errorf("carol stores %d messages, want 1", len(ids))
	}

	// An outsider asking for history gets an empty answer.
	o := newOutsider(t, room.TopicFor("lobby"))
	connect(t, a, o.peer())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := o.tr.Open(ctx, a.id.PeerID(), room.ProtocolSync)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := node.WriteFrame(s, wire.EncodeSync(&wire.SyncRequest{Room: wire.DeriveRoomID("lobby")})); err != nil {
		t.Fatal(err)
	}
	raw, err := node.ReadFrame(s, wire.MaxSyncFrame)
	if err != nil {
		t.Fatal(err)
	}
	f, err := wire.DecodeSync(raw)
	if err != nil {
		t.Fatal(err)
	}
	if batch := f.(*wire.SyncBatch); len(batch.Records) != 0 || batch.More {
		t.Errorf("outsider got %d history records", len(batch.Records))
	}
}

// TestForgedHistory: a member that serves history with altered, forged
// and misdirected records gets those rejected, and the genuine record in
// the same batch is still stored and shown.
func TestForgedHistory(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		dir := t.TempDir()
		a, b := newHomePair(t, dir)
		if _, err := a.m.Send(context.Background(), "lobby", "genuine"); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("lobby", "genuine")
		msgs, err := b.st.History(context.Background(), "lobby", 0, time.Time{})
		if err != nil || len(msgs) != 1 {
			t.Fatalf("bob's history: %v %v", msgs, err)
		}
		genuine := msgs[0].Record
		altered := bytes.Clone(genuine)
		altered[len(altered)-70] ^= 1 // a byte of the text
		forged := bytes.Clone(genuine)
		copy(forged[len(forged)-64:], ed25519.Sign(bobKey(t, b), forged[:len(forged)-64]))
		otherRoom := bytes.Clone(genuine)
		otherRoom[1] ^= 1

		// Bob turns malicious: his history answers carry the bad records.
		b.tr.Handle(room.ProtocolSync, func(s room.Stream) {
			defer s.Close()
			if _, err := node.ReadFrame(s, wire.MaxSyncFrame); err != nil {
				return
			}
			node.WriteFrame(s, wire.EncodeSync(&wire.SyncBatch{Records: [][]byte{altered, forged, otherRoom, genuine}}))
		})
		c := newPeerAt(t, "carol", filepath.Join(dir, "c"))
		connect(t, c, b)
		c.join("lobby")
		b.waitMember("lobby", c)
		c.waitMessage("lobby", "genuine")
		waitFor(t, "bad records counted", func() bool {
			return mustRoom(t, c, "lobby").Status().Drops[room.DropBadHistory] >= 3
		})
		if got := c.messages("lobby"); len(got) != 1 {
			t.Errorf("carol shows %q, want only the genuine message", got)
		}
		if ids := historyIDs(t, c, "lobby"); len(ids) != 1 {
			t.Errorf("carol stores %d messages, want 1", len(ids))
		}
	})
}

// TestOutbox: a message written while no member is reachable is stored and
// shown as pending, survives a restart, and reaches the member when it
// comes back; its state then says it was seen.
func TestOutbox(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		dir := t.TempDir()
		ha, hb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		a, b := newPeerAt(t, "alice", ha), newPeerAt(t, "bob", hb)
		connect(t, a, b)
		a.join("lobby")
		b.join("lobby")
		a.waitMember("lobby", b)
		b.waitMember("lobby", a)
		// bob's network goes (no goodbye); alice writes before she notices
		// (the epoch still lists bob, so the message is for him: history
		// visibility follows the epoch's roster, which alice's store keeps
		// across her restart). A message sent under an epoch without bob
		// is for that epoch's roster only.
		// (The first send waits for alice's own messages to be synced: do
		// it while bob is there.)
		if _, err := a.m.Send(context.Background(), "lobby", "hello"); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("lobby", "hello")
		b.closeNet()
		msg, err := a.m.Send(context.Background(), "lobby", "while you were away")
		if err != nil {
			t.Fatal(err)
		}
		if msg.State != room.StatePending {
			t.Fatalf("state %q with nobody reachable, want pending", msg.State)
		}
		b.close()
		// alice restarts; the message waits in her database.
		a.close()
		a = newPeerAt(t, "alice", ha)
		a.join("lobby")
		<-mustRoom(t, a, "lobby").Ready()
		b = newPeerAt(t, "bob", hb)
		connect(t, a, b)
		b.join("lobby")
		b.waitMessage("lobby", "while you were away")
		a.waitEvent("seen by bob", func(ev room.Event) bool {
			return ev.Type == room.EventState && ev.Message.SeenBy >= 1
		})
		if p, err := a.st.Pending(context.Background(), "lobby"); err != nil || len(p) != 0 {
			t.Errorf("still pending in the database after bob got it: %d, %v", len(p), err)
		}
	})
}

// TestSendNotStored: when the database cannot take the message (a full
// disk, here a closed database), Send fails visibly and nothing is shown
// or sent.
func TestSendNotStored(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b := newHomePair(t, t.TempDir())
		a.st.Close()
		if _, err := a.m.Send(context.Background(), "lobby", "unstorable"); err == nil || !strings.Contains(err.Error(), "not sent") {
			t.Fatalf("Send with the database gone: %v", err)
		}
		quiet(t, 300*time.Millisecond)
		if hasText(a, "lobby", "unstorable") || hasText(b, "lobby", "unstorable") {
			t.Fatal("a message that was not stored was shown")
		}
		for _, ev := range a.snapshot() {
			if ev == "message:unstorable" {
				t.Fatal("sender reported the unstored message")
			}
		}
	})
}
