//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// foreignSocketEnv tells TestForeignCallerHelper which socket to call.
const foreignSocketEnv = "P2PCHAT_TEST_FOREIGN_SOCKET"

// TestDaemonRefusesOtherUser: a process of another uid that reaches the
// daemon's socket (its directory opened by mistake) gets 403 forbidden:
// the daemon checks SO_PEERCRED itself, not only the directory's mode.
func TestDaemonRefusesOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a caller as uid 65534 (nobody); CI runs as root")
	}
	run := openDir(t)
	t.Setenv("XDG_RUNTIME_DIR", run)
	home := filepath.Join(t.TempDir(), "home")
	c := startDaemon(t, home)
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("the daemon's own user is refused: %v", err)
	}
	sock, err := socketPath(&options{home: home}, home)
	if err != nil {
		t.Fatal(err)
	}
	// The mistake: the socket's directory and the socket open to all.
	if err := os.Chmod(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o777); err != nil {
		t.Fatal(err)
	}
	// The test binary may sit where only root can enter: copy it out.
	bin := filepath.Join(openDir(t), "p2pchat.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^TestForeignCallerHelper$", "-test.v")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = []string{foreignSocketEnv + "=" + sock, "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the foreign caller failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "answer: forbidden") {
		t.Errorf("the foreign caller was not refused with forbidden:\n%s", out)
	}
}

// TestForeignCallerHelper is the foreign caller of TestDaemonRefusesOtherUser;
// it does nothing in a normal run.
func TestForeignCallerHelper(t *testing.T) {
	sock := os.Getenv(foreignSocketEnv)
	if sock == "" {
		return
	}
	fmt.Printf("uid %d calling %s\n", os.Getuid(), sock)
	_, err := api.NewClient(sock).Status(context.Background())
	switch {
	case err == nil:
		fmt.Println("answer: status (not refused)")
	case errors.Is(err, api.ErrForbidden):
		fmt.Println("answer: forbidden")
	default:
		fmt.Printf("answer: error %v\n", err)
	}
}

// openDir returns a new directory that every user can enter, removed when
// the test ends.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "p2pchat-open-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
