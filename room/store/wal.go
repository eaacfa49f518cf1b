package store

import (
	"context"
	"os"
	"time"
)

// Bounds of the WAL (see "Durability" in the package doc).
const (
	// walAutoCheckpoint is SQLite's wal_autocheckpoint, in pages: a commit
	// that leaves the WAL longer checkpoints it (1 MiB with 4 KiB pages).
	walAutoCheckpoint = 256
	// walSizeLimit is SQLite's journal_size_limit: when a checkpoint lets
	// the WAL start over, a longer file is truncated to this size.
	walSizeLimit = 1 << 20
	// idleInterval is how often an idle database's WAL is checkpointed
	// and truncated to zero bytes.
	idleInterval = 30 * time.Second
)

// idleLoop truncates the WAL whenever a whole idleInterval passed without
// a write, until done is closed.
func (s *Store) idleLoop(done <-chan struct{}) {
	defer close(s.idleDone)
	t := time.NewTicker(idleInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
			s.idleCheckpoint(ctx)
			cancel()
		}
	}
}

// idleCheckpoint checkpoints and truncates the WAL if nothing was written
// since its last call and the WAL is not empty already. It reports whether
// it did.
func (s *Store) idleCheckpoint(ctx context.Context) bool {
	var changes int64
	if err := s.db.QueryRowContext(ctx, "SELECT total_changes()").Scan(&changes); err != nil {
		return false
	}
	idle := changes == s.lastChanges
	s.lastChanges = changes
	if !idle || s.walSize() == 0 {
		return false
	}
	return s.Checkpoint(ctx, true) == nil
}

// walSize returns the size of the WAL file (0 if there is none).
func (s *Store) walSize() int64 {
	fi, err := os.Stat(s.path + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}
