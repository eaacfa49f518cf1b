package room_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// TestDepartedMemberCannotCommitBack (issue 12 item 1): after dan left and
// alice and bob moved to an epoch without him, dan makes a commit on the
// old parent (his last epoch) and pushes it with its secret to them. They
// refuse it; dan does not read what alice sends next, live or by history
// sync.
func TestDepartedMemberCannotCommitBack(t *testing.T) {
	for _, mode := range []string{"join on the old parent", "remove the remover, longer branch"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			inBubble(t, func(t *testing.T) { testDepartedCommitsBack(t, mode) })
		})
	}
}

func testDepartedCommitsBack(t *testing.T, mode string) {
	{
		a, b, d := newPeer(t, "alice"), newPeer(t, "bob"), newPeer(t, "dan")
		connectAll(t, a, b, d)
		for _, p := range []*peerNode{a, b, d} {
			p.joinWith("vault", pass("shared secret"))
		}
		for _, p := range []*peerNode{a, b, d} {
			for _, q := range []*peerNode{a, b, d} {
				if p != q {
					p.waitMember("vault", q)
				}
			}
		}
		dRoom := mustRoom(t, d, "vault")
		// Dan knows the passphrase: he could be admitted again, which
		// alice and bob would see as member_joined. The attack here is
		// getting back in without that.
		dRoom.NoAutoRejoinForTest()
		if err := dRoom.SayByeForTest(context.Background()); err != nil {
			t.Fatal(err)
		}
		a.waitEvent("dan leaves", func(ev room.Event) bool {
			return ev.Type == room.EventMemberLeft && ev.Peer == d.id.PeerID()
		})
		waitFor(t, "an epoch without dan", func() bool {
			return a.m.Status().Rooms[0].Roster == 2 && b.m.Status().Rooms[0].Roster == 2
		})
		if _, err := a.m.Send(context.Background(), "vault", "sent while dan was away"); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("vault", "sent while dan was away")
		before := a.m.Status().Rooms[0]

		// Dan, still connected with every key he had, commits himself
		// back on his last epoch and hands it to alice and bob.
		attack := dRoom.RekeyBackForTest
		if mode != "join on the old parent" {
			// The remover is whoever committed dan's removal: with the
			// lowest peer ID of alice and bob, at once.
			remover := a.id.PublicKey()
			if b.id.PeerID() < a.id.PeerID() {
				remover = b.id.PublicKey()
			}
			attack = func() error { return dRoom.RemoveBackForTest(remover, 3) }
		}
		if err := attack(); err != nil {
			t.Fatal(err)
		}
		quiet(t, time.Second)
		if n := a.m.Status().Rooms[0].Drops[room.DropRekey] + b.m.Status().Rooms[0].Drops[room.DropRekey]; n == 0 {
			t.Error("dan's commit was not refused by anyone")
		}
		for _, p := range []*peerNode{a, b} {
			st := p.m.Status().Rooms[0]
			if st.Roster != 2 || st.KeyID != before.KeyID {
				t.Fatalf("%s adopted dan's epoch: %+v (before: %+v)", p.nick, st, before)
			}
		}
		if _, err := a.m.Send(context.Background(), "vault", "for alice and bob only"); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("vault", "for alice and bob only")
		quiet(t, 2*time.Second)
		for _, text := range []string{"for alice and bob only", "sent while dan was away"} {
			if hasText(d, "vault", text) {
				t.Errorf("dan reads %q, sent after he left", text)
			}
		}
		if isMember(a, "vault", d) {
			t.Error("alice lists dan as a member again")
		}
	}
}

// TestOutsiderEpochStartsNoAdmission (issue 12 item 2): a peer outside the
// room (here: another group using the name with another passphrase) whose
// envelopes name a better epoch does not make a member run the joiner side
// of CPace against it: no guess can be tested that way.
func TestOutsiderEpochStartsNoAdmission(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b, x := newPeer(t, "alice"), newPeer(t, "bob"), newPeer(t, "mallory")
		connect(t, a, b)
		ra := a.joinWith("plans", pass("the real one"))
		<-ra.Ready()
		b.joinWith("plans", pass("the real one"))
		a.waitMember("plans", b)
		rx := x.joinWith("plans", pass("a guess"))
		<-rx.Ready()
		var s [32]byte
		s[0] = 1
		if !rx.AdoptForTest(1000, s, []ed25519.PublicKey{x.id.PublicKey()}) {
			t.Fatal("mallory's epoch not adopted")
		}
		runs := ra.JoinerRunsForTest() + mustRoom(t, b, "plans").JoinerRunsForTest()
		connectAll(t, a, b, x)
		for i := range 20 {
			if _, err := x.m.Send(context.Background(), "plans", "better epoch "+string(rune('a'+i))); err != nil {
				t.Fatal(err)
			}
			quiet(t, 200*time.Millisecond)
		}
		got := ra.JoinerRunsForTest() + mustRoom(t, b, "plans").JoinerRunsForTest()
		if got != runs {
			t.Errorf("members ran the joiner side of CPace %d times against an outsider's epoch", got-runs)
		}
		if st := a.m.Status().Rooms[0]; st.Epoch >= 1000 {
			t.Errorf("alice moved to the outsider's epoch: %+v", st)
		}
	})
}

// TestEpochNumberBounded (issue 12 item 3): a member that pushes an epoch
// numbered far past the current one (up to 0xFFFFFFFF) is refused: numbers
// advance by exactly one per commit, departures are still committed and
// messages still flow.
func TestEpochNumberBounded(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b, c := newPeer(t, "alice"), newPeer(t, "bob"), newPeer(t, "carol")
		connectAll(t, a, b, c)
		for _, p := range []*peerNode{a, b, c} {
			p.join("lobby")
		}
		for _, p := range []*peerNode{a, b, c} {
			for _, q := range []*peerNode{a, b, c} {
				if p != q {
					p.waitMember("lobby", q)
				}
			}
		}
		waitFor(t, "one epoch", func() bool {
			k := a.m.Status().Rooms[0].KeyID
			return b.m.Status().Rooms[0].KeyID == k && c.m.Status().Rooms[0].KeyID == k
		})
		before := a.m.Status().Rooms[0].Epoch
		if err := mustRoom(t, c, "lobby").PushNumberForTest(0xFFFFFFFF); err != nil {
			t.Fatal(err)
		}
		quiet(t, time.Second)
		for _, p := range []*peerNode{a, b} {
			if st := p.m.Status().Rooms[0]; st.Epoch > before+1 {
				t.Fatalf("%s moved from epoch %d to %d", p.nick, before, st.Epoch)
			}
		}
		// A departure is still committed, and the rest still talk. (Wait for
		// the commit: a message sent before alice hears the goodbye goes
		// out under the old epoch, as PROTOCOL.md allows; checking the
		// roster right after such a message failed 8 of 30 runs under -race.)
		if err := c.m.Leave(context.Background(), "lobby"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "alice commits carol's departure", func() bool { return a.m.Status().Rooms[0].Roster == 2 })
		if st := a.m.Status().Rooms[0]; st.Epoch > before+2 {
			t.Errorf("after the departure: %+v (epoch before the attack %d)", st, before)
		}
		if _, err := a.m.Send(context.Background(), "lobby", "after carol"); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("lobby", "after carol")
	})
}

// TestAbandonedAdmissionsCounted (issue 12 item 7): a joiner that walks away
// after the member's Challenge is counted like a wrong guess; after five
// it is refused with the time left, and members are told once.
func TestAbandonedAdmissionsCounted(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a := newPeer(t, "alice")
		<-a.join("lobby").Ready()
		o := newOutsider(t, room.TopicFor("lobby"))
		connect(t, a, o.peer())
		rid := wire.DeriveRoomID("lobby")
		var last wire.Frame
		challenges := 0
		for range 8 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s, err := o.tr.Open(ctx, a.id.PeerID(), room.ProtocolAdmit)
			if err != nil {
				t.Fatal(err)
			}
			hello := &wire.Hello{Room: rid}
			if err := node.WriteFrame(s, wire.EncodeFrame(hello)); err != nil {
				t.Fatal(err)
			}
			last = readWireFrame(t, s)
			if _, ok := last.(*wire.Challenge); ok {
				challenges++
			}
			s.Reset() // abandon after the Challenge
			cancel()
		}
		if challenges != 5 {
			t.Errorf("%d CPace runs for abandoned admissions, want 5", challenges)
		}
		ref, ok := last.(*wire.Refuse)
		if !ok || ref.Reason != wire.RefuseRateLimited || ref.RetryAfter == 0 || ref.RetryAfter > 600 {
			t.Fatalf("after 8 abandoned admissions: %#v, want a rate-limit refusal with the time left", last)
		}
		a.waitEvent("lockout notice", func(ev room.Event) bool {
			return ev.Type == room.EventError && ev.Peer == o.id.PeerID() && strings.Contains(ev.Err.Error(), "peer#")
		})
		n := 0
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, ev := range a.events {
			if ev.Type == room.EventError && ev.Peer == o.id.PeerID() {
				n++
			}
		}
		if n != 1 {
			t.Errorf("members told %d times about one locked-out peer, want once", n)
		}
	})
}

// TestWrongThenRightPassphrase (issue 13 item 1): one wrong passphrase costs
// one attempt at each member at most (never a retry) and is reported at
// once; typing the right one next gets in.
func TestWrongThenRightPassphrase(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b, c := newPeer(t, "alice"), newPeer(t, "bob"), newPeer(t, "carol")
		connectAll(t, a, b, c)
		right := pass("correct horse")
		<-a.joinWith("vault", right).Ready()
		b.joinWith("vault", right)
		a.waitMember("vault", b)

		start := time.Now()
		rc := c.joinWith("vault", pass("correct hose"))
		ev := c.waitEvent("wrong passphrase", func(ev room.Event) bool {
			return ev.Type == room.EventError && ev.Reason == room.ReasonWrongPassphrase
		})
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("told after %v", took)
		}
		if !strings.Contains(ev.Err.Error(), "wrong passphrase for vault: not joined") {
			t.Errorf("told %q", ev.Err)
		}
		quiet(t, time.Second)
		// One run at each member at most (alice and bob), never a retry.
		if n := rc.JoinerRunsForTest(); n < 1 || n > 2 {
			t.Errorf("%d CPace runs for one wrong passphrase in a room of 2, want 1 or 2", n)
		}
		select {
		case <-rc.Ready():
			t.Fatal("a room whose key we were refused is Ready")
		default:
		}
		if _, err := c.m.Send(context.Background(), "vault", "x"); !errors.Is(err, room.ErrWrongPassphrase) {
			t.Errorf("Send in a refused room: %v", err)
		}
		start = time.Now()
		c.joinWith("vault", right)
		a.waitMember("vault", c)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("the right passphrase got in after %v", took)
		}
		// These nodes keep no history, so nothing fetches again what bob
		// drops before he holds the epoch with carol (her traffic is not
		// let through until then): wait for it (failed 29 in 300 runs
		// under -race on a loaded machine, before protocol v4 too).
		b.waitMember("vault", c)
		if _, err := c.m.Send(context.Background(), "vault", "in at last"); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("vault", "in at last")
	})
}

// TestJoinerOrderedAfterHistory (issue 13 item 3): a member that joins a
// room with history and sends at once is shown last, not late, by every
// member.
func TestJoinerOrderedAfterHistory(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		dir := t.TempDir()
		// carol keeps no history: nothing she could fetch by sync moves
		// her clock before she speaks, only what her admission hands her.
		a, b, c := newPeerAt(t, "alice", dir+"/a"), newPeerAt(t, "bob", dir+"/b"), newPeer(t, "carol")
		connectAll(t, a, b, c)
		<-a.join("lobby").Ready()
		b.join("lobby")
		a.waitMember("lobby", b)
		for i := range 6 {
			p := []*peerNode{a, b}[i%2]
			if _, err := p.m.Send(context.Background(), "lobby", "earlier "+string(rune('0'+i))); err != nil {
				t.Fatal(err)
			}
			[]*peerNode{b, a}[i%2].waitMessage("lobby", "earlier "+string(rune('0'+i)))
		}
		<-c.join("lobby").Ready()
		if _, err := c.m.Send(context.Background(), "lobby", "hello from the newcomer"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*peerNode{a, b} {
			m := p.waitMessage("lobby", "hello from the newcomer")
			if m.Late {
				t.Errorf("%s shows the newcomer's first message as late", p.nick)
			}
			msgs := p.messages("lobby")
			if i := slices.Index(msgs, "hello from the newcomer"); i != len(msgs)-1 {
				t.Errorf("%s orders the newcomer's message at %d of %v", p.nick, i, msgs)
			}
			if h := historyTexts(t, p, "lobby"); len(h) > 0 && h[len(h)-1] != "hello from the newcomer" {
				t.Errorf("%s's history does not end with it: %v", p.nick, h)
			}
		}
	})
}

func historyTexts(t *testing.T, p *peerNode, roomName string) []string {
	t.Helper()
	msgs, err := p.st.History(context.Background(), roomName, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// TestConcurrentAdmissionsShowNoEarlierMessages: alice and bob admit carol
// and dave at the same moment; their join commits race on one parent and
// the loser's join is committed again on the winner. Neither newcomer is
// shown what was said before it joined (v2 re-sent every recent message
// under the winning epoch after a lost race), and all four end in one
// epoch.
func TestConcurrentAdmissionsShowNoEarlierMessages(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b := newPair(t, "lobby")
		if _, err := a.m.Send(context.Background(), "lobby", "before the newcomers"); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("lobby", "before the newcomers")
		c, d := newPeer(t, "carol"), newPeer(t, "dave")
		connect(t, c, a)
		connect(t, d, b)
		c.join("lobby")
		d.join("lobby")
		connectAll(t, a, b, c, d)
		waitFor(t, "one epoch of four", func() bool {
			k := a.m.Status().Rooms[0].KeyID
			for _, p := range []*peerNode{a, b, c, d} {
				if st := p.m.Status().Rooms[0]; st.KeyID != k || st.Roster != 4 {
					return false
				}
			}
			return true
		})
		if _, err := b.m.Send(context.Background(), "lobby", "after the newcomers"); err != nil {
			t.Fatal(err)
		}
		c.waitMessage("lobby", "after the newcomers")
		d.waitMessage("lobby", "after the newcomers")
		quiet(t, time.Second)
		for _, p := range []*peerNode{c, d} {
			if hasText(p, "lobby", "before the newcomers") {
				t.Errorf("%s was shown a message from before it joined", p.nick)
			}
		}
	})
}

// TestStrangerTransferStartsNothing: a peer never in a roster of our chain
// pushes a self-made chain with a better epoch over the epoch protocol: it
// is refused, and no admission (no CPace run) is started towards it. (New
// surface in v3: main has no epoch protocol to attack.)
func TestStrangerTransferStartsNothing(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a := newPeer(t, "alice")
		ra := a.joinWith("vault", pass("real"))
		<-ra.Ready()
		o := newOutsider(t, room.TopicFor("vault"))
		connect(t, a, o.peer())
		rid := wire.DeriveRoomID("vault")
		// The stranger answers admissions with a Challenge, as a guesser
		// testing a passphrase would.
		o.tr.Handle(room.ProtocolAdmit, func(s room.Stream) {
			defer s.Close()
			readWireFrame(t, s)
			ch := &wire.Challenge{}
			ch.Y[0] = 0xe2 // any encoding; the joiner's run is counted on receipt
			node.WriteFrame(s, wire.EncodeFrame(ch))
		})
		var secret [32]byte
		secret[0] = 9
		create, err := wire.NewCommit(rid, nil, o.id.PublicKey(), wire.ChangeCreate, nil, wire.EpochKeyID(rid, 0, [32]byte{}, &secret))
		if err != nil {
			t.Fatal(err)
		}
		create.Sign(o.id.Sign)
		chain := []*wire.Commit{create}
		for i := range 5 { // numbers past ours
			pub, _, _ := ed25519.GenerateKey(nil)
			var s [32]byte
			s[0] = byte(i)
			c, err := wire.NewCommit(rid, chain[i], o.id.PublicKey(), wire.ChangeJoin, []ed25519.PublicKey{pub}, [16]byte{})
			if err != nil {
				t.Fatal(err)
			}
			if i == 4 {
				c.KeyID = wire.EpochKeyID(rid, c.Number, c.Parent, &secret)
			}
			c.Sign(o.id.Sign)
			chain = append(chain, c)
		}
		before := a.m.Status().Rooms[0]
		for range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s, err := o.tr.Open(ctx, a.id.PeerID(), room.ProtocolEpoch)
			if err != nil {
				t.Fatal(err)
			}
			tr := &wire.Transfer{Room: rid, Commits: chain, Secret: &secret}
			if err := node.WriteFrame(s, wire.EncodeFrame(tr)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			cancel()
			quiet(t, 100*time.Millisecond)
		}
		quiet(t, time.Second)
		if n := ra.JoinerRunsForTest(); n != 0 {
			t.Errorf("a stranger's transfer started %d CPace runs", n)
		}
		if st := a.m.Status().Rooms[0]; st.KeyID != before.KeyID || st.Drops[room.DropRekey] == 0 {
			t.Errorf("after a stranger's transfers: %+v (before %+v)", st, before)
		}
	})
}

// TestRateLimitedJoinerTold (issue 13 item 1): a joiner that gave five wrong
// passphrases is refused at once the sixth time, and told for how long.
func TestRateLimitedJoinerTold(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, c := newPeer(t, "alice"), newPeer(t, "carol")
		connect(t, a, c)
		<-a.joinWith("vault", pass("right")).Ready()
		refusals := func() []room.Event {
			c.mu.Lock()
			defer c.mu.Unlock()
			var out []room.Event
			for _, ev := range c.events {
				if ev.Type == room.EventError && ev.Reason == room.ReasonWrongPassphrase {
					out = append(out, ev)
				}
			}
			return out
		}
		for i := range 6 {
			c.joinWith("vault", pass("wrong "+string(rune('a'+i))))
			waitFor(t, "the attempt's refusal", func() bool { return len(refusals()) == i+1 })
		}
		last := refusals()[5]
		if msg := last.Err.Error(); !strings.Contains(msg, "too many wrong passphrases from this node: try again in 10m0s") && !strings.Contains(msg, "too many wrong passphrases from this node: try again in 9m") {
			t.Errorf("sixth attempt told %q", msg)
		}
		if n := mustRoom(t, c, "vault").JoinerRunsForTest(); n != 5 {
			t.Errorf("%d CPace runs for six attempts, want 5 (the sixth refused before a run)", n)
		}
	})
}

// TestOldPeerToldToUpgrade: a peer that opens an earlier protocol's
// admission (v3's or v2's) gets its stream closed, and our user is told once
// that it must upgrade.
func TestOldPeerToldToUpgrade(t *testing.T) {
	t.Parallel()
	for proto, version := range map[string]string{room.ProtocolAdmitV3: "protocol v3", room.ProtocolAdmitV2: "protocol v2"} {
		t.Run(version, func(t *testing.T) { testOldPeerToldToUpgrade(t, proto, version) })
	}
}

func testOldPeerToldToUpgrade(t *testing.T, proto, version string) {
	inBubble(t, func(t *testing.T) {
		a := newPeer(t, "alice")
		<-a.join("lobby").Ready()
		o := newOutsider(t, room.TopicFor("lobby"))
		connect(t, a, o.peer())
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s, err := o.tr.Open(ctx, a.id.PeerID(), proto)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Read(make([]byte, 1)); err == nil {
				t.Errorf("a %s admission got an answer", version)
			}
			s.Close()
			cancel()
		}
		a.waitEvent("upgrade notice", func(ev room.Event) bool {
			return ev.Type == room.EventError && ev.Peer == o.id.PeerID() && strings.Contains(ev.Err.Error(), version) && strings.Contains(ev.Err.Error(), "must upgrade p2pchat")
		})
		quiet(t, 100*time.Millisecond)
		n := 0
		a.mu.Lock()
		for _, ev := range a.events {
			if ev.Type == room.EventError && ev.Peer == o.id.PeerID() {
				n++
			}
		}
		a.mu.Unlock()
		if n != 1 {
			t.Errorf("told %d times, want once", n)
		}
	})
}

// TestJoinerToldPeerIsOld: a joiner whose only peer speaks protocol v3's
// admission and not ours is told that the peer must upgrade.
func TestJoinerToldPeerIsOld(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		c := newPeer(t, "carol")
		o := newOutsider(t, room.TopicFor("lobby"))
		o.tr.Handle(room.ProtocolAdmitV3, func(s room.Stream) { s.Close() })
		connect(t, c, o.peer())
		c.join("lobby")
		c.waitEvent("upgrade notice", func(ev room.Event) bool {
			return ev.Type == room.EventError && ev.Peer == o.id.PeerID() && strings.Contains(ev.Err.Error(), "protocol v3") && strings.Contains(ev.Err.Error(), "must upgrade p2pchat")
		})
	})
}

// TestLostMemberThatCommitsStays: a member that one node took for lost
// (silent, or off the topic) but that then authors a commit of the branch
// this node adopts is alive. The node must not remove it (before, it did:
// one node's false loss made every member re-admit it, and what was sent
// meanwhile never reached it; TestSimultaneousStart failed so about 1 run
// in 100). A member that said goodbye is removed whatever it commits.
func TestLostMemberThatCommitsStays(t *testing.T) {
	for _, bye := range []bool{false, true} {
		t.Run(fmt.Sprintf("goodbye=%v", bye), func(t *testing.T) {
			t.Parallel()
			inBubble(t, func(t *testing.T) { testLostMemberCommits(t, bye) })
		})
	}
}

func testLostMemberCommits(t *testing.T, bye bool) {
	a, b, c := newPeer(t, "alice"), newPeer(t, "bob"), newPeer(t, "carol")
	connectAll(t, a, b, c)
	all := []*peerNode{a, b, c}
	for _, p := range all {
		p.join("lobby")
	}
	waitAllMembers(t, all)
	// x is the one of alice and bob ranked second, so it waits one
	// stagger before it commits a removal itself: time for carol's
	// commit to reach it.
	x := a
	if b.id.PeerID() > a.id.PeerID() {
		x = b
	}
	quiet(t, time.Second) // the admissions have settled
	before := x.m.Status().Rooms[0].Epoch
	cRoom := mustRoom(t, c, "lobby")
	if bye {
		cRoom.NoAutoRejoinForTest()
		if err := cRoom.SayByeForTest(context.Background()); err != nil {
			t.Fatal(err)
		}
		x.waitEvent("carol leaves", func(ev room.Event) bool {
			return ev.Type == room.EventMemberLeft && ev.Peer == c.id.PeerID()
		})
		// Then she is gone from the topic too, as after any goodbye:
		// that must not turn her goodbye into a mere loss.
		xRoom := mustRoom(t, x, "lobby")
		if why := xRoom.DepartedForTest(c.id.PeerID()); why == room.ReasonLeft {
			xRoom.LoseForTest(c.id.PeerID())
			if why := xRoom.DepartedForTest(c.id.PeerID()); why != room.ReasonLeft {
				t.Errorf("after her goodbye and a loss, carol is departed for %q, want %q", why, room.ReasonLeft)
			}
		}
	} else {
		mustRoom(t, x, "lobby").LoseForTest(c.id.PeerID())
	}
	if err := cRoom.RekeyBackForTest(); err != nil { // a join commit by carol
		t.Fatal(err)
	}
	quiet(t, 2*time.Second) // several rekey staggers
	st := x.m.Status().Rooms[0]
	if bye {
		// Her removal came first (her commit then loses to it), or her
		// commit did and the removal followed.
		if !(st.Epoch == before+1 && st.Roster == 2) && !(st.Epoch == before+2 && st.Roster == 3) {
			t.Fatalf("%s: epoch %d with %d members, want carol removed (epoch %d with 2 members or %d with 3)", x.nick, st.Epoch, st.Roster, before+1, before+2)
		}
		return
	}
	if st.Epoch != before+1 || st.Roster != 4 {
		t.Fatalf("%s: epoch %d with %d members, want carol's commit (epoch %d, 4 members) and no removal after it", x.nick, st.Epoch, st.Roster, before+1)
	}
	if _, err := c.m.Send(context.Background(), "lobby", "still here"); err != nil {
		t.Fatal(err)
	}
	x.waitMessage("lobby", "still here")
}

// TestLostPresenceAsked: every presence envelope around carol's admission
// is lost (sent before its receivers held the epoch that adds her, as
// happens under load). Once the loss ends, the members that have not heard
// from one another ask (one Hello each, Heartbeat/5 after adopting the
// epoch) and hear the answers long before their next heartbeat.
func TestLostPresenceAsked(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		tn, _ := testNets.Load(t)
		mem := tn.(*testNet).mem
		tm := room.Timing{} // the defaults: a 15 s heartbeat
		a, b, c := newPeerTimed(t, "alice", "", tm), newPeerTimed(t, "bob", "", tm), newPeerTimed(t, "carol", "", tm)
		connect(t, a, b)
		connect(t, a, c)
		connect(t, b, c)
		a.join("lobby")
		b.join("lobby")
		waitAllMembers(t, []*peerNode{a, b})
		mem.SetLoss(1)
		c.join("lobby")
		<-mustRoom(t, c, "lobby").Ready()
		for _, p := range []*peerNode{a, b} {
			for mustRoom(t, p, "lobby").Status().Roster != 3 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		quiet(t, 100*time.Millisecond)
		mem.SetLoss(0)
		start := time.Now()
		deadline := start.Add(15 * time.Second / 2) // half the default heartbeat: none is due by then
		for {
			var heard []int
			all := true
			for _, p := range []*peerNode{a, b, c} {
				n := mustRoom(t, p, "lobby").Status().Members
				heard = append(heard, n)
				all = all && n == 2
			}
			if all {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("members heard from (alice, bob, carol) %v, %v after the loss ended; want 2 each", heard, time.Since(start))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
