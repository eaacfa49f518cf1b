package store

import (
	"errors"
	"fmt"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrDiskFull is wrapped by errors of writes that failed because the disk
// holding the database is full.
var ErrDiskFull = errors.New("disk full")

// lowSpace is the free space below which an I/O error of SQLite is taken
// for a full disk: SQLite reports a full disk as SQLITE_FULL when a write
// fails, but as an I/O error when growing its -shm file fails (at open).
const lowSpace = 64 << 10

// DiskFullError is a write that failed because the disk is full.
type DiskFullError struct {
	Dir string // the directory of the database
	Err error  // SQLite's error
}

// Error says which disk is full, for people.
func (e *DiskFullError) Error() string { return fmt.Sprintf("the disk holding %s is full", e.Dir) }

// Unwrap returns SQLite's error.
func (e *DiskFullError) Unwrap() error { return e.Err }

// Is matches ErrDiskFull.
func (e *DiskFullError) Is(target error) bool { return target == ErrDiskFull }

// freeSpace returns the bytes available to us on the file system of dir;
// ok is false if that cannot be told. A variable for tests.
var freeSpace = statFree

// diskFull returns a *DiskFullError wrapping err if err is SQLite's
// SQLITE_FULL, or one of its I/O errors while the disk has (almost) no free
// space; err unchanged otherwise.
func (s *Store) diskFull(err error) error {
	var e *sqlite.Error
	if err == nil || !errors.As(err, &e) {
		return err
	}
	dir := filepath.Dir(s.path)
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		if free, ok := freeSpace(dir); !ok || free >= lowSpace {
			return err
		}
	default:
		return err
	}
	return &DiskFullError{Dir: dir, Err: err}
}
