package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of stored messages (the envelope's): those shown as messages, and
// those that annotate another (protocol v4), whose Ref names the message.
const (
	KindText   = 1
	KindAction = 2
	KindReply  = 6
	KindReact  = 7
	KindEdit   = 8
	KindDelete = 9
)

// maxRefBatch bounds the ids one Annotations query names (SQLite's limit
// on parameters is far above it).
const maxRefBatch = 500

// Annotations returns the reactions, edits and deletes stored in room that
// name one of ids, in the room's order, leaving out altered and deleted ones.
func (s *Store) Annotations(ctx context.Context, room string, ids [][16]byte) ([]Message, error) {
	var out []Message
	for len(ids) > 0 {
		batch := ids[:min(len(ids), maxRefBatch)]
		ids = ids[len(batch):]
		args := []any{room, KindReact, KindEdit, KindDelete, StateAltered, StateDeleted}
		for _, id := range batch {
			args = append(args, id[:])
		}
		msgs, err := s.queryMessages(ctx, fmt.Sprintf("annotations in room %q", room), `SELECT `+messageColumns+` FROM messages
			WHERE room = ? AND kind IN (?, ?, ?) AND state NOT IN (?, ?) AND ref IN (`+strings.Repeat("?, ", len(batch)-1)+`?)
			ORDER BY clock, author, seq`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// Forget honours author's delete of its message seq, stored under id in
// room: the message's text and record, and those of its author's edits of
// it, are removed from its rows (the rows stay, state StateDeleted, so
// that their numbers still count as held and no member's copy is fetched
// again). A message not stored yet gets such a row at once, so that its
// copy is never stored. The text leaves the files within scrubDelay
// (see Scrub), and before Close returns.
func (s *Store) Forget(ctx context.Context, room string, id [16]byte, author []byte, seq uint64, now time.Time) error {
	if len(author) != 32 || seq == 0 || seq >= 1<<63 {
		return fmt.Errorf("store: forget in room %q: impossible author or seq %d", room, seq)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: forget in room %q: %w", room, s.diskFull(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET text = '', record = x'', state = ?
		WHERE room = ? AND author = ? AND (id = ? OR (kind = ? AND ref = ?))`,
		StateDeleted, room, author, id[:], KindEdit, id[:]); err != nil {
		return fmt.Errorf("store: forget in room %q: %w", room, s.diskFull(err))
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO messages
		(room, id, author, seq, clock, time, kind, nick, text, record, received, state)
		VALUES (?, ?, ?, ?, 0, 0, 0, '', '', x'', ?, ?)`,
		room, id[:], author, int64(seq), now.UnixNano(), StateDeleted); err != nil {
		return fmt.Errorf("store: forget in room %q: %w", room, s.diskFull(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: forget in room %q: %w", room, s.diskFull(err))
	}
	s.scrubSoon()
	return nil
}

// scrubDelay is how long after a Forget the files are scrubbed: one
// Scrub for every delete of that time, so that a member that sends many
// deletes cannot make this node rebuild its index for each.
var scrubDelay = 10 * time.Second

// scrubSoon schedules a Scrub scrubDelay from now unless one is due.
func (s *Store) scrubSoon() {
	s.scrubMu.Lock()
	defer s.scrubMu.Unlock()
	if s.scrubTimer != nil || s.scrubClosed {
		return
	}
	s.scrubTimer = time.AfterFunc(scrubDelay, func() {
		s.scrubMu.Lock()
		s.scrubTimer = nil
		closed := s.scrubClosed
		s.scrubMu.Unlock()
		if closed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
		defer cancel()
		_ = s.Scrub(ctx) // a failure leaves it to the next delete, or Close
	})
}

// Scrub takes what deletes removed from the rows out of the files too:
// freed pages are zeroed as they are freed (secure_delete), so it rebuilds
// the full-text index without the deleted words (FTS5 "optimize": as long
// as the index is big) and checkpoints and truncates the WAL (if another
// process is reading, the idle checkpoint does it later).
func (s *Store) Scrub(ctx context.Context) error {
	if err := s.Index(ctx); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO messages_fts (messages_fts) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("store: rebuilding the search index: %w", s.diskFull(err))
	}
	if err := s.Checkpoint(ctx, true); err != nil && !errors.Is(err, ErrCheckpointBusy) {
		return err
	}
	return nil
}
