package room

import (
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// ProtocolEpoch carries epochs between members over Noise: pushes of a new
// epoch from its author (a [wire.Transfer]) and pulls ([wire.EpochRequest],
// answered by a Transfer).
const ProtocolEpoch = "/p2pchat/epoch/4.0.0"

// rejoinEvery bounds how often a member whose branch lost re-admits itself
// automatically.
const rejoinEvery = 2 * time.Second

func (r *Room) sendTransfer(p peer.ID, t *wire.Transfer) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.m.timing.AdmitTimeout)
	defer cancel()
	s, err := r.m.net.Open(ctx, p, ProtocolEpoch)
	if err != nil {
		return err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	return writeFrame(s, t)
}

// handleEpoch serves ProtocolEpoch: a push is verified and adopted if it
// wins; a pull from a peer in a roster on our chain is answered with our
// recent chain, and the tip's secret if the asker is in the tip's roster.
func (m *Manager) handleEpoch(s Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(m.timing.AdmitTimeout))
	remote := s.RemotePeer()
	f, err := readFrame(s, wire.MaxFrame)
	if err != nil {
		s.Reset()
		return
	}
	switch f := f.(type) {
	case *wire.Transfer:
		if f.Secret != nil {
			defer clear(f.Secret[:])
		}
		if r := m.roomByID(f.Room); r != nil {
			if err := r.acceptTransfer(remote, f); err != nil && !errors.Is(err, errNothingNew) {
				r.m.log.Debug("epoch transfer refused", "room", r.name, "peer", remote, "err", err)
				r.count(DropRekey)
			}
		}
	case *wire.EpochRequest:
		if r := m.roomByID(f.Room); r != nil {
			if t := r.answer(remote); t != nil {
				writeFrame(s, t)
				if t.Secret != nil {
					clear(t.Secret[:])
				}
			}
		}
	default:
		s.Reset()
	}
}

// answer builds the reply to an EpochRequest from remote, or nil if remote
// was never in a roster on our chain nor is in an epoch we hold (it learns
// nothing).
func (r *Room) answer(remote peer.ID) *wire.Transfer {
	pub, err := identity.PublicKeyOf(remote)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	tip := r.tipLocked()
	if tip == nil || !(r.inChainLocked(pub) || r.heldMemberLocked(remote)) {
		return nil
	}
	t := &wire.Transfer{Room: r.id, Commits: append([]*wire.Commit(nil), r.chain[max(0, len(r.chain)-wire.MaxChain):]...)}
	if tip.InRoster(pub) && r.departed[remote] == "" {
		s := r.tipSecret
		t.Secret = &s
	}
	return t
}

// acceptTransfer adopts the tip of t if the Noise peer remote is in the
// tip's roster, the commits verify one by one from a commit we hold, the
// branch wins over ours, and the secret is the one the tip names. A
// verified winning branch whose tip leaves us out means we were removed:
// we re-admit ourselves (see rejoin). t.Secret is erased by the caller.
func (r *Room) acceptTransfer(remote peer.ID, t *wire.Transfer) error {
	pub, err := identity.PublicKeyOf(remote)
	if err != nil {
		return err
	}
	tip := t.Commits[len(t.Commits)-1]
	if tip.Room != r.id || !tip.InRoster(pub) {
		return errors.New("sender is not in the tip's roster")
	}
	r.mu.Lock()
	chain, replaced, theirs, err := r.forkLocked(t.Commits)
	ours := r.tipLocked()
	known := r.inChainLocked(pub)
	r.mu.Unlock()
	self := r.m.id.PublicKey()
	if errors.Is(err, wire.ErrChainBreak) && known && ours != nil && !tip.InRoster(self) && tip.Ref().Better(ours.Ref()) {
		// Another chain (a group that formed apart) that a member of ours
		// moved to: join it through that member. Only through a member of
		// ours: a chain we cannot verify from anyone else starts nothing.
		r.rejoin(remote)
		return err
	}
	if err != nil {
		return err
	}
	if !tip.InRoster(self) {
		if wire.MutualTie(theirs, replaced) && r.othersIn(tip) {
			// A branch that removed us, made by one we removed, keeping
			// as many members as ours, and members of our epoch are in
			// its roster yet stay with us (they refuse it, below): the
			// shape of a departed member removing the one who removed it
			// (it can make its branch longer at will). We stay. In a
			// partition that healed, our own members are left out of the
			// winner too, and we all rejoin it.
			return errors.New("removed by a member our branch removed: not following")
		}
		r.rejoin(remote)
		return errors.New("removed on a winning branch")
	}
	// Never move, key in hand, onto a branch made by someone our own
	// branch removed: in a mutual removal (a departed member removing one
	// who removed it) the number would decide, and the departed member
	// could simply make its branch longer. Members it left out still
	// follow the winner by re-admission (see rejoin); we stay.
	if wire.RemovesAuthorOf(replaced, theirs) {
		return errors.New("branch made by a member our branch removed")
	}
	if t.Secret == nil {
		r.requestFrom(remote)
		return errors.New("no secret")
	}
	e, err := wire.EpochOf(tip, t.Secret)
	if err != nil {
		return err
	}
	var lost []*wire.Commit
	err = r.install(e, chain, t.Secret, func() error {
		if r.tipLocked() != ours {
			return errors.New("the epoch changed meanwhile")
		}
		lost = lostJoins(r.chain, chain, self)
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range lost {
		r.spawn(func() { r.recommitJoin(c) })
	}
	return nil
}

// othersIn reports whether a member of our current epoch other than
// us is in tip's roster. r.mu must not be held.
func (r *Room) othersIn(tip *wire.Commit) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		return false
	}
	self := r.m.id.PublicKey()
	for _, pub := range r.cur.Roster() {
		if !pub.Equal(self) && tip.InRoster(pub) {
			return true
		}
	}
	return false
}

// lostJoins returns our join commits on old that are not on next and whose
// joiner next's tip leaves out: an admission that lost to a sibling.
func lostJoins(old, next []*wire.Commit, self ed25519.PublicKey) []*wire.Commit {
	onNext := map[[32]byte]bool{}
	for _, c := range next {
		onNext[c.Hash()] = true
	}
	tip := next[len(next)-1]
	var out []*wire.Commit
	for _, c := range old {
		if c.Change == wire.ChangeJoin && c.Author.Equal(self) && !onNext[c.Hash()] && !tip.InRoster(c.Subjects[0]) {
			out = append(out, c)
		}
	}
	return out
}

// recommitJoin makes again, on the winning branch, a join we committed on a
// branch that lost, and hands the result to the joiner: it proved the
// secret in that admission, so it does not run CPace again.
func (r *Room) recommitJoin(lost *wire.Commit) {
	p, err := peerOf(lost.Subjects[0])
	if err != nil {
		return
	}
	_, secret, err := r.commitJoin(p)
	defer clear(secret[:])
	if err != nil {
		r.m.log.Debug("re-commit of a join failed", "room", r.name, "peer", p, "err", err)
		return
	}
	r.mu.Lock()
	chain := append([]*wire.Commit(nil), r.chain...)
	r.mu.Unlock()
	// The joiner holds our lost join commit's parent, an ancestor of
	// the winner: it attaches the chain from there.
	t := &wire.Transfer{Room: r.id, Commits: chain[max(0, len(chain)-pushChain):], Secret: &secret}
	if err := r.sendTransfer(p, t); err != nil {
		r.m.log.Debug("re-committed join not handed over", "room", r.name, "peer", p, "err", err)
	}
}

// convergeLocked is called for an envelope under an epoch we do not hold
// that would win over ours. It never starts an admission from a header
// (only in an open room, whose secret is public, against a peer outside
// our chain, rate-limited): it asks for the epoch, over ProtocolEpoch, a
// peer that was in a roster on our chain — the forwarding peer if it was,
// else the members of our current roster in view. One request runs at a
// time and each epoch is asked for at most once a second. r.mu must be
// held.
func (r *Room) convergeLocked(ref wire.EpochRef, hint peer.ID) {
	if r.converging || r.ctx.Err() != nil || time.Since(r.tried[ref]) < time.Second || r.cur == nil {
		return
	}
	if len(r.tried) >= maxTried {
		for k, t := range r.tried {
			if time.Since(t) >= time.Second {
				delete(r.tried, k)
			}
		}
		if len(r.tried) >= maxTried {
			return
		}
	}
	var ask []peer.ID
	hintKnown := false
	if pub, err := identity.PublicKeyOf(hint); err == nil && r.inChainLocked(pub) {
		ask, hintKnown = append(ask, hint), true
	}
	peers := r.topic.Peers()
	for _, p := range peers {
		if pub, err := identity.PublicKeyOf(p); err == nil && p != hint && r.cur.InRoster(pub) && len(ask) < 3 {
			ask = append(ask, p)
		}
	}
	// Then members of the other epochs we hold: after a partition, the
	// side that won may hold us in no commit its members kept (they
	// restarted, or were admitted again), but one that shared an epoch
	// with us answers.
	for _, p := range peers {
		if len(ask) >= 6 {
			break
		}
		if p != hint && !slices.Contains(ask, p) && r.heldMemberLocked(p) {
			ask = append(ask, p)
		}
	}
	// In an open room anyone may compute the secret, so a group that
	// formed apart is merged by admission through its member.
	open := r.kind == KindOpen && !hintKnown && hint != "" && time.Since(r.lastRejoin) >= rejoinEvery
	if len(ask) == 0 && !open {
		return
	}
	r.converging = true
	r.tried[ref] = time.Now()
	r.spawn(func() {
		defer func() {
			r.mu.Lock()
			r.converging = false
			r.mu.Unlock()
		}()
		for _, p := range ask {
			r.request(p)
			r.mu.Lock()
			done := !ref.Better(r.cur.Ref())
			r.mu.Unlock()
			if done {
				return
			}
		}
		// Our own members did not have it (or there are none in view):
		// in an open room, the sender's group formed apart from ours.
		if open {
			r.rejoin(hint)
		}
	})
}

// requestFrom asks p for its tip in the background.
func (r *Room) requestFrom(p peer.ID) { r.spawn(func() { r.request(p) }) }

// request sends an EpochRequest to p and accepts the Transfer it answers.
func (r *Room) request(p peer.ID) {
	ctx, cancel := context.WithTimeout(r.ctx, r.m.timing.AdmitTimeout)
	defer cancel()
	s, err := r.m.net.Open(ctx, p, ProtocolEpoch)
	if err != nil {
		r.m.log.Debug("epoch request failed", "room", r.name, "peer", p, "err", err)
		return
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	r.mu.Lock()
	want := wire.EpochRef{}
	if r.cur != nil {
		want = r.cur.Ref()
	}
	r.mu.Unlock()
	if err := writeFrame(s, &wire.EpochRequest{Room: r.id, Wanted: want}); err != nil {
		return
	}
	f, err := readFrame(s, wire.MaxFrame)
	if err != nil {
		return
	}
	t, ok := f.(*wire.Transfer)
	if !ok || t.Room != r.id {
		return
	}
	if t.Secret != nil {
		defer clear(t.Secret[:])
	}
	err = r.acceptTransfer(p, t)
	if err != nil && !errors.Is(err, errNothingNew) {
		r.m.log.Debug("epoch answer refused", "room", r.name, "peer", p, "err", err)
	}
	if errors.Is(err, errLoses) {
		// p is on a branch that loses to ours, and may not know it: its
		// epoch can look better by its header (a higher number), so it
		// would never ask us. Hand it our chain, as we would answer its
		// request; it then rejoins us if our branch left it out.
		r.tellLoser(p)
	}
}

// tellLoser sends p, a peer we asked for its epoch and whose branch lost to
// ours, what we would answer its EpochRequest: our recent commits (and the
// tip's secret only if p is a member of our tip). It is sent at most once
// per request we make, which convergeLocked rate-limits.
func (r *Room) tellLoser(p peer.ID) {
	t := r.answer(p)
	if t == nil {
		return
	}
	if t.Secret != nil {
		defer clear(t.Secret[:])
	}
	if err := r.sendTransfer(p, t); err != nil {
		r.m.log.Debug("telling a peer its branch lost failed", "room", r.name, "peer", p, "err", err)
	}
}

// rejoin re-admits us through p (automatic admission (b): p was in a roster
// on our chain, so it held the secret, or the room is open), at most once
// per rejoinEvery, and never after a member refused our secret.
func (r *Room) rejoin(p peer.ID) {
	r.mu.Lock()
	if r.blocked != nil || time.Since(r.lastRejoin) < rejoinEvery {
		r.mu.Unlock()
		return
	}
	r.lastRejoin = time.Now()
	r.mu.Unlock()
	if err := r.admitAndAdopt(p); err != nil {
		r.refused(p, err)
		r.m.log.Debug("rejoin failed", "room", r.name, "peer", p, "err", err)
	}
}
