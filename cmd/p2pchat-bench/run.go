package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// bench is one run: its configuration, where it writes and what it found.
type bench struct {
	cfg    *config
	out    io.Writer // tables and the JSON line
	logw   io.Writer // progress
	res    *results
	tables []*table

	broken   map[string]int // per stack, the smallest N whose room did not form
	failures []string       // runs that could not run
	notes    []string       // for the next table emitted
}

// errSkipped marks a run not attempted because a smaller room of the same
// stack already failed to form: it would only burn the setup timeout.
var errSkipped = errors.New("skipped")

// fail records a run that could not run; the run goes on and exits 1 at
// the end.
func (b *bench) fail(what string, err error) {
	msg := fmt.Sprintf("%s: %v", what, err)
	b.notes = append(b.notes, "NOT MEASURED: "+msg)
	if errors.Is(err, errSkipped) {
		b.logf("%s", msg)
		return
	}
	b.failures = append(b.failures, msg)
	b.logf("FAILED %s", msg)
}

// run parses args, runs the scenarios and prints their tables, the targets
// and the JSON line to stdout; progress goes to stderr. Errors in args wrap
// errUsage; -h returns flag.ErrHelp.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	return runConfig(ctx, &cfg, stdout, stderr)
}

func runConfig(ctx context.Context, cfg *config, stdout, stderr io.Writer) (err error) {
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.load {
		_, stop, err := startLoad(runtime.NumCPU())
		if err != nil {
			return err
		}
		defer func() {
			if serr := stop(); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	b := &bench{cfg: cfg, out: stdout, logw: stderr, res: newResults(), broken: map[string]int{}}
	b.res.targets = targetsFor(cfg)
	b.meta()
	start := time.Now()
	b.header()

	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"burst", b.burst},
		{"steady", b.steady},
		{"join", b.join},
		{"rekey", b.rekey},
		{"footprint", b.footprint},
		{"search", b.search},
		{"crypto", b.crypto},
	}
	for _, s := range steps {
		if !cfg.runs(s.name) {
			continue
		}
		b.logf("%s: start (%s)", s.name, resources())
		t0 := time.Now()
		if err := s.run(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("scenario %s: %w", s.name, err)
			}
			b.fail(s.name, err)
		}
		b.logf("%s: done in %v (%s)", s.name, time.Since(t0).Round(time.Millisecond), resources())
	}
	// Every documented key is written, null when not measured.
	for _, s := range allScenarios {
		for _, k := range keysOf(cfg, s) {
			if _, ok := b.res.vals[k]; !ok {
				b.res.set(k, nan)
			}
		}
	}
	b.res.meta["meta_seconds"] = round(time.Since(start).Seconds())
	missed := b.res.printTargets(stdout)
	fmt.Fprintln(stdout)
	if err := b.res.writeJSON(stdout, missed, b.failures); err != nil {
		return err
	}
	if len(b.failures) > 0 {
		return fmt.Errorf("%d run(s) could not run: %s", len(b.failures), strings.Join(b.failures, "; "))
	}
	return nil
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(b.logw, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

func (b *bench) vlogf(format string, a ...any) {
	if b.cfg.verbose {
		b.logf(format, a...)
	}
}

// emit prints a finished scenario table.
func (b *bench) emit(t *table) {
	t.notes = append(t.notes, b.notes...)
	b.notes = nil
	b.tables = append(b.tables, t)
	t.print(b.out)
}

// order is the stack order of round i: the configured order, reversed on
// odd rounds, so that drift and leftovers of the previous run hit both.
func (b *bench) order(i int) []string {
	s := slices.Clone(b.cfg.stacks)
	if i%2 == 1 {
		slices.Reverse(s)
	}
	return s
}

// settle lets a fresh room finish its start-up traffic (presence
// announcements after the last rekey, the first gossipsub heartbeats)
// before measuring.
func settle(ctx context.Context) {
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
	}
}

// meta records the machine and the run in the JSON line.
func (b *bench) meta() {
	m := b.res.meta
	m["meta_go"] = runtime.Version()
	m["meta_nproc"] = runtime.NumCPU()
	m["meta_gomaxprocs"] = runtime.GOMAXPROCS(0)
	m["meta_cpu"] = cpuModel()
	m["meta_os"] = runtime.GOOS + "/" + runtime.GOARCH
	m["meta_date"] = time.Now().UTC().Format(time.RFC3339)
	m["meta_quick"] = b.cfg.quick
	m["meta_persist"] = b.cfg.persist
	m["meta_load"] = b.cfg.load
}

func (b *bench) header() {
	m := b.res.meta
	fmt.Fprintf(b.out, "p2pchat-bench: %s, %d CPUs (%s), %s, %s\n", m["meta_os"], m["meta_nproc"], m["meta_cpu"], m["meta_go"], m["meta_date"])
	fmt.Fprintf(b.out, "stacks %s, %d-byte messages, rounds %d (steady %d), persist=%v, quick=%v, load=%v\n",
		strings.Join(b.cfg.stacks, ","), b.cfg.size, b.cfg.rounds, b.cfg.steadyRounds, b.cfg.persist, b.cfg.quick, b.cfg.load)
}

// cpuModel returns the CPU model from /proc/cpuinfo, or the architecture.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// exitStatus maps run's error to the process exit status.
func exitStatus(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}
