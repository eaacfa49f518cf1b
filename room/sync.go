package room

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node/frame"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

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

// ackDelay is how long after a message we sent reached the topic we sync
// with every member, to learn which of them hold it ("seen by N"): the
// answer to our request lists the ranges of our messages the member holds.
// Messages sent within it share one round.
const ackDelay = 500 * time.Millisecond

// ackSoon schedules, unless one is scheduled, a sync with every member
// ackDelay from now, so that our messages show as seen within about a
// second of delivery rather than at the next SyncInterval. It reveals
// nothing to non-members: syncs run over Noise streams with members only.
func (r *Room) ackSoon() {
	if r.m.store == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ackAt != nil || r.ctx.Err() != nil {
		return
	}
	r.ackAt = time.AfterFunc(ackDelay, func() {
		r.mu.Lock()
		r.ackAt = nil
		var ps []peer.ID
		for p := range r.members {
			ps = append(ps, p)
		}
		r.mu.Unlock()
		for _, p := range ps {
			r.syncSoon(p)
		}
	})
}

// syncLoop syncs with queued members, and with every member each
// SyncInterval.
func (r *Room) syncLoop() {
	if r.m.store == nil {
		return // no history to reconcile
	}
	defer r.releaseSeq()
	r.spawn(r.checkStored)
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
			if err == nil && !stored(b) {
				err = fmt.Errorf("kind %d, number %d in history: %w", b.Kind, b.Seq, wire.ErrMalformed)
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
			r.ownSynced()
			return nil
		}
	}
	r.ownSynced()
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
// current member, and only messages sent under an epoch whose roster, as
// this node recorded it when it adopted or verified the epoch, held the
// member (see serve).
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

// serve fills batch with what remote lacks and may receive: remote must be
// a current member, and each record goes out only if remote is in the
// recorded roster of the epoch the record's signed header names (the epoch
// of the envelope it was stored from: for our own messages the first one,
// not a re-sent copy). A record under an epoch whose roster this node never
// recorded is not served (another member that held that epoch may serve
// it). No clock is compared.
func (r *Room) serve(remote peer.ID, req *wire.SyncRequest, batch *wire.SyncBatch) error {
	pub, err := identity.PublicKeyOf(remote)
	if err != nil {
		return err
	}
	r.mu.Lock()
	member := r.cur != nil && r.cur.InRoster(pub) && r.departed[remote] == ""
	r.mu.Unlock()
	if !member {
		return fmt.Errorf("%s is not a member", remote)
	}
	ctx := r.ctx
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
				msgs, err := r.m.store.MessagesFor(ctx, r.name, []byte(a), gap.Lo, gap.Hi, pub, 256)
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
