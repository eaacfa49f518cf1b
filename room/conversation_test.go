package room_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// TestConversation: a reply quotes what it answers, a reaction toggles, an
// author's edit and delete reach the other member, its store and its
// search; nobody else can edit or delete the author's message.
func TestConversation(t *testing.T) {
	t.Run("memnet", func(t *testing.T) {
		t.Parallel()
		inBubble(t, testConversation)
	})
	t.Run("libp2p", func(t *testing.T) {
		t.Parallel()
		newTestNet(t, true)
		testConversation(t)
	})
}

func testConversation(t *testing.T) {
	ctx := context.Background()
	a, b := newHomePair(t, t.TempDir())
	q, err := a.m.Send(ctx, "lobby", "lunch today?")
	if err != nil {
		t.Fatal(err)
	}
	b.waitMessage("lobby", "lunch today?")

	reply, err := b.m.Reply(ctx, "lobby", q.ID, "yes, at noon")
	if err != nil {
		t.Fatal(err)
	}
	got := a.waitMessage("lobby", "yes, at noon")
	if got.ReplyTo != q.ID || got.ReplyNick != "alice" || got.ReplyText != "lunch today?" || got.ID != reply.ID {
		t.Errorf("alice sees the reply as %+v", got)
	}

	// A reaction, then the same again: on, then off, on both sides.
	for _, on := range []bool{true, false} {
		mine, err := b.m.React(ctx, "lobby", q.ID, "👍")
		if err != nil {
			t.Fatal(err)
		}
		if has := slices.Contains(mine.Reactions["👍"], b.id.PeerID()); has != on {
			t.Errorf("bob's own view: reaction on %v, want %v (%v)", has, on, mine.Reactions)
		}
		ev := a.waitEvent("reaction", func(ev room.Event) bool {
			return ev.Type == room.EventReaction && ev.Target == q.ID && ev.On == on && ev.Peer == b.id.PeerID()
		})
		if ev.Message == nil || ev.Reaction != "👍" || (len(ev.Message.Reactions["👍"]) == 1) != on {
			t.Errorf("alice's reaction event %+v", ev)
		}
	}
	if _, err := b.m.React(ctx, "lobby", q.ID, "two words"); err == nil {
		t.Error("a reaction with a space was sent")
	}

	// Only the author edits or deletes.
	if _, err := b.m.Edit(ctx, "lobby", q.ID, "lunch is cancelled"); !errors.Is(err, room.ErrNotAuthor) {
		t.Errorf("bob edited alice's message: %v", err)
	}
	if _, err := b.m.Delete(ctx, "lobby", q.ID); !errors.Is(err, room.ErrNotAuthor) {
		t.Errorf("bob deleted alice's message: %v", err)
	}
	if _, err := a.m.Edit(ctx, "lobby", q.ID, "lunch today at 12?"); err != nil {
		t.Fatal(err)
	}
	ev := b.waitEvent("edit", func(ev room.Event) bool { return ev.Type == room.EventEdit && ev.Target == q.ID })
	if ev.Message == nil || ev.Message.Text != "lunch today at 12?" || !ev.Message.Edited {
		t.Errorf("bob's edit event %+v", ev.Message)
	}
	hits, err := b.m.Search(ctx, "lunch", "lobby", 10)
	if err != nil || len(hits) != 1 || hits[0].Message.ID != q.ID || hits[0].Message.Text != "lunch today at 12?" {
		t.Errorf("bob's search for the edited message: %+v %v", hits, err)
	}
	if hits, _ := b.m.Search(ctx, "today?", "lobby", 10); len(hits) != 1 {
		// "today?" is in the original and the edit: found once.
		t.Errorf("search finds the edited message %d times", len(hits))
	}

	if _, err := a.m.Delete(ctx, "lobby", q.ID); err != nil {
		t.Fatal(err)
	}
	ev = b.waitEvent("delete", func(ev room.Event) bool { return ev.Type == room.EventDelete && ev.Target == q.ID })
	if ev.Message == nil || !ev.Message.Deleted || ev.Message.Text != "" {
		t.Errorf("bob's delete event %+v", ev.Message)
	}
	for _, p := range []*peerNode{a, b} {
		h, err := p.m.History(ctx, "lobby", 0)
		if err != nil || len(h) != 2 || !h[0].Deleted || h[0].Text != "" || h[1].ReplyTo != q.ID || h[1].ReplyText != "" {
			t.Errorf("%s's history after the delete: %+v %v", p.nick, h, err)
		}
		if hits, err := p.m.Search(ctx, "lunch", "lobby", 10); err != nil || len(hits) != 0 {
			t.Errorf("%s's search finds deleted text: %+v %v", p.nick, hits, err)
		}
	}
	if _, err := a.m.Edit(ctx, "lobby", q.ID, "back again"); !errors.Is(err, room.ErrUnknownMessage) {
		t.Errorf("edit of a deleted message: %v", err)
	}
}

// TestEditNamesOnlyOwnMessages: an edit names a sequence number of its own
// author, so a member whose client sends an "edit" of the number of
// another's message changes only its own message with that number.
func TestEditNamesOnlyOwnMessages(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := newHomePair(t, t.TempDir())
		q, err := a.m.Send(ctx, "lobby", "alice's words")
		if err != nil {
			t.Fatal(err)
		}
		b.waitMessage("lobby", "alice's words")
		own, err := b.m.Send(ctx, "lobby", "bob's words")
		if err != nil {
			t.Fatal(err)
		}
		a.waitMessage("lobby", "bob's words")
		r, err := b.m.Room("lobby")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.SendKindForTest(ctx, 8, "alice never said this", [16]byte{}, q.Seq, nil); err != nil {
			t.Fatal(err)
		}
		ev := a.waitEvent("edit", func(ev room.Event) bool { return ev.Type == room.EventEdit && ev.Peer == b.id.PeerID() })
		if ev.Target == q.ID || ev.Target != own.ID {
			t.Errorf("bob's edit of number %d names %s (alice's message %s, bob's %s)", q.Seq, ev.Target, q.ID, own.ID)
		}
		h, err := a.m.History(ctx, "lobby", 0)
		if err != nil || len(h) != 2 || h[0].Text != "alice's words" || h[0].Edited || h[1].Text != "alice never said this" || !h[1].Edited {
			t.Errorf("alice's history: %+v %v", h, err)
		}
	})
}

// TestUnknownKindIgnored: a message of a kind a later version defines
// verifies, is counted and kept (so sync serves it), and is never shown;
// what follows it is shown as usual.
func TestUnknownKindIgnored(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := newHomePair(t, t.TempDir())
		r, err := b.m.Room("lobby")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.SendKindForTest(ctx, 200, "from the future", [16]byte{}, 0, []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.m.Send(ctx, "lobby", "after it"); err != nil {
			t.Fatal(err)
		}
		a.waitMessage("lobby", "after it")
		ar, _ := a.m.Room("lobby")
		if n := ar.Status().Drops[room.DropUnknownKind]; n != 1 {
			t.Errorf("unknown kinds counted %d, want 1", n)
		}
		if msgs := a.messages("lobby"); !slices.Equal(msgs, []string{"after it"}) {
			t.Errorf("alice was shown %q", msgs)
		}
		if h, err := a.m.History(ctx, "lobby", 0); err != nil || len(h) != 1 {
			t.Errorf("alice's history %+v %v", h, err)
		}
		// Kept, so that alice holds bob's numbers without a gap (and serves
		// the message to members of a version that knows its kind).
		ranges, err := a.st.Ranges(ctx, "lobby")
		if err != nil {
			t.Fatal(err)
		}
		if got := ranges[string(b.id.PublicKey())]; len(got) != 1 || got[0].Lo != 1 || got[0].Hi != 2 {
			t.Errorf("alice holds bob's numbers %v, want 1-2", got)
		}
	})
}

// TestReactionBeforeItsMessage: carol gets bob's reaction and reply to
// alice's message before the message itself (alice's link to her is
// slow): the reaction event says the message is not held, the reply says
// it answers a message not received yet, and the message, when it comes,
// is shown with the reaction.
func TestReactionBeforeItsMessage(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		ctx := context.Background()
		a, b, c := newHomeTrio(t, t.TempDir(), 0)
		// bob's first send waits for a sync with a member (room.Room.Send):
		// done here, so that his reaction below goes out at once, before
		// carol's next sync could fetch alice's message from him.
		if _, err := b.m.Send(ctx, "lobby", "hi"); err != nil {
			t.Fatal(err)
		}
		c.waitMessage("lobby", "hi")
		c.mem.SetLinkDelay(a.id.PeerID(), c.id.PeerID(), 5*time.Second)
		q, err := a.m.Send(ctx, "lobby", "lunch today?")
		if err != nil {
			t.Fatal(err)
		}
		b.waitMessage("lobby", "lunch today?")
		if _, err := b.m.React(ctx, "lobby", q.ID, "👍"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.m.Reply(ctx, "lobby", q.ID, "yes"); err != nil {
			t.Fatal(err)
		}
		ev := c.waitEvent("bob's reaction", func(ev room.Event) bool { return ev.Type == room.EventReaction && ev.Target == q.ID })
		if ev.Message != nil {
			t.Fatalf("carol holds alice's message already: %+v", ev.Message)
		}
		if !ev.On {
			t.Error("a reaction to a message not held yet is reported taken back")
		}
		if r := c.waitMessage("lobby", "yes"); r.ReplyTo != q.ID || r.ReplyNick != "" {
			t.Errorf("carol's reply before its message: %+v", r)
		}
		got := c.waitMessage("lobby", "lunch today?")
		if !slices.Equal(got.Reactions["👍"], []peer.ID{b.id.PeerID()}) {
			t.Errorf("alice's message came without bob's reaction: %+v", got.Reactions)
		}
	})
}
