package room

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// rekeyStagger is how long each member waits, per member ranked before it,
// before rekeying itself after a departure, so that usually one rekeys.
const rekeyStagger = 300 * time.Millisecond

// adopt makes e the current epoch if it wins over the current one, keeping
// the replaced epoch for OldEpochTTL to read late messages, reads the
// envelopes that were waiting for it, and re-sends our recent messages to
// the members of e that may never have held the epoch they went out under.
func (r *Room) adopt(e *wire.Epoch) bool {
	r.mu.Lock()
	if r.ctx.Err() != nil || (r.cur != nil && !e.Ref().Better(r.cur.Ref())) {
		r.mu.Unlock()
		e.Erase()
		return false
	}
	first := r.cur == nil
	if !first {
		r.old[r.cur.Ref()] = oldEpoch{e: r.cur, expires: time.Now().Add(r.m.timing.OldEpochTTL)}
	}
	r.cur, r.since = e, time.Now()
	r.refreshAllowedLocked()
	close(r.changed)
	r.changed = make(chan struct{})
	// Members not in the new roster are no longer members (they will be
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
	for p := range r.departed {
		pub, _ := identity.PublicKeyOf(p)
		if !e.InRoster(pub) {
			delete(r.departed, p)
		}
	}
	if len(r.departed) > 0 {
		r.scheduleRekeyLocked() // the new epoch still includes someone who left
	}
	waiting := r.buffered
	r.buffered = nil
	r.mu.Unlock()

	r.noteRoster(e)
	ref := e.Ref()
	r.m.log.Debug("room key", "room", r.name, "epoch", ref.Number, "key_id", hex.EncodeToString(ref.KeyID[:4]), "roster", len(e.Roster()))
	for _, ev := range gone {
		r.m.emit(ev)
	}
	if first {
		close(r.ready)
		r.m.emit(Event{Type: EventJoined, Room: r.name})
		r.present(wire.KindHello)
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
		// A member of e may have missed the epoch we sent under (its rekey
		// was lost or came after a later one, as when a member fetches
		// through admission an epoch whose push is still on its way): it
		// cannot read what we sent under it, so send that again under e.
		r.spawn(func() { r.resend(false) })
	}
	return true
}

// noteRoster records when each member of e was first seen (history
// visibility starts there) and syncs history with the members.
func (r *Room) noteRoster(e *wire.Epoch) {
	if r.m.store == nil {
		return
	}
	for _, pub := range e.Roster() {
		p, err := peerOf(pub)
		if err != nil || p == r.m.net.ID() {
			continue
		}
		if _, err := r.m.store.NoteMember(context.Background(), r.name, p.String(), time.Now()); err != nil {
			r.m.log.Warn("recording member", "room", r.name, "err", err)
		}
		r.syncSoon(p)
	}
}

// acquire obtains the room key: from any topic peer that admits us, or, if
// none does within FoundWait, by creating it. When every peer we asked is
// itself still waiting for a key (nodes started together), the one with the
// lowest peer ID creates the key at once and the others get it from it;
// creators that never met converge later (see Room.open).
func (r *Room) acquire() {
	deadline := time.Now().Add(r.m.timing.FoundWait)
	lastTry := map[peer.ID]time.Time{}
	waiting := map[peer.ID]bool{} // peers that answered "no key yet"
	for {
		for _, p := range r.topic.Peers() {
			if time.Since(lastTry[p]) < retryAdmit {
				continue
			}
			lastTry[p] = time.Now()
			e, nick, err := r.admitFrom(r.ctx, p)
			var refused *RefusedError
			switch {
			case err == nil:
				r.adopt(e)
				fp, _ := identity.PeerFingerprint(p)
				r.seen(p, nick, fp.Short())
				return
			case errors.As(err, &refused) && refused.Reason == wire.RefuseNoKey:
				waiting[p] = true
			case errors.As(err, &refused) && refused.Reason == wire.RefuseBadProof && r.kind == KindPassphrase:
				delete(waiting, p)
				r.wrongSecret(p)
			default:
				delete(waiting, p)
				r.m.log.Debug("admission failed", "room", r.name, "peer", p, "err", err)
			}
		}
		if time.Now().After(deadline) || r.lowestWaiting(waiting) {
			r.create()
			return
		}
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// wrongSecret tells the user, once per peer, that a member refused our
// passphrase.
func (r *Room) wrongSecret(p peer.ID) {
	r.mu.Lock()
	told := r.refusedBy[p]
	r.refusedBy[p] = true
	r.mu.Unlock()
	if told {
		return
	}
	fp, _ := identity.PeerFingerprint(p)
	r.m.emit(Event{Type: EventError, Room: r.name, Peer: p, Short: fp.Short(), Reason: ReasonWrongPassphrase,
		Err: fmt.Errorf("room %q: member %s#%s refused our passphrase (wrong passphrase, or another group using the same room name)", r.name, p, fp.Short())})
}

// retryAdmit is how often acquire asks the same peer again.
const retryAdmit = 100 * time.Millisecond

// lowestWaiting reports whether some peers are waiting for a key like us and
// our peer ID sorts below all of theirs.
func (r *Room) lowestWaiting(waiting map[peer.ID]bool) bool {
	if len(waiting) == 0 {
		return false
	}
	self := r.m.net.ID()
	for p := range waiting {
		if p < self {
			return false
		}
	}
	return true
}

// create makes this node the room's first member with a fresh epoch 0.
func (r *Room) create() {
	var secret [32]byte
	defer clear(secret[:])
	if _, err := rand.Read(secret[:]); err != nil {
		r.m.emit(Event{Type: EventError, Room: r.name, Err: fmt.Errorf("room %q: creating key: %w", r.name, err)})
		return
	}
	e, err := wire.NewEpoch(r.id, 0, &secret, []ed25519.PublicKey{r.m.id.PublicKey()})
	if err != nil {
		r.m.emit(Event{Type: EventError, Room: r.name, Err: fmt.Errorf("room %q: creating key: %w", r.name, err)})
		return
	}
	r.m.log.Debug("creating the room key", "room", r.name)
	r.adopt(e)
}

// rekey creates the next epoch: its roster is this node, the members of the
// current epoch that have not left, and add (a joiner, or ""). It adopts the
// epoch, hands it to every other roster member over ProtocolRekey, and
// returns it as a grant for add. Its number is above the current one and at
// least min.
func (r *Room) rekey(add peer.ID, min uint32, why string) (*wire.Grant, error) {
	r.rekeyMu.Lock()
	defer r.rekeyMu.Unlock()
	r.mu.Lock()
	from := r.cur
	if from == nil {
		r.mu.Unlock()
		return nil, errors.New("no current epoch")
	}
	self := r.m.id.PublicKey()
	roster := []ed25519.PublicKey{self}
	var targets []peer.ID
	for _, pub := range from.Roster() {
		p, err := peerOf(pub)
		if err != nil || p == r.m.net.ID() || p == add || r.departed[p] {
			continue
		}
		roster = append(roster, pub)
		targets = append(targets, p)
	}
	if add != "" {
		pub, err := identity.PublicKeyOf(add)
		if err != nil {
			r.mu.Unlock()
			return nil, err
		}
		roster = append(roster, pub)
	}
	if len(roster) > wire.MaxRoster {
		r.mu.Unlock()
		return nil, fmt.Errorf("room %q is full (%d members)", r.name, wire.MaxRoster)
	}
	number := max(from.Ref().Number+1, min)
	g := &wire.Grant{Epoch: number, Roster: roster}
	if _, err := rand.Read(g.Secret[:]); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	e, err := wire.NewEpoch(r.id, number, &g.Secret, roster)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	frames := make([]*wire.Rekey, len(targets))
	for i, p := range targets {
		frames[i] = &wire.Rekey{Room: r.id, From: from.Ref(), Epoch: number, Secret: g.Secret, Roster: roster,
			MAC: from.RekeyMAC([]byte(r.m.net.ID()), []byte(p), e.Ref(), roster)}
	}
	r.mu.Unlock()
	r.m.log.Debug("rekey", "room", r.name, "why", why, "epoch", number, "roster", len(roster))
	r.adopt(e)
	var wg sync.WaitGroup
	for i, p := range targets {
		wg.Go(func() {
			defer clear(frames[i].Secret[:])
			if err := r.pushRekey(p, frames[i]); err != nil {
				// It will see envelopes under the new epoch and fetch it.
				r.m.log.Debug("rekey: could not hand over", "room", r.name, "peer", p, "err", err)
			}
		})
	}
	wg.Wait()
	return g, nil
}

func (r *Room) pushRekey(p peer.ID, k *wire.Rekey) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.m.timing.AdmitTimeout)
	defer cancel()
	s, err := r.m.net.Open(ctx, p, ProtocolRekey)
	if err != nil {
		return err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	return writeFrame(s, k)
}

// scheduleRekeyLocked arranges a rekey without the departed members: the
// remaining member with the lowest peer ID does it at once, the others
// stand by in rank order and stand down when an epoch without the departed
// arrives. r.mu must be held.
func (r *Room) scheduleRekeyLocked() {
	if r.rekeyAt != nil || r.cur == nil || r.ctx.Err() != nil {
		return
	}
	self := r.m.net.ID()
	var rank int
	for _, pub := range r.cur.Roster() {
		if p, err := peerOf(pub); err == nil && !r.departed[p] && p < self {
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
				if _, err := r.rekey("", 0, "departure"); err != nil {
					r.m.log.Debug("rekey after departure failed", "room", r.name, "err", err)
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
// after RekeyWait it rekeys itself rather than wait longer.
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
			if _, err := r.rekey("", 0, "departure, before sending"); err != nil {
				return fmt.Errorf("room %q: rekey after a departure: %w", r.name, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("room %q: waiting for a new key after a member left: %w", r.name, ctx.Err())
		case <-r.ctx.Done():
			return fmt.Errorf("room %q: %w", r.name, ErrClosed)
		}
	}
}
