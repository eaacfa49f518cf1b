package localsock

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLockHome(t *testing.T) {
	home := t.TempDir()
	l, err := LockHome(home)
	if err != nil {
		t.Fatalf("LockHome: %v", err)
	}
	lockPath := filepath.Join(home, LockFileName)
	wantMode(t, lockPath, 0o600)
	if b, err := os.ReadFile(lockPath); err != nil || string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q, %v; want our pid and a newline", b, err)
	}

	_, err = LockHome(home)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second LockHome: %v, want ErrLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(msg, home) {
		t.Errorf("error %q does not name our pid and the state directory", msg)
	}
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || le.Home != home {
		t.Errorf("error %#v, want a *LockedError with our pid and home", err)
	}
	if pid, running := LockHolder(home); !running || pid != os.Getpid() {
		t.Errorf("LockHolder while locked = %d, %v; want %d, true", pid, running, os.Getpid())
	}

	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(lockPath); err != nil {
		t.Errorf("lock file after Close: %v, want it kept", err)
	}
	if pid, running := LockHolder(home); running {
		t.Errorf("LockHolder after Close = %d, true; want not running", pid)
	}
	l, err = LockHome(home)
	if err != nil {
		t.Fatalf("LockHome after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLockHolderNoFile(t *testing.T) {
	home := t.TempDir()
	if pid, running := LockHolder(home); running || pid != 0 {
		t.Errorf("LockHolder(empty dir) = %d, %v; want 0, false", pid, running)
	}
	if _, err := os.Stat(filepath.Join(home, LockFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LockHolder created the lock file (Stat: %v)", err)
	}
}

func TestLockHomeMissingDir(t *testing.T) {
	home := filepath.Join(t.TempDir(), "missing")
	l, err := LockHome(home)
	if err == nil {
		l.Close()
		t.Fatal("LockHome(missing dir) succeeded, want an error")
	}
	if errors.Is(err, ErrLocked) {
		t.Errorf("LockHome(missing dir) = %v; must not claim another daemon holds it", err)
	}
}

func TestLockedErrorWithoutPID(t *testing.T) {
	err := error(&LockedError{Home: "/h"})
	if !errors.Is(err, ErrLocked) || strings.Contains(err.Error(), "pid") {
		t.Errorf("LockedError without pid = %q; want ErrLocked and no pid", err)
	}
}
