package room_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/internal/memnet"
)

// Bounds of the quiet phase.
const (
	simSettle = 90 * time.Second       // all members converge within this much virtual time
	simPoll   = 500 * time.Millisecond // how often convergence is checked
	simSendTO = 10 * time.Second       // a Send gives up after this long
	simSample = 100 * time.Millisecond // how often rosters are sampled (see awayAt)
)

// simSlot is one simulated node across its restarts.
type simSlot struct {
	idx     int
	nick    string
	home    string
	id      peer.ID
	p       *peerNode   // running incarnation; nil while off
	all     []*peerNode // every incarnation, for their events
	state   int         // stOff, stMember, stLeft, stGone
	group   int
	joins   []time.Time // when it (re)joined the room
	ready   []time.Time // when it held a key after a join (admitted, or created the room)
	leaves  []time.Time // when it left on purpose (or, the spy, went away keeping its keys)
	spyRoom *room.Room  // the spy's room, keys and all
}

// simSent is one message a node sent, with the sender's view at sealing.
type simSent struct {
	slot    int
	id      string
	text    string
	at      time.Time
	allowed map[peer.ID]bool // roster of the epoch it was sealed under; nil: unknown
	members []int            // slots that were members (in the model) when it was sent
}

// simRun is one schedule being run.
type simRun struct {
	t     *testing.T
	sc    *simSchedule
	mem   *memnet.Network
	slots []*simSlot
	start time.Time
	trace []string
	out   *peerNode // the outsider with a wrong passphrase
	spy   *outsider // the eavesdropper that captures envelopes for the spy

	wg     sync.WaitGroup
	mu     sync.Mutex
	sent   []*simSent
	seq    int
	shared map[[2]int][]time.Time // (author, member): when member was in author's roster

	atQuiet  uint32 // the highest epoch number when the network went quiet
	remedied int    // members that left and joined again because their group formed apart (rejoinApart)
}

// simResult is what a schedule reports to the sweep.
type simResult struct {
	knownGaps    int
	quietCommits uint32 // epochs committed after the network went quiet
	classes      map[string]int
	top          uint32 // the final epoch number
	changes      int
	settle       time.Duration
}

func (r *simRun) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trace = append(r.trace, fmt.Sprintf("  %9v  ", time.Since(r.start))+fmt.Sprintf(format, args...))
}

// runSchedule runs sc inside the caller's synctest bubble.
func runSchedule(t *testing.T, sc *simSchedule) simResult {
	r := &simRun{t: t, sc: sc, mem: memnet.New(sc.seed), start: time.Now(), shared: map[[2]int][]time.Time{}}
	testNets.Store(t, &testNet{mem: r.mem})
	t.Cleanup(func() { testNets.Delete(t) })
	dir := t.TempDir()
	for i := range sc.n {
		s := &simSlot{idx: i, nick: fmt.Sprintf("n%d", i), home: filepath.Join(dir, fmt.Sprint(i))}
		id, _, err := identity.LoadOrCreate(s.home)
		if err != nil {
			t.Fatal(err)
		}
		s.id = id.PeerID()
		r.slots = append(r.slots, s)
	}
	r.mem.SetDelay(sc.delay)
	for k, d := range sc.links {
		r.mem.SetLinkDelay(r.slots[k[0]].id, r.slots[k[1]].id, d)
	}
	if sc.outsider {
		r.out = newPeer(t, "outsider")
	}
	if slices.ContainsFunc(sc.actions, func(a simAction) bool { return a.kind == actSpy }) {
		r.spy = newOutsider(t, room.TopicFor(simRoom))
	}
	for i := range sc.initial {
		r.startSlot(r.slots[i])
	}
	if r.out != nil {
		r.connectAll()
		r.out.joinWith(simRoom, pass("not the passphrase"))
	}
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		r.sample(stop)
	}()
	defer func() {
		close(stop)
		<-sampled
	}()
	for i, a := range sc.actions {
		time.Sleep(a.wait)
		r.logf("%3d %s", i, a)
		r.apply(a)
	}
	r.wg.Wait()
	quietAt := time.Now()
	r.atQuiet = r.topEpoch()
	r.logf("quiet: heal, loss and reordering off, validators fast; highest epoch %d", r.atQuiet)
	r.quiet()
	settled := r.settle()
	if !settled && r.sc.passphrase {
		// Groups of a passphrase room that formed apart stay apart until
		// a user joins again (docs/PROTOCOL.md section 5): do what the
		// documentation tells the users of the smaller groups to do, and
		// require convergence after it.
		if r.remedied = r.rejoinApart(); r.remedied > 0 {
			settled = r.settle()
		}
	}
	r.logf("settled=%v after %v", settled, time.Since(quietAt))
	return r.check(settled, time.Since(quietAt))
}

// rejoinApart makes every running member outside the largest group (by
// the key it holds; a tie goes to the group of the lowest slot) leave the
// room and join it again, and returns how many did.
func (r *simRun) rejoinApart() int {
	groups := map[string][]*simSlot{}
	var order []string
	for _, s := range r.finalMembers() {
		rm, err := s.p.m.Room(simRoom)
		if err != nil {
			continue
		}
		_, key, _, ok := simView(rm)
		if !ok {
			continue
		}
		k := fmt.Sprint(key)
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	if len(groups) < 2 {
		return 0
	}
	best := order[0]
	for _, k := range order[1:] {
		if len(groups[k]) > len(groups[best]) {
			best = k
		}
	}
	n := 0
	for _, k := range order {
		if k == best {
			continue
		}
		for _, s := range groups[k] {
			r.logf("remedy: n%d leaves and joins again (passphrase groups formed apart)", s.idx)
			r.apply(simAction{kind: actLeave, slot: s.idx})
			r.apply(simAction{kind: actRejoin, slot: s.idx})
			n++
		}
	}
	return n
}

// topEpoch is the highest epoch number a running member holds.
func (r *simRun) topEpoch() uint32 {
	var top uint32
	for _, s := range r.finalMembers() {
		if rm, err := s.p.m.Room(simRoom); err == nil {
			if n, _, _, ok := simView(rm); ok {
				top = max(top, n)
			}
		}
	}
	return top
}

func (r *simRun) apply(a simAction) {
	var s *simSlot
	if a.kind != actPartition && a.kind != actHeal && a.kind != actNet {
		s = r.slots[a.slot]
	}
	switch a.kind {
	case actSend:
		r.send(s)
	case actStart:
		r.startSlot(s)
	case actCrash:
		s.p.closeNet()
		s.p.close()
		r.locked(func() { s.p, s.state = nil, stOff })
	case actLeave:
		if err := s.p.m.Leave(context.Background(), simRoom); err != nil {
			r.t.Fatalf("n%d leave: %v", s.idx, err)
		}
		r.locked(func() {
			s.state = stLeft
			s.leaves = append(s.leaves, time.Now())
		})
	case actRejoin:
		r.join(s)
	case actPartition:
		for _, x := range r.slots {
			x.group = a.groups[x.idx]
		}
		r.applyGroups()
	case actHeal:
		for _, x := range r.slots {
			x.group = 0
		}
		r.applyGroups()
	case actNet:
		r.mem.SetDelay(a.delay)
		r.mem.SetReorder(a.reord)
		r.mem.SetLoss(a.loss)
	case actSlow:
		r.mem.SetValidateCost(s.id, a.cost)
	case actSpy:
		rm := mustRoom(r.t, s.p, simRoom)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := rm.SayByeForTest(ctx); err != nil {
			r.logf("    spy goodbye: %v", err)
		}
		cancel()
		s.p.closeNet()
		r.locked(func() {
			s.spyRoom, s.state = rm, stGone
			s.leaves = append(s.leaves, time.Now())
		})
	}
}

// startSlot starts s from its state dir, links it to every reachable
// running node and joins the room.
func (r *simRun) startSlot(s *simSlot) {
	p := newPeerAt(r.t, s.nick, s.home)
	r.locked(func() {
		s.p = p
		s.all = append(s.all, p)
	})
	r.connectAll()
	r.join(s)
}

func (r *simRun) join(s *simSlot) {
	opts := room.JoinOptions{}
	if r.sc.passphrase {
		opts = pass(simPass)
	}
	rm := s.p.joinWith(simRoom, opts)
	r.locked(func() {
		s.state = stMember
		s.joins = append(s.joins, time.Now())
	})
	p := s.p
	go func() {
		select {
		case <-rm.Ready():
			r.mu.Lock()
			s.ready = append(s.ready, time.Now())
			r.mu.Unlock()
		case <-p.done:
		}
	}()
}

// awayAt reports whether s was, at t, an away member of the group that m
// was sealed for: since it last (re)joined on purpose and before t it
// shared a roster with one of the members m was sealed for, and it had not
// left since. It may have crashed (and restarted) or been cut off by a
// partition; history sync and re-sends may then give it what the group
// said while it was away. A member of another group under the same name
// (nodes that started on opposite sides of a partition) shares no roster
// with the group until the groups merge.
func (r *simRun) awayAt(m *simSent, s *simSlot, t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var left time.Time // its last leave before t
	for _, l := range s.leaves {
		if l.Before(t) && l.After(left) {
			left = l
		}
	}
	// Its first admission after that leave: rosters that still listed it
	// after it left (others had not rekeyed yet) do not count.
	var since time.Time
	for _, x := range s.ready {
		if x.After(left) && x.Before(t) && (since.IsZero() || x.Before(since)) {
			since = x
		}
	}
	if since.IsZero() {
		return false
	}
	for _, a := range r.slots {
		if a.idx != m.slot && (m.allowed == nil || !m.allowed[a.id]) {
			continue
		}
		if slices.ContainsFunc(r.shared[[2]int{a.idx, s.idx}], func(x time.Time) bool { return !x.Before(since) && !x.After(t) }) {
			return true
		}
	}
	return false
}

// sample records, every simSample until stop is closed, which slots are
// in each running member's roster (for awayAt).
func (r *simRun) sample(stop <-chan struct{}) {
	for {
		now := time.Now()
		for _, a := range r.slots {
			rm := r.roomOf(a)
			if rm == nil {
				continue
			}
			_, _, roster, ok := simView(rm)
			if !ok {
				continue
			}
			r.mu.Lock()
			for _, s := range r.slots {
				if slices.Contains(roster, s.id) {
					k := [2]int{a.idx, s.idx}
					r.shared[k] = append(r.shared[k], now)
				}
			}
			r.mu.Unlock()
		}
		select {
		case <-stop:
			return
		case <-time.After(simSample):
		}
	}
}

// locked runs f under r.mu: the driver changes a slot's fields only so,
// as the roster sampler reads them.
func (r *simRun) locked(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

// roomOf returns a's room, nil while it is off or not in the room.
func (r *simRun) roomOf(a *simSlot) *room.Room {
	r.mu.Lock()
	p, st := a.p, a.state
	r.mu.Unlock()
	if p == nil || st != stMember {
		return nil
	}
	rm, err := p.m.Room(simRoom)
	if err != nil {
		return nil
	}
	return rm
}

// applyGroups blocks every pair of slots on different sides and links
// every other pair of running nodes.
func (r *simRun) applyGroups() {
	for _, a := range r.slots {
		for _, b := range r.slots {
			if a.idx < b.idx && a.group != b.group {
				r.mem.Block(a.id, b.id)
			} else if a.idx < b.idx {
				r.mem.Unblock(a.id, b.id) // fails for nodes that are off: they link when they start
			}
		}
	}
	r.connectAll()
}

// connectAll links every pair of running nodes that is not partitioned,
// and the outsider and the eavesdropper to every running node.
func (r *simRun) connectAll() {
	var ids []peer.ID
	for _, s := range r.slots {
		if s.p != nil && s.state != stGone {
			ids = append(ids, s.id)
		}
	}
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			r.mem.Connect(a, b) // a blocked pair stays apart
		}
		if r.out != nil {
			r.mem.Connect(a, r.out.id.PeerID())
		}
		if r.spy != nil {
			r.mem.Connect(a, r.spy.id.PeerID())
		}
	}
}

// send sends one message from s in the background, recording the roster
// of the epoch it was sealed under.
func (r *simRun) send(s *simSlot) {
	r.mu.Lock()
	r.seq++
	text := fmt.Sprintf("m%d from %s", r.seq, s.nick)
	r.mu.Unlock()
	var members []int
	for _, x := range r.slots {
		if x.state == stMember {
			members = append(members, x.idx)
		}
	}
	p, at := s.p, time.Now()
	r.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), simSendTO)
		defer cancel()
		rm, err := p.m.Room(simRoom)
		if err != nil {
			r.logf("    %q not sent: %v", text, err)
			return
		}
		msg, err := rm.Send(ctx, text, false)
		if err != nil {
			r.logf("    %q not sent: %v", text, err)
			return
		}
		m := &simSent{slot: s.idx, id: msg.ID, text: text, at: at, members: members}
		if roster, ok := simSentRoster(rm, msg.Seq); ok {
			m.allowed = map[peer.ID]bool{}
			for _, q := range roster {
				m.allowed[q] = true
			}
		}
		r.mu.Lock()
		r.sent = append(r.sent, m)
		r.mu.Unlock()
		r.logf("    %q sealed for %s", text, r.names(m.allowed))
	})
}

// simSentRoster is the roster of the epoch that r's message seq was
// sealed under (the sender's view); see SimSentRosterForTest.
func simSentRoster(r *room.Room, seq uint64) ([]peer.ID, bool) { return r.SimSentRosterForTest(seq) }

// simView is r's current epoch (number, key id, roster); see
// SimViewForTest.
func simView(r *room.Room) (uint32, string, []peer.ID, bool) { return r.SimViewForTest() }

func (r *simRun) names(set map[peer.ID]bool) string {
	if set == nil {
		return "(unknown roster)"
	}
	var out []string
	for _, s := range r.slots {
		if set[s.id] {
			out = append(out, s.nick)
		}
	}
	return "{" + strings.Join(out, ",") + "}"
}

// quiet heals every partition and turns loss, reordering and slow
// validation off; the base and per-link delays stay.
func (r *simRun) quiet() {
	for _, s := range r.slots {
		s.group = 0
		r.mem.SetValidateCost(s.id, 0)
	}
	r.mem.SetLoss(0)
	r.mem.SetReorder(0)
	r.mem.SetDelay(r.sc.delay)
	r.applyGroups()
}

// finalMembers are the slots running and in the room after the chaos.
func (r *simRun) finalMembers() []*simSlot {
	var out []*simSlot
	for _, s := range r.slots {
		if s.p != nil && s.state == stMember {
			out = append(out, s)
		}
	}
	return out
}

// settle waits (bounded) until the liveness properties hold.
func (r *simRun) settle() bool {
	deadline := time.Now().Add(simSettle)
	for time.Now().Before(deadline) {
		if len(r.liveness()) == 0 {
			return true
		}
		time.Sleep(simPoll)
	}
	return false
}
