package room

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/p2pchat/p2pchat/room/internal/wire"
	"github.com/p2pchat/p2pchat/room/store"
)

// DropAltered counts stored messages that do not verify against their
// author's signature (the database was altered): they are not shown.
const DropAltered = "altered"

// ErrAltered is wrapped by the errors of stored messages that do not
// verify against their author's signature.
var ErrAltered = errors.New("the database was altered")

// verifyStored checks a stored message against its record: the record's
// signature, and that the row's room, id, nick and text are the record's.
// It returns the message the record carries.
func verifyStored(sm store.Message) (*Message, error) {
	h, b, err := wire.VerifyRecord(sm.Record)
	switch {
	case err != nil:
	case h.Room != wire.DeriveRoomID(sm.Room):
		err = errors.New("a record of another room")
	case !bytes.Equal(b.Author, sm.Author) || b.Seq != sm.Seq:
		// (Not the id: rows stored before ids named their room keep a
		// v1 id; the id is derived from these.)
		err = errors.New("its author or number is not its record's")
	case b.Nick != sm.Nick || b.Text != sm.Text:
		err = errors.New("its text is not its record's")
	}
	if err != nil {
		return nil, fmt.Errorf("message %x in room %q does not verify (%v): %w", sm.ID, sm.Room, err, ErrAltered)
	}
	m, err := VerifyRecord(sm.Record)
	if err != nil {
		return nil, err
	}
	m.State = State(sm.State)
	return m, nil
}

// checkBatch is how many stored messages checkStored reads at a time.
const checkBatch = 512

// checkStored verifies, once at join, every stored message of the room,
// marks those that fail as altered (not shown, not served, replaced by a
// member's verified copy), counts them under DropAltered and warns once.
func (r *Room) checkStored() {
	if r.m.store == nil {
		return
	}
	var after int64
	bad := 0
	for r.ctx.Err() == nil {
		msgs, last, err := r.m.store.MessagesAfter(r.ctx, r.name, after, checkBatch)
		if err != nil {
			r.m.log.Warn("checking stored messages", "room", r.name, "err", err)
			return
		}
		if len(msgs) == 0 {
			break
		}
		after = last
		for _, sm := range msgs {
			if sm.State == store.StateAltered {
				bad++
				continue
			}
			if sm.State == store.StateDeleted {
				continue // its author took it back: nothing left to verify
			}
			if _, err := verifyStored(sm); err != nil {
				bad++
				r.m.log.Debug("stored message altered", "room", r.name, "err", err)
				if err := r.m.store.MarkAltered(r.ctx, r.name, sm.ID); err != nil {
					r.m.log.Warn("marking an altered message", "room", r.name, "err", err)
				}
			}
		}
	}
	if bad == 0 || r.ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	r.drops[DropAltered] += uint64(bad)
	for p := range r.members {
		r.syncQueue[p] = true
	}
	r.mu.Unlock()
	select {
	case r.syncWake <- struct{}{}:
	default:
	}
	err := fmt.Errorf("room %q: %d stored messages do not verify against their authors' signatures: %w; they are not shown, and a member's verified copy replaces them when sync offers it", r.name, bad, ErrAltered)
	r.m.log.Warn("database altered", "room", r.name, "messages", bad)
	r.m.emit(Event{Type: EventError, Room: r.name, Reason: ReasonStore, Err: err})
}
