package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is one verified message of a room: what is shown, and the record
// (envelope header and signed body) that lets anyone re-verify it and that
// is served to members that lack it.
type Message struct {
	Room     string
	ID       [16]byte
	Author   []byte // Ed25519 public key, 32 bytes
	Seq      uint64 // per author and room, from 1
	Clock    uint64 // Lamport clock: the order of the room
	Time     time.Time
	Kind     int
	Ref      []byte // nil, or the id of the message a reply, reaction, edit or delete names
	Nick     string
	Text     string
	Record   []byte
	Received time.Time // when this node stored it
	State    string    // own messages: "pending" or "sent"; others ""
}

// ClockLimit bounds the Lamport clocks the store accepts (the same bound as
// the envelope format's): AddMessage refuses clocks at or above it and
// MaxClock ignores any stored by an older version.
const ClockLimit = 1 << 62

// Message states: own messages are pending or sent, others ""; any
// message found not to verify is altered (MarkAltered).
const (
	StatePending = "pending" // stored, no member was reachable when it was published
	StateSent    = "sent"    // published while a member was reachable
	StateAltered = "altered" // does not verify: not served, not counted as held, replaced by a verified copy
	StateDeleted = "deleted" // its author deleted it: text and record gone, counted as held, never served
)

// AddMessage stores m unless a message with its id (or its author and seq)
// is already stored and not altered, and reports whether it was added. A failure (disk
// full included) means the message is not stored.
func (s *Store) AddMessage(ctx context.Context, m Message) (bool, error) {
	if len(m.Author) != 32 || m.Seq == 0 || m.Received.IsZero() {
		return false, fmt.Errorf("store: add message to room %q: incomplete message", m.Room)
	}
	if m.Ref != nil && len(m.Ref) != 16 {
		return false, fmt.Errorf("store: add message to room %q: a reference of %d bytes", m.Room, len(m.Ref))
	}
	if m.Clock >= ClockLimit || m.Seq >= 1<<63 {
		return false, fmt.Errorf("store: add message to room %q: impossible clock %d or seq %d", m.Room, m.Clock, m.Seq)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: add message to room %q: %w", m.Room, s.diskFull(err))
	}
	defer tx.Rollback()
	insert := func() (int64, error) {
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO messages
			(room, id, author, seq, clock, time, kind, nick, text, record, received, state, ref)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.Room, m.ID[:], m.Author, int64(m.Seq), int64(m.Clock), m.Time.UnixNano(), m.Kind, m.Nick, m.Text, m.Record, m.Received.UnixNano(), m.State, m.Ref)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	n, err := insert()
	if err == nil && n == 0 {
		// Already stored: a verified copy replaces one found altered
		// (MarkAltered). Rare, so only tried when the insert was ignored.
		var res sql.Result
		res, err = tx.ExecContext(ctx, `DELETE FROM messages WHERE room = ? AND state = ? AND (id = ? OR (author = ? AND seq = ?))`,
			m.Room, StateAltered, m.ID[:], m.Author, int64(m.Seq))
		var d int64
		if err == nil {
			d, err = res.RowsAffected()
		}
		if err == nil && d > 0 {
			n, err = insert()
		}
	}
	if err != nil {
		return false, fmt.Errorf("store: add message to room %q: %w", m.Room, s.diskFull(err))
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: add message to room %q: %w", m.Room, s.diskFull(err))
	}
	if n == 1 {
		s.kickIndex()
	}
	return n == 1, nil
}

// SetState changes the state of one of our messages.
func (s *Store) SetState(ctx context.Context, room string, id [16]byte, state string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE messages SET state = ? WHERE room = ? AND id = ?`, state, room, id[:]); err != nil {
		return fmt.Errorf("store: set state in room %q: %w", room, s.diskFull(err))
	}
	return nil
}

const messageColumns = `room, id, author, seq, clock, time, kind, nick, text, record, received, state, ref`

func scanMessage(sc scanner) (Message, error) {
	var m Message
	var id []byte
	var seq, clock, t, recv int64
	if err := sc.Scan(&m.Room, &id, &m.Author, &seq, &clock, &t, &m.Kind, &m.Nick, &m.Text, &m.Record, &recv, &m.State, &m.Ref); err != nil {
		return m, err
	}
	copy(m.ID[:], id)
	m.Seq, m.Clock = uint64(seq), uint64(clock)
	m.Time, m.Received = time.Unix(0, t), time.Unix(0, recv)
	return m, nil
}

func (s *Store) queryMessages(ctx context.Context, what, q string, args ...any) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return scanMessages(what, rows)
}

// scanMessages reads and closes rows.
func scanMessages(what string, rows *sql.Rows) ([]Message, error) {
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// History returns the last limit shown messages (texts, actions,
// replies) of room received at or after since (zero: all), in the room's
// order (clock, author, seq). limit <= 0 means all.
func (s *Store) History(ctx context.Context, room string, limit int, since time.Time) ([]Message, error) {
	if limit <= 0 {
		limit = -1
	}
	var after int64
	if !since.IsZero() {
		after = since.UnixNano()
	}
	msgs, err := s.queryMessages(ctx, fmt.Sprintf("history of room %q", room), `SELECT `+messageColumns+` FROM (
		SELECT * FROM messages WHERE room = ? AND time >= ? AND kind IN (?, ?, ?) ORDER BY clock DESC, author DESC, seq DESC LIMIT ?
	) ORDER BY clock, author, seq`, room, after, KindText, KindAction, KindReply, limit)
	return msgs, err
}

// Message returns one message by id.
func (s *Store) Message(ctx context.Context, room string, id [16]byte) (Message, bool, error) {
	m, err := scanMessage(s.db.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE room = ? AND id = ?`, room, id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("store: message in room %q: %w", room, err)
	}
	return m, true, nil
}

// Range is an inclusive run of sequence numbers.
type Range struct{ Lo, Hi uint64 }

// Ranges returns, per author (the key is the 32 public key bytes as a
// string), the runs of sequence numbers stored for room, leaving out
// messages found altered: a member's copy is wanted in their place.
func (s *Store) Ranges(ctx context.Context, room string) (map[string][]Range, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT author, MIN(seq), MAX(seq) FROM (
		SELECT author, seq, seq - ROW_NUMBER() OVER (PARTITION BY author ORDER BY seq) AS grp
		FROM messages WHERE room = ? AND state != ?
	) GROUP BY author, grp ORDER BY author, MIN(seq)`, room, StateAltered)
	if err != nil {
		return nil, fmt.Errorf("store: ranges of room %q: %w", room, err)
	}
	defer rows.Close()
	out := map[string][]Range{}
	for rows.Next() {
		var author []byte
		var lo, hi int64
		if err := rows.Scan(&author, &lo, &hi); err != nil {
			return nil, fmt.Errorf("store: ranges of room %q: %w", room, err)
		}
		out[string(author)] = append(out[string(author)], Range{uint64(lo), uint64(hi)})
	}
	return out, rows.Err()
}

// LastSeq returns the highest sequence number of author in room (0 if none).
func (s *Store) LastSeq(ctx context.Context, room string, author []byte) (uint64, error) {
	var n sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM messages WHERE room = ? AND author = ?`, room, author).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: last seq in room %q: %w", room, err)
	}
	return uint64(n.Int64), nil
}

// MaxClock returns the highest Lamport clock stored for room (0 if none).
func (s *Store) MaxClock(ctx context.Context, room string) (uint64, error) {
	var n sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(clock) FROM messages WHERE room = ? AND clock >= 0 AND clock < ?`, room, int64(ClockLimit)).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: clock of room %q: %w", room, err)
	}
	return uint64(n.Int64), nil
}

// Pending returns our messages in room still in state pending.
func (s *Store) Pending(ctx context.Context, room string) ([]Message, error) {
	return s.queryMessages(ctx, fmt.Sprintf("pending in room %q", room), `SELECT `+messageColumns+` FROM messages
		WHERE room = ? AND state = ? ORDER BY clock, author, seq`, room, StatePending)
}

// Hit is one search result.
type Hit struct {
	Message
	Snippet string // the text with matches between [ and ]
}

// Search finds messages whose text matches query (FTS5 syntax; plain words
// match all of them), best first (bm25; equal scores in the order they were
// stored), in room or in all rooms if room is empty.
//
// The best limit rows are chosen first from the full-text index (in one
// room joined through index messages_rowid_room, so that only that room's
// matches are ranked and no wide message row is read for the others); only
// those rows are then read from messages and highlighted. (Reading and
// highlighting every match before sorting is what made a common query over
// a large history slow.)
func (s *Store) Search(ctx context.Context, query, room string, limit int) ([]Hit, error) {
	if limit <= 0 {
		limit = 50
	}
	// What was stored last may still be queued for the index. Should that
	// fail (a full disk), what is indexed is still searched.
	_ = s.Index(ctx)
	top := searchTopAll
	args := []any{ftsQuery(query), limit}
	if room != "" {
		top = searchTopRoom
		args = append(args, room)
	}
	rows, err := s.db.QueryContext(ctx, `WITH top AS MATERIALIZED (`+top+`)
		SELECT `+prefixed("m.", messageColumns)+`, highlight(messages_fts, 0, '[', ']')
		FROM top CROSS JOIN messages_fts CROSS JOIN messages m
		WHERE messages_fts MATCH ?1 AND messages_fts.rowid = top.r AND m.rowid = top.r
		ORDER BY top.k, top.r`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: search %q: %w", query, err)
	}
	defer rows.Close()
	var out []Hit
	for rows.Next() {
		var h Hit
		var id []byte
		var seq, clock, t, recv int64
		if err := rows.Scan(&h.Room, &id, &h.Author, &seq, &clock, &t, &h.Kind, &h.Nick, &h.Text, &h.Record, &recv, &h.State, &h.Ref, &h.Snippet); err != nil {
			return nil, fmt.Errorf("store: search %q: %w", query, err)
		}
		copy(h.ID[:], id)
		h.Seq, h.Clock = uint64(seq), uint64(clock)
		h.Time, h.Received = time.Unix(0, t), time.Unix(0, recv)
		out = append(out, h)
	}
	return out, rows.Err()
}

// The best ?2 matches of the FTS5 query ?1 as (r = rowid, k = bm25 score),
// in all rooms and in room ?3. SQLite's sorter keeps only the best ?2 rows
// as it goes (FTS5's own ORDER BY rank sorts every match: slower); in one
// room bm25 is computed only for the rows the join keeps, and the join
// reads the narrow index rather than the messages themselves (the planner
// would pick the primary key).
const (
	searchTopAll = `SELECT rowid AS r, bm25(messages_fts) AS k FROM messages_fts
		WHERE messages_fts MATCH ?1 ORDER BY k, r LIMIT ?2`
	searchTopRoom = `SELECT f.rowid AS r, bm25(messages_fts) AS k
		FROM messages_fts f JOIN messages m INDEXED BY messages_rowid_room ON m.rowid = f.rowid
		WHERE messages_fts MATCH ?1 AND m.room = ?3 ORDER BY k, r LIMIT ?2`
)

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// ftsQuery turns what a user typed into an FTS5 query that matches messages
// containing every word, each quoted so that FTS5 operators and punctuation
// in the input are taken literally.
func ftsQuery(q string) string {
	var terms []string
	for _, w := range strings.Fields(q) {
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
	}
	if len(terms) == 0 {
		return `""`
	}
	return strings.Join(terms, " ")
}

// MarkDelivered moves author's pending messages in room with lo <= seq <=
// hi to sent: a member is known to hold them.
func (s *Store) MarkDelivered(ctx context.Context, room string, author []byte, lo, hi uint64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE messages SET state = ? WHERE room = ? AND author = ? AND state = ? AND seq BETWEEN ? AND ?`,
		StateSent, room, author, StatePending, int64(lo), int64(hi)); err != nil {
		return fmt.Errorf("store: mark delivered in room %q: %w", room, s.diskFull(err))
	}
	return nil
}
