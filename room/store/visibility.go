package store

import (
	"context"
	"fmt"
)

// KeyIDOffset is where an envelope header (and so a stored record) holds
// the epoch's 16-byte key id: after the version byte, the 16-byte room id
// and the 4-byte epoch number (room/internal/wire's header layout).
const KeyIDOffset = 21

// keepRosters is how many epoch numbers back [Store.NoteRoster] keeps the
// rosters of epochs no stored message was sent under.
const keepRosters = 1024

// pruneEvery: NoteRoster prunes when the epoch number is a multiple of it,
// so that the scan of the room's records is rare.
const pruneEvery = 64

// NoteRoster records that the epoch of room numbered number with key id
// keyID has members (Ed25519 public keys, 32 bytes each). A roster already
// recorded is kept as it is: an epoch's roster never changes. Every
// pruneEvery epochs it drops the rosters of epochs more than keepRosters
// numbers older that no stored message was sent under.
func (s *Store) NoteRoster(ctx context.Context, room string, number uint32, keyID [16]byte, members [][]byte) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: note roster of room %q: %w", room, s.diskFull(err))
	}
	defer tx.Rollback()
	for _, pub := range members {
		if len(pub) != 32 {
			return fmt.Errorf("store: note roster of room %q: member key of %d bytes", room, len(pub))
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO epoch_members (room, key_id, number, member) VALUES (?, ?, ?, ?)`,
			room, keyID[:], int64(number), pub); err != nil {
			return fmt.Errorf("store: note roster of room %q: %w", room, s.diskFull(err))
		}
	}
	if number%pruneEvery == 0 && number >= keepRosters {
		if _, err := tx.ExecContext(ctx, `DELETE FROM epoch_members WHERE room = ?1 AND number < ?2
			AND key_id NOT IN (SELECT substr(record, ?3, 16) FROM messages WHERE room = ?1)`,
			room, int64(number-keepRosters), KeyIDOffset+1); err != nil {
			return fmt.Errorf("store: prune rosters of room %q: %w", room, s.diskFull(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: note roster of room %q: %w", room, s.diskFull(err))
	}
	return nil
}

// InRoster reports whether member is recorded in the roster of room's
// epoch with key id keyID.
func (s *Store) InRoster(ctx context.Context, room string, keyID [16]byte, member []byte) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM epoch_members WHERE room = ? AND key_id = ? AND member = ?`,
		room, keyID[:], member).Scan(&n); err != nil {
		return false, fmt.Errorf("store: roster of room %q: %w", room, err)
	}
	return n > 0, nil
}

// MessagesFor returns author's messages in room with lo <= seq <= hi that
// member may receive, in seq order, at most limit: those whose record names
// an epoch whose recorded roster (NoteRoster) holds member. Messages under
// an epoch with no recorded roster are left out, and so are those found
// altered.
func (s *Store) MessagesFor(ctx context.Context, room string, author []byte, lo, hi uint64, member []byte, limit int) ([]Message, error) {
	what := fmt.Sprintf("messages of room %q", room)
	s.forMu.Lock()
	if s.forStmt == nil {
		st, err := s.db.PrepareContext(ctx, messagesForQuery)
		if err != nil {
			s.forMu.Unlock()
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		s.forStmt = st
	}
	st := s.forStmt
	s.forMu.Unlock()
	rows, err := st.QueryContext(ctx, room, author, int64(lo), int64(hi), StateAltered, KeyIDOffset+1, member, limit)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return scanMessages(what, rows)
}

const messagesForQuery = `SELECT ` + messageColumns + ` FROM messages
	WHERE room = ?1 AND author = ?2 AND seq BETWEEN ?3 AND ?4 AND state != ?5
	AND EXISTS (SELECT 1 FROM epoch_members e
		WHERE e.room = ?1 AND e.key_id = substr(messages.record, ?6, 16) AND e.member = ?7)
	ORDER BY seq LIMIT ?8`

// RosterMembers returns every member key (32 bytes) recorded in a roster
// of room: who was ever a member, as far as this node knows.
func (s *Store) RosterMembers(ctx context.Context, room string) ([][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT member FROM epoch_members WHERE room = ?`, room)
	if err != nil {
		return nil, fmt.Errorf("store: members of room %q: %w", room, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var m []byte
		if err := rows.Scan(&m); err != nil {
			return nil, fmt.Errorf("store: members of room %q: %w", room, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
