package store

import (
	"context"
	"fmt"
	"time"
)

// indexDelay is how long after a write the background indexer waits, so
// that the messages of a burst are indexed in one transaction.
const indexDelay = 100 * time.Millisecond

// kickIndex tells indexLoop that a message was queued for the index.
func (s *Store) kickIndex() {
	select {
	case s.indexKick <- struct{}{}:
	default:
	}
}

// indexLoop indexes queued messages indexDelay after each kick until the
// store is closed. A failure leaves them queued for the next kick or
// search (and, after a crash, for the next Open).
func (s *Store) indexLoop() {
	defer close(s.indexDone)
	for {
		select {
		case <-s.stop:
			return
		case <-s.indexKick:
		}
		select {
		case <-s.stop:
			return
		case <-time.After(indexDelay):
		}
		ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
		_ = s.Index(ctx)
		cancel()
	}
}

// Index adds the messages stored since the last call to the full-text
// index, in one transaction (schema version 6: inserting a message only
// queues it). [Store.Search] calls it first, so a search sees every
// stored message; a background loop calls it shortly after writes.
func (s *Store) Index(ctx context.Context) error {
	var queued bool
	if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM fts_pending)`).Scan(&queued); err != nil {
		return fmt.Errorf("store: full-text index: %w", s.diskFull(err))
	}
	if !queued {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: full-text index: %w", s.diskFull(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages_fts (rowid, text)
		SELECT m.rowid, m.text FROM fts_pending p JOIN messages m ON m.rowid = p.id ORDER BY p.id`); err != nil {
		return fmt.Errorf("store: full-text index: %w", s.diskFull(err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM fts_pending`); err != nil {
		return fmt.Errorf("store: full-text index: %w", s.diskFull(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: full-text index: %w", s.diskFull(err))
	}
	return nil
}
