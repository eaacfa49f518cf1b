package room_test

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestSimulation runs randomized, seeded schedules of one room on the
// in-memory network, on virtual time (testing/synctest): 3 to 8 nodes with
// stores, random base and per-link delays, loss and reordering, partitions
// that heal, crashes and restarts from the same state dir, leaves and
// rejoins, CPU-starved validators, messages at random times; in some
// schedules a passphrase room with an outsider guessing a wrong passphrase,
// and a departed member that keeps every key while an eavesdropper captures
// every envelope for it. After the chaos the network goes quiet and the
// test checks (simcheck_test.go):
//
//   - safety: no node shows a message it was not in the roster of when the
//     sender sealed it (a departed or not yet admitted member, live or by
//     history sync), unless it was a member of that group only away
//     (crashed or partitioned: it may catch up); the spy reads nothing
//     sent well after its goodbye; no message is shown twice; a node with
//     a wrong passphrase shows nothing; every shown message is the one its
//     author sent;
//   - liveness: within a bounded virtual time all running members hold one
//     epoch whose roster is exactly them; every message sent by a member
//     still present is shown by every member that was in the sender's
//     roster then and stayed; few epochs are committed after the network
//     went quiet (the total, which lossy stretches inflate with spurious
//     timeouts, is only reported against the membership changes).
//
// The default sweep is short (for CI). Flags:
//
//	go test ./room/ -run TestSimulation -sim.n=2000          # long sweep
//	go test ./room/ -run TestSimulation -sim.start=5000 -sim.n=500
//	go test ./room/ -run TestSimulation -sim.seed=17 -sim.v  # one seed, trace
//
// A seed fixes the schedule exactly (actions, times, knobs) and memnet's
// random source; goroutine interleavings inside the bubble still vary, so
// a failure caused by a narrow race may need a few runs of its seed
// (-count=10). docs/TESTING.md describes the simulation.
func TestSimulation(t *testing.T) {
	seeds := simSeeds()
	var failed, gapped []uint64
	bySeed := map[string][]uint64{}
	kinds := map[string]int{} // schedules with at least one action of a kind
	var settle time.Duration
	var top, quietCommits uint32
	start := time.Now()
	for _, seed := range seeds {
		sc := genSchedule(seed)
		if sc.outsider {
			kinds["outsider"]++
		}
		seenKind := map[string]bool{}
		for _, a := range sc.actions {
			if !seenKind[a.kind] {
				seenKind[a.kind] = true
				kinds[a.kind]++
			}
		}
		var res simResult
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { res = runSchedule(t, sc) })
		})
		if !ok {
			failed = append(failed, seed)
		}
		if res.knownGaps > 0 {
			gapped = append(gapped, seed)
		}
		for c := range res.classes {
			bySeed[c] = append(bySeed[c], seed)
		}
		settle, top, quietCommits = max(settle, res.settle), max(top, res.top), max(quietCommits, res.quietCommits)
	}
	t.Logf("simulation: %d schedules (seeds %d..%d) in %v; %d failed %v; %d with known-gap (issue 12) violations %v; longest settling %v, highest final epoch %d, most commits after quiet %d",
		len(seeds), seeds[0], seeds[len(seeds)-1], time.Since(start).Round(time.Millisecond), len(failed), failed, len(gapped), gapped, settle, top, quietCommits)
	t.Logf("  schedules with each kind of action: %v", kinds)
	for _, c := range slices.Sorted(maps.Keys(bySeed)) {
		t.Logf("  %-22s in %d schedules: %v", c, len(bySeed[c]), bySeed[c])
	}
}

var (
	simN     = flag.Int("sim.n", 32, "TestSimulation: number of schedules in the sweep")
	simStart = flag.Uint64("sim.start", 1, "TestSimulation: first seed of the sweep")
	simSeed  = flag.Uint64("sim.seed", 0, "TestSimulation: run only the schedule of this seed (0: sweep)")
	simTrace = flag.Bool("sim.v", false, "TestSimulation: log every schedule's trace, not only failing ones")
)

func simSeeds() []uint64 {
	if *simSeed != 0 {
		return []uint64{*simSeed}
	}
	n := *simN
	if raceEnabled && !simNSet() {
		n = min(n, 8)
	}
	seeds := make([]uint64, max(n, 1))
	for i := range seeds {
		seeds[i] = *simStart + uint64(i)
	}
	return seeds
}

// simNSet reports whether -sim.n was given.
func simNSet() bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "sim.n" })
	return set
}

// simRoom is the simulated room's name; simPass its passphrase in the
// schedules that use one.
const (
	simRoom = "lobby"
	simPass = "sim passphrase"
)

// Kinds of schedule actions.
const (
	actSend      = "send"
	actStart     = "start" // first start or restart from the state dir, then join
	actCrash     = "crash" // off the network at once, no goodbye
	actLeave     = "leave"
	actRejoin    = "rejoin"
	actPartition = "partition"
	actHeal      = "heal"
	actNet       = "net"
	actSlow      = "slow"
	actSpy       = "spy" // says goodbye and goes off the network, keeping every key
)

// simAction is one step of a schedule, taken wait after the previous one.
type simAction struct {
	wait   time.Duration
	kind   string
	slot   int
	groups []int // partition: the side (0 or 1) of each slot
	delay  time.Duration
	reord  time.Duration
	loss   float64
	cost   time.Duration // slow: validation cost per message (0: fast again)
}

func (a simAction) String() string {
	switch a.kind {
	case actPartition:
		return fmt.Sprintf("partition %v", a.groups)
	case actHeal:
		return "heal"
	case actNet:
		return fmt.Sprintf("net delay=%v reorder=%v loss=%.2f", a.delay, a.reord, a.loss)
	case actSlow:
		return fmt.Sprintf("slow n%d cost=%v", a.slot, a.cost)
	}
	return fmt.Sprintf("%s n%d", a.kind, a.slot)
}

// simSchedule is everything a seed decides.
type simSchedule struct {
	seed       uint64
	n          int // nodes
	initial    int // nodes 0..initial-1 start and join at once
	passphrase bool
	outsider   bool // a node that joins with a wrong passphrase
	delay      time.Duration
	links      map[[2]int]time.Duration
	actions    []simAction
	changes    int // membership changes (starts, crashes, leaves, rejoins, spy, partitions)
}

func (s *simSchedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d nodes, %d start at once, passphrase=%v outsider=%v delay=%v links=%v\n",
		s.seed, s.n, s.initial, s.passphrase, s.outsider, s.delay, s.links)
	var at time.Duration
	for i, a := range s.actions {
		at += a.wait
		fmt.Fprintf(&b, "  %3d  +%-8v %s\n", i, at, a)
	}
	return b.String()
}

// Slot states in the generator's model.
const (
	stOff = iota
	stMember
	stLeft
	stGone // the spy: never comes back
)

// genSchedule derives a schedule from seed alone.
func genSchedule(seed uint64) *simSchedule {
	rng := rand.New(rand.NewPCG(seed, 0x51a7e))
	s := &simSchedule{seed: seed, n: 3 + rng.IntN(6), links: map[[2]int]time.Duration{}}
	s.initial = 2 + rng.IntN(s.n-1)
	feat := rng.Uint64()
	s.passphrase = feat%3 == 0
	s.outsider = s.passphrase && feat/3%2 == 0
	spy := feat/6%3 == 0
	s.delay = time.Duration(rng.IntN(20)) * time.Millisecond
	for range rng.IntN(s.n) {
		a, b := rng.IntN(s.n), rng.IntN(s.n)
		if a != b {
			s.links[[2]int{min(a, b), max(a, b)}] = time.Duration(rng.IntN(300)) * time.Millisecond
		}
	}
	state := make([]int, s.n)
	for i := range s.initial {
		state[i] = stMember
	}
	pick := func(want int) (int, bool) {
		var c []int
		for i, st := range state {
			if st == want {
				c = append(c, i)
			}
		}
		if len(c) == 0 {
			return 0, false
		}
		return c[rng.IntN(len(c))], true
	}
	count := func(want int) int {
		k := 0
		for _, st := range state {
			if st == want {
				k++
			}
		}
		return k
	}
	steps := 12 + rng.IntN(24)
	for len(s.actions) < steps {
		a := simAction{wait: time.Duration(rng.IntN(2500)) * time.Millisecond}
		switch x := rng.IntN(100); {
		case x < 45:
			i, ok := pick(stMember)
			if !ok {
				continue
			}
			a.kind, a.slot = actSend, i
		case x < 54:
			i, ok := pick(stOff)
			if !ok {
				continue
			}
			a.kind, a.slot = actStart, i
			state[i] = stMember
		case x < 61:
			i, ok := pick(stMember)
			if !ok || count(stMember) <= 2 {
				continue
			}
			a.kind, a.slot = actCrash, i
			state[i] = stOff
		case x < 67:
			i, ok := pick(stMember)
			if !ok || count(stMember) <= 2 {
				continue
			}
			a.kind, a.slot = actLeave, i
			state[i] = stLeft
		case x < 72:
			i, ok := pick(stLeft)
			if !ok {
				continue
			}
			a.kind, a.slot = actRejoin, i
			state[i] = stMember
		case x < 79:
			a.kind, a.groups = actPartition, make([]int, s.n)
			for i := range a.groups {
				a.groups[i] = rng.IntN(2)
			}
		case x < 85:
			a.kind = actHeal
		case x < 90:
			a.kind = actNet
			a.delay = time.Duration(rng.IntN(50)) * time.Millisecond
			a.reord = time.Duration(rng.IntN(4)) * time.Duration(rng.IntN(100)) * time.Millisecond
			a.loss = []float64{0, 0, 0.05, 0.2, 0.5}[rng.IntN(5)]
		case x < 94:
			i, ok := pick(stMember)
			if !ok {
				continue
			}
			a.kind, a.slot = actSlow, i
			a.cost = []time.Duration{0, 5 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond}[rng.IntN(4)]
		default:
			i, ok := pick(stMember)
			if !spy || !ok || count(stMember) <= 2 {
				continue
			}
			a.kind, a.slot = actSpy, i
			state[i] = stGone
			spy = false
		}
		switch a.kind {
		case actStart, actCrash, actLeave, actRejoin, actSpy, actPartition:
			s.changes++
		}
		s.actions = append(s.actions, a)
	}
	return s
}

// TestSimulationReplays replays seeds whose liveness failed for a cause
// since fixed, a few times each (their outcome depends on goroutine
// interleavings). Any liveness violation fails it, gated or not.
//
//   - Seed 53: a partition of {n0,n3} against {n1,n2} heals after an
//     earlier one, and the side whose epoch has the higher number loses
//     fork choice (it kept fewer of the common ancestor's members). Its
//     members saw only the other side's lower-numbered headers, so they
//     never asked; the winners asked, refused the losing answer and said
//     nothing, and the room stayed split (3 of 6 runs). Now the winners
//     hand the losers their chain (tellLoser) and the losers rejoin.
//   - Seeds 194 and 197: after the last partition healed, two groups of an
//     open room sat on separate epochs, each holding the other's members
//     in no roster, and never met again: meet ran once per peer and join,
//     and a partition that heals without a disconnect shows no new topic
//     peer (about 1 run in 3). Now meet tries again at a heartbeat, a
//     member timeout after the last try.
func TestSimulationReplays(t *testing.T) {
	runs := 4
	if raceEnabled {
		runs = 1 // the plain run covers the rest
	}
	for _, seed := range []uint64{53, 194, 197} {
		sc := genSchedule(seed)
		for i := range runs {
			var res simResult
			t.Run(fmt.Sprintf("seed=%d/run=%d", seed, i), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { res = runSchedule(t, sc) })
			})
			for c, n := range res.classes {
				if strings.HasPrefix(c, "live/") {
					t.Errorf("seed %d, run %d: %d %s violations", seed, i, n, c)
				}
			}
		}
	}
}
