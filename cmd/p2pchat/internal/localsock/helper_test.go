//go:build unix

package localsock

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The environment variables that make the test binary a helper process:
// helperModeEnv says what to do, helperPathEnv with what.
const (
	helperModeEnv = "LOCALSOCK_TEST_HELPER"
	helperPathEnv = "LOCALSOCK_TEST_PATH"
)

// TestHelperProcess is not a test: tests run the test binary again with
// helperModeEnv set, and this is what that process does.
//
//   - "dial": connect to the socket at helperPathEnv, write one byte and
//     wait for the other end to close.
//   - "lock": LockHome(helperPathEnv), print "locked", wait for stdin to
//     close and exit without releasing the lock, as a crash would.
func TestHelperProcess(t *testing.T) {
	mode, path := os.Getenv(helperModeEnv), os.Getenv(helperPathEnv)
	switch mode {
	case "":
		t.Skip("helper process for other tests")
	case "dial":
		c, err := net.DialTimeout("unix", path, 10*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := c.Write([]byte{'x'}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		io.Copy(io.Discard, c)
		os.Exit(0)
	case "lock":
		if _, err := LockHome(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0) // without Close: the OS must release the lock
	default:
		fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
		os.Exit(2)
	}
}

// startHelper starts bin (a copy of the test binary) as a helper process
// in mode on path, configured further by setup. The process is killed and
// reaped at cleanup if the test has not waited for it.
func startHelper(t *testing.T, bin, mode, path string, setup func(*exec.Cmd)) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperModeEnv+"="+mode, helperPathEnv+"="+path)
	cmd.Stderr = new(strings.Builder)
	if setup != nil {
		setup(cmd)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper process: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// readLine reads one line from r within a few seconds, or kills cmd and
// fails the test.
func readLine(t *testing.T, cmd *exec.Cmd, r io.Reader) string {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("reading from helper: %v (stderr: %s)", res.err, cmd.Stderr)
		}
		return res.line
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said nothing in 30s (stderr: %s)", cmd.Stderr)
		return ""
	}
}
