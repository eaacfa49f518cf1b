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
const ProtocolSync = "/p2pchat/sync/3.0.0"

// DropBadHistory counts history records that failed verification.
const DropBadHistory = "bad_history"

// Message states (Message.State).
const (
	StatePending = store.StatePending // stored; no member was reachable when it was published
	StateSent    = store.StateSent    // published while a member was reachable
	StateSeen    = "seen"             // at least one member is known to hold it (SeenBy)
)

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

// loadHistory restores our sequence number and the room clock from the
// store, so that both keep rising across restarts.
func (r *Room) loadHistory(ctx context.Context) error {
	if r.m.store == nil {
		// Without a store, start from the clock so numbers still rise across
		// restarts of a test node.
		r.seq = uint64(time.Now().UnixMicro())
		return nil
	}
	seq, err := r.m.store.LastSeq(ctx, r.name, r.m.id.PublicKey())
	if err != nil {
		return err
	}
	clock, err := r.m.store.MaxClock(ctx, r.name)
	if err != nil {
		return err
	}
	r.seq, r.clock = seq, clock
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
func (r *Room) sendMessage(ctx context.Context, kind wire.Kind, text string) (*Message, error) {
	b := r.body(kind, text)
	r.mu.Lock()
	if r.cur == nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("room %q: no room key yet", r.name)
	}
	b.Seq, b.Clock = r.seq+1, r.clock+1
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
			if err := r.m.store.SetState(ctx, r.name, wire.MessageID(b.Author, b.Seq), StateSent); err != nil {
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
	msg := r.message(r.m.net.ID(), b, true)
	msg.State = state
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
func (r *Room) record(b *wire.Body, state string) (bool, error) {
	id := wire.MessageID(b.Author, b.Seq)
	r.mu.Lock()
	_, dup := r.seenIDs[id]
	r.mu.Unlock()
	if dup {
		return false, nil
	}
	if r.m.store != nil {
		added, err := r.m.store.AddMessage(context.Background(), store.Message{
			Room: r.name, ID: id, Author: b.Author, Seq: b.Seq, Clock: b.Clock,
			Time: time.Unix(0, b.Time), Kind: int(b.Kind), Nick: b.Nick, Text: b.Text,
			Record: b.Record, Received: time.Now(), State: state,
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
	fresh, err := r.record(b, "")
	if err != nil {
		r.m.emit(Event{Type: EventError, Room: r.name, Reason: ReasonStore,
			Err: fmt.Errorf("room %q: a message could not be stored and is not shown; it will be fetched again: %w", r.name, err)})
		return
	}
	if !fresh {
		r.count(DropReplay)
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
	r.m.emit(Event{Type: EventMessage, Room: r.name, Message: msg})
}

// ErrNoStore is returned by history operations on a Manager without a store.
var ErrNoStore = errors.New("no message history: p2pchat runs without a database")

// History returns the last n messages of the room (all if n <= 0) in room
// order, from the store.
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
		out = append(out, m.fromStore(sm))
	}
	return out, nil
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
	if roomName != "" {
		norm, err := Normalize(roomName)
		if err != nil {
			return nil, err
		}
		roomName = norm
	}
	hits, err := m.store.Search(ctx, query, roomName, limit)
	if err != nil {
		return nil, err
	}
	out := make([]SearchHit, 0, len(hits))
	for _, h := range hits {
		out = append(out, SearchHit{Room: h.Room, Message: m.fromStore(h.Message), Snippet: h.Snippet})
	}
	return out, nil
}

// fromStore turns a stored message back into a Message.
func (m *Manager) fromStore(sm store.Message) *Message {
	from, _ := peerOf(sm.Author)
	fp, _ := identity.PeerFingerprint(from)
	msg := &Message{
		ID:     hex.EncodeToString(sm.ID[:]),
		From:   from,
		Short:  fp.Short(),
		Nick:   sm.Nick,
		Text:   sm.Text,
		Action: wire.Kind(sm.Kind) == wire.KindAction,
		Time:   sm.Time,
		Seq:    sm.Seq,
		Clock:  sm.Clock,
		Self:   from == m.net.ID(),
		State:  sm.State,
		Record: sm.Record,
	}
	return msg
}

// VerifyRecord checks a message record from History or an export against
// its author's signature, without any key, and returns the message it
// carries. It fails for an altered or forged record.
func VerifyRecord(rec []byte) (*Message, error) {
	_, b, err := wire.VerifyRecord(rec)
	if err != nil {
		return nil, err
	}
	from, err := peerOf(b.Author)
	if err != nil {
		return nil, err
	}
	fp, _ := identity.PeerFingerprint(from)
	id := wire.MessageID(b.Author, b.Seq)
	return &Message{ID: hex.EncodeToString(id[:]), From: from, Short: fp.Short(), Nick: b.Nick, Text: b.Text,
		Action: b.Kind == wire.KindAction, Time: time.Unix(0, b.Time), Seq: b.Seq, Clock: b.Clock, Record: rec}, nil
}
