package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the name of the database file inside the directory given to
// [Open].
const FileName = "p2pchat.db"

// ErrCorrupt reports that the database file is not a p2pchat database or
// fails SQLite's integrity check. [Open] returns it wrapped in a one-line
// message that names the file and says how to recover.
var ErrCorrupt = errors.New("corrupt or not a p2pchat database")

// ErrNewerSchema reports that the database was written by a newer p2pchat,
// whose schema this build does not know.
var ErrNewerSchema = errors.New("written by a newer p2pchat")

// appID marks a SQLite file as p2pchat's (PRAGMA application_id): "p2pc".
const appID = 0x70327063

// busyTimeout is how long a statement waits for another process holding
// the write lock, e.g. a second p2pchat started on the same directory.
const busyTimeout = 5 * time.Second

// recovery is the advice in every ErrCorrupt message.
const recovery = "move it away to start a fresh database; room passphrases and verified fingerprints stored in it will have to be entered again"

// Store is the node's database. It is safe for concurrent use; writes are
// serialised through a single connection. The zero value is not usable; get
// one from [Open].
type Store struct {
	db   *sql.DB
	path string

	stop        chan struct{} // closed by Close: idleLoop and indexLoop return
	idleDone    chan struct{} // closed by idleLoop
	lastChanges int64         // total_changes() at the last idle check (idleLoop only)
	indexKick   chan struct{} // a message was queued for the full-text index (indexLoop)
	indexDone   chan struct{} // closed by indexLoop

	forMu   sync.Mutex // guards forStmt
	forStmt *sql.Stmt  // MessagesFor's query, prepared once: history sync runs it per gap

	scrubMu     sync.Mutex  // guards the two below
	scrubTimer  *time.Timer // a Scrub is due (after a Forget); nil if none
	scrubClosed bool        // Close ran: no more timers
}

// Open opens the database dir/[FileName], creating dir (mode 0700) and the
// file (mode 0600) if absent, and brings its schema up to date.
//
// Open never replaces an existing file. It runs SQLite's quick_check first;
// if the file is not a SQLite database, fails the check, or is a SQLite
// database of another application, the error wraps [ErrCorrupt] and the
// file is left untouched. A database written by a newer p2pchat gives an
// error wrapping [ErrNewerSchema]. An empty (zero-length) file is an empty
// database and is initialised.
func Open(ctx context.Context, dir string) (*Store, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// The driver cuts its DSN at the first '?', so such a path cannot be
	// passed to it intact.
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("store: open %q: path must not contain '?'", path)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	// Create the file ourselves so that it is never, even briefly, readable
	// by others: it holds room secrets.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("store: open: %w", err)
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("store: open: %w", err)
	}

	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path, stop: make(chan struct{}), idleDone: make(chan struct{}),
		indexKick: make(chan struct{}, 1), indexDone: make(chan struct{})}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	go s.idleLoop(s.stop)
	go s.indexLoop()
	s.kickIndex() // what a crash left queued
	return s, nil
}

// dsn returns the driver's data source name for path. The pragmas here are
// per connection and are applied to every connection the pool opens; none
// of them writes to the file.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)") // see "Durability" in the package doc
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutoCheckpoint))
	q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit))
	// Overwrite deleted content, so forgotten room secrets do not linger in
	// free pages.
	q.Add("_pragma", "secure_delete(1)")
	// Take the write lock at BEGIN, so a transaction never fails half way
	// trying to upgrade a read lock while another process writes.
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// init checks the file, switches it to WAL mode and migrates it. Nothing is
// written to the file before it has been found to be p2pchat's (or empty).
func (s *Store) init(ctx context.Context) error {
	if err := s.quickCheck(ctx); err != nil {
		return err
	}
	var id, version, objects int
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT application_id FROM pragma_application_id),
		(SELECT user_version FROM pragma_user_version),
		(SELECT count(*) FROM sqlite_schema)`).Scan(&id, &version, &objects)
	if err != nil {
		return s.openError(err)
	}
	switch {
	case id == appID:
	case id == 0 && version == 0 && objects == 0:
		// An empty database: ours to initialise.
	case id == 0:
		return s.corrupt("a SQLite database without p2pchat's application id")
	default:
		return s.corrupt(fmt.Sprintf("a SQLite database of another application, id %#x", uint32(id)))
	}
	if version > len(migrations) {
		return s.newer(version)
	}

	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return s.openError(err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: open %q: cannot switch to WAL mode (journal mode is %q)", s.path, mode)
	}

	if err := migrate(ctx, s.db, migrations); err != nil {
		var ne *newerError
		if errors.As(err, &ne) {
			return s.newer(ne.version)
		}
		return s.openError(err)
	}
	return nil
}

// quickCheck runs PRAGMA quick_check, which reads every page: O(size of
// the database).
func (s *Store) quickCheck(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return s.openError(err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return s.openError(err)
		}
		problems = append(problems, line)
	}
	if err := rows.Err(); err != nil {
		return s.openError(err)
	}
	switch {
	case len(problems) == 1 && problems[0] == "ok":
		return nil
	case len(problems) == 0:
		return s.corrupt("integrity check gave no result")
	case len(problems) == 1:
		return s.corrupt(problems[0])
	default:
		return s.corrupt(fmt.Sprintf("%s, and %d more problems", problems[0], len(problems)-1))
	}
}

// openError wraps an error met while opening: corruption as ErrCorrupt, a
// full disk as a *DiskFullError, anything else (permissions, locks, I/O)
// as it is.
func (s *Store) openError(err error) error {
	if isCorrupt(err) {
		return s.corrupt(err.Error())
	}
	return fmt.Errorf("store: open %q: %w", s.path, s.diskFull(err))
}

// corrupt returns the one-line ErrCorrupt message for s.path.
func (s *Store) corrupt(detail string) error {
	return fmt.Errorf("store: %q: %w (%s); %s", s.path, ErrCorrupt, oneLine(detail), recovery)
}

// newer returns the one-line ErrNewerSchema message for s.path.
func (s *Store) newer(version int) error {
	return fmt.Errorf("store: %q: %w (schema version %d, this build knows up to %d); upgrade p2pchat, or %s",
		s.path, ErrNewerSchema, version, len(migrations), recovery)
}

// isCorrupt reports whether err is SQLite's "not a database" or "database
// disk image is malformed".
func isCorrupt(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // primary code of an extended one
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Close closes the database, checkpointing its WAL into the main file.
// Calls on s after Close return errors.
func (s *Store) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
		<-s.idleDone
		<-s.indexDone
	}
	s.scrubMu.Lock()
	due := s.scrubTimer != nil && s.scrubTimer.Stop()
	s.scrubClosed = true
	s.scrubMu.Unlock()
	if due {
		// What a delete took out leaves the files before they are closed.
		ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
		_ = s.Scrub(ctx)
		cancel()
	}
	s.forMu.Lock()
	if s.forStmt != nil {
		s.forStmt.Close()
		s.forStmt = nil
	}
	s.forMu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %q: %w", s.path, err)
	}
	return nil
}

// nanos converts t for storage: Unix nanoseconds, NULL for the zero time.
// Times outside the years 1678 to 2262 do not fit.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in the local time zone.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64)
}
