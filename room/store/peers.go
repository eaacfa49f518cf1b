package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PeerRecord is what the store knows of a peer.
type PeerRecord struct {
	// PeerID is the peer's libp2p ID, as a string.
	PeerID string
	// Fingerprint is the fingerprint of the peer's key last given to
	// [Store.SetVerified] or [Store.NoteNick].
	Fingerprint string
	// Verified is whether the user verified Fingerprint as PeerID's. It is
	// cleared when [Store.NoteNick] records a different fingerprint.
	Verified bool
	// VerifiedAt is the time of the last [Store.SetVerified] or
	// [Store.SetMismatch]; zero if none, or if the verification was
	// cleared by a fingerprint change.
	VerifiedAt time.Time
	// Mismatch is whether the user's last check of the peer's fingerprint
	// found another key's ([Store.SetMismatch]); a later
	// [Store.SetVerified] clears it.
	Mismatch bool
	// LastNick is the nick last given to [Store.NoteNick]; empty if none.
	LastNick string
	// FirstSeen and LastSeen are the earliest and latest times given to
	// [Store.NoteNick]; zero if none.
	FirstSeen, LastSeen time.Time
}

const peerColumns = `peers.peer_id, peers.fingerprint, peers.verified, peers.verified_at,
	peers.last_nick, peers.first_seen, peers.last_seen, peers.mismatch`

func scanPeer(sc scanner) (PeerRecord, error) {
	var (
		p                  PeerRecord
		verifiedAt, fs, ls sql.NullInt64
	)
	if err := sc.Scan(&p.PeerID, &p.Fingerprint, &p.Verified, &verifiedAt, &p.LastNick, &fs, &ls, &p.Mismatch); err != nil {
		return PeerRecord{}, err
	}
	p.VerifiedAt, p.FirstSeen, p.LastSeen = fromNanos(verifiedAt), fromNanos(fs), fromNanos(ls)
	return p, nil
}

var errEmptyPeerID = errors.New("empty peer id")

// SetVerified records whether the user verified fingerprint as peerID's key,
// at the given time, creating the peer if unknown. It replaces the stored
// fingerprint and clears a mismatch ([Store.SetMismatch]).
func (s *Store) SetVerified(ctx context.Context, peerID, fingerprint string, verified bool, at time.Time) error {
	if err := s.setTrust(ctx, peerID, fingerprint, verified, false, at); err != nil {
		return fmt.Errorf("store: set verified %q: %w", peerID, err)
	}
	return nil
}

// SetMismatch records that the user checked a fingerprint against peerID's
// key, whose fingerprint is given, at the given time and found another key's:
// the peer is not verified and is marked as a mismatch until
// [Store.SetVerified]. It creates the peer if unknown.
func (s *Store) SetMismatch(ctx context.Context, peerID, fingerprint string, at time.Time) error {
	if err := s.setTrust(ctx, peerID, fingerprint, false, true, at); err != nil {
		return fmt.Errorf("store: set mismatch %q: %w", peerID, err)
	}
	return nil
}

func (s *Store) setTrust(ctx context.Context, peerID, fingerprint string, verified, mismatch bool, at time.Time) error {
	if peerID == "" {
		return errEmptyPeerID
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO peers (peer_id, fingerprint, verified, verified_at, mismatch) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (peer_id) DO UPDATE SET
			fingerprint = excluded.fingerprint,
			verified = excluded.verified,
			verified_at = excluded.verified_at,
			mismatch = excluded.mismatch`,
		peerID, fingerprint, verified, nanos(at), mismatch)
	return s.diskFull(err)
}

// Peer returns the peer with the given ID and whether it is known.
func (s *Store) Peer(ctx context.Context, peerID string) (PeerRecord, bool, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+peerColumns+` FROM peers WHERE peer_id = ?`, peerID)
	p, err := scanPeer(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return PeerRecord{}, false, nil
	case err != nil:
		return PeerRecord{}, false, fmt.Errorf("store: peer %q: %w", peerID, s.diskFull(err))
	}
	return p, true, nil
}

// NoteNick records that peerID, with the key whose fingerprint is given,
// used nick at the given time: it creates the peer if unknown and sets its
// LastNick, LastSeen and, the first time, FirstSeen.
//
// It returns the other peers that have ever been seen with the same nick
// (byte for byte, so case-sensitive), most recently seen with it first, so
// the caller can warn that "bob" now has a different key. A nick used by
// one peer only gives none.
//
// If fingerprint differs from the one stored for peerID, the peer's
// verification is cleared: the user verified a key, not a peer ID.
func (s *Store) NoteNick(ctx context.Context, peerID, fingerprint, nick string, at time.Time) (others []PeerRecord, err error) {
	switch {
	case peerID == "":
		err = errEmptyPeerID
	case nick == "":
		err = errors.New("empty nick")
	case at.IsZero():
		err = errZeroTime
	}
	if err != nil {
		return nil, fmt.Errorf("store: note nick %q of %q: %w", nick, peerID, s.diskFull(err))
	}
	others, err = s.noteNick(ctx, peerID, fingerprint, nick, at.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("store: note nick %q of %q: %w", nick, peerID, s.diskFull(err))
	}
	return others, nil
}

func (s *Store) noteNick(ctx context.Context, peerID, fingerprint, nick string, at int64) ([]PeerRecord, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// In SET, column names are the row's values before the update.
	_, err = tx.ExecContext(ctx, `INSERT INTO peers (peer_id, fingerprint, last_nick, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)
		ON CONFLICT (peer_id) DO UPDATE SET
			verified = verified AND fingerprint = excluded.fingerprint,
			verified_at = CASE WHEN fingerprint = excluded.fingerprint THEN verified_at END,
			fingerprint = excluded.fingerprint,
			last_nick = excluded.last_nick,
			first_seen = min(coalesce(first_seen, excluded.first_seen), excluded.first_seen),
			last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen)`,
		peerID, fingerprint, nick, at)
	if err != nil {
		return nil, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO nicks (nick, peer_id, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
		ON CONFLICT (nick, peer_id) DO UPDATE SET
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen)`,
		nick, peerID, at)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+peerColumns+` FROM nicks JOIN peers USING (peer_id)
		WHERE nicks.nick = ? AND nicks.peer_id <> ?
		ORDER BY nicks.last_seen DESC, nicks.peer_id`, nick, peerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var others []PeerRecord
	for rows.Next() {
		p, err := scanPeer(rows)
		if err != nil {
			return nil, err
		}
		others = append(others, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return others, tx.Commit()
}

var errZeroTime = errors.New("zero time")

// NoteSeen records that peerID was heard from at at, if it is known: the
// latest such time is its LastSeen.
func (s *Store) NoteSeen(ctx context.Context, peerID string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE peers SET last_seen = max(coalesce(last_seen, 0), ?) WHERE peer_id = ?`,
		at.UnixNano(), peerID); err != nil {
		return fmt.Errorf("store: note %s seen: %w", peerID, s.diskFull(err))
	}
	return nil
}
