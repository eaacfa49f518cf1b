package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] takes the schema from version i to version i+1 (PRAGMA
// user_version). Append only: a released migration is never edited.
var migrations = []string{
	schemaV1,
	schemaV2,
	schemaV3,
	schemaV4,
	schemaV5,
	schemaV6,
	schemaV7,
}

// schemaV1 is the first schema; the package doc shows it in short.
const schemaV1 = `
PRAGMA application_id = 1882353763; -- appID, "p2pc"

CREATE TABLE rooms (
	name   TEXT PRIMARY KEY NOT NULL,
	kind   TEXT NOT NULL CHECK (kind IN ('open', 'passphrase')),
	secret BLOB NOT NULL CHECK (length(secret) IN (0, 32)),
	joined INTEGER
) STRICT;

CREATE TABLE seen (
	room TEXT NOT NULL,
	id   BLOB NOT NULL CHECK (length(id) = 16),
	at   INTEGER NOT NULL,
	PRIMARY KEY (room, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX seen_at ON seen (at);

CREATE TABLE peers (
	peer_id     TEXT PRIMARY KEY NOT NULL,
	fingerprint TEXT NOT NULL,
	verified    INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
	verified_at INTEGER,
	last_nick   TEXT NOT NULL DEFAULT '',
	first_seen  INTEGER,
	last_seen   INTEGER
) STRICT;

CREATE TABLE nicks (
	nick       TEXT NOT NULL,
	peer_id    TEXT NOT NULL REFERENCES peers (peer_id) ON DELETE CASCADE,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (nick, peer_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX nicks_peer ON nicks (peer_id);
`

// schemaV2 adds message history (with full-text search), when each member
// was first seen in each room (history visibility), and the user's settings.
const schemaV2 = `
CREATE TABLE messages (
	rowid    INTEGER PRIMARY KEY,
	room     TEXT NOT NULL,
	id       BLOB NOT NULL CHECK (length(id) = 16),
	author   BLOB NOT NULL CHECK (length(author) = 32),
	seq      INTEGER NOT NULL,
	clock    INTEGER NOT NULL,
	time     INTEGER NOT NULL,
	kind     INTEGER NOT NULL,
	nick     TEXT NOT NULL,
	text     TEXT NOT NULL,
	record   BLOB NOT NULL,
	received INTEGER NOT NULL,
	state    TEXT NOT NULL DEFAULT '',
	UNIQUE (room, id),
	UNIQUE (room, author, seq)
) STRICT;

CREATE INDEX messages_order ON messages (room, clock, author, seq);

CREATE VIRTUAL TABLE messages_fts USING fts5 (
	text, content = 'messages', content_rowid = 'rowid', tokenize = 'unicode61'
);

CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
	INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
END;

CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;

CREATE TABLE room_members (
	room       TEXT NOT NULL,
	peer_id    TEXT NOT NULL,
	first_seen INTEGER NOT NULL,
	PRIMARY KEY (room, peer_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE settings (
	key   TEXT PRIMARY KEY NOT NULL,
	value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
`

// schemaV3 adds a narrow index from a message's rowid to its room: Search
// in one room joins every full-text match to it (the table's own rows are
// wide, and reading one per match is what made the filter slow).
const schemaV3 = `
CREATE INDEX messages_rowid_room ON messages (rowid, room);
`

// schemaV4 adds the roster of every epoch this node adopted or verified on
// its chain, keyed by the epoch's key id: history visibility (a member is
// served a message only if it was in the roster of the epoch the message
// was sent under, which the record's signed header names).
const schemaV4 = `
CREATE TABLE epoch_members (
	room   TEXT NOT NULL,
	key_id BLOB NOT NULL CHECK (length(key_id) = 16),
	number INTEGER NOT NULL CHECK (number >= 0 AND number < 4294967296),
	member BLOB NOT NULL CHECK (length(member) = 32),
	PRIMARY KEY (room, key_id, member)
) STRICT, WITHOUT ROWID;

CREATE INDEX epoch_members_number ON epoch_members (room, number);
`

// schemaV5 remembers a failed verification: the user checked a peer's
// fingerprint and it was another key's ([Store.SetMismatch]). The peer is
// marked "!" until verified again, across restarts.
const schemaV5 = `
ALTER TABLE peers ADD COLUMN mismatch INTEGER NOT NULL DEFAULT 0 CHECK (mismatch IN (0, 1));
`

// schemaV6 takes full-text indexing off the insert path: the insert
// trigger queues the new row in fts_pending, and [Store.Index] moves the
// queue into messages_fts in one transaction (in the background shortly
// after writes, and before every search). A deleted row still queued is
// dropped from the queue instead of from the index, where it never was.
const schemaV6 = `
CREATE TABLE fts_pending (id INTEGER PRIMARY KEY) STRICT;

DROP TRIGGER messages_ai;
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
	INSERT INTO fts_pending (id) VALUES (new.rowid);
END;

DROP TRIGGER messages_ad;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text)
		SELECT 'delete', old.rowid, old.text WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE id = old.rowid);
	DELETE FROM fts_pending WHERE id = old.rowid;
END;
`

// schemaV7 adds what a message refers to (protocol v4's replies,
// reactions, edits and deletes: the id of the message they name), indexed
// so that a message's reactions and edits are found by its id; and keeps
// the full-text index right when a delete blanks a message's text (an
// indexed row's old text leaves the index, the row is queued again).
const schemaV7 = `
ALTER TABLE messages ADD COLUMN ref BLOB CHECK (ref IS NULL OR length(ref) = 16);

CREATE INDEX messages_ref ON messages (room, ref) WHERE ref IS NOT NULL;

CREATE TRIGGER messages_au AFTER UPDATE OF text ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text)
		SELECT 'delete', old.rowid, old.text WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE id = old.rowid);
	INSERT OR IGNORE INTO fts_pending (id) VALUES (new.rowid);
END;
`

// newerError is migrate's error for a database whose user_version is beyond
// the list it was given.
type newerError struct{ version, known int }

func (e *newerError) Error() string {
	return fmt.Sprintf("schema version %d is newer than the known %d", e.version, e.known)
}

// migrate applies the migrations in list that db lacks, in order, each in
// its own transaction together with the user_version it leads to. The
// version is read again inside each transaction, which holds the write lock
// from its start (_txlock=immediate), so two processes opening the same new
// file do not both apply a step.
func migrate(ctx context.Context, db *sql.DB, list []string) error {
	for {
		done, err := migrateStep(ctx, db, list)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next migration, if any, and reports whether the
// schema was already up to date.
func migrateStep(ctx context.Context, db *sql.DB, list []string) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	switch {
	case v > len(list):
		return false, &newerError{version: v, known: len(list)}
	case v == len(list):
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, list[v]); err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	// PRAGMA takes no parameters; v is an int.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	return false, nil
}
