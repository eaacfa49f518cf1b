package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// config holds every knob of a run. defaults returns the full run, quick the
// CI smoke run; flags override either.
type config struct {
	quick     bool
	stacks    []string // stackStock and/or stackP2P
	scenarios []string // see allScenarios
	size      int      // message size in bytes
	rounds    int      // repetitions of burst and steady, alternating stack order
	persist   bool     // give every p2pchat node a store in a temp dir
	setup     time.Duration
	verbose   bool
	roomLog   bool // p2pchat rooms log at debug level to stderr
	load      bool // run a CPU hog on every core beside the benchmark

	burstN    []int
	burstMsgs int
	quiet     time.Duration // no delivery for this long ends the burst phase
	repair    time.Duration // how long to wait for late (repaired) deliveries

	steadyN      []int
	steadyRate   float64
	steadyDur    time.Duration
	steadyRounds int

	joinN      int
	joinTrials int
	joinRate   float64

	rekeyN      []int
	rekeyTrials int
	rekeyRate   float64

	footPeers  int
	footIdle   time.Duration
	footCPU    time.Duration // window for idle CPU and wakeups
	p2pchatBin string

	searchN   int    // messages in the search scenario's store
	searchDir string // reuse (or keep) the search store here instead of a temp dir

	goBench    bool
	benchTime  string
	cryptoIter int

	cpuProfile string
}

const (
	stackStock = "stock"
	stackP2P   = "p2pchat"
)

var allScenarios = []string{"burst", "steady", "join", "rekey", "footprint", "search", "crypto"}

func defaults() config {
	return config{
		stacks:       []string{stackStock, stackP2P},
		scenarios:    allScenarios,
		size:         256,
		rounds:       2,
		persist:      true,
		setup:        time.Minute,
		burstN:       []int{2, 10, 50},
		burstMsgs:    1000,
		quiet:        500 * time.Millisecond,
		repair:       5 * time.Second,
		steadyN:      []int{10, 50},
		steadyRate:   100,
		steadyDur:    10 * time.Second,
		steadyRounds: 1,
		joinN:        10,
		joinTrials:   5,
		joinRate:     100,
		rekeyN:       []int{10, 50},
		rekeyTrials:  3,
		rekeyRate:    100,
		footPeers:    5,
		footIdle:     3 * time.Second,
		footCPU:      30 * time.Second,
		searchN:      1_000_000,
		goBench:      true,
		benchTime:    "300ms",
		cryptoIter:   3000,
	}
}

// applyQuick shrinks every knob the user did not set to the smoke-run size.
func (c *config) applyQuick(set map[string]bool) {
	q := map[string]func(){
		"rounds":          func() { c.rounds = 1 },
		"burst-n":         func() { c.burstN = []int{2, 4} },
		"burst-msgs":      func() { c.burstMsgs = 100 },
		"quiet":           func() { c.quiet = 300 * time.Millisecond },
		"repair":          func() { c.repair = time.Second },
		"steady-n":        func() { c.steadyN = []int{4} },
		"steady-rate":     func() { c.steadyRate = 50 },
		"steady-dur":      func() { c.steadyDur = time.Second },
		"join-n":          func() { c.joinN = 3 },
		"join-trials":     func() { c.joinTrials = 1 },
		"join-rate":       func() { c.joinRate = 50 },
		"rekey-n":         func() { c.rekeyN = []int{4} },
		"rekey-trials":    func() { c.rekeyTrials = 1 },
		"rekey-rate":      func() { c.rekeyRate = 50 },
		"footprint-peers": func() { c.footPeers = 2 },
		"footprint-idle":  func() { c.footIdle = 500 * time.Millisecond },
		"footprint-cpu":   func() { c.footCPU = time.Second },
		"search-n":        func() { c.searchN = 20_000 },
		"gotest":          func() { c.goBench = false },
		"crypto-iter":     func() { c.cryptoIter = 200 },
	}
	for name, f := range q {
		if !set[name] {
			f()
		}
	}
}

// errUsage marks errors in the command line (exit status 2).
var errUsage = errors.New("usage")

func parseConfig(args []string, stderr io.Writer) (config, error) {
	c := defaults()
	fs := flag.NewFlagSet("p2pchat-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: p2pchat-bench [flags]\n\nRuns each scenario on stock gossipsub and on p2pchat, alternating them; see docs/BENCHMARKS.md.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.BoolVar(&c.quick, "quick", false, "smoke run: tiny N and M, short durations (flags given explicitly still apply)")
	stacks := listFlag{&c.stacks}
	fs.Var(stacks, "stacks", "stacks to run, comma separated: stock,p2pchat")
	scen := listFlag{&c.scenarios}
	fs.Var(scen, "scenarios", "scenarios to run, comma separated: "+strings.Join(allScenarios, ","))
	fs.IntVar(&c.size, "size", c.size, "message size in bytes")
	fs.IntVar(&c.rounds, "rounds", c.rounds, "burst and join: rounds per N (the stack order alternates each round and from one N to the next)")
	fs.BoolVar(&c.persist, "persist", c.persist, "give each p2pchat node a store (room/store) in a temp dir, as the p2pchat command does")
	fs.DurationVar(&c.setup, "setup-timeout", c.setup, "limit for a room of N members to form (mesh, keys, admissions)")
	fs.BoolVar(&c.verbose, "v", false, "log progress details (goroutines, file descriptors) to stderr")
	fs.BoolVar(&c.load, "load", false, "keep every core busy with a separate hog process for the whole run (a loaded laptop)")
	fs.BoolVar(&c.roomLog, "room-log", false, "write the p2pchat rooms' debug logs (rekeys, drops) to stderr")

	fs.Var(intsFlag{&c.burstN}, "burst-n", "burst: room sizes, comma separated")
	fs.IntVar(&c.burstMsgs, "burst-msgs", c.burstMsgs, "burst: messages sent by one member")
	fs.DurationVar(&c.quiet, "quiet", c.quiet, "burst/steady: the burst phase ends when nothing was delivered for this long")
	fs.DurationVar(&c.repair, "repair", c.repair, "burst/steady/rekey: extra time allowed for late deliveries (gossip repair)")

	fs.Var(intsFlag{&c.steadyN}, "steady-n", "steady: room sizes, comma separated")
	fs.Float64Var(&c.steadyRate, "steady-rate", c.steadyRate, "steady: messages per second from one member")
	fs.DurationVar(&c.steadyDur, "steady-dur", c.steadyDur, "steady: duration of the sending")
	fs.IntVar(&c.steadyRounds, "steady-rounds", c.steadyRounds, "steady: rounds per N (the stack order also alternates from one N to the next)")

	fs.IntVar(&c.joinN, "join-n", c.joinN, "join: members of the busy room")
	fs.IntVar(&c.joinTrials, "join-trials", c.joinTrials, "join: newcomers, one after the other")
	fs.Float64Var(&c.joinRate, "join-rate", c.joinRate, "join: messages per second keeping the room busy")

	fs.Var(intsFlag{&c.rekeyN}, "rekey-n", "rekey: room sizes, comma separated")
	fs.IntVar(&c.rekeyTrials, "rekey-trials", c.rekeyTrials, "rekey: members leaving, one after the other")
	fs.Float64Var(&c.rekeyRate, "rekey-rate", c.rekeyRate, "rekey: messages per second sent during the rekeys")

	fs.IntVar(&c.footPeers, "footprint-peers", c.footPeers, "footprint: in-process peers in the room of the p2pchat process")
	fs.DurationVar(&c.footIdle, "footprint-idle", c.footIdle, "footprint: idle time before reading the process's memory")
	fs.DurationVar(&c.footCPU, "footprint-cpu", c.footCPU, "footprint: window over which idle CPU and wakeups are measured, after the memory is read")
	fs.StringVar(&c.p2pchatBin, "p2pchat-bin", "", "footprint: p2pchat binary to run (default: go build ./cmd/p2pchat into a temp dir)")

	fs.IntVar(&c.searchN, "search-n", c.searchN, "search: messages in the store built for the queries")
	fs.StringVar(&c.searchDir, "search-dir", "", "search: build the store in this directory and keep it, or reuse the store already there (default: a temp dir, removed)")

	fs.BoolVar(&c.goBench, "gotest", c.goBench, "crypto: also run go test -bench in room/internal/wire and room/internal/cpace (needs the go tool and the source)")
	fs.StringVar(&c.benchTime, "benchtime", c.benchTime, "crypto: -benchtime for go test -bench")
	fs.IntVar(&c.cryptoIter, "crypto-iter", c.cryptoIter, "crypto: iterations of each inline micro-benchmark")

	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof -top FILE)")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.quick {
		c.applyQuick(set)
	}
	return c, c.check()
}

func (c *config) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
	}
	for _, s := range c.stacks {
		if s != stackStock && s != stackP2P {
			return bad("unknown stack %q", s)
		}
	}
	for _, s := range c.scenarios {
		if !slices.Contains(allScenarios, s) {
			return bad("unknown scenario %q", s)
		}
	}
	if c.size < minPayload || c.size > 16<<10 {
		return bad("-size must be %d to 16384 bytes", minPayload)
	}
	for _, ns := range [][]int{c.burstN, c.steadyN, c.rekeyN} {
		for _, n := range ns {
			if n < 2 || n > 200 {
				return bad("room sizes must be 2 to 200, not %d", n)
			}
		}
	}
	for _, n := range c.rekeyN {
		if n < 3 || n-c.rekeyTrials < 2 {
			return bad("-rekey-n %d leaves fewer than 2 members after %d trials", n, c.rekeyTrials)
		}
	}
	switch {
	case c.rounds < 1, c.steadyRounds < 1, c.burstMsgs < 1, c.joinTrials < 1, c.rekeyTrials < 1, c.cryptoIter < 1:
		return bad("counts must be positive")
	case c.joinN < 2:
		return bad("-join-n must be at least 2")
	case c.steadyRate <= 0 || c.joinRate <= 0 || c.rekeyRate <= 0:
		return bad("rates must be positive")
	case c.searchN < 1:
		return bad("-search-n must be positive")
	case c.footCPU < 100*time.Millisecond:
		return bad("-footprint-cpu must be at least 100ms")
	case c.footPeers < 1:
		return bad("-footprint-peers must be at least 1")
	}
	return nil
}

func (c *config) runs(scenario string) bool { return slices.Contains(c.scenarios, scenario) }

func (c *config) has(stack string) bool { return slices.Contains(c.stacks, stack) }

// listFlag is a comma-separated list of words.
type listFlag struct{ p *[]string }

func (l listFlag) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l listFlag) Set(v string) error {
	*l.p = nil
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l.p = append(*l.p, s)
		}
	}
	return nil
}

// intsFlag is a comma-separated list of integers.
type intsFlag struct{ p *[]int }

func (l intsFlag) String() string {
	if l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, n := range *l.p {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l intsFlag) Set(v string) error {
	*l.p = nil
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		*l.p = append(*l.p, n)
	}
	return nil
}
