//go:build unix

package localsock

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestLockHomeAcrossProcesses shows the lock excluding another process
// and dying with it, however it exits: the crash safety the daemon relies
// on. (Windows releases a dead process's locks too, but "in time", so the
// last step would be flaky there.)
func TestLockHomeAcrossProcesses(t *testing.T) {
	home := t.TempDir()
	var (
		stdin  io.WriteCloser
		stdout io.Reader
	)
	cmd := startHelper(t, os.Args[0], "lock", home, func(cmd *exec.Cmd) {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if stdout, err = cmd.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
	})
	if line := readLine(t, cmd, stdout); line != "locked" {
		t.Fatalf("helper said %q, want \"locked\" (stderr: %s)", line, cmd.Stderr)
	}
	child := cmd.Process.Pid

	l, err := LockHome(home)
	if err == nil {
		l.Close()
		t.Fatal("LockHome while the helper holds the lock succeeded, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("LockHome while the helper holds the lock: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(child)) {
		t.Errorf("error %q does not name the helper's pid %d", err, child)
	}
	if pid, running := LockHolder(home); !running || pid != child {
		t.Errorf("LockHolder = %d, %v; want %d, true", pid, running, child)
	}

	// The helper exits without releasing the lock.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v (stderr: %s)", err, cmd.Stderr)
	}
	if pid, running := LockHolder(home); running {
		t.Errorf("LockHolder after the helper exited = %d, true; want not running", pid)
	}
	l, err = LockHome(home)
	if err != nil {
		t.Fatalf("LockHome after the holder exited: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
