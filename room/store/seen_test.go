package store

// The seen table (schema version 1) has no production reader or writer:
// replay across restarts is caught by the history (messages is unique per
// room and id, see Store.AddMessage). These test-only helpers keep the
// tests that use the table as a probe of the schema, of persistence and of
// sharing one file between two stores.

import (
	"context"
	"fmt"
	"time"
)

// MarkSeen records that the message id was seen in room at the given time
// and reports whether it was new. A message already seen keeps its first
// time. at must not be the zero time.
func (s *Store) MarkSeen(ctx context.Context, room string, id [16]byte, at time.Time) (fresh bool, err error) {
	if at.IsZero() {
		return false, fmt.Errorf("store: mark seen in room %q: %w", room, errZeroTime)
	}
	res, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO seen (room, id, at) VALUES (?, ?, ?)`,
		room, id[:], at.UnixNano())
	if err != nil {
		return false, fmt.Errorf("store: mark seen in room %q: %w", room, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: mark seen in room %q: %w", room, err)
	}
	return n == 1, nil
}

// Seen reports whether the message id was recorded in room by
// [Store.MarkSeen] and not pruned since.
func (s *Store) Seen(ctx context.Context, room string, id [16]byte) (bool, error) {
	var seen bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM seen WHERE room = ? AND id = ?)`,
		room, id[:]).Scan(&seen)
	if err != nil {
		return false, fmt.Errorf("store: seen in room %q: %w", room, err)
	}
	return seen, nil
}

// PruneSeen forgets, in all rooms, the message ids first seen before the
// given time, and returns how many it forgot. A pruned id counts as new
// again, so the caller must itself reject messages older than the horizon
// it prunes at.
func (s *Store) PruneSeen(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM seen WHERE at < ?`, before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("store: prune seen: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune seen: %w", err)
	}
	return n, nil
}
