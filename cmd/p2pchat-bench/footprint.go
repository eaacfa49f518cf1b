package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// footprint runs the real p2pchat command idle in a room with footPeers
// in-process p2pchat peers and reads its memory from /proc (Linux only).
func (b *bench) footprint(ctx context.Context) error {
	t := &table{
		title: fmt.Sprintf("footprint: a p2pchat process idle in one room with %d peers", b.cfg.footPeers),
		head:  []string{"metric", "p2pchat", "target"},
	}
	b.res.set("footprint_peers", float64(b.cfg.footPeers))
	if runtime.GOOS != "linux" {
		t.note("skipped: reading a process's memory needs Linux /proc")
	} else if err := b.measureFootprint(ctx, t); err != nil {
		if ctx.Err() != nil {
			return err
		}
		b.fail("footprint", err)
	}
	b.emit(t)
	return nil
}

func (b *bench) measureFootprint(ctx context.Context, t *table) error {
	bin := b.cfg.p2pchatBin
	if bin == "" {
		dir, err := os.MkdirTemp("", "p2pchat-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "p2pchat")
		b.logf("footprint: go build ./cmd/p2pchat")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/p2pchat/p2pchat/cmd/p2pchat")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building p2pchat (or pass -p2pchat-bin): %w\n%s", err, out)
		}
	}
	if fi, err := os.Stat(bin); err == nil {
		b.res.set("footprint_binary_mb", round(float64(fi.Size())/(1<<20)))
	}
	mem, err := b.idleProcess(ctx, bin)
	if err != nil {
		return err
	}
	b.res.set("footprint_rss_mb", mem.rss)
	b.res.set("footprint_cpu_pct", round(mem.cpuPct))
	b.res.set("footprint_wakeups", round(mem.wakeups))
	b.res.set("footprint_hwm_mb", mem.hwm)
	b.res.set("footprint_heap_mb", mem.heap)
	t.add("binary size (MB)", num(b.res.get("footprint_binary_mb")), "")
	t.add("RSS, VmRSS (MB)", num(mem.rss), b.res.verdict("footprint_rss_mb"))
	t.add("peak RSS, VmHWM (MB)", num(mem.hwm), "")
	t.add("  of which anonymous, RssAnon (MB)", num(mem.anon), "")
	t.add("  of which file-backed, RssFile (MB): the binary", num(mem.file), "")
	if math.IsNaN(mem.heap) {
		t.add("Go heap live after the last GC (MB, gctrace)", "< 4", "")
		t.note("no garbage collection ran in the process: its heap never reached the runtime's initial 4 MB goal (footprint_heap_mb is null).")
	} else {
		t.add("Go heap live after the last GC (MB, gctrace)", num(mem.heap), "")
	}
	t.add(fmt.Sprintf("idle CPU over %v (%% of one core)", b.cfg.footCPU), num(mem.cpuPct), b.res.verdict("footprint_cpu_pct"))
	t.add(fmt.Sprintf("idle wakeups over %v (per second)", b.cfg.footCPU), num(mem.wakeups), b.res.verdict("footprint_wakeups"))
	t.note("idle CPU: utime+stime of /proc/PID/stat over the window; wakeups: voluntary context switches of all its threads (/proc/PID/task/*/status) per second, each a sleep ended by a timer, a socket or another thread.")
	t.note("the process: p2pchat --json --no-mdns --home TMP --listen /ip4/127.0.0.1/tcp/0 --peer … (GODEBUG=gctrace=1), read after %v idle with every peer admitted.", b.cfg.footIdle)
	t.note("in-process heap per member for both stacks: burst table, \"live heap per member\".")
	return nil
}

// memory is what idleProcess reads: MB, and idle CPU (% of one core) and
// wakeups per second.
type memory struct{ rss, hwm, anon, file, heap, cpuPct, wakeups float64 }

// idleProcess starts the p2pchat binary in a room with in-process peers,
// waits until it is a member seen by all and idle, and reads its memory.
func (b *bench) idleProcess(ctx context.Context, bin string) (memory, error) {
	mem := memory{heap: nan, cpuPct: nan, wakeups: nan}
	col := newCollector(nil)
	cl, err := startCluster(ctx, b.cfg, stackP2P, b.cfg.footPeers, col.received)
	if err != nil {
		return mem, err
	}
	defer cl.close()
	pc := cl.(*p2pCluster)
	home, err := os.MkdirTemp("", "p2pchat-bench-home-")
	if err != nil {
		return mem, err
	}
	defer os.RemoveAll(home)

	args := []string{"--json", "--no-mdns", "--home", home, "--nick", "footprint", "--listen", "/ip4/127.0.0.1/tcp/0"}
	for _, m := range pc.members {
		for _, a := range m.n.Addrs() {
			if strings.HasPrefix(a.String(), "/ip4/127.0.0.1/") {
				args = append(args, "--peer", a.String())
			}
		}
	}
	args = append(args, p2pRoom)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	stdin, err := cmd.StdinPipe() // kept open: end of input would make it leave
	if err != nil {
		return mem, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return mem, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return mem, err
	}
	if err := cmd.Start(); err != nil {
		return mem, fmt.Errorf("starting p2pchat: %w", err)
	}
	exited := make(chan error, 1)
	var gc gcTrace
	var wg sync.WaitGroup
	wg.Go(func() { gc.read(stderr) })
	events := make(chan map[string]any, 64)
	wg.Go(func() {
		defer close(events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				select {
				case events <- ev:
				default: // only the first events matter
				}
			}
		}
	})
	go func() { wg.Wait(); exited <- cmd.Wait() }()
	defer func() {
		stdin.Close() // end of input: it leaves the room and exits 0
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()

	// Ready when it holds the key and every in-process peer counts it.
	wctx, cancel := context.WithTimeout(ctx, b.cfg.setup)
	defer cancel()
	joined := false
	var last string
	err = poll(wctx, 20*time.Millisecond, func() string { return "p2pchat process never joined: " + last }, func() bool {
	drain:
		for !joined {
			select {
			case ev, ok := <-events:
				if !ok {
					last = "it exited"
					return false
				}
				joined = ev["type"] == "joined"
			default:
				break drain
			}
		}
		if !joined {
			last = "no joined event"
			return false
		}
		for i := range pc.members {
			st, ok := pc.status(i)
			if !ok || st.Roster != b.cfg.footPeers+1 || st.Members != b.cfg.footPeers {
				last = fmt.Sprintf("peer %d: roster %d, members %d", i, st.Roster, st.Members)
				return false
			}
		}
		return true
	})
	if err != nil {
		return mem, err
	}
	return mem, b.readIdle(ctx, cmd.Process.Pid, &gc, &mem)
}

// readIdle lets process pid idle for -footprint-idle, reads its memory,
// then measures its CPU and wakeups over -footprint-cpu.
func (b *bench) readIdle(ctx context.Context, pid int, gc *gcTrace, mem *memory) error {
	select {
	case <-time.After(b.cfg.footIdle):
	case <-ctx.Done():
		return ctx.Err()
	}
	st, err := procStatus(pid)
	if err != nil {
		return err
	}
	mem.rss, mem.hwm, mem.anon, mem.file = st["VmRSS"], st["VmHWM"], st["RssAnon"], st["RssFile"]
	if h, ok := gc.live(); ok {
		mem.heap = h
	}
	mem.cpuPct, mem.wakeups, err = idleCPU(ctx, pid, b.cfg.footCPU)
	return err
}

// procStatus reads the memory fields (kB) of /proc/PID/status, in MB.
func procStatus(pid int) (map[string]float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseFloat(fields[0], 64); err == nil {
			out[k] = n / 1024
		}
	}
	if _, ok := out["VmRSS"]; !ok {
		return nil, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	return out, sc.Err()
}

// gcTrace keeps the live heap reported by the child's last gctrace line:
// "gc N @…: … A->B->C MB, …", C being the heap marked live.
type gcTrace struct {
	mu   sync.Mutex
	heap float64
	seen bool
}

var gcLine = regexp.MustCompile(`^gc \d+ @.* (\d+)->(\d+)->(\d+) MB`)

func (g *gcTrace) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := gcLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		live, _ := strconv.ParseFloat(m[3], 64)
		g.mu.Lock()
		g.heap, g.seen = live, true
		g.mu.Unlock()
	}
}

func (g *gcTrace) live() (float64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.heap, g.seen
}

// idleCPU measures process pid over window: its CPU time (utime + stime of
// /proc/PID/stat) as a percentage of one core, and the voluntary context
// switches of its threads per second (threads that exit within the window
// are not counted).
func idleCPU(ctx context.Context, pid int, window time.Duration) (cpuPct, wakeups float64, err error) {
	t0, err := procTicks(pid)
	if err != nil {
		return nan, nan, err
	}
	w0 := procSwitches(pid)
	start := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return nan, nan, ctx.Err()
	}
	t1, err := procTicks(pid)
	if err != nil {
		return nan, nan, err
	}
	w1 := procSwitches(pid)
	secs := time.Since(start).Seconds()
	var switches float64
	for tid, n := range w1 {
		switches += n - w0[tid] // a thread new in the window counts from 0
	}
	return 100 * float64(t1-t0) / clockTicks / secs, switches / secs, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procTicks returns utime + stime of /proc/PID/stat.
func procTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64) // field 14 of the full line
	s, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return u + s, nil
}

// procSwitches returns voluntary_ctxt_switches per thread of pid.
func procSwitches(pid int) map[string]float64 {
	out := map[string]float64{}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread exited
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				out[p] = n
			}
		}
	}
	return out
}
