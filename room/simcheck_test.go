package room_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// simKnownGapIssue12 gates the violation classes in simKnownGaps, which
// protocol v3 still fails (issue 12): while it is true such violations are
// counted and printed in the sweep's summary, not failed. Every class not
// listed fails the test.
const simKnownGapIssue12 = true

// simKnownGaps are the violation classes gated by simKnownGapIssue12,
// with the cause seen in their traces. Only liveness is gated: every
// safety class fails the test. (History sync that served a member what was
// sent before its admission, or in another group before groups merged —
// a/before-join/sync, a/other-group/sync — is gone since sync serves a
// record only to the roster of the epoch it was sealed under: 0 of seeds
// 1-232 on 2026-12-03, as was live/missing-away, so they fail again.)
var simKnownGaps = map[string]string{
	// Liveness under heavy chaos (crashes, restarts, partitions with 5-50%
	// loss, slow validators): in a few schedules the members do not all
	// end on one epoch within the settle bound. Three causes are fixed
	// (TestSimulationReplays, TestStrangerCannotRefuseJoiners); the rest,
	// 1 or 2 of seeds 1-232 on 2026-12-03, are not (docs/TESTING.md).
	"live/epoch":  "v3 convergence after heavy chaos: members left on different epochs",
	"live/roster": "v3 convergence after heavy chaos: members left on different epochs",
}

// simDepartGrace bounds how long after a member's goodbye the others may
// still seal under an epoch that includes it: the goodbye may be lost, so
// the member timeout (3 heartbeats), the rekey wait and an admission
// timeout, with room to spare.
const simDepartGrace = 10 * time.Second

// simViolation is one failed property: its class names the property
// (a/..., b/..., c/..., live/...) and detail says what happened.
type simViolation struct{ class, detail string }

func (v simViolation) known() bool {
	_, ok := simKnownGaps[v.class]
	return simKnownGapIssue12 && ok
}

// info reports a class that is counted but is no violation.
func (v simViolation) info() bool { return strings.HasPrefix(v.class, "info/") }

// shown is one message event of a node.
type shown struct {
	slot *simSlot
	msg  *room.Message
}

// shownBy returns the message events of every incarnation of s.
func shownBy(s *simSlot) []shown {
	var out []shown
	for _, p := range s.all {
		p.mu.Lock()
		for _, ev := range p.events {
			if ev.Type == room.EventMessage && ev.Room == simRoom {
				out = append(out, shown{s, ev.Message})
			}
		}
		p.mu.Unlock()
	}
	return out
}

// toldWrongPassphrase reports whether p's user was told that a peer refused
// the room's passphrase.
func toldWrongPassphrase(p *peerNode) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.events, func(ev room.Event) bool { return ev.Reason == room.ReasonWrongPassphrase })
}

// liveness returns what keeps the room from having settled: members
// without one common epoch whose roster is exactly them, and messages a
// member that was in the room when they were sent (and is still) does not
// show.
func (r *simRun) liveness() []simViolation {
	var vs []simViolation
	final := r.finalMembers()
	want := map[peer.ID]bool{}
	for _, s := range final {
		want[s.id] = true
	}
	var key string
	for _, s := range final {
		rm, err := s.p.m.Room(simRoom)
		if err != nil {
			vs = append(vs, simViolation{"live/epoch", fmt.Sprintf("%s: %v", s.nick, err)})
			continue
		}
		n, k, roster, ok := simView(rm)
		switch {
		case !ok && r.sc.outsider && toldWrongPassphrase(s.p):
			// Every member has the room's passphrase, so the refusal came
			// from the outsider, which holds a key of its own under the
			// name: with no member holding a key, a node refused never
			// creates one (PROTOCOL.md sections 7 and 11).
			vs = append(vs, simViolation{"info/refused-by-stranger", s.nick + " holds no key: the outsider refused it and no member had a key to admit it"})
			continue
		case !ok:
			vs = append(vs, simViolation{"live/epoch", s.nick + " holds no key"})
			continue
		case key == "":
			key = k
		case k != key:
			vs = append(vs, simViolation{"live/epoch", fmt.Sprintf("%s holds epoch %d %.8s, %s holds %.8s", s.nick, n, k, final[0].nick, key)})
		}
		got := map[peer.ID]bool{}
		for _, q := range roster {
			got[q] = true
		}
		if !maps.Equal(got, want) {
			vs = append(vs, simViolation{"live/roster", fmt.Sprintf("%s's roster %s, running members %s", s.nick, r.names(got), r.names(want))})
		}
	}
	seen := map[*simSlot]map[string]bool{}
	for _, s := range final {
		seen[s] = map[string]bool{}
		for _, sh := range shownBy(s) {
			seen[s][sh.msg.ID] = true
		}
	}
	r.mu.Lock()
	sent := slices.Clone(r.sent)
	r.mu.Unlock()
	for _, m := range sent {
		a := r.slots[m.slot]
		if a.state != stMember || a.p == nil || leftSince(a, m.at) {
			continue // its author is gone: nobody may hold it
		}
		for _, s := range final {
			// It was in the room then: in the roster the message was sealed
			// for, or a member of a's group away (crashed, partitioned).
			inRoom := m.allowed != nil && m.allowed[s.id] && slices.Contains(m.members, s.idx) || r.awayAt(m, s, m.at)
			if s == a || !inRoom || leftSince(s, m.at) {
				continue
			}
			if !seen[s][m.id] {
				class := "live/missing"
				switch {
				case m.allowed == nil:
					class = "live/missing-away" // it was away when m was sent
				case !m.allowed[s.id]:
					// Away, and the others had removed it: m was sealed for
					// an epoch without it, which history sync never serves
					// it (docs/PROTOCOL.md section 9). Counted, allowed.
					class = "info/away-excluded"
				}
				vs = append(vs, simViolation{class, fmt.Sprintf("%s never shows %q (sealed for %s)", s.nick, m.text, r.names(m.allowed))})
			}
		}
	}
	return vs
}

func leftSince(s *simSlot, t time.Time) bool {
	return slices.ContainsFunc(s.leaves, func(l time.Time) bool { return !l.Before(t) })
}

// check runs the spy's attack, then the safety properties, the epoch bound
// and (if the room did not settle) the liveness ones, and reports.
func (r *simRun) check(settled bool, took time.Duration) simResult {
	r.spyAttack()
	var vs []simViolation
	byID := map[string]*simSent{}
	for _, m := range r.sent {
		byID[m.id] = m
	}
	for _, s := range r.slots {
		count := map[string]int{}
		for _, sh := range shownBy(s) {
			count[sh.msg.ID]++
			if count[sh.msg.ID] == 2 {
				vs = append(vs, simViolation{"b/twice", fmt.Sprintf("%s shows %q twice", s.nick, sh.msg.Text)})
			}
			m := byID[sh.msg.ID]
			if m == nil || m.text != sh.msg.Text || r.slots[m.slot].id != sh.msg.From {
				vs = append(vs, simViolation{"c/unknown", fmt.Sprintf("%s shows %q from %s, which its author never sent", s.nick, sh.msg.Text, sh.msg.From)})
				continue
			}
			if m.allowed != nil && !m.allowed[s.id] {
				vs = append(vs, r.unauthorized(s, sh, m))
			} else if gone := s.leaves; s.spyRoom != nil && !sh.msg.Self && m.at.After(gone[len(gone)-1].Add(simDepartGrace)) {
				// The spy's departure is its last leave.
				vs = append(vs, simViolation{"a/spy-late", fmt.Sprintf("the departed %s, keeping its keys, reads %q sent %v after it left",
					s.nick, m.text, m.at.Sub(gone[len(gone)-1]))})
			}
		}
	}
	if r.out != nil {
		r.out.mu.Lock()
		for _, ev := range r.out.events {
			if ev.Type == room.EventMessage {
				vs = append(vs, simViolation{"b/outsider", fmt.Sprintf("the outsider with a wrong passphrase shows %q", ev.Message.Text)})
			}
		}
		r.out.mu.Unlock()
		// It may create a group of its own under the name (two groups,
		// one name: TestTwoGroupsSameName); nobody else may be in it.
		if rm, err := r.out.m.Room(simRoom); err == nil {
			if _, _, roster, ok := simView(rm); ok && (len(roster) != 1 || roster[0] != r.out.id.PeerID()) {
				vs = append(vs, simViolation{"b/outsider", fmt.Sprintf("the outsider's epoch has roster %v", roster)})
			}
		}
	}
	// Commits are bounded once the network is quiet (merging groups and
	// dropping crashed members cost about one each); before that, lossy
	// stretches time members out spuriously and each costs a rekey, so the
	// total is only reported (info/churn) against a bound of the membership
	// changes.
	top := r.topEpoch()
	quiet := top - min(top, r.atQuiet)
	if bound := uint32(2*r.sc.n + 4); quiet > bound {
		vs = append(vs, simViolation{"live/commits", fmt.Sprintf("%d epochs committed after the network went quiet (from %d to %d; bound %d)", quiet, r.atQuiet, top, bound)})
	}
	if bound := uint32(4*r.sc.changes + 2*r.sc.n + 4); top > bound {
		vs = append(vs, simViolation{"info/churn", fmt.Sprintf("epoch number %d after %d membership changes (bound %d without loss)", top, r.sc.changes, bound)})
	}
	if r.remedied > 0 {
		vs = append(vs, simViolation{"info/apart-rejoined", fmt.Sprintf("%d member(s) of passphrase groups that formed apart left and joined again", r.remedied)})
	}
	if !settled {
		vs = append(vs, r.liveness()...)
	}
	return r.report(vs, top, took)
}

// unauthorized classifies a message shown by a node that was not in the
// roster it was sealed for.
func (r *simRun) unauthorized(s *simSlot, sh shown, m *simSent) simViolation {
	how := "live"
	if sh.msg.Synced {
		how = "sync"
	}
	class := "a/after-leave"
	r.mu.Lock()
	firstReady := slices.MinFunc(append(slices.Clone(s.ready), time.Now()), time.Time.Compare)
	r.mu.Unlock()
	switch {
	case r.awayAt(m, s, m.at) && how == "sync":
		// Crashed or cut off, and removed meanwhile: history sync serves
		// a record only to the roster of its epoch.
		class = "a/away"
	case r.awayAt(m, s, m.at):
		class = "info/away" // crashed or cut off: allowed live, as TestPartitionsConverge wants
	case s.spyRoom != nil && !leftSince(s, m.at):
		class = "a/spy"
	case !firstReady.Before(m.at):
		class = "a/before-join"
	case !slices.ContainsFunc(s.leaves, func(l time.Time) bool { return l.Before(m.at) }):
		class = "a/other-group" // never left: it was in a group the author's had not merged with yet
	}
	return simViolation{class + "/" + how, fmt.Sprintf("%s shows %q sent at %v by %s sealed for %s",
		s.nick, m.text, m.at.Sub(r.start), r.slots[m.slot].nick, r.names(m.allowed))}
}

// spyAttack feeds every envelope the eavesdropper captured to the spy's
// room, which kept every key it ever held.
func (r *simRun) spyAttack() {
	if r.spy == nil {
		return
	}
	for _, s := range r.slots {
		if s.spyRoom == nil {
			continue
		}
		envs := r.spy.envelopes()
		for _, env := range envs {
			s.spyRoom.DeliverForTest(env, r.spy.id.PeerID())
		}
		r.logf("spy %s was fed %d captured envelopes", s.nick, len(envs))
	}
	time.Sleep(100 * time.Millisecond)
	synctest.Wait()
}

func (r *simRun) report(vs []simViolation, top uint32, took time.Duration) simResult {
	t := r.t
	res := simResult{top: top, changes: r.sc.changes, settle: took, quietCommits: top - min(top, r.atQuiet)}
	var hard []string
	classes := map[string]int{}
	res.classes = classes
	for _, v := range vs {
		classes[v.class]++
		if v.info() {
			continue
		}
		if v.known() {
			res.knownGaps++
			continue
		}
		hard = append(hard, v.class+": "+v.detail)
	}
	t.Logf("seed %d: %d nodes, %d actions (%d membership changes), %d messages, final epoch %d, settled after %v quiet; classes %v",
		r.sc.seed, r.sc.n, len(r.sc.actions), r.sc.changes, len(r.sent), top, took.Round(simPoll), classes)
	if logs := debugLog(t); logs != "" && (len(hard) > 0 || res.knownGaps > 0) {
		// Kept after the test (not t.TempDir): it is what the run is for.
		f, err := os.CreateTemp("", fmt.Sprintf("p2pchat-sim-seed%d-*.log", r.sc.seed))
		if err == nil {
			_, err = f.WriteString(logs)
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			t.Errorf("saving the debug log: %v", err)
		} else {
			t.Logf("seed %d: the nodes' debug log is in %s", r.sc.seed, f.Name())
		}
	}
	if len(hard) > 0 || *simTrace {
		var b strings.Builder
		b.WriteString(r.sc.String())
		b.WriteString("trace:\n")
		r.mu.Lock()
		b.WriteString(strings.Join(r.trace, "\n"))
		r.mu.Unlock()
		b.WriteString("\nfinal views:\n")
		for _, s := range r.slots {
			fmt.Fprintf(&b, "  %s %s\n", s.nick, r.viewOf(s))
		}
		for _, v := range vs {
			label := "violation"
			if v.info() {
				label = "note (allowed)"
			}
			fmt.Fprintf(&b, "  %s %s: %s\n", label, v.class, v.detail)
		}
		t.Log(b.String())
	}
	if len(hard) > 0 {
		t.Errorf("seed %d (reproduce: go test ./room/ -run 'TestSimulation' -sim.seed=%d -sim.v): %d violations:\n  %s",
			r.sc.seed, r.sc.seed, len(hard), strings.Join(hard, "\n  "))
	}
	return res
}

func (r *simRun) viewOf(s *simSlot) string {
	if s.p == nil {
		return "off"
	}
	rm := s.spyRoom
	if rm == nil {
		var err error
		if rm, err = s.p.m.Room(simRoom); err != nil {
			return "not in the room"
		}
	}
	n, k, roster, ok := simView(rm)
	if !ok {
		return "no key"
	}
	set := map[peer.ID]bool{}
	for _, q := range roster {
		set[q] = true
	}
	return fmt.Sprintf("epoch %d %.8s roster %s", n, k, r.names(set))
}
