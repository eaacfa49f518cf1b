package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// recordingRunner records the service manager commands instead of running
// them; commands whose argv contains failOn fail.
type recordingRunner struct {
	ran    []string
	failOn string
}

func (r *recordingRunner) Run(_ context.Context, argv []string, stdout, _ io.Writer) error {
	r.ran = append(r.ran, strings.Join(argv, " "))
	if r.failOn != "" && slices.Contains(argv, r.failOn) {
		return errors.New("exit status 3")
	}
	io.WriteString(stdout, "active (running)\n")
	return nil
}

// serviceEnv points every directory the service command reads at a
// temporary one and replaces the runner; it returns the home and the
// runner.
func serviceEnv(t *testing.T) (string, *recordingRunner) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("checks the systemd user unit; the other OSes' files are tested in internal/service")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("P2PCHAT_HOME", "")
	t.Setenv("P2PCHAT_SOCKET", "")
	r := &recordingRunner{}
	old := serviceRunner
	serviceRunner = r
	t.Cleanup(func() { serviceRunner = old })
	return home, r
}

func runService(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &o, &e)
	return o.String(), e.String(), code
}

// TestServiceDryRun: --dry-run prints the unit and the commands, and
// neither writes nor runs anything.
func TestServiceDryRun(t *testing.T) {
	home, r := serviceEnv(t)
	state := filepath.Join(home, "state")
	out, errOut, code := runService(t, "service", "install", "--dry-run", "--binary", "/usr/bin/p2pchat", "--home", state)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	unit := filepath.Join(home, ".config", "systemd", "user", "p2pchat.service")
	for _, want := range []string{
		"write " + unit + " (mode 0644):\n\t# systemd user unit for the p2pchat daemon",
		"\n\tExecStart=/usr/bin/p2pchat daemon --log-format json --home " + state + "\n",
		"\n\tWantedBy=default.target\nrun: systemctl --user daemon-reload\nrun: systemctl --user enable p2pchat.service\nrun: systemctl --user restart p2pchat.service\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "run: systemctl --user restart p2pchat.service\n") {
		t.Errorf("dry run does not end with the last command:\n%s", out)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 || len(r.ran) != 0 {
		t.Errorf("dry run wrote %v, ran %q", entries, r.ran)
	}

	out, _, code = runService(t, "service", "uninstall", "--dry-run")
	want := "run: systemctl --user disable --now p2pchat.service (may fail)\nremove " + unit + "\nrun: systemctl --user daemon-reload\n"
	if code != exitOK || out != want || len(r.ran) != 0 {
		t.Errorf("uninstall --dry-run: exit %d\n%s\nwant\n%s", code, out, want)
	}
}

// TestServiceInstallUninstall installs into a temporary home with the
// systemctl commands recorded, asks for the status and uninstalls.
func TestServiceInstallUninstall(t *testing.T) {
	home, r := serviceEnv(t)
	unit := filepath.Join(home, ".config", "systemd", "user", "p2pchat.service")
	t.Setenv("P2PCHAT_SOCKET", "/run/user/1000/p2pchat/test.sock")
	out, errOut, code := runService(t, "service", "install", "--binary", "/opt/p2pchat/bin/p2pchat")
	if code != exitOK {
		t.Fatalf("install: exit %d: %s", code, errOut)
	}
	want := "wrote " + unit + " (mode 0644)\n" +
		"ran: systemctl --user daemon-reload\nactive (running)\n" +
		"ran: systemctl --user enable p2pchat.service\nactive (running)\n" +
		"ran: systemctl --user restart p2pchat.service\nactive (running)\n"
	if out != want {
		t.Errorf("install said\n%s\nwant\n%s", out, want)
	}
	b, err := os.ReadFile(unit)
	if err != nil || !strings.Contains(string(b), "\nExecStart=/opt/p2pchat/bin/p2pchat daemon --log-format json --socket /run/user/1000/p2pchat/test.sock\n") {
		t.Errorf("unit: %v\n%s", err, b)
	}
	wantRan := []string{"systemctl --user daemon-reload", "systemctl --user enable p2pchat.service", "systemctl --user restart p2pchat.service"}
	if !slices.Equal(r.ran, wantRan) {
		t.Errorf("install ran %q, want %q", r.ran, wantRan)
	}

	r.ran = nil
	out, _, code = runService(t, "service", "status")
	if code != exitOK || out != unit+": installed\nran: systemctl --user status --no-pager p2pchat.service\nactive (running)\n" {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	r.failOn = "status"
	_, errOut, code = runService(t, "service", "status")
	if code != exitRuntime || !strings.Contains(errOut, "service status: systemctl --user status --no-pager p2pchat.service: exit status 3") {
		t.Errorf("failing status: exit %d: %s", code, errOut)
	}

	r.ran, r.failOn = nil, "disable"
	out, errOut, code = runService(t, "service", "uninstall")
	if code != exitOK {
		t.Fatalf("uninstall: exit %d: %s", code, errOut)
	}
	want = "ran: systemctl --user disable --now p2pchat.service\n  (failed, ignored: exit status 3)\n" +
		"removed " + unit + "\n" +
		"ran: systemctl --user daemon-reload\nactive (running)\n"
	if out != want {
		t.Errorf("uninstall said\n%s\nwant\n%s", out, want)
	}
	if _, err := os.Stat(unit); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still there: %v", err)
	}
}

func TestServiceUsage(t *testing.T) {
	serviceEnv(t)
	for _, args := range [][]string{{"service"}, {"service", "bogus"}, {"service", "install", "extra"}} {
		if _, _, code := runService(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestServiceRefusesTemporaryBinary: without --binary, a binary that `go
// test` (or `go run`) built in a temporary directory is not registered.
func TestServiceRefusesTemporaryBinary(t *testing.T) {
	_, r := serviceEnv(t)
	exe, _ := os.Executable()
	if !strings.Contains(exe, "go-build") {
		t.Skipf("the test binary %s is not in a go-build directory", exe)
	}
	_, errOut, code := runService(t, "service", "install")
	if code != exitRuntime || !strings.Contains(errOut, "temporary build") || len(r.ran) != 0 {
		t.Errorf("exit %d: %s; ran %q", code, errOut, r.ran)
	}
}
