//go:build e2e && linux

package cli

// End-to-end for the full-screen UI: the real binary in a pseudo-terminal
// (a tmux pane) on each of two hosts (network namespaces), found by mDNS.
// Keys are typed with send-keys and the screens read with capture-pane.
//
//	go test -tags e2e -count=1 -run TestNetnsTUI -v ./cmd/p2pchat/internal/cli/
//
// Needs root, ip(8) and tmux (apt-get install -y tmux); skips without them.
// The tmux server is private to the test (its own socket in the test's
// temp dir) and is killed, with everything in it, when the test ends.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// e2eTmux is a tmux server of the test's own.
type e2eTmux struct {
	lab  *e2eLab
	sock string
}

// newE2ETmux returns the test's tmux server, which its first session
// starts. The server is killed when the test ends, before the lab's
// namespaces are deleted.
func newE2ETmux(lab *e2eLab) *e2eTmux {
	lab.t.Helper()
	x := &e2eTmux{lab: lab, sock: filepath.Join(lab.dir, "tmux.sock")}
	lab.t.Cleanup(func() {
		// Our server only: its socket is ours alone.
		exec.Command("tmux", "-S", x.sock, "kill-server").Run()
	})
	return x
}

// run runs a tmux command on the test's server and returns its output.
func (x *e2eTmux) run(args ...string) string {
	t := x.lab.t
	t.Helper()
	ctx, cancel := context.WithTimeout(x.lab.ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tmux", append([]string{"-u", "-f", "/dev/null", "-S", x.sock}, args...)...)
	cmd.Env = x.lab.e2eEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// e2ePane is p2pchat's full-screen UI in a tmux session.
type e2ePane struct {
	x      *e2eTmux
	name   string
	stderr string // p2pchat's stderr, a file
	exit   string // a file that gets p2pchat's exit status
}

// startUI runs p2pchat (no --plain, no --json: the full-screen UI) for
// nick on host, in a w×h tmux session. "ip netns exec" is inside the
// pane's command: run from outside, a tmux server that already exists
// would start it in the root namespace. When p2pchat exits, its status
// goes to a file and the pane stays, idle, so that the terminal modes it
// left behind can be read (tmux resets them in a dead pane).
func (x *e2eTmux) startUI(bin string, host e2eHost, nick, room string, w, h int) *e2ePane {
	x.lab.t.Helper()
	home := filepath.Join(x.lab.dir, "home-"+nick)
	return x.startPane(nick, w, h, "ip", "netns", "exec", host.NS, bin, "--home", home, "--nick", nick, "--log-level", "debug", room)
}

// startPane runs argv in a w×h tmux session called name, as startUI does.
func (x *e2eTmux) startPane(name string, w, h int, argv ...string) *e2ePane {
	x.lab.t.Helper()
	p := &e2ePane{x: x, name: name, stderr: filepath.Join(x.lab.dir, name+".stderr"), exit: filepath.Join(x.lab.dir, name+".exit")}
	for i, a := range argv {
		argv[i] = shellQuote(a)
	}
	x.run("new-session", "-d", "-s", name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h),
		strings.Join(argv, " ")+" 2>"+shellQuote(p.stderr)+"; echo $? >"+shellQuote(p.exit)+"; exec sleep 3600")
	return p
}

// pid returns p2pchat's PID: the child of the pane's shell ("ip netns
// exec" execs p2pchat in its own place).
func (p *e2ePane) pid() int {
	t := p.x.lab.t
	t.Helper()
	shell := p.info("#{pane_pid}")
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 1 && fields[1] == shell {
			var pid int
			fmt.Sscan(filepath.Base(filepath.Dir(f)), &pid)
			return pid
		}
	}
	t.Fatalf("%s: no child of the pane's shell %s", p.name, shell)
	return 0
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// screen returns what the pane shows now.
func (p *e2ePane) screen() string { return p.x.run("capture-pane", "-p", "-t", p.name) }

// info returns a tmux format evaluated for the pane.
func (p *e2ePane) info(format string) string {
	return strings.TrimSpace(p.x.run("display-message", "-p", "-t", p.name, format))
}

// keys types literal text (no key names).
func (p *e2ePane) keys(text string) { p.x.run("send-keys", "-t", p.name, "-l", text) }

// key presses named keys (Enter, Escape, M-a, …).
func (p *e2ePane) key(names ...string) {
	p.x.run(append([]string{"send-keys", "-t", p.name}, names...)...)
}

// paste pastes text as a terminal does, in bracketed-paste mode when the
// program asked for it.
func (p *e2ePane) paste(text string) {
	p.x.run("set-buffer", "-b", "e2e", text)
	p.x.run("paste-buffer", "-p", "-d", "-b", "e2e", "-t", p.name)
}

// waitScreen waits until the screen satisfies cond, failing the test with
// the screen if it does not within timeout.
func (p *e2ePane) waitScreen(timeout time.Duration, desc string, cond func(string) bool) string {
	t := p.x.lab.t
	t.Helper()
	var s string
	err := poll(p.x.lab.ctx, timeout, func() bool {
		s = p.screen()
		return cond(s) || p.exited()
	})
	if err != nil || !cond(s) {
		t.Fatalf("%s: gave up waiting %v for %s (pane %s); screen:\n%s", p.name, timeout, desc, p.status(), s)
	}
	return s
}

// exited reports whether p2pchat has exited.
func (p *e2ePane) exited() bool {
	_, err := os.Stat(p.exit)
	return err == nil
}

// status describes p2pchat: running, or how it ended.
func (p *e2ePane) status() string {
	b, err := os.ReadFile(p.exit)
	if err != nil {
		return "running"
	}
	return "exited with status " + strings.TrimSpace(string(b))
}

// waitExit waits for the pane's program to end and checks that it exited
// 0 and left the terminal as it found it: main screen, no mouse reporting,
// cursor shown.
func (p *e2ePane) waitExit(timeout time.Duration) {
	t := p.x.lab.t
	t.Helper()
	if err := poll(p.x.lab.ctx, timeout, func() bool { return p.status() != "running" && p.status() != "exited with status " }); err != nil {
		t.Fatalf("%s did not exit within %v; screen:\n%s", p.name, timeout, p.screen())
	}
	if st := p.status(); st != "exited with status 0" {
		t.Errorf("%s %s, want status 0", p.name, st)
	}
	for format, want := range map[string]string{
		"#{alternate_on}":   "0",
		"#{mouse_any_flag}": "0",
		"#{cursor_flag}":    "1",
	} {
		if got := p.info(format); got != want {
			t.Errorf("%s left the terminal with %s = %s, want %s", p.name, format, got, want)
		}
	}
}

// dump logs the screen and stderr of each pane.
func dumpPanes(t *testing.T, panes ...*e2ePane) {
	for _, p := range panes {
		b, _ := os.ReadFile(p.stderr)
		lines := strings.Split(string(b), "\n")
		lines = lines[max(0, len(lines)-80):]
		t.Logf("---- %s (%s) screen ----\n%s---- %s stderr (last 80 lines) ----\n%s", p.name, p.status(), p.screen(), p.name, strings.Join(lines, "\n"))
	}
}

// TestNetnsTUI: alice (80×24) and bob (120×40) run the full-screen UI on
// two hosts. They see each other join; a message typed on one appears on
// the other's screen and is marked sent on its author's; a multi-line
// paste waits for Enter; /quit and SIGTERM both exit 0 with the terminal
// restored, and the one left sees the other leave.
func TestNetnsTUI(t *testing.T) {
	lab := newE2ELab(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("e2e TUI test needs tmux (apt-get install -y tmux)")
	}
	bin := lab.buildP2PChat()
	lan := lab.newLAN(2)
	x := newE2ETmux(lab)
	const roomName = "e2etui"
	alice := x.startUI(bin, lan.Hosts[0], "alice", roomName, 80, 24)
	bob := x.startUI(bin, lan.Hosts[1], "bob", roomName, 120, 40)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("P2PCHAT_E2E_DUMP") != "" {
			dumpPanes(t, alice, bob)
		}
	})

	// Each sees the other in the members column, unverified.
	start := time.Now()
	alice.waitScreen(30*time.Second, "bob in the members column", func(s string) bool { return strings.Contains(s, "? bob#") })
	bob.waitScreen(30*time.Second, "alice in the members column", func(s string) bool { return strings.Contains(s, "? alice#") })
	t.Logf("both screens show the other member %v after start", time.Since(start).Round(time.Millisecond))

	// Typed on alice's screen, shown on bob's.
	marker := "mk" + randHex(6)
	alice.keys("hello " + marker)
	alice.key("Enter")
	bob.waitScreen(15*time.Second, "alice's message", func(s string) bool { return strings.Contains(s, "alice#") && strings.Contains(s, ": hello "+marker) })
	alice.waitScreen(15*time.Second, "alice's message marked sent", func(s string) bool { return strings.Contains(s, marker+" · sent") })

	// A multi-line paste on bob's side sends nothing until Enter.
	first, second := "p1"+randHex(4), "p2"+randHex(4)
	bob.paste(first + "\n" + second + "\n")
	bob.waitScreen(5*time.Second, "the paste in the input", func(s string) bool { return strings.Contains(s, "e2etui> "+first) })
	time.Sleep(time.Second)
	if s := alice.screen(); strings.Contains(s, first) {
		t.Fatalf("the paste was sent before Enter; alice's screen:\n%s", s)
	}
	bob.key("Enter")
	alice.waitScreen(15*time.Second, "bob's two-line message", func(s string) bool {
		i := strings.Index(s, first)
		return i >= 0 && strings.Contains(s[i:], "\n") && strings.Contains(s[i:], second)
	})

	// /quit: exit 0, terminal restored; bob sees alice leave.
	alice.keys("/quit")
	alice.key("Enter")
	alice.waitExit(15 * time.Second)
	bob.waitScreen(15*time.Second, "alice leaving", func(s string) bool {
		return regexp.MustCompile(`#[a-z2-7]{5} left\b`).MatchString(s) && !strings.Contains(s, "left (")
	})

	// SIGTERM: the same.
	if err := syscall.Kill(bob.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	bob.waitExit(15 * time.Second)
}
