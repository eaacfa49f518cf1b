package room

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/internal/frame"
	"github.com/p2pchat/p2pchat/room/internal/wire"
	"github.com/p2pchat/p2pchat/room/store"
)

// ProtocolSync is the stream protocol on which a member fetches the
// messages it lacks from another member's history.
const ProtocolSync = "/p2pchat/sync/1.0.0"

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
		r.spawn(func() { r.resend(false) })
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
		r.m.emit(Event{Type: EventError, Room: r.name, Reason: "store",
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

// syncSoon queues a history sync with p.
func (r *Room) syncSoon(p peer.ID) {
	if r.m.store == nil || p == r.m.net.ID() {
		return
	}
	r.mu.Lock()
	r.syncQueue[p] = true
	r.mu.Unlock()
	select {
	case r.syncWake <- struct{}{}:
	default:
	}
}

// syncLoop syncs with queued members, and with every member each
// SyncInterval.
func (r *Room) syncLoop() {
	if r.m.store == nil {
		return // no history to reconcile
	}
	t := time.NewTicker(r.m.timing.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			r.mu.Lock()
			for p := range r.members {
				r.syncQueue[p] = true
			}
			r.mu.Unlock()
		case <-r.syncWake:
		}
		for {
			r.mu.Lock()
			var next peer.ID
			for p := range r.syncQueue {
				next = p
				break
			}
			delete(r.syncQueue, next)
			r.mu.Unlock()
			if next == "" || r.ctx.Err() != nil {
				break
			}
			if err := r.syncWith(r.ctx, next); err != nil {
				r.m.log.Debug("sync failed", "room", r.name, "peer", next, "err", err)
			}
		}
	}
}

// syncWith fetches from p the messages we lack, verifying each record's
// signature before storing and showing it, and learns which of our
// messages p holds.
func (r *Room) syncWith(ctx context.Context, p peer.ID) error {
	for range maxSyncRounds {
		req, err := r.syncRequest(ctx)
		if err != nil {
			return err
		}
		batch, err := r.fetch(ctx, p, req)
		if err != nil {
			return err
		}
		for _, rec := range batch.Records {
			h, b, err := wire.VerifyRecord(rec)
			if err == nil && h.Room != r.id {
				err = wire.ErrRoom
			}
			if err == nil && b.Kind != wire.KindText && b.Kind != wire.KindAction {
				err = fmt.Errorf("kind %d in history: %w", b.Kind, wire.ErrMalformed)
			}
			if err != nil {
				r.m.log.Debug("history record refused", "room", r.name, "peer", p, "err", err)
				r.count(DropBadHistory)
				continue
			}
			author, err := peerOf(b.Author)
			if err != nil {
				r.count(DropBadHistory)
				continue
			}
			r.deliver(author, b, true)
		}
		r.acked(p, batch.YourSeqs)
		if !batch.More {
			return nil
		}
	}
	return nil
}

func (r *Room) syncRequest(ctx context.Context) (*wire.SyncRequest, error) {
	have, err := r.m.store.Ranges(ctx, r.name)
	if err != nil {
		return nil, err
	}
	req := &wire.SyncRequest{Room: r.id}
	for author, rs := range have {
		if len(req.Have) == wire.MaxSyncAuthors {
			break
		}
		a := wire.AuthorRanges{Author: ed25519.PublicKey(author)}
		for _, x := range rs {
			if len(a.Ranges) == wire.MaxSyncRanges {
				break // described in part: the rest may come twice, and is deduplicated
			}
			a.Ranges = append(a.Ranges, wire.SeqRange{Lo: x.Lo, Hi: x.Hi})
		}
		req.Have = append(req.Have, a)
	}
	slices.SortFunc(req.Have, func(a, b wire.AuthorRanges) int { return bytes.Compare(a.Author, b.Author) })
	return req, nil
}

func (r *Room) fetch(ctx context.Context, p peer.ID, req *wire.SyncRequest) (*wire.SyncBatch, error) {
	ctx, cancel := context.WithTimeout(ctx, r.m.timing.AdmitTimeout)
	defer cancel()
	s, err := r.m.net.Open(ctx, p, ProtocolSync)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	if err := frame.WriteFrame(s, wire.EncodeSync(req)); err != nil {
		return nil, err
	}
	b, err := frame.ReadFrame(s, wire.MaxSyncFrame)
	if err != nil {
		return nil, err
	}
	f, err := wire.DecodeSync(b)
	if err != nil {
		return nil, err
	}
	batch, ok := f.(*wire.SyncBatch)
	if !ok {
		return nil, fmt.Errorf("sync: unexpected %T: %w", f, wire.ErrMalformed)
	}
	return batch, nil
}

// handleSync serves a member the messages it lacks and may read: only to a
// current member, and only messages sent since this node first saw it as a
// member (history visibility: from a member's first join onward).
func (m *Manager) handleSync(s Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(m.timing.AdmitTimeout))
	remote := s.RemotePeer()
	b, err := frame.ReadFrame(s, wire.MaxSyncFrame)
	if err != nil {
		s.Reset()
		return
	}
	f, err := wire.DecodeSync(b)
	if err != nil {
		s.Reset()
		return
	}
	req, ok := f.(*wire.SyncRequest)
	if !ok {
		s.Reset()
		return
	}
	batch := &wire.SyncBatch{}
	if r := m.roomByID(req.Room); r != nil && m.store != nil {
		if err := r.serve(remote, req, batch); err != nil {
			m.log.Debug("sync: not served", "room", r.name, "peer", remote, "err", err)
			batch = &wire.SyncBatch{}
		}
	}
	frame.WriteFrame(s, wire.EncodeSync(batch))
}

func (r *Room) serve(remote peer.ID, req *wire.SyncRequest, batch *wire.SyncBatch) error {
	pub, err := identity.PublicKeyOf(remote)
	if err != nil {
		return err
	}
	r.mu.Lock()
	member := r.cur != nil && r.cur.InRoster(pub) && !r.departed[remote]
	r.mu.Unlock()
	if !member {
		return fmt.Errorf("%s is not a member", remote)
	}
	ctx := r.ctx
	since, err := r.m.store.NoteMember(ctx, r.name, remote.String(), time.Now())
	if err != nil {
		return err
	}
	mine, err := r.m.store.Ranges(ctx, r.name)
	if err != nil {
		return err
	}
	theirs := map[string][]wire.SeqRange{}
	for _, a := range req.Have {
		theirs[string(a.Author)] = a.Ranges
	}
	for _, x := range mine[string(pub)] {
		if len(batch.YourSeqs) < wire.MaxSyncRanges {
			batch.YourSeqs = append(batch.YourSeqs, wire.SeqRange{Lo: x.Lo, Hi: x.Hi})
		}
	}
	authors := make([]string, 0, len(mine))
	for a := range mine {
		authors = append(authors, a)
	}
	slices.Sort(authors)
	size := 0
	for _, a := range authors {
		for _, x := range mine[a] {
			for _, gap := range subtract(wire.SeqRange{Lo: x.Lo, Hi: x.Hi}, theirs[a]) {
				msgs, err := r.m.store.MessagesIn(ctx, r.name, []byte(a), gap.Lo, gap.Hi, since, 256)
				if err != nil {
					return err
				}
				for _, msg := range msgs {
					if size+len(msg.Record) > wire.MaxSyncBatch-64<<10 || len(batch.Records) >= 1024 {
						batch.More = true
						return nil
					}
					batch.Records = append(batch.Records, msg.Record)
					size += len(msg.Record)
				}
				if len(msgs) == 256 {
					batch.More = true
					return nil
				}
			}
		}
	}
	return nil
}

// subtract returns the parts of x not covered by have.
func subtract(x wire.SeqRange, have []wire.SeqRange) []wire.SeqRange {
	out := []wire.SeqRange{x}
	for _, h := range have {
		var next []wire.SeqRange
		for _, o := range out {
			if h.Hi < o.Lo || h.Lo > o.Hi {
				next = append(next, o)
				continue
			}
			if h.Lo > o.Lo {
				next = append(next, wire.SeqRange{Lo: o.Lo, Hi: h.Lo - 1})
			}
			if h.Hi < o.Hi {
				next = append(next, wire.SeqRange{Lo: h.Hi + 1, Hi: o.Hi})
			}
		}
		out = next
	}
	return out
}

// acked records which of our messages p holds and reports the ones that
// are now seen by more members.
func (r *Room) acked(p peer.ID, holds []wire.SeqRange) {
	var changed []*Message
	r.mu.Lock()
	r.acks[p] = holds
	for i := range r.sent {
		sb := &r.sent[i]
		n := 0
		for _, rs := range r.acks {
			for _, x := range rs {
				if x.Lo <= sb.body.Seq && sb.body.Seq <= x.Hi {
					n++
					break
				}
			}
		}
		if n > sb.seenBy {
			sb.seenBy, sb.state = n, StateSeen
			msg := r.message(r.m.net.ID(), sb.body, true)
			msg.State, msg.SeenBy = StateSeen, n
			changed = append(changed, msg)
		}
	}
	r.mu.Unlock()
	if r.m.store != nil {
		// Delivered: no longer waiting in the outbox, however old.
		for _, x := range holds {
			if err := r.m.store.MarkDelivered(context.Background(), r.name, r.m.id.PublicKey(), x.Lo, x.Hi); err != nil {
				r.m.log.Warn("recording delivery", "room", r.name, "err", err)
			}
		}
	}
	for _, msg := range changed {
		r.m.emit(Event{Type: EventState, Room: r.name, Message: msg})
	}
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
