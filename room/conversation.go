package room

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room/internal/wire"
	"github.com/p2pchat/p2pchat/room/store"
)

// Replies, reactions, edits and deletes (protocol v4): each is a message of
// its own, signed, encrypted, numbered, stored and synced like any other,
// that names another message. What a message looks like now (its edited
// text, its reactions, that it was deleted) is derived from the stored
// messages that name it, so every member that holds the same messages
// shows the same thing, whatever order they came in.

// ErrUnknownMessage is returned when a message id names nothing stored.
var ErrUnknownMessage = errors.New("no such message")

// ErrNotAuthor is returned for an edit or delete of another's message.
var ErrNotAuthor = errors.New("only its author can edit or delete a message")

// ErrReaction is wrapped by the error of a reaction that is not 1 to 64
// bytes of printable UTF-8 without spaces.
var ErrReaction = wire.ErrReaction

// DropUnknownKind counts messages of a kind a later protocol version
// defines: they verified and are kept (and served by sync), never shown.
const DropUnknownKind = "unknown_kind"

// shown reports whether messages of kind k are shown as messages.
func shown(k wire.Kind) bool {
	return k == wire.KindText || k == wire.KindAction || k == wire.KindReply
}

// annotates reports whether messages of kind k change the message they name.
func annotates(k wire.Kind) bool {
	return k == wire.KindReact || k == wire.KindEdit || k == wire.KindDelete
}

// stored reports whether b is kept in history: any numbered message but
// presence.
func stored(b *wire.Body) bool {
	return b.Seq > 0 && b.Kind != wire.KindHello && b.Kind != wire.KindHere && b.Kind != wire.KindBye
}

// target is the id of the message b names, if it names one.
func target(room wire.RoomID, b *wire.Body) (wire.MessageRef, bool) {
	switch b.Kind {
	case wire.KindReply, wire.KindReact:
		return b.Ref, true
	case wire.KindEdit, wire.KindDelete:
		return wire.MessageID(room, b.Author, b.RefSeq), true
	}
	return wire.MessageRef{}, false
}

// replyTo is Message.ReplyTo of a body: the id a reply answers, else "".
func replyTo(b *wire.Body) string {
	if b.Kind != wire.KindReply {
		return ""
	}
	return hex.EncodeToString(b.Ref[:])
}

// refOf is what the store keeps as the message b names (nil: none).
func refOf(room wire.RoomID, b *wire.Body) []byte {
	if t, ok := target(room, b); ok {
		return t[:]
	}
	return nil
}

// keep stores a verified message that is not shown as one: an annotation
// (then reported with the message it names) or a kind a later version
// defines (counted, never shown).
func (r *Room) keep(from peer.ID, b *wire.Body) {
	if stored(b) {
		if !r.recordReceived(b) {
			return // a copy (counted a replay), or not stored (reported)
		}
		r.mu.Lock()
		r.clock = max(r.clock, b.Clock)
		r.mu.Unlock()
	}
	switch {
	case !b.Kind.Known():
		r.count(DropUnknownKind) // once per message
	case annotates(b.Kind) && stored(b):
		r.annotated(from, b)
	}
}

// annotated applies a stored annotation b by from (a delete takes the text
// out of the store) and reports it with the message it names as that
// message is now. It returns that message (nil if not held).
func (r *Room) annotated(from peer.ID, b *wire.Body) *Message {
	t, _ := target(r.id, b)
	ctx := context.Background()
	if r.m.store != nil && (b.Kind == wire.KindDelete || b.Kind == wire.KindEdit) {
		del := b.Kind == wire.KindDelete
		if !del {
			sm, ok, err := r.m.store.Message(ctx, r.name, t)
			del = err == nil && ok && sm.State == store.StateDeleted
		}
		if del {
			if err := r.m.store.Forget(ctx, r.name, t, b.Author, b.RefSeq, time.Now()); err != nil {
				r.m.log.Warn("deleting a message", "room", r.name, "err", err)
			}
		}
	}
	msg := r.m.stored(ctx, r.name, t)
	if msg == nil {
		r.notePending(t)
	}
	ev := Event{Room: r.name, Peer: from, Nick: b.Nick, Short: shortOf(from), Target: hex.EncodeToString(t[:]), Message: msg}
	switch b.Kind {
	case wire.KindReact:
		ev.Type, ev.Reaction = EventReaction, b.Text
		if msg != nil {
			ev.On = slices.Contains(msg.Reactions[b.Text], from)
		} else {
			ev.On = r.m.reactionOn(ctx, r.name, t, b.Author, b.Text)
		}
	case wire.KindEdit:
		ev.Type = EventEdit
	case wire.KindDelete:
		ev.Type = EventDelete
	}
	r.m.emit(ev)
	return msg
}

// view reads messages from a store as they are now: verified (or
// deleted), with their reactions, edits and quotes applied.
type view struct {
	st   *store.Store
	self peer.ID
}

// view is the Manager's view of its store (st nil without one).
func (m *Manager) view() view { return view{st: m.store, self: m.net.ID()} }

// stored returns the shown message id of room as it is now, or nil.
func (m *Manager) stored(ctx context.Context, room string, id wire.MessageRef) *Message {
	msg, err := m.view().message(ctx, room, id)
	if err != nil {
		m.log.Warn("reading a message", "room", room, "err", err)
	}
	return msg
}

// fold is view.fold, logging what it could not read.
func (m *Manager) fold(ctx context.Context, room string, msgs []*Message) {
	if err := m.view().fold(ctx, room, msgs); err != nil {
		m.log.Warn("reading reactions and edits", "room", room, "err", err)
	}
}

// row turns a stored row into a Message: a deleted one as the store keeps
// it, any other if it verifies (see verifyStored).
func (v view) row(sm store.Message) (*Message, error) {
	var msg *Message
	var err error
	if sm.State == store.StateDeleted {
		msg, err = deletedRow(sm)
	} else {
		msg, err = verifyStored(sm)
	}
	if err != nil {
		return nil, err
	}
	msg.Self = msg.From == v.self
	return msg, nil
}

// message returns the shown message id of room as it is now, or nil if
// it is not held (or does not verify).
func (v view) message(ctx context.Context, room string, id wire.MessageRef) (*Message, error) {
	if v.st == nil {
		return nil, nil
	}
	sm, ok, err := v.st.Message(ctx, room, id)
	if err != nil || !ok {
		return nil, err
	}
	msg, err := v.row(sm)
	if err != nil || !shown(msg.kind) {
		return nil, nil
	}
	return msg, v.fold(ctx, room, []*Message{msg})
}

// reactionOn reports whether author's reaction to the message id (not
// held) is on: it sent it an odd number of times.
func (m *Manager) reactionOn(ctx context.Context, room string, id wire.MessageRef, author []byte, reaction string) bool {
	if m.store == nil {
		return true // without a store, only this one is known
	}
	anns, err := m.store.Annotations(ctx, room, [][16]byte{id})
	if err != nil {
		m.log.Warn("reading reactions", "room", room, "err", err)
		return true
	}
	n := 0
	for _, a := range anns {
		if a.Kind == store.KindReact && bytes.Equal(a.Author, author) && a.Text == reaction {
			n++
		}
	}
	return n%2 == 1
}

// maxPending bounds the ids of messages not held that an annotation named.
const maxPending = 4096

// notePending remembers that an annotation named t before t came, so that
// t is shown with it when it comes (see foldNew).
func (r *Room) notePending(t wire.MessageRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) >= maxPending {
		clear(r.pending) // they are applied in History all the same
	}
	r.pending[hex.EncodeToString(t[:])] = true
}

// foldNew folds a message just stored, shown live: only a reply (its
// quote) and a message that an earlier annotation named need the store;
// the rest cannot have anything to apply, and a live message costs no
// query.
func (r *Room) foldNew(msg *Message) {
	r.mu.Lock()
	named := r.pending[msg.ID]
	delete(r.pending, msg.ID)
	r.mu.Unlock()
	if named || msg.ReplyTo != "" {
		r.m.fold(context.Background(), r.name, []*Message{msg})
	}
}

// maxQuote bounds the runes of a reply's quoted text.
const maxQuote = 80

// fold applies to msgs (shown messages of room) the reactions, edits and
// deletes stored for them, and fills in what replies quote. Without a
// store there is nothing to apply.
func (v view) fold(ctx context.Context, room string, msgs []*Message) error {
	if v.st == nil || len(msgs) == 0 {
		return nil
	}
	if err := v.annotate(ctx, room, msgs); err != nil {
		return err
	}
	var quoted []*Message
	byID := map[string]*Message{}
	for _, msg := range msgs {
		byID[msg.ID] = msg
	}
	for _, msg := range msgs {
		if msg.ReplyTo == "" {
			continue
		}
		q := byID[msg.ReplyTo]
		if q == nil {
			if id, err := parseID(msg.ReplyTo); err == nil {
				if sm, ok, err := v.st.Message(ctx, room, id); err == nil && ok {
					if q, err = v.row(sm); err == nil && shown(q.kind) {
						quoted = append(quoted, q)
					} else {
						q = nil
					}
				}
			}
		}
		if q != nil {
			byID[q.ID] = q
		}
	}
	if err := v.annotate(ctx, room, quoted); err != nil {
		return err
	}
	for _, msg := range msgs {
		if q := byID[msg.ReplyTo]; msg.ReplyTo != "" && q != nil {
			msg.ReplyNick, msg.ReplyDeleted = q.Nick, q.Deleted
			if r := []rune(q.Text); len(r) > maxQuote {
				msg.ReplyText = string(r[:maxQuote-1]) + "…"
			} else {
				msg.ReplyText = q.Text
			}
		}
	}
	return nil
}

// annotate sets the reactions, edited text and deleted mark of msgs from
// the store.
func (v view) annotate(ctx context.Context, room string, msgs []*Message) error {
	if len(msgs) == 0 {
		return nil
	}
	byID := map[string]*Message{}
	ids := make([][16]byte, 0, len(msgs))
	for _, msg := range msgs {
		if id, err := parseID(msg.ID); err == nil {
			ids = append(ids, id)
			byID[msg.ID] = msg
		}
	}
	anns, err := v.st.Annotations(ctx, room, ids)
	if err != nil {
		return err
	}
	// A reaction is on while its author sent it an odd number of times:
	// the same in any order.
	type vote struct {
		who      peer.ID
		reaction string
	}
	votes := map[string]map[vote]int{}
	for _, sm := range anns {
		a, err := verifyStored(sm)
		if err != nil {
			continue
		}
		msg := byID[hex.EncodeToString(sm.Ref)]
		if msg == nil {
			continue
		}
		switch a.kind {
		case wire.KindReact:
			if votes[msg.ID] == nil {
				votes[msg.ID] = map[vote]int{}
			}
			votes[msg.ID][vote{a.From, a.Text}]++
		case wire.KindEdit:
			// In room order: the last edit wins. The target's id is its
			// author's, so only the author can name it.
			if a.From == msg.From && !msg.Deleted {
				msg.Text, msg.Edited = a.Text, true
			}
		case wire.KindDelete:
			if a.From == msg.From {
				msg.Text, msg.Deleted, msg.Edited = "", true, false
			}
		}
	}
	for id, vs := range votes {
		msg := byID[id]
		if msg.Deleted {
			continue // nothing left to react to
		}
		for v, n := range vs {
			if n%2 == 1 {
				if msg.Reactions == nil {
					msg.Reactions = map[string][]peer.ID{}
				}
				msg.Reactions[v.reaction] = append(msg.Reactions[v.reaction], v.who)
			}
		}
		for _, who := range msg.Reactions {
			slices.Sort(who)
		}
	}
	return nil
}

// parseID decodes a message id as Message.ID spells it.
func parseID(s string) (wire.MessageRef, error) {
	var id wire.MessageRef
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("message id %q: want %d hex digits: %w", s, 2*len(id), ErrUnknownMessage)
	}
	copy(id[:], b)
	return id, nil
}

// Reply sends text to room as an answer to the message to.
func (m *Manager) Reply(ctx context.Context, room, to, text string) (*Message, error) {
	r, t, err := m.named(ctx, room, to)
	if err != nil {
		return nil, err
	}
	if len(text) > wire.MaxText {
		return nil, fmt.Errorf("room %q: message of %d bytes: %w", r.name, len(text), ErrTooLong)
	}
	return r.sendAnnotation(ctx, wire.KindReply, text, func(b *wire.Body) { b.Ref = t.id })
}

// React adds reaction (an emoji, or a short word) to the message to, or
// takes it back if it is already ours there. It returns the message as it
// is now.
func (m *Manager) React(ctx context.Context, room, to, reaction string) (*Message, error) {
	r, t, err := m.named(ctx, room, to)
	if err != nil {
		return nil, err
	}
	return r.sendAnnotation(ctx, wire.KindReact, reaction, func(b *wire.Body) { b.Ref = t.id })
}

// Edit replaces the text of our message id. It returns the message as it
// is now.
func (m *Manager) Edit(ctx context.Context, room, id, text string) (*Message, error) {
	if text == "" {
		return nil, errors.New("an edit needs text: to take a message back, delete it")
	}
	if len(text) > wire.MaxText {
		return nil, fmt.Errorf("edit of %d bytes: %w", len(text), ErrTooLong)
	}
	r, t, err := m.own(ctx, room, id)
	if err != nil {
		return nil, err
	}
	return r.sendAnnotation(ctx, wire.KindEdit, text, func(b *wire.Body) { b.RefSeq = t.seq })
}

// Delete takes back our message id: members that honour it remove its text.
func (m *Manager) Delete(ctx context.Context, room, id string) (*Message, error) {
	r, t, err := m.own(ctx, room, id)
	if err != nil {
		return nil, err
	}
	return r.sendAnnotation(ctx, wire.KindDelete, "", func(b *wire.Body) { b.RefSeq = t.seq })
}

// named is a stored, shown message that another names.
type named struct {
	id   wire.MessageRef
	from peer.ID
	nick string
	seq  uint64
}

// named finds room and the stored message id in it.
func (m *Manager) named(ctx context.Context, room, id string) (*Room, named, error) {
	r, err := m.Room(room)
	if err != nil {
		return nil, named{}, err
	}
	t, err := parseID(id)
	if err != nil {
		return nil, named{}, err
	}
	if m.store == nil {
		return nil, named{}, ErrNoStore
	}
	msg := m.stored(ctx, r.name, t)
	if msg == nil {
		return nil, named{}, fmt.Errorf("room %q: message %s: %w", r.name, id, ErrUnknownMessage)
	}
	if msg.Deleted {
		return nil, named{}, fmt.Errorf("room %q: message %s was deleted: %w", r.name, id, ErrUnknownMessage)
	}
	return r, named{id: t, from: msg.From, nick: msg.Nick, seq: msg.Seq}, nil
}

// own is named for a message of ours.
func (m *Manager) own(ctx context.Context, room, id string) (*Room, named, error) {
	r, t, err := m.named(ctx, room, id)
	if err == nil && t.from != m.net.ID() {
		err = fmt.Errorf("room %q: message %s is %s#%s's: %w", r.name, id, t.nick, shortOf(t.from), ErrNotAuthor)
	}
	return r, t, err
}

// sendAnnotation sends a message of kind that names another, set by set.
func (r *Room) sendAnnotation(ctx context.Context, kind wire.Kind, text string, set func(*wire.Body)) (*Message, error) {
	if err := r.waitSendable(ctx); err != nil {
		return nil, err
	}
	b := r.body(kind, text)
	set(b)
	msg, err := r.sendMessage(ctx, b)
	if err == nil && msg == nil {
		err = fmt.Errorf("room %q: %w", r.name, ErrUnknownMessage)
	}
	return msg, err
}

// deletedRow is a deleted message as the store keeps it: no text, no
// record, what the row says of the rest.
func deletedRow(sm store.Message) (*Message, error) {
	from, err := peerOf(sm.Author)
	if err != nil {
		return nil, err
	}
	msg := &Message{ID: hex.EncodeToString(sm.ID[:]), From: from, Short: shortOf(from), Nick: sm.Nick,
		Action: sm.Kind == int(wire.KindAction), Time: sm.Time, Seq: sm.Seq, Clock: sm.Clock,
		Deleted: true, kind: wire.Kind(sm.Kind)}
	if msg.kind == wire.KindReply && len(sm.Ref) == 16 {
		msg.ReplyTo = hex.EncodeToString(sm.Ref)
	}
	return msg, nil
}

// AnnotationKind says what an [Annotation] does.
type AnnotationKind string

// Annotation kinds: the names the API and the faces use.
const (
	AnnotateReply  AnnotationKind = "reply"
	AnnotateReact  AnnotationKind = "react"
	AnnotateEdit   AnnotationKind = "edit"
	AnnotateDelete AnnotationKind = "delete"
)

// Annotation is a reply, reaction, edit or delete, as a face asks for it.
type Annotation struct {
	Kind   AnnotationKind
	Target string // the id of the message named
	Text   string // the reply, the reaction or the new text; "" for a delete
}

// ErrAnnotationKind is returned for an Annotation of no known kind.
var ErrAnnotationKind = errors.New("want reply, react, edit or delete")

// Annotate does what a says in room: [Manager.Reply], [Manager.React],
// [Manager.Edit] or [Manager.Delete]. It returns the reply, or the message
// named as it is now.
func (m *Manager) Annotate(ctx context.Context, room string, a Annotation) (*Message, error) {
	switch a.Kind {
	case AnnotateReply:
		return m.Reply(ctx, room, a.Target, a.Text)
	case AnnotateReact:
		return m.React(ctx, room, a.Target, a.Text)
	case AnnotateEdit:
		return m.Edit(ctx, room, a.Target, a.Text)
	case AnnotateDelete:
		return m.Delete(ctx, room, a.Target)
	}
	return nil, fmt.Errorf("%q: %w", a.Kind, ErrAnnotationKind)
}

// ReactionCount is one reaction to a message and how many members gave it.
type ReactionCount struct {
	Reaction string
	N        int
}

// ReactionCounts returns m's reactions, the most given first (equal counts
// in the order of the reactions' bytes).
func (m *Message) ReactionCounts() []ReactionCount {
	out := make([]ReactionCount, 0, len(m.Reactions))
	for r, who := range m.Reactions {
		out = append(out, ReactionCount{r, len(who)})
	}
	slices.SortFunc(out, func(a, b ReactionCount) int {
		if a.N != b.N {
			return b.N - a.N
		}
		return strings.Compare(a.Reaction, b.Reaction)
	})
	return out
}
