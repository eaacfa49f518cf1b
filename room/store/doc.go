// Package store is the node's embedded SQLite database: what must survive a
// restart for room security. It will grow into the message history store.
//
// A [Store] is one file, [FileName], in the node's data directory, opened
// with [Open]. It holds:
//
//   - rooms remembered for rejoining without asking ([Store.SaveRoom]): the
//     32-byte admission secret derived from a room's passphrase, never the
//     passphrase itself;
//   - the message history ([Store.AddMessage]), unique per room and message
//     id, so a message replayed after a restart is recognised as one already
//     held;
//   - peers: the fingerprints the user verified ([Store.SetVerified]) or
//     found another key's ([Store.SetMismatch]), and
//     which nicks each peer used ([Store.NoteNick]), so a new key under a
//     known nick can be flagged.
//
// # Schema
//
// The schema is versioned with PRAGMA user_version and marked as p2pchat's
// with PRAGMA application_id 0x70327063 ("p2pc"). Version 1:
//
//	rooms  name TEXT PK | kind TEXT ('open','passphrase') | secret BLOB (32 bytes or empty) | joined INT
//	seen   room TEXT, id BLOB (16 bytes) PK | at INT                      index seen_at(at)  (unused; kept so old files open)
//	peers  peer_id TEXT PK | fingerprint TEXT | verified INT (0/1) | verified_at INT
//	       | last_nick TEXT | first_seen INT | last_seen INT
//	nicks  nick TEXT, peer_id TEXT -> peers PK | first_seen INT | last_seen INT   index nicks_peer(peer_id)
//
// Version 2 adds the history:
//
//	messages      rowid PK | room, id (16) UNIQUE | room, author (32), seq UNIQUE | clock | time
//	              | kind | nick | text | record (header || signed body) | received | state
//	              index messages_order(room, clock, author, seq)
//	messages_fts  FTS5 over messages.text (external content, kept by triggers; see version 6)
//	room_members  room, peer_id PK | first_seen INT   (unused since version 4)
//	settings      key TEXT PK | value TEXT            (the user's own settings, e.g. "nick";
//	              "seq-reserved/<room>": own sequence numbers reserved, see [Store.ReserveSeq])
//
// Version 3 adds index messages_rowid_room(rowid, room) on messages: the
// room of each full-text match, read by [Store.Search] in one room.
//
// Version 4 adds the rosters of the epochs this node adopted (history
// visibility, see [Store.NoteRoster] and [Store.MessagesFor]):
//
//	epoch_members  room, key_id (16), member (32) PK | number   index epoch_members_number(room, number)
//
// Version 5 adds peers.mismatch INT (0/1): the user's last check of the
// peer's fingerprint found another key's ([Store.SetMismatch]).
//
// Version 6 takes the full-text index off the insert path: the insert
// trigger queues the row instead, and [Store.Index] indexes the queue in
// one transaction (100 ms after writes, and before every search):
//
//	fts_pending  id INT PK (a messages rowid not yet in messages_fts)
//
// Version 7 adds what a reply, reaction, edit or delete names (protocol
// v4), and keeps the full-text index right when a delete blanks a text:
//
//	messages.ref  BLOB (16 bytes: the id of the message named; NULL for others)
//	              index messages_ref(room, ref) WHERE ref IS NOT NULL
//	              trigger messages_au: an updated text leaves the index and is queued again
//
// A message its author deleted keeps its row (state "deleted", empty text
// and record; [Store.Forget]); one deleted before it arrived has a row of
// kind 0 holding its number.
//
// room_members (version 2) is no longer read or written: visibility no
// longer depends on when a member was first seen.
//
// Times are Unix nanoseconds (INT); NULL is the zero [time.Time]. Names,
// nicks and ids compare byte for byte (case-sensitive). [Open] applies the
// missing migrations in order, one transaction each; a database of a newer
// version is refused with [ErrNewerSchema] rather than guessed at.
//
// # Durability
//
// The database runs in WAL mode with synchronous=NORMAL: every committed
// transaction is atomic and survives a crash of the process, and the file
// is never corrupted by a crash or power loss, but on power loss or an OS
// crash the transactions committed since the last checkpoint may be rolled
// back. For this store that means at worst a few messages received just
// before the power cut are missing from the history (and accepted once more
// if replayed, or fetched again from members by sync), which is not worth
// an fsync per message (synchronous=FULL). What must not go back is made
// durable by a checkpoint: the node's own sequence numbers, reserved ahead
// with [Store.ReserveSeq], and the rooms joined ([Store.SaveRoom]).
//
// The WAL is bounded: a commit that leaves it over 256 pages (1 MiB at
// the default 4 KiB pages, plus 24 bytes a page) checkpoints it, and when
// it starts over a longer file is truncated to 1 MiB (journal_size_limit),
// so it stays under about 1 MiB plus the largest transaction (measured:
// 1.4 MB while writing 32 KB messages; a message's transaction is far
// under 512 KiB). A database with nothing written for 30 s has its WAL
// checkpointed and truncated to zero bytes.
//
// A write refused for lack of space returns an error wrapping
// [ErrDiskFull] (a [*DiskFullError] naming the directory): SQLITE_FULL, or
// an I/O error while the file system has under 64 KiB free (SQLite reports
// a failure to grow its -shm file at open that way).
//
// # Secrets at rest
//
// Room secrets are stored unencrypted; the file is created with mode 0600
// (SQLite gives its -wal and -shm files the same mode) and secure_delete is
// on, so a forgotten room's secret is overwritten in the main file (it can
// linger in the -wal file until that is reused). Nothing here logs.
package store
