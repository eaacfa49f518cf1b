package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// seqKeyPrefix prefixes the settings key holding a room's reserved
// sequence numbers.
const seqKeyPrefix = "seq-reserved/"

// SeqReserved returns the highest sequence number reserved in room by
// [Store.ReserveSeq] (0 if none).
func (s *Store) SeqReserved(ctx context.Context, room string) (uint64, error) {
	v, ok, err := s.Setting(ctx, seqKeyPrefix+room)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("store: reserved sequence numbers of room %q: %w", room, err)
	}
	return n, nil
}

// ReserveSeq records that this node's own messages in room may use
// sequence numbers up to hi, and makes that durable: it checkpoints the
// WAL into the main file (which syncs both), so that neither a power cut
// nor a lost WAL takes the reservation back (unless another process's
// reader keeps the checkpoint from completing: then only the next
// reservation's checkpoint makes it so). A node restarted on a
// database that lost its latest messages continues above the reservation
// and so never reuses the number (and message id) of one it sent.
func (s *Store) ReserveSeq(ctx context.Context, room string, hi uint64) error {
	if err := s.SetSetting(ctx, seqKeyPrefix+room, strconv.FormatUint(hi, 10)); err != nil {
		return err
	}
	if err := s.Checkpoint(ctx, false); err != nil && !errors.Is(err, ErrCheckpointBusy) {
		return err
	}
	// Kept from completing by another process's reader (a history command):
	// the reservation is committed, durable against a crash of the process
	// though not yet against a power cut, and the next one checkpoints.
	return nil
}

// ErrCheckpointBusy is wrapped by [Store.Checkpoint] when another
// process's connection kept the checkpoint from completing.
var ErrCheckpointBusy = errors.New("the database is in use by another process")

// Checkpoint copies the WAL into the main database file and syncs it; with
// truncate, it also truncates the WAL to zero bytes. If another process's
// connection kept it from completing, the error wraps [ErrCheckpointBusy].
func (s *Store) Checkpoint(ctx context.Context, truncate bool) error {
	mode := "FULL"
	if truncate {
		mode = "TRUNCATE"
	}
	var busy, logPages, done int
	if err := s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("store: checkpoint %q: %w", s.path, s.diskFull(err))
	}
	if busy != 0 {
		return fmt.Errorf("store: checkpoint %q: incomplete: %w", s.path, ErrCheckpointBusy)
	}
	return nil
}
