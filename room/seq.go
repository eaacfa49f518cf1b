package room

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// seqBlock is how many sequence numbers one durable reservation covers: a
// node that crashes skips at most this many numbers, and writes one
// checkpointed reservation per seqBlock messages.
const seqBlock = 1000

// errSeqExhausted reports that this node's sequence numbers in a room ran
// out (they are stored as signed 64-bit integers).
var errSeqExhausted = errors.New("sequence numbers exhausted")

// ownSeq guards our own sequence numbers against going back when the store
// lost its latest writes (a power cut with synchronous=NORMAL, a lost WAL,
// a restored copy): every number is reserved durably before it is used
// (Store.ReserveSeq), and the first send after a start waits, bounded,
// until a member told us which of our messages it holds (a sync), whose
// records raise r.seq (deliver).
type ownSeq struct {
	mu       sync.Mutex    // one reservation at a time
	reserved uint64        // numbers up to this one are durably reserved (under r.mu)
	released bool          // the room is leaving: no more numbers (under r.mu)
	synced   chan struct{} // closed after the first sync with a member, or the wait's bound
	once     sync.Once
}

// loadSeq restores our sequence number: above every number in the store
// and every number reserved before, so a message lost from the store does
// not give its number to a new one.
func (r *Room) loadSeq(ctx context.Context) error {
	r.own.synced = make(chan struct{})
	if r.m.store == nil {
		// Without a store, start from the clock so numbers still rise across
		// restarts of a test node.
		r.seq, r.own.reserved = uint64(time.Now().UnixMicro()), math.MaxUint64
		r.ownSynced()
		return nil
	}
	seq, err := r.m.store.LastSeq(ctx, r.name, r.m.id.PublicKey())
	if err != nil {
		return err
	}
	reserved, err := r.m.store.SeqReserved(ctx, r.name)
	if err != nil {
		return err
	}
	r.seq = max(seq, reserved)
	r.own.reserved = r.seq
	return nil
}

// ownSynced ends the wait of the first send.
func (r *Room) ownSynced() { r.own.once.Do(func() { close(r.own.synced) }) }

// waitOwnSynced waits before the first send until a sync with a member
// told us our own highest messages, at most AdmitTimeout; not at all when
// no other member is in the epoch. Durable reservations cover the rest.
func (r *Room) waitOwnSynced(ctx context.Context) error {
	select {
	case <-r.own.synced:
		return nil
	default:
	}
	r.mu.Lock()
	alone := r.cur == nil || len(r.cur.Roster()) <= 1
	r.mu.Unlock()
	if alone {
		return nil
	}
	t := time.NewTimer(r.m.timing.AdmitTimeout)
	defer t.Stop()
	select {
	case <-r.own.synced:
	case <-t.C:
		r.m.log.Debug("no member synced our own messages in time; sending under reserved numbers", "room", r.name)
		r.ownSynced()
	case <-ctx.Done():
		return fmt.Errorf("room %q: waiting for a member's history: %w", r.name, ctx.Err())
	case <-r.ctx.Done():
		return fmt.Errorf("room %q: %w", r.name, ErrClosed)
	}
	return nil
}

// nextSeqLocked returns with r.mu held and r.seq+1 durably reserved, or
// with r.mu released and an error.
func (r *Room) nextSeqLocked(ctx context.Context) error {
	for {
		r.mu.Lock()
		switch {
		case r.own.released:
			r.mu.Unlock()
			return fmt.Errorf("room %q: %w", r.name, ErrClosed)
		case r.seq >= math.MaxInt64-seqBlock:
			r.mu.Unlock()
			return fmt.Errorf("room %q: %w", r.name, errSeqExhausted)
		case r.seq < r.own.reserved:
			return nil
		}
		want := r.seq + seqBlock
		r.mu.Unlock()
		if err := r.reserve(ctx, want); err != nil {
			return err
		}
	}
}

// reserve durably reserves our sequence numbers up to hi.
func (r *Room) reserve(ctx context.Context, hi uint64) error {
	r.own.mu.Lock()
	defer r.own.mu.Unlock()
	r.mu.Lock()
	done := hi <= r.own.reserved || r.own.released
	r.mu.Unlock()
	if done {
		return nil
	}
	if err := r.m.store.ReserveSeq(ctx, r.name, hi); err != nil {
		return fmt.Errorf("room %q: reserving sequence numbers: %w", r.name, err)
	}
	r.mu.Lock()
	r.own.reserved = max(r.own.reserved, hi)
	r.mu.Unlock()
	return nil
}

// releaseSeq, when the room is left, gives back the reserved numbers we
// did not use, so that a clean restart continues without a gap.
func (r *Room) releaseSeq() {
	if r.m.store == nil {
		return
	}
	r.own.mu.Lock()
	defer r.own.mu.Unlock()
	r.mu.Lock()
	r.own.released = true
	hi, reserved := r.seq, r.own.reserved
	r.mu.Unlock()
	if hi >= reserved {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.m.store.ReserveSeq(ctx, r.name, hi); err != nil {
		r.m.log.Debug("releasing sequence numbers", "room", r.name, "err", err)
	}
}
