package localsock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFileName is the name of the lock file in a state directory.
const LockFileName = "daemon.lock"

// ErrLocked is returned (wrapped, in a [*LockedError]) by [LockHome] when
// another process holds the state directory's lock.
var ErrLocked = errors.New("state directory is locked")

// errWouldBlock is what lockFile returns when someone else holds the lock.
var errWouldBlock = errors.New("lock held by another process")

// LockedError is the error [LockHome] returns when another daemon holds
// the lock. It wraps [ErrLocked].
type LockedError struct {
	Home string // the state directory
	PID  int    // the holder's process id, or 0 if unknown
}

// Error says which daemon holds which state directory.
func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("another p2pchat (pid %d) is running with state directory %s; one node per state directory: p2pchat status, send, tail, … talk to it (every node serves the local API), or use another --home", e.PID, e.Home)
	}
	return fmt.Sprintf("another p2pchat is running with state directory %s; one node per state directory: p2pchat status, send, tail, … talk to it (every node serves the local API), or use another --home", e.Home)
}

// Unwrap returns [ErrLocked].
func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is an exclusive lock on a state directory, held by one daemon at a
// time. The operating system releases it when the process exits, however
// it exits, so a crash never leaves a state directory locked.
type Lock struct {
	f *os.File
}

// LockHome takes the exclusive lock on the state directory home, which
// must exist, without waiting: it locks home/daemon.lock (creating it
// with mode 0600) and writes this process's id into it. If another
// process holds the lock, the error is a [*LockedError] wrapping
// [ErrLocked]. Locks are per open file, so a second LockHome in the same
// process fails too.
func LockHome(home string) (*Lock, error) {
	path := filepath.Join(home, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed to open lock file: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &LockedError{Home: home, PID: readPID(path)}
		}
		return nil, fmt.Errorf("failed to lock %s: %w", path, err)
	}
	// The pid is for people and for LockHolder; the lock itself is the
	// OS lock, never the file's contents, which a crash can leave behind.
	if err := writePID(f); err != nil {
		unlockFile(f)
		f.Close()
		return nil, fmt.Errorf("failed to write lock file %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Close releases the lock. It leaves the file in place: removing it would
// let a starting daemon lock a file that a second one then recreates and
// locks too. Close must be called once.
func (l *Lock) Close() error {
	uerr := unlockFile(l.f)
	cerr := l.f.Close()
	if uerr != nil {
		return fmt.Errorf("failed to unlock %s: %w", l.f.Name(), uerr)
	}
	if cerr != nil {
		return fmt.Errorf("failed to close lock file: %w", cerr)
	}
	return nil
}

// LockHolder reports whether a daemon holds the lock on the state
// directory home and, if so, its process id (0 if the lock file does not
// say). It tests by taking the lock and releasing it at once, so a daemon
// starting at that very moment may find the directory locked. It creates
// nothing: with no lock file, no daemon is running.
func LockHolder(home string) (pid int, running bool) {
	path := filepath.Join(home, LockFileName)
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		if !errors.Is(err, errWouldBlock) {
			return 0, false
		}
		return readPID(path), true
	}
	unlockFile(f)
	return 0, false
}

// writePID replaces f's contents with this process's id and a newline.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID returns the process id written in the lock file at path, or 0
// if there is none (the holder may not have written it yet).
func readPID(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
