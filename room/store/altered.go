package store

import (
	"context"
	"fmt"
)

// MarkAltered marks the message stored in room under id as altered: it
// failed verification against its author's signature. It stays in the
// file, is no longer served to members nor counted as held in a sync
// request, and the next verified copy with its id replaces it.
func (s *Store) MarkAltered(ctx context.Context, room string, id [16]byte) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE messages SET state = ? WHERE room = ? AND id = ?`, StateAltered, room, id[:]); err != nil {
		return fmt.Errorf("store: mark altered in room %q: %w", room, s.diskFull(err))
	}
	return nil
}

// MessagesAfter returns up to limit messages of room in storage order
// after the position after (0: from the start), and the position of the
// last one returned: a cursor for a pass over a whole room.
func (s *Store) MessagesAfter(ctx context.Context, room string, after int64, limit int) ([]Message, int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rowid, `+messageColumns+` FROM messages
		WHERE room = ? AND rowid > ? ORDER BY rowid LIMIT ?`, room, after, limit)
	if err != nil {
		return nil, after, fmt.Errorf("store: messages of room %q: %w", room, err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rowidScanner{rows, &after})
		if err != nil {
			return nil, after, fmt.Errorf("store: messages of room %q: %w", room, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, after, fmt.Errorf("store: messages of room %q: %w", room, err)
	}
	return out, after, nil
}

// rowidScanner scans a leading rowid column into *rowid, the rest as
// scanMessage expects.
type rowidScanner struct {
	sc    scanner
	rowid *int64
}

func (r rowidScanner) Scan(dest ...any) error {
	return r.sc.Scan(append([]any{r.rowid}, dest...)...)
}
