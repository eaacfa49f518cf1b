package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Room kinds, for [RoomRecord.Kind].
const (
	KindOpen       = "open"
	KindPassphrase = "passphrase"
)

// SecretSize is the size of a room's admission secret.
const SecretSize = 32

// RoomRecord is a room remembered for rejoining without asking.
type RoomRecord struct {
	// Name is the room's name, compared byte for byte.
	Name string
	// Kind is [KindOpen] or [KindPassphrase].
	Kind string
	// Secret is the SecretSize-byte admission secret derived from the
	// room's passphrase, never the passphrase itself. It is required for
	// KindPassphrase and may be empty for KindOpen.
	Secret []byte
	// Joined is when the room was joined; the zero time is allowed.
	Joined time.Time
}

// check validates r before it is stored.
func (r *RoomRecord) check() error {
	if r.Name == "" {
		return errors.New("empty room name")
	}
	switch {
	case r.Kind == KindPassphrase && len(r.Secret) == SecretSize:
	case r.Kind == KindOpen && (len(r.Secret) == 0 || len(r.Secret) == SecretSize):
	case r.Kind == KindPassphrase || r.Kind == KindOpen:
		return fmt.Errorf("%s room secret is %d bytes, want %d", r.Kind, len(r.Secret), SecretSize)
	default:
		return fmt.Errorf("unknown room kind %q", r.Kind)
	}
	return nil
}

// SaveRoom stores r, replacing any room of the same name, and checkpoints
// the WAL so that it survives a power cut. r.Secret is copied. It fails, storing nothing, if r.Name is empty, r.Kind unknown or
// r.Secret of the wrong size.
func (s *Store) SaveRoom(ctx context.Context, r RoomRecord) error {
	if err := r.check(); err != nil {
		return fmt.Errorf("store: save room %q: %w", r.Name, s.diskFull(err))
	}
	secret := append([]byte{}, r.Secret...) // never NULL: the column is NOT NULL
	_, err := s.db.ExecContext(ctx, `INSERT INTO rooms (name, kind, secret, joined) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, secret = excluded.secret, joined = excluded.joined`,
		r.Name, r.Kind, secret, nanos(r.Joined))
	clear(secret)
	if err != nil {
		return fmt.Errorf("store: save room %q: %w", r.Name, s.diskFull(err))
	}
	// A join is rare and must survive a power cut or a lost WAL (a node
	// that forgot its rooms does not rejoin them): checkpoint. The room is
	// saved even if this fails; it is then as durable as any write.
	s.Checkpoint(ctx, false)
	return nil
}

// Room returns the room called name and whether there is one.
func (s *Store) Room(ctx context.Context, name string) (RoomRecord, bool, error) {
	row := s.db.QueryRowContext(ctx, `SELECT name, kind, secret, joined FROM rooms WHERE name = ?`, name)
	r, err := scanRoom(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return RoomRecord{}, false, nil
	case err != nil:
		return RoomRecord{}, false, fmt.Errorf("store: room %q: %w", name, s.diskFull(err))
	}
	return r, true, nil
}

// Rooms returns all remembered rooms sorted by name (byte order); none is
// an empty result, not an error.
func (s *Store) Rooms(ctx context.Context) ([]RoomRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, kind, secret, joined FROM rooms ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: rooms: %w", s.diskFull(err))
	}
	defer rows.Close()
	var rs []RoomRecord
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, fmt.Errorf("store: rooms: %w", s.diskFull(err))
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rooms: %w", s.diskFull(err))
	}
	return rs, nil
}

// ForgetRoom deletes the room called name; forgetting an unknown room is
// not an error. The room's history is kept.
func (s *Store) ForgetRoom(ctx context.Context, name string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM rooms WHERE name = ?`, name); err != nil {
		return fmt.Errorf("store: forget room %q: %w", name, s.diskFull(err))
	}
	return nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanRoom(sc scanner) (RoomRecord, error) {
	var (
		r      RoomRecord
		joined sql.NullInt64
	)
	// Scanning into *[]byte copies, so the caller owns r.Secret.
	if err := sc.Scan(&r.Name, &r.Kind, &r.Secret, &joined); err != nil {
		return RoomRecord{}, err
	}
	if len(r.Secret) == 0 {
		r.Secret = nil
	}
	r.Joined = fromNanos(joined)
	return r, nil
}
