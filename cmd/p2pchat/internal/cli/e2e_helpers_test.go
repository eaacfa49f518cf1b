//go:build e2e && linux

package cli

// Plumbing for the end-to-end tests that run the real p2pchat binary on
// private network namespaces:
//
//   - newE2ELab: skip checks, a temp dir, a deadline and ONE cleanup that
//     kills every process the lab started (by PID) and deletes every
//     namespace it created, registered before anything is created.
//   - (*e2eLab).newLAN: a bridge namespace plus N host namespaces, each
//     joined to the bridge by a veth pair (eth0 inside the host).
//   - (*e2eLab).start / startChat / startCapture: processes inside a
//     namespace; stdout and stderr are read line by line into a history
//     that waiters scan (nothing is consumed, so the order in which a test
//     waits does not matter).
//   - waitFor(t, ctx, timeout, desc, cond) and (*e2eChat).waitEvent: the
//     bounded waits everything uses.
//   - readPcap: a tiny classic-pcap reader for asserting on captures.
//
// Nothing here touches the root namespace's interfaces: every link is
// created directly inside a namespace the lab owns, and every address used
// (see e2eHostIP) exists only there.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2eHostIP returns the address of host i (0-based) on the lab LAN,
// 10.213.77.0/24: a subnet configured only inside namespaces the lab
// creates, so no packet to it can leave them.
func e2eHostIP(i int) string { return fmt.Sprintf("10.213.77.%d", i+1) }

// e2eLab owns everything one e2e test creates.
type e2eLab struct {
	t      *testing.T
	dir    string
	suffix string
	// ctx ends a little before the test binary's own -timeout so that a
	// stuck wait fails the test and cleanups still run.
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	nss   []string
	procs []*e2eProc
}

// newE2ELab skips unless the test can manage namespaces (root and ip(8)),
// and registers the lab's cleanup before anything is created.
func newE2ELab(t *testing.T) *e2eLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("e2e netns test needs root (to create network namespaces); run it as root, e.g. in CI")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("e2e netns test needs ip(8) from iproute2 (apt-get install -y iproute2)")
	}
	// TempDir first: its removal is itself a cleanup, and cleanups run last
	// registered first, so the lab's teardown (registered below) runs
	// before the directory with the logs and the pcap disappears.
	dir := t.TempDir()

	deadline := time.Now().Add(8 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-15*time.Second).Before(deadline) {
		deadline = d.Add(-15 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	l := &e2eLab{t: t, dir: dir, ctx: ctx, cancel: cancel}
	t.Cleanup(l.teardown)

	for range 20 {
		l.suffix = randHex(2) // 4 chars: "p2pc-br-XXXX" is 12 bytes
		clash := false
		for _, n := range []string{"br", "h1", "h2", "h3", "h4"} {
			if _, err := os.Stat("/run/netns/p2pc-" + n + "-" + l.suffix); err == nil {
				clash = true
			}
		}
		if !clash {
			break
		}
	}
	return l
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// teardown kills the lab's processes by PID, dumps their output if the
// test failed, then deletes the lab's namespaces and checks they are gone.
func (l *e2eLab) teardown() {
	t := l.t
	defer l.cancel()
	l.mu.Lock()
	procs := append([]*e2eProc(nil), l.procs...)
	nss := append([]string(nil), l.nss...)
	l.mu.Unlock()

	for _, p := range procs {
		p.kill()
	}
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			t.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
		}
	}
	if t.Failed() || os.Getenv("P2PCHAT_E2E_DUMP") != "" {
		for _, p := range procs {
			p.dump()
		}
	}
	if dst := os.Getenv("P2PCHAT_E2E_ARTIFACTS"); dst != "" && t.Failed() {
		l.saveArtifacts(filepath.Join(dst, strings.ReplaceAll(t.Name(), "/", "_")))
	}
	for i := len(nss) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", nss[i]).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", nss[i], err, out)
		}
	}
	if len(nss) > 0 {
		out, err := exec.Command("ip", "netns", "list").CombinedOutput()
		if err != nil {
			t.Errorf("ip netns list: %v: %s", err, out)
		}
		for _, ns := range nss {
			if regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ns) + `\b`).Match(out) {
				t.Errorf("namespace %s still listed after teardown", ns)
			}
		}
	}
}

// saveArtifacts copies the lab directory's logs and captures (not the
// binary, not the node homes with their keys) to dst, for CI to keep.
func (l *e2eLab) saveArtifacts(dst string) {
	t := l.t
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Errorf("artifacts: %v", err)
		return
	}
	for _, pat := range []string{"*.stderr", "*.pcap"} {
		files, _ := filepath.Glob(filepath.Join(l.dir, pat))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err == nil {
				err = os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644)
			}
			if err != nil {
				t.Errorf("artifacts: %v", err)
			}
		}
	}
	t.Logf("logs and captures saved in %s", dst)
}

// ip runs ip(8) with args and fails the test on error.
func (l *e2eLab) ip(args ...string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (l *e2eLab) addNS(name string) {
	l.t.Helper()
	if len(name) > 15 {
		l.t.Fatalf("namespace name %q longer than 15 bytes", name)
	}
	l.ip("netns", "add", name)
	l.mu.Lock()
	l.nss = append(l.nss, name)
	l.mu.Unlock()
}

// e2eHost is one machine on the lab LAN.
type e2eHost struct {
	NS string // namespace name
	IP string // address of eth0, in e2eSubnet
}

// e2eLAN is a bridge in its own namespace with hosts attached.
type e2eLAN struct {
	BridgeNS string // namespace holding the bridge
	Bridge   string // bridge interface inside BridgeNS
	Hosts    []e2eHost
}

// newLAN creates a bridge namespace and n host namespaces. Each host gets
// lo up, eth0 (a veth whose peer vhN is a port of the bridge) up with
// 10.213.77.N/24, and a multicast route via eth0. The veth pairs are
// created with both ends already inside lab namespaces, so the root
// namespace never sees them. newLAN returns once every eth0 is up.
func (l *e2eLab) newLAN(n int) *e2eLAN {
	l.t.Helper()
	lan := &e2eLAN{BridgeNS: "p2pc-br-" + l.suffix, Bridge: "br0"}
	l.addNS(lan.BridgeNS)
	l.ip("-n", lan.BridgeNS, "link", "set", "lo", "up")
	l.ip("-n", lan.BridgeNS, "link", "add", lan.Bridge, "type", "bridge")
	l.ip("-n", lan.BridgeNS, "link", "set", lan.Bridge, "up")
	for i := range n {
		h := e2eHost{NS: fmt.Sprintf("p2pc-h%d-%s", i+1, l.suffix), IP: e2eHostIP(i)}
		port := fmt.Sprintf("vh%d", i+1)
		l.addNS(h.NS)
		l.ip("-n", lan.BridgeNS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
		l.ip("-n", lan.BridgeNS, "link", "set", port, "master", lan.Bridge)
		l.ip("-n", lan.BridgeNS, "link", "set", port, "up")
		l.ip("-n", h.NS, "link", "set", "lo", "up")
		l.ip("-n", h.NS, "addr", "add", h.IP+"/24", "dev", "eth0")
		l.ip("-n", h.NS, "link", "set", "eth0", "up")
		l.ip("-n", h.NS, "route", "add", "224.0.0.0/4", "dev", "eth0")
		lan.Hosts = append(lan.Hosts, h)
	}
	for _, h := range lan.Hosts {
		waitFor(l.t, l.ctx, 10*time.Second, h.NS+" eth0 up", func() bool {
			return l.linkUp(h.NS, "eth0")
		})
	}
	return lan
}

// linkUp reports whether dev in ns is operationally up and multicast-capable.
func (l *e2eLab) linkUp(ns, dev string) bool {
	out, err := exec.Command("ip", "-n", ns, "-j", "link", "show", "dev", dev).Output()
	if err != nil {
		return false
	}
	var links []struct {
		Flags     []string `json:"flags"`
		Operstate string   `json:"operstate"`
	}
	if json.Unmarshal(out, &links) != nil || len(links) != 1 {
		return false
	}
	multicast := false
	for _, f := range links[0].Flags {
		multicast = multicast || f == "MULTICAST"
	}
	return multicast && links[0].Operstate == "UP"
}

// setLink brings dev in ns up or down (for link-flap tests).
func (l *e2eLab) setLink(ns, dev string, up bool) {
	l.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	l.ip("-n", ns, "link", "set", dev, state)
}

// waitFor polls cond every 10 ms until it holds, timeout passes or ctx
// ends; on the latter two it fails the test with desc.
func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, desc string, cond func() bool) {
	t.Helper()
	if err := poll(ctx, timeout, cond); err != nil {
		t.Fatalf("gave up after %v waiting for %s: %v", timeout.Round(time.Millisecond), desc, err)
	}
}

func poll(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			if cond() {
				return nil
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// e2eLine is one line a process wrote, stamped when the test read it.
type e2eLine struct {
	At   time.Time
	Text string
}

// e2eProc is a process the lab started inside a namespace.
type e2eProc struct {
	lab     *e2eLab
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	logPath string // stderr copy
	started time.Time
	exited  chan struct{} // closed once Wait returned and output is drained

	mu      sync.Mutex
	stdout  []e2eLine
	stderr  []e2eLine
	waitErr error
}

// start runs argv inside ns with a stdin pipe kept open, stdout and stderr
// read line by line, stderr also copied to <dir>/<name>.stderr. The
// process gets SIGKILL if the test binary dies (Pdeathsig), and is killed
// by PID in the lab's teardown.
func (l *e2eLab) start(name, ns string, env []string, argv ...string) *e2eProc {
	l.t.Helper()
	p := &e2eProc{lab: l, name: name, logPath: filepath.Join(l.dir, name+".stderr"), exited: make(chan struct{})}
	logf, err := os.Create(p.logPath)
	if err != nil {
		l.t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		l.t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		l.t.Fatal(err)
	}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	p.cmd.Env = env
	p.cmd.Stdout = outW
	p.cmd.Stderr = errW
	// ip netns exec execs argv in place, so this PID is the process itself.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		l.t.Fatal(err)
	}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	outW.Close()
	errW.Close()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()

	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		p.readLines(outR, &p.stdout, nil)
	}()
	go func() {
		defer readers.Done()
		p.readLines(errR, &p.stderr, logf)
	}()
	go func() {
		err := p.cmd.Wait()
		readers.Wait()
		outR.Close()
		errR.Close()
		logf.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	return p
}

func (p *e2eProc) readLines(r io.Reader, dst *[]e2eLine, copyTo io.Writer) {
	br := bufio.NewReader(r)
	for {
		s, err := br.ReadString('\n')
		if s != "" {
			now := time.Now()
			if copyTo != nil {
				io.WriteString(copyTo, s)
			}
			p.mu.Lock()
			*dst = append(*dst, e2eLine{At: now, Text: strings.TrimRight(s, "\r\n")})
			p.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// hasExited reports whether the process has exited (and output is drained).
func (p *e2eProc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitStatus describes how the process ended ("running" if it has not).
func (p *e2eProc) exitStatus() string {
	if !p.hasExited() {
		return "running"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr == nil {
		return "exit status 0"
	}
	return p.waitErr.Error()
}

func (p *e2eProc) kill() {
	if !p.hasExited() {
		p.cmd.Process.Kill() // by PID; an error means it is already gone
	}
}

// signal sends sig to the process by PID.
func (p *e2eProc) signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// stderrLines and stdoutLines return copies of what was read so far.
func (p *e2eProc) stderrLines() []e2eLine { return p.copyLines(&p.stderr) }
func (p *e2eProc) stdoutLines() []e2eLine { return p.copyLines(&p.stdout) }

func (p *e2eProc) copyLines(src *[]e2eLine) []e2eLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]e2eLine(nil), *src...)
}

// writeLine writes s and a newline to the process's stdin.
func (p *e2eProc) writeLine(s string) {
	p.lab.t.Helper()
	if _, err := io.WriteString(p.stdin, s+"\n"); err != nil {
		p.lab.t.Fatalf("write to %s stdin: %v (%s)", p.name, err, p.exitStatus())
	}
}

// closeStdin closes the process's stdin (EOF for the process).
func (p *e2eProc) closeStdin() {
	p.lab.t.Helper()
	if err := p.stdin.Close(); err != nil {
		p.lab.t.Errorf("close %s stdin: %v", p.name, err)
	}
}

// waitExit waits up to timeout for the process to exit, killing it by PID
// and failing the test if it does not. It returns the exit code (-1 if
// killed by a signal).
func (p *e2eProc) waitExit(timeout time.Duration) int {
	t := p.lab.t
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.kill()
		<-p.exited
		t.Errorf("%s did not exit within %v; killed pid %d", p.name, timeout, p.cmd.Process.Pid)
	}
	return p.cmd.ProcessState.ExitCode()
}

// dump logs the process's stdout and stderr (their last 200 lines).
func (p *e2eProc) dump() {
	t := p.lab.t
	for _, s := range []struct {
		name  string
		lines []e2eLine
	}{{"stdout", p.stdoutLines()}, {"stderr", p.stderrLines()}} {
		lines := s.lines
		skipped := 0
		if len(lines) > 200 {
			skipped = len(lines) - 200
			lines = lines[skipped:]
		}
		var b strings.Builder
		for _, ln := range lines {
			fmt.Fprintf(&b, "  +%7.3fs %s\n", ln.At.Sub(p.started).Seconds(), ln.Text)
		}
		t.Logf("---- %s %s (%s; %d lines, %d not shown; full stderr in %s) ----\n%s",
			p.name, s.name, p.exitStatus(), len(s.lines), skipped, p.logPath, b.String())
	}
}

// e2eEnv is the environment for processes the lab starts: PATH only, HOME
// pointing at a scratch directory shared by all of them (so that a node
// ignoring --home would visibly share a key with the others instead of
// writing into the real home), no XDG overrides.
func (l *e2eLab) e2eEnv() []string {
	home := filepath.Join(l.dir, "shared-home")
	os.MkdirAll(home, 0o700)
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8"}
}

// ---- p2pchat processes ----

// e2eEvent is one JSON line of `p2pchat --json` output. Unknown fields and
// event types are kept in Raw and otherwise ignored.
type e2eEvent struct {
	Type        string          `json:"type"`
	PeerID      string          `json:"peer_id"`
	Fingerprint string          `json:"fingerprint"`
	Addrs       []string        `json:"addrs"`
	Room        string          `json:"room"`
	ID          json.RawMessage `json:"id"`
	From        string          `json:"from"`
	Nick        string          `json:"nick"`
	Text        string          `json:"text"`
	Time        string          `json:"time"`
	Self        *bool           `json:"self"`
	Reason      string          `json:"reason"`
	Error       json.RawMessage `json:"error"`

	At  time.Time `json:"-"` // when the test read the line
	Raw string    `json:"-"`
}

// e2eChat is a running p2pchat.
type e2eChat struct {
	*e2eProc
	Host e2eHost
	Nick string
	Home string
}

// buildP2PChat builds the binary (cmd/p2pchat) once.
func (l *e2eLab) buildP2PChat() string {
	l.t.Helper()
	bin := filepath.Join(l.dir, "p2pchat")
	start := time.Now()
	out, err := exec.CommandContext(l.ctx, "go", "build", "-o", bin, "github.com/p2pchat/p2pchat/cmd/p2pchat").CombinedOutput()
	if err != nil {
		l.t.Fatalf("go build: %v\n%s", err, out)
	}
	l.t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// runCLI runs `p2pchat --home home ARGS` in ns with env to its end and
// returns its stdout; the error says the command and its stderr.
func (l *e2eLab) runCLI(bin, ns, home string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(l.ctx, "ip", append([]string{"netns", "exec", ns, bin, "--home", home}, args...)...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("p2pchat %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// startChat runs `p2pchat --json --home <dir>/<nick> --nick <nick>
// --log-level debug <room> <extra...>` on host.
func (l *e2eLab) startChat(bin string, host e2eHost, nick, room string, extra ...string) *e2eChat {
	l.t.Helper()
	home := filepath.Join(l.dir, "home-"+nick)
	argv := []string{bin, "--json", "--home", home, "--nick", nick, "--log-level", "debug"}
	argv = append(argv, extra...)
	argv = append(argv, room)
	p := l.start(nick, host.NS, l.e2eEnv(), argv...)
	return &e2eChat{e2eProc: p, Host: host, Nick: nick, Home: home}
}

// events parses stdout so far. Lines that are not a JSON object are
// returned in bad.
func (c *e2eChat) events() (evs []e2eEvent, bad []string) {
	for _, ln := range c.stdoutLines() {
		var ev e2eEvent
		if err := json.Unmarshal([]byte(ln.Text), &ev); err != nil || !strings.HasPrefix(strings.TrimSpace(ln.Text), "{") {
			bad = append(bad, fmt.Sprintf("%q (%v)", ln.Text, err))
			continue
		}
		ev.At, ev.Raw = ln.At, ln.Text
		evs = append(evs, ev)
	}
	return evs, bad
}

// find returns the first event so far matching pred.
func (c *e2eChat) find(pred func(e2eEvent) bool) (e2eEvent, bool) {
	evs, _ := c.events()
	for _, ev := range evs {
		if pred(ev) {
			return ev, true
		}
	}
	return e2eEvent{}, false
}

// count returns how many events so far match pred.
func (c *e2eChat) count(pred func(e2eEvent) bool) int {
	evs, _ := c.events()
	n := 0
	for _, ev := range evs {
		if pred(ev) {
			n++
		}
	}
	return n
}

// waitEvent waits up to timeout for an event matching pred (seen before or
// after the call). It fails the test at once if the process exits first.
func (c *e2eChat) waitEvent(timeout time.Duration, desc string, pred func(e2eEvent) bool) e2eEvent {
	t := c.lab.t
	t.Helper()
	var ev e2eEvent
	var ok, died bool
	err := poll(c.lab.ctx, timeout, func() bool {
		exited := c.hasExited() // before find: output is drained once exited
		ev, ok = c.find(pred)
		died = !ok && exited
		return ok || died
	})
	switch {
	case died:
		t.Fatalf("%s exited (%s) before %s", c.name, c.exitStatus(), desc)
	case c.lab.ctx.Err() != nil:
		t.Fatalf("%s: test deadline (go test -timeout less 15s) reached waiting for %s", c.name, desc)
	case err != nil:
		t.Fatalf("%s: timed out after %v waiting for %s", c.name, timeout.Round(time.Millisecond), desc)
	}
	return ev
}

func isType(typ string) func(e2eEvent) bool {
	return func(ev e2eEvent) bool { return ev.Type == typ }
}

// ---- packet capture ----

// e2eCapture is tcpdump writing a pcap in some namespace.
type e2eCapture struct {
	*e2eProc
	Path string
}

// startCapture runs tcpdump on dev in ns, writing every frame unbuffered
// to <dir>/<file> with no name resolution, and returns once tcpdump says
// it is listening.
func (l *e2eLab) startCapture(ns, dev, file string) *e2eCapture {
	l.t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		l.t.Fatal("e2e test needs tcpdump (apt-get install -y tcpdump)")
	}
	path := filepath.Join(l.dir, file)
	// --immediate-mode: without it libpcap hands packets over in blocks
	// every second or so, and the SIGINT in stop discards a pending block
	// (a sub-second chat captured nothing). -Z root: do not drop to the
	// tcpdump user, who could not write into the test's 0700 temp dir.
	p := l.start("tcpdump-"+ns, ns, []string{"PATH=" + os.Getenv("PATH")},
		"tcpdump", "-i", dev, "-nn", "-U", "--immediate-mode", "-s", "0", "-Z", "root", "-w", path)
	c := &e2eCapture{e2eProc: p, Path: path}
	waitFor(l.t, l.ctx, 10*time.Second, "tcpdump to say \"listening on\"", func() bool {
		for _, ln := range p.stderrLines() {
			if strings.Contains(ln.Text, "listening on") {
				return true
			}
		}
		if p.hasExited() {
			l.t.Fatalf("tcpdump exited (%s) before listening", p.exitStatus())
		}
		return false
	})
	return c
}

var capturedRE = regexp.MustCompile(`(\d+) packets? captured`)

// stop sends SIGINT to tcpdump and waits for it to exit, returning the
// packet count it reports.
func (c *e2eCapture) stop() int {
	t := c.lab.t
	t.Helper()
	if err := c.signal(os.Interrupt); err != nil {
		t.Errorf("SIGINT tcpdump: %v", err)
	}
	if code := c.waitExit(10 * time.Second); code != 0 {
		t.Errorf("tcpdump exited with %d", code)
	}
	for _, ln := range c.stderrLines() {
		if m := capturedRE.FindStringSubmatch(ln.Text); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	t.Errorf("tcpdump did not report a packet count; stderr: %v", c.stderrLines())
	return -1
}

// pcapStats summarises a capture.
type pcapStats struct {
	Packets         int
	IPv4, IPv6      int
	TCP             int // IPv4 TCP segments between the two given hosts
	TCPPayloadBytes int // their payload bytes
	MDNS            int // UDP packets to or from port 5353 (v4 or v6)
	Other           int // frames that are neither of the above

	FirstMDNS, FirstTCP time.Time // capture times of the first of each (zero if none)
}

// readPcap parses a classic pcap of Ethernet frames (as tcpdump -w writes)
// and counts traffic, with TCP counted only between a and b.
func readPcap(data []byte, a, b netip.Addr) (pcapStats, error) {
	var st pcapStats
	if len(data) < 24 {
		return st, fmt.Errorf("pcap too short: %d bytes", len(data))
	}
	var bo binary.ByteOrder
	subsec := time.Microsecond
	switch m := binary.LittleEndian.Uint32(data); m {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return st, fmt.Errorf("not a classic pcap (magic %#x)", m)
	}
	if m := bo.Uint32(data); m == 0xa1b23c4d {
		subsec = time.Nanosecond
	}
	if lt := bo.Uint32(data[20:]); lt != 1 {
		return st, fmt.Errorf("link type %d, want 1 (Ethernet)", lt)
	}
	rest := data[24:]
	for len(rest) > 0 {
		if len(rest) < 16 {
			return st, errors.New("truncated record header")
		}
		n := int(bo.Uint32(rest[8:]))
		if len(rest) < 16+n {
			return st, errors.New("truncated record")
		}
		at := time.Unix(int64(bo.Uint32(rest)), int64(bo.Uint32(rest[4:]))*int64(subsec))
		frame := rest[16 : 16+n]
		rest = rest[16+n:]
		st.Packets++
		st.count(frame, at, a, b)
	}
	return st, nil
}

func (st *pcapStats) count(f []byte, at time.Time, a, b netip.Addr) {
	if len(f) < 14 {
		st.Other++
		return
	}
	et, p := binary.BigEndian.Uint16(f[12:]), f[14:]
	for et == 0x8100 && len(p) >= 4 { // VLAN tag
		et, p = binary.BigEndian.Uint16(p[2:]), p[4:]
	}
	var proto byte
	var src, dst netip.Addr
	var l4 []byte
	switch {
	case et == 0x0800 && len(p) >= 20:
		st.IPv4++
		ihl := int(p[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(p[2:]))
		if ihl < 20 || total < ihl || len(p) < total {
			st.Other++
			return
		}
		proto = p[9]
		src, dst = netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
		l4 = p[ihl:total]
	case et == 0x86dd && len(p) >= 40:
		st.IPv6++
		proto = p[6]
		src, dst = netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		l4 = p[40:]
	default:
		st.Other++
		return
	}
	switch {
	case proto == 6 && len(l4) >= 20 && ((src == a && dst == b) || (src == b && dst == a)):
		st.TCP++
		st.TCPPayloadBytes += len(l4) - int(l4[12]>>4)*4
		if st.FirstTCP.IsZero() {
			st.FirstTCP = at
		}
	case proto == 17 && len(l4) >= 8 &&
		(binary.BigEndian.Uint16(l4[0:]) == 5353 || binary.BigEndian.Uint16(l4[2:]) == 5353):
		st.MDNS++
		if st.FirstMDNS.IsZero() {
			st.FirstMDNS = at
		}
	default:
		st.Other++
	}
}

// pcapContains reports whether needle occurs anywhere in the raw capture.
func pcapContains(data []byte, needle string) bool {
	return bytes.Contains(data, []byte(needle))
}
