package room

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// rekeyStagger is how long each member waits, per member ranked before it,
// before committing a departure itself, so that usually one commits.
const rekeyStagger = 300 * time.Millisecond

// maxKeptCommits bounds the recent chain a room keeps (no secrets) to
// verify branches against.
const maxKeptCommits = 64

// pushChain is how many of our latest commits a push carries, so that a
// member a few commits behind can still attach it.
const pushChain = 8

// Errors of adopting a branch.
var (
	errNothingNew = errors.New("branch holds nothing new")
	errLoses      = errors.New("branch loses to ours")
)

// tipLocked returns the commit of the current epoch, or nil. r.mu must be
// held.
func (r *Room) tipLocked() *wire.Commit {
	if len(r.chain) == 0 {
		return nil
	}
	return r.chain[len(r.chain)-1]
}

// inChainLocked reports whether pub is in the roster of a commit on our
// chain: a peer that held the room secret. r.mu must be held.
func (r *Room) inChainLocked(pub ed25519.PublicKey) bool {
	for _, c := range r.chain {
		if c.InRoster(pub) {
			return true
		}
	}
	return false
}

// forkLocked verifies commits (oldest first) against our chain: it skips
// the ones we hold, requires the first new one to follow a commit we hold,
// verifies each on its parent, and returns our chain up to that ancestor
// followed by the new commits, if that branch wins over ours, and both
// branches after the common ancestor: ours (which the new one replaces) and
// theirs. r.mu must be held.
func (r *Room) forkLocked(commits []*wire.Commit) (chain, ours, theirs []*wire.Commit, err error) {
	at := map[[32]byte]int{}
	for i, c := range r.chain {
		at[c.Hash()] = i
	}
	// The new commits start at the first one we do not hold whose parent
	// we do; the ones before it are ancestors we hold or older ones we
	// have dropped.
	i, base := -1, 0
	for k, c := range commits {
		if _, held := at[c.Hash()]; held {
			continue
		}
		if b, ok := at[c.Parent]; ok && c.Change != wire.ChangeCreate {
			i, base = k, b
			break
		}
	}
	if i < 0 {
		if _, held := at[commits[len(commits)-1].Hash()]; held {
			return nil, nil, nil, errNothingNew
		}
		return nil, nil, nil, wire.ErrChainBreak
	}
	theirs = commits[i:]
	if err := wire.VerifyChain(r.chain[base], theirs); err != nil {
		return nil, nil, nil, err
	}
	ours = r.chain[base+1:]
	if !wire.Prefer(theirs, ours) {
		return nil, nil, nil, errLoses
	}
	out := append(append([]*wire.Commit(nil), r.chain[:base+1]...), theirs...)
	return trimChain(out), ours, theirs, nil
}

func trimChain(c []*wire.Commit) []*wire.Commit {
	if len(c) > maxKeptCommits {
		c = append([]*wire.Commit(nil), c[len(c)-maxKeptCommits:]...)
	}
	return c
}

// install makes e, the epoch of chain's tip, current with chain as our
// branch, if check (run under r.mu) passes. It keeps the replaced epoch for
// OldEpochTTL to read late messages, reads the envelopes that were waiting
// for it, and re-sends our recent messages to the members of e that may
// never have held the epoch they went out under. It takes a copy of secret
// (to hand on the epoch) and erases e if it is not installed.
func (r *Room) install(e *wire.Epoch, chain []*wire.Commit, secret *[32]byte, check func() error) error {
	r.mu.Lock()
	err := r.ctx.Err()
	if err == nil && check != nil {
		err = check()
	}
	if err != nil {
		r.mu.Unlock()
		e.Erase()
		return err
	}
	first := r.cur == nil
	if !first {
		r.old[r.cur.Ref()] = oldEpoch{e: r.cur, expires: time.Now().Add(r.m.timing.OldEpochTTL)}
	}
	added := newCommits(r.chain, chain)
	fresh := added
	if r.rosterLost {
		fresh = chain
	}
	r.rosterLost = false
	r.cur, r.chain, r.since, r.asked = e, chain, time.Now(), false
	clear(r.tipSecret[:])
	r.tipSecret = *secret
	r.refreshAllowedLocked()
	close(r.changed)
	r.changed = make(chan struct{})
	// Members not in the new roster are no longer members (they are
	// admitted again if they are still around); departures it excludes
	// are settled.
	var gone []Event
	for p, mb := range r.members {
		pub, _ := identity.PublicKeyOf(p)
		if !e.InRoster(pub) {
			delete(r.members, p)
			gone = append(gone, Event{Type: EventMemberLeft, Room: r.name, Peer: p, Nick: mb.nick, Short: mb.short, Reason: ReasonNotInEpoch})
		}
	}
	// A member we lost (it went silent or off the topic) that authored a
	// commit of the branch we just moved to is alive and holds this
	// epoch: removing it again would only churn (each side would have
	// the other removed and re-admitted, and what is sent meanwhile
	// would not reach it). One that said goodbye stays departed.
	alive := map[peer.ID]bool{}
	for _, c := range added {
		if p, err := peerOf(c.Author); err == nil {
			alive[p] = true
		}
	}
	for p, why := range r.departed {
		pub, _ := identity.PublicKeyOf(p)
		if !e.InRoster(pub) || (alive[p] && why != ReasonLeft) {
			delete(r.departed, p)
		}
	}
	if len(r.departed) > 0 {
		r.scheduleRekeyLocked() // the new epoch still includes someone who left
	}
	waiting := r.buffered
	r.buffered = nil
	r.mu.Unlock()

	r.noteRoster(fresh)
	ref := e.Ref()
	r.m.log.Debug("room key", "room", r.name, "epoch", ref.Number, "key_id", hex.EncodeToString(ref.KeyID[:4]), "roster", len(e.Roster()))
	for _, ev := range gone {
		r.m.emit(ev)
	}
	if first {
		close(r.ready)
		r.m.emit(Event{Type: EventJoined, Room: r.name})
		r.present(wire.KindHello)
		// Topic peers that appeared while we held no key were not met
		// (meet needs an epoch): a group that formed apart from ours
		// at the same time would otherwise stay apart.
		for _, p := range r.topic.Peers() {
			r.meet(p)
		}
	} else {
		r.announceSoon()
	}
	for _, b := range waiting {
		rcv, reason, err := r.open(b.env, b.from, true)
		switch {
		case err == nil:
			r.handle(rcv)
		case reason == DropUnknownEpoch && !b.ref.Better(ref):
			// Its epoch lost to e, and we never held it: its author
			// re-sends it under a later epoch (see resend).
			r.count(DropSuperseded)
		case reason != "":
			r.count(reason)
		}
	}
	if !first {
		// A member of e may have missed the epoch we sent under (its push
		// was lost or came after a later one): it cannot read what we
		// sent under it, so send again under e what every member of e
		// could have read (see resend).
		r.spawn(r.resend)
	}
	return nil
}

// newCommits returns the commits of chain that are not on old.
func newCommits(old, chain []*wire.Commit) []*wire.Commit {
	held := make(map[[32]byte]bool, len(old))
	for _, c := range old {
		held[c.Hash()] = true
	}
	var out []*wire.Commit
	for _, c := range chain {
		if !held[c.Hash()] {
			out = append(out, c)
		}
	}
	return out
}

// noteRoster records durably the roster of each commit of chain (the new
// commits of the verified branch whose tip epoch was just installed): who
// may be served, by history sync, what was sent under each epoch (see
// serve). Then it syncs history with the members of the tip.
func (r *Room) noteRoster(chain []*wire.Commit) {
	if r.m.store == nil || len(chain) == 0 {
		return
	}
	for _, c := range chain {
		members := make([][]byte, len(c.Roster))
		for i, pub := range c.Roster {
			members[i] = pub
		}
		if err := r.m.store.NoteRoster(context.Background(), r.name, c.Number, c.KeyID, members); err != nil {
			// Its messages are not served until it is recorded: try the
			// whole chain again at the next install.
			r.m.log.Warn("recording the roster", "room", r.name, "epoch", c.Number, "err", err)
			r.mu.Lock()
			r.rosterLost = true
			r.mu.Unlock()
		}
	}
	for _, pub := range chain[len(chain)-1].Roster {
		if p, err := peerOf(pub); err == nil {
			r.syncSoon(p)
		}
	}
}

// newSecret returns a fresh epoch secret.
func newSecret() ([32]byte, error) {
	var s [32]byte
	_, err := rand.Read(s[:])
	return s, err
}

// create makes this node the room's first member: a create commit for a
// fresh epoch 0, signed by our node key.
func (r *Room) create() {
	if err := r.createChain(); err != nil {
		r.m.emit(Event{Type: EventError, Room: r.name, Err: fmt.Errorf("room %q: creating key: %w", r.name, err)})
	}
}

func (r *Room) createChain() error {
	secret, err := newSecret()
	defer clear(secret[:])
	if err != nil {
		return err
	}
	c, err := wire.NewCommit(r.id, nil, r.m.id.PublicKey(), wire.ChangeCreate, nil, wire.EpochKeyID(r.id, 0, [32]byte{}, &secret))
	if err != nil {
		return err
	}
	c.Sign(r.m.id.Sign)
	e, err := wire.EpochOf(c, &secret)
	if err != nil {
		return err
	}
	r.m.log.Debug("creating the room key", "room", r.name)
	return r.install(e, []*wire.Commit{c}, &secret, func() error {
		if r.cur != nil {
			return errors.New("already holds a key")
		}
		return nil
	})
}

// commit makes, signs and adopts the next commit on our tip: change of
// subjects. It pushes the new epoch to every other member of its roster but
// skip, and returns the chain suffix (the parent and the commit) and the
// secret for the caller to hand on (the caller erases it).
func (r *Room) commit(change wire.Change, subjects []ed25519.PublicKey, skip peer.ID, why string) ([]*wire.Commit, [32]byte, error) {
	r.rekeyMu.Lock()
	defer r.rekeyMu.Unlock()
	secret, err := newSecret()
	if err != nil {
		return nil, secret, err
	}
	r.mu.Lock()
	tip := r.tipLocked()
	if tip == nil {
		r.mu.Unlock()
		return nil, secret, errors.New("no current epoch")
	}
	chain := append([]*wire.Commit(nil), r.chain...)
	r.mu.Unlock()
	if len(tip.Roster)+len(subjects) > wire.MaxRoster && change == wire.ChangeJoin {
		return nil, secret, fmt.Errorf("room %q is full (%d members)", r.name, wire.MaxRoster)
	}
	c, err := wire.NewCommit(r.id, tip, r.m.id.PublicKey(), change, subjects, wire.EpochKeyID(r.id, tip.Number+1, tip.Hash(), &secret))
	if err != nil {
		return nil, secret, err
	}
	c.Sign(r.m.id.Sign)
	e, err := wire.EpochOf(c, &secret)
	if err != nil {
		return nil, secret, err
	}
	chain = trimChain(append(chain, c))
	if err := r.install(e, chain, &secret, func() error {
		if r.tipLocked() != tip {
			return errors.New("the epoch changed meanwhile")
		}
		return nil
	}); err != nil {
		return nil, secret, err
	}
	r.m.log.Debug("commit", "room", r.name, "why", why, "epoch", c.Number, "roster", len(c.Roster))
	r.pushAll(chain, &secret, skip)
	return []*wire.Commit{tip, c}, secret, nil
}

// pushAll hands the tip of chain to every other member of its roster but
// skip, over ProtocolEpoch.
func (r *Room) pushAll(chain []*wire.Commit, secret *[32]byte, skip peer.ID) {
	tip := chain[len(chain)-1]
	t := &wire.Transfer{Room: r.id, Commits: chain[max(0, len(chain)-pushChain):], Secret: secret}
	for _, pub := range tip.Roster {
		p, err := peerOf(pub)
		if err != nil || p == r.m.net.ID() || p == skip {
			continue
		}
		r.spawn(func() {
			if err := r.sendTransfer(p, t); err != nil {
				// It will see envelopes under the new epoch and ask for it.
				r.m.log.Debug("epoch push failed", "room", r.name, "peer", p, "err", err)
			}
		})
	}
}

// commitJoin adds the joiner p (just admitted) in a join commit. A joiner
// that is still in our roster and has not left (it restarted and lost its
// keys) gets the current epoch and the commit that made it; one that left
// and came back before its removal was committed is first removed, so that
// its re-entry is a join like any other.
func (r *Room) commitJoin(p peer.ID) ([]*wire.Commit, [32]byte, error) {
	pub, err := identity.PublicKeyOf(p)
	if err != nil {
		return nil, [32]byte{}, err
	}
	r.mu.Lock()
	in := r.cur != nil && r.cur.InRoster(pub)
	if in && r.departed[p] == "" && len(r.chain) >= 2 {
		suffix := append([]*wire.Commit(nil), r.chain[len(r.chain)-2:]...)
		s := r.tipSecret
		r.mu.Unlock()
		return suffix, s, nil
	}
	r.mu.Unlock()
	if in {
		suffix, s, err := r.commit(wire.ChangeRemove, []ed25519.PublicKey{pub}, p, "re-admission")
		clear(s[:])
		if err != nil {
			return suffix, s, err
		}
	}
	return r.commit(wire.ChangeJoin, []ed25519.PublicKey{pub}, p, "admission")
}

// commitDepartures removes the members of the current epoch that left.
func (r *Room) commitDepartures(why string) error {
	r.mu.Lock()
	var gone []ed25519.PublicKey
	for p := range r.departed {
		if pub, err := identity.PublicKeyOf(p); err == nil && r.cur != nil && r.cur.InRoster(pub) {
			gone = append(gone, pub)
		}
	}
	r.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	_, s, err := r.commit(wire.ChangeRemove, gone, "", why)
	clear(s[:])
	return err
}

// scheduleRekeyLocked arranges a remove commit for the departed members:
// the remaining member with the lowest peer ID makes it at once, the others
// stand by in rank order and stand down when an epoch without the departed
// arrives. r.mu must be held.
func (r *Room) scheduleRekeyLocked() {
	if r.rekeyAt != nil || r.cur == nil || r.ctx.Err() != nil {
		return
	}
	self := r.m.net.ID()
	var rank int
	for _, pub := range r.cur.Roster() {
		if p, err := peerOf(pub); err == nil && r.departed[p] == "" && p < self {
			rank++
		}
	}
	r.rekeyAt = time.AfterFunc(time.Duration(rank)*rekeyStagger, func() {
		r.mu.Lock()
		r.rekeyAt = nil
		need := r.needsRekeyLocked()
		r.mu.Unlock()
		if need && r.ctx.Err() == nil {
			r.spawn(func() {
				if err := r.commitDepartures("departure"); err != nil {
					r.m.log.Debug("commit after departure failed", "room", r.name, "err", err)
				}
			})
		}
	})
}

// needsRekeyLocked reports whether the current epoch includes a member that
// left. r.mu must be held.
func (r *Room) needsRekeyLocked() bool {
	if r.cur == nil {
		return false
	}
	for p := range r.departed {
		if pub, err := identity.PublicKeyOf(p); err == nil && r.cur.InRoster(pub) {
			return true
		}
	}
	return false
}

// waitRekeyed waits until the current epoch includes no member that left;
// after RekeyWait it commits the departure itself rather than wait longer.
func (r *Room) waitRekeyed(ctx context.Context) error {
	deadline := time.After(r.m.timing.RekeyWait)
	for {
		r.mu.Lock()
		need, changed := r.needsRekeyLocked(), r.changed
		r.mu.Unlock()
		if !need {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			if err := r.commitDepartures("departure, before sending"); err != nil {
				return fmt.Errorf("room %q: new key after a departure: %w", r.name, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("room %q: waiting for a new key after a member left: %w", r.name, ctx.Err())
		case <-r.ctx.Done():
			return fmt.Errorf("room %q: %w", r.name, ErrClosed)
		}
	}
}
