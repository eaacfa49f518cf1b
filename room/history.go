package room

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/internal/wire"
	"github.com/p2pchat/p2pchat/room/store"
)

// ProtocolSync is the stream protocol on which a member fetches the
// messages it lacks from another member's history.
const ProtocolSync = "/p2pchat/sync/4.0.0"

// DropBadHistory counts history records that failed verification.
const DropBadHistory = "bad_history"

// maxSyncRounds bounds the batches fetched in one sync with one member.
const maxSyncRounds = 64

// orderKey is a message's place in the room's order.
type orderKey struct {
	clock  uint64
	author string
	seq    uint64
}

func keyOf(b *wire.Body) orderKey { return orderKey{b.Clock, string(b.Author), b.Seq} }

// Before reports whether m comes before o in the room's order: by clock,
// then author key, then sequence number, the order every member shows.
func (m *Message) Before(o *Message) bool {
	key := func(x *Message) orderKey {
		pub, _ := identity.PublicKeyOf(x.From)
		return orderKey{x.Clock, string(pub), x.Seq}
	}
	return key(m).less(key(o))
}

func (k orderKey) less(o orderKey) bool {
	if k.clock != o.clock {
		return k.clock < o.clock
	}
	if k.author != o.author {
		return k.author < o.author
	}
	return k.seq < o.seq
}

// loadHistory restores our sequence number (see loadSeq) and the room
// clock from the store, so that both keep rising across restarts.
func (r *Room) loadHistory(ctx context.Context) error {
	if err := r.loadSeq(ctx); err != nil {
		return err
	}
	if r.m.store == nil {
		return nil
	}
	clock, err := r.m.store.MaxClock(ctx, r.name)
	if err != nil {
		return err
	}
	r.clock = clock
	// Messages still pending from an earlier run: their state changes when
	// a member is found to hold them.
	pending, err := r.m.store.Pending(ctx, r.name)
	if err != nil {
		return err
	}
	for _, sm := range pending {
		if _, b, err := wire.VerifyRecord(sm.Record); err == nil {
			r.sent = append(r.sent, sentBody{body: b, at: sm.Received, state: StatePending})
		}
	}
	if len(r.sent) > maxSent {
		r.sent = r.sent[len(r.sent)-maxSent:]
	}
	return nil
}

// sendMessage signs, encrypts, stores and publishes one message. It is
// stored before it is published: if it cannot be stored it is not sent, and
// once stored it is never lost (members that miss it fetch it by sync).
func (r *Room) sendMessage(ctx context.Context, b *wire.Body) (*Message, error) {
	if err := r.nextSeqLocked(ctx); err != nil {
		return nil, fmt.Errorf("message not sent: %w", err)
	}
	if r.cur == nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("room %q: no room key yet", r.name)
	}
	b.Seq, b.Clock = r.seq+1, nextClock(r.clock)
	env, err := wire.Seal(r.cur, b, r.m.id.Sign)
	if err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("room %q: %w", r.name, err)
	}
	r.seq, r.clock = b.Seq, b.Clock
	ref := r.cur.Ref()
	reachable := r.memberReachableLocked()
	r.mu.Unlock()

	if _, err := r.record(b, StatePending); err != nil {
		return nil, fmt.Errorf("room %q: message not sent, it could not be stored: %w", r.name, err)
	}
	state := StatePending
	if err := r.topic.Publish(ctx, env, &received{from: r.m.net.ID(), body: b}); err != nil {
		// Stored: members fetch it by sync when they can.
		r.m.log.Warn("publish failed; the message stays pending", "room", r.name, "err", err)
	} else if reachable {
		state = StateSent
		if r.m.store != nil {
			if err := r.m.store.SetState(ctx, r.name, wire.MessageID(r.id, b.Author, b.Seq), string(StateSent)); err != nil {
				r.m.log.Warn("recording message state", "room", r.name, "err", err)
			}
		}
	}
	r.mu.Lock()
	r.sent = append(r.sent, sentBody{body: b, ref: ref, at: time.Now(), state: state})
	if len(r.sent) > maxSent {
		r.sent = r.sent[len(r.sent)-maxSent:]
	}
	if r.shown.less(keyOf(b)) {
		r.shown = keyOf(b)
	}
	// The epoch changed since we sealed: the re-send that came with the
	// change did not see this message yet.
	moved := r.cur.Ref() != ref
	r.mu.Unlock()
	if moved {
		r.spawn(r.resend)
	}
	if state == StateSent {
		r.ackSoon()
	}
	msg := r.message(r.m.net.ID(), b, true)
	msg.State = state
	if annotates(b.Kind) {
		return r.annotated(r.m.net.ID(), b), nil
	}
	r.foldNew(msg)
	r.m.emit(Event{Type: EventMessage, Room: r.name, Message: msg})
	return msg, nil
}

// memberReachableLocked reports whether another member of the current
// epoch is subscribed to the topic right now. r.mu must be held.
func (r *Room) memberReachableLocked() bool {
	for _, p := range r.topic.Peers() {
		if pub, err := identity.PublicKeyOf(p); err == nil && r.cur.InRoster(pub) {
			return true
		}
	}
	return false
}

// record stores a verified message (in memory without a store) and reports
// whether it is new.
func (r *Room) record(b *wire.Body, state State) (bool, error) {
	id := wire.MessageID(r.id, b.Author, b.Seq)
	r.mu.Lock()
	_, dup := r.seenIDs[id]
	r.mu.Unlock()
	if dup {
		return false, nil
	}
	if r.m.store != nil {
		added, err := r.m.store.AddMessage(context.Background(), store.Message{
			Room: r.name, ID: id, Author: b.Author, Seq: b.Seq, Clock: b.Clock,
			Time: time.Unix(0, b.Time), Kind: int(b.Kind), Ref: refOf(r.id, b), Nick: b.Nick, Text: b.Text,
			Record: b.Record, Received: time.Now(), State: string(state),
		})
		if err != nil {
			return false, err
		}
		if !added {
			r.remember(id)
			return false, nil
		}
	}
	r.remember(id)
	return true, nil
}

// recordReceived stores a verified message from another member and
// reports whether it is new; a failure to store it is reported (it is not
// shown, and is fetched again by a later sync), a replay counted.
func (r *Room) recordReceived(b *wire.Body) bool {
	fresh, err := r.record(b, "")
	if err != nil {
		r.m.emit(Event{Type: EventError, Room: r.name, Reason: ReasonStore,
			Err: fmt.Errorf("room %q: a message could not be stored and is not shown; it will be fetched again: %w", r.name, err)})
		return false
	}
	if !fresh {
		r.count(DropReplay)
	}
	return fresh
}

// remember adds id to the bounded in-memory set of seen message ids.
func (r *Room) remember(id [16]byte) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seenIDs) >= maxSeenIDs {
		for k, t := range r.seenIDs {
			if now.Sub(t) > seenTTL || len(r.seenIDs) >= maxSeenIDs {
				delete(r.seenIDs, k)
			}
		}
	}
	r.seenIDs[id] = now
}

// deliver stores and shows a verified message from another member (or our
// own, fetched back from history). Nothing is shown that is not stored: a
// message that cannot be stored is reported and fetched again by a later
// sync.
func (r *Room) deliver(from peer.ID, b *wire.Body, synced bool) {
	if from == r.m.net.ID() {
		// Our own message, fetched back: our store lost it, so it may have
		// lost more. Numbers up to it are used, whatever the store says.
		r.mu.Lock()
		r.seq = max(r.seq, b.Seq)
		r.clock = max(r.clock, b.Clock)
		r.mu.Unlock()
	}
	if !shown(b.Kind) {
		r.keep(from, b)
		return
	}
	if !r.recordReceived(b) {
		return
	}
	r.mu.Lock()
	k := keyOf(b)
	late := k.less(r.shown)
	if !late {
		r.shown = k
	}
	r.clock = max(r.clock, b.Clock)
	r.mu.Unlock()
	msg := r.message(from, b, from == r.m.net.ID())
	msg.Late, msg.Synced = late, synced
	r.foldNew(msg)
	r.m.emit(Event{Type: EventMessage, Room: r.name, Message: msg})
}

// ErrNoStore is returned by history operations on a Manager without a store.
var ErrNoStore = errors.New("no message history: p2pchat runs without a database")

// ErrDiskFull is wrapped by errors of sends (and anything else that
// writes) that failed because the disk holding the database is full; the
// error's chain holds a *DiskFullError naming the directory.
var ErrDiskFull = store.ErrDiskFull

// DiskFullError is a write refused because the disk is full.
type DiskFullError = store.DiskFullError

// History returns the last n messages of the room (all if n <= 0) in room
// order, from the store; messages that do not verify are left out.
func (m *Manager) History(ctx context.Context, roomName string, n int) ([]*Message, error) {
	norm, err := Normalize(roomName)
	if err != nil {
		return nil, err
	}
	if m.store == nil {
		return nil, ErrNoStore
	}
	msgs, err := m.store.History(ctx, norm, n, time.Time{})
	if err != nil {
		return nil, err
	}
	out := make([]*Message, 0, len(msgs))
	for _, sm := range msgs {
		if msg, err := m.fromStore(sm); err == nil {
			out = append(out, msg)
		}
	}
	return out, m.view().fold(ctx, norm, out)
}

// SearchHit is a message matching a search, with the matches marked.
type SearchHit struct {
	Room    string
	Message *Message
	Snippet string // the text with each match between [ and ]
}

// Search finds messages containing every word of query, best first, in
// roomName or in every room if it is empty.
func (m *Manager) Search(ctx context.Context, query, roomName string, limit int) ([]SearchHit, error) {
	if m.store == nil {
		return nil, ErrNoStore
	}
	return search(ctx, m.view(), query, roomName, limit, func(sm store.Message) *Message {
		msg, err := m.fromStore(sm)
		if err != nil {
			return nil // altered: left out (counted by the room's check at join)
		}
		return msg
	})
}

// search is the full-text search of v's store ([Manager.Search],
// [Archive.Search]): up to limit hits in roomName (every room if ""), each
// message turned back into a Message by conv, which returns nil for one to
// leave out. A message is found by its text as it is now: an edited one by
// its latest edit, a deleted one not at all.
func search(ctx context.Context, v view, query, roomName string, limit int, conv func(store.Message) *Message) ([]SearchHit, error) {
	if roomName != "" {
		norm, err := Normalize(roomName)
		if err != nil {
			return nil, err
		}
		roomName = norm
	}
	hits, err := v.st.Search(ctx, query, roomName, limit)
	if err != nil {
		return nil, err
	}
	out := make([]SearchHit, 0, len(hits))
	found := map[string]bool{}
	for _, h := range hits {
		msg := conv(h.Message)
		if msg == nil {
			continue
		}
		switch {
		case msg.kind == wire.KindEdit && len(h.Ref) == 16:
			edit := msg
			if msg, err = v.message(ctx, h.Room, wire.MessageRef(h.Ref)); err != nil {
				return nil, err
			}
			if msg == nil || msg.Deleted || msg.From != edit.From || msg.Text != edit.Text {
				continue // a message we do not hold, or an earlier edit
			}
		case shown(msg.kind):
			if err := v.fold(ctx, h.Room, []*Message{msg}); err != nil {
				return nil, err
			}
			if msg.Edited || msg.Deleted {
				continue // found by its latest edit, if at all
			}
		default:
			continue
		}
		if !found[msg.ID] {
			found[msg.ID] = true
			out = append(out, SearchHit{Room: h.Room, Message: msg, Snippet: h.Snippet})
		}
	}
	return out, nil
}

// fromStore turns a stored message back into a Message, if it verifies
// (see verifyStored): an altered one is left out; the room's check at join
// counts and reports it.
func (m *Manager) fromStore(sm store.Message) (*Message, error) {
	return m.view().row(sm)
}

// VerifyRecord checks a message record from History or an export against
// its author's signature, without any key, and returns the message it
// carries. It fails for an altered or forged record.
func VerifyRecord(rec []byte) (*Message, error) {
	h, b, err := wire.VerifyRecord(rec)
	if err != nil {
		return nil, err
	}
	from, err := peerOf(b.Author)
	if err != nil {
		return nil, err
	}
	fp, _ := identity.PeerFingerprint(from)
	id := wire.MessageID(h.Room, b.Author, b.Seq)
	msg := &Message{ID: hex.EncodeToString(id[:]), From: from, Short: fp.Short(), Nick: b.Nick, Text: b.Text,
		Action: b.Kind == wire.KindAction, Time: time.Unix(0, b.Time), Seq: b.Seq, Clock: b.Clock, Record: rec, kind: b.Kind,
		ReplyTo: replyTo(b)}
	return msg, nil
}
