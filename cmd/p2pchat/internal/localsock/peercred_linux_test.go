package localsock

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// nobody is the uid and gid the foreign caller runs as.
const nobody = 65534

// TestCheckPeerRefusesOtherUser has a process running as another user
// connect, and checks that SO_PEERCRED names that user and CheckPeer
// refuses it. Listen's private directory would stop that user before
// connect; this test opens the directory on purpose so that the check
// under test is SO_PEERCRED itself.
func TestCheckPeerRefusesOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a helper process as uid 65534 (nobody)")
	}

	// The test binary may sit in a directory only root can enter: copy it
	// where nobody can run it.
	bin := filepath.Join(openTempDir(t), "localsock.test")
	if err := copyFile(bin, os.Args[0], 0o755); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(openTempDir(t), "s.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	// Listen made the directory 0700; open it and the socket to everyone.
	if err := os.Chmod(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}

	cmd := startHelper(t, bin, "dial", path, func(cmd *exec.Cmd) {
		cmd.Dir = filepath.Dir(bin)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: nobody, Gid: nobody},
		}
	})

	l.(*net.UnixListener).SetDeadline(time.Now().Add(30 * time.Second))
	c, err := l.Accept()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("Accept: %v (helper stderr: %s)", err, cmd.Stderr)
	}
	buf := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || buf[0] != 'x' {
		t.Errorf("read from helper = %q, %v; want \"x\"", buf, err)
	}

	uid, known, err := PeerUID(c)
	if err != nil || !known || uid != nobody {
		t.Errorf("PeerUID = %d, %v, %v; want %d, true, nil", uid, known, err, nobody)
	}
	if err := CheckPeer(c); !errors.Is(err, ErrForeignUser) {
		t.Errorf("CheckPeer(connection from uid %d) = %v, want ErrForeignUser", nobody, err)
	}

	c.Close() // lets the helper finish
	if err := cmd.Wait(); err != nil {
		t.Errorf("helper: %v (stderr: %s)", err, cmd.Stderr)
	}
}

// openTempDir returns a new directory, mode 0755, removed at cleanup.
func openTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "localsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// copyFile copies src to a new file dst with mode perm.
func copyFile(dst, src string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
