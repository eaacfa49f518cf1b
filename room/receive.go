package room

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// validate runs inline in the transport for every message on the topic, before
// it is delivered or forwarded: the one place where envelopes are opened and
// verified. Forgeries are rejected (the forwarding peer is penalised);
// messages we cannot judge yet (unknown epoch) and replays are ignored.
func (r *Room) validate(from peer.ID, data []byte, local any) (Verdict, any) {
	if local != nil {
		if rcv, ok := local.(*received); ok {
			return Accept, rcv
		}
		return Reject, nil
	}
	rcv, reason, err := r.open(data, from, true)
	if err != nil {
		if reason != "" {
			r.m.log.Debug("dropped envelope", "room", r.name, "from", from, "reason", reason, "err", err)
			r.count(reason)
		}
		switch reason {
		case DropUnknownEpoch, DropReplay, DropNoKey, DropOldVersion, DropBadClock, "":
			return Ignore, nil
		}
		return Reject, nil
	}
	return Accept, rcv
}

// open parses, decrypts and verifies env, forwarded to us by via. It
// returns the drop reason on failure ("" when the envelope was buffered
// rather than dropped). The room lock is held only to look up the epoch and
// copy the keys the envelope needs (and to consume its message key after):
// the cryptography runs outside it.
func (r *Room) open(env []byte, via peer.ID, mayBuffer bool) (*received, string, error) {
	h, err := wire.ParseHeader(env)
	if err != nil {
		if errors.Is(err, wire.ErrVersion) {
			return nil, DropOldVersion, err
		}
		return nil, DropMalformed, err
	}
	if h.Room != r.id {
		return nil, DropWrongRoom, wire.ErrRoom
	}
	r.mu.Lock()
	if r.cur == nil {
		// We hold no key: nothing to judge it by, nobody to report it to.
		r.mu.Unlock()
		return nil, DropNoKey, fmt.Errorf("epoch %d: %w", h.Epoch.Number, wire.ErrEpoch)
	}
	e := r.epochLocked(h.Epoch)
	if e == nil {
		reason, err := r.unknownEpochLocked(env, h.Epoch, via, mayBuffer)
		r.mu.Unlock()
		return nil, reason, err
	}
	late := e != r.cur
	op, err := e.Prepare(env)
	r.mu.Unlock()
	var b *wire.Body
	if err == nil {
		if h := testHookRead.Load(); h != nil {
			(*h)(r)
		}
		_, b, err = op.Read()
		if err == nil {
			r.mu.Lock()
			if b.Clock > r.clock && b.Clock-r.clock > maxClockJump {
				r.mu.Unlock()
				op.Erase()
				return nil, DropBadClock, fmt.Errorf("clock %d, more than %d ahead of %d", b.Clock, maxClockJump, r.clock)
			}
			err = e.Commit(op)
			if err == nil && late {
				r.announceLocked() // a late message: the sender may be behind
			}
			r.mu.Unlock()
		}
		op.Erase()
	}
	if reason := dropReason(err); reason != "" {
		return nil, reason, err
	}
	pub, err := crypto.UnmarshalEd25519PublicKey(b.Author)
	if err != nil {
		return nil, DropMalformed, err
	}
	author, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return nil, DropMalformed, err
	}
	if author == r.m.net.ID() {
		// Our own envelope coming back from the network is a replay: gossipsub
		// never delivers our publications to us that way.
		return nil, DropReplay, errors.New("own envelope from the network")
	}
	return &received{from: author, body: b}, "", nil
}

// maxClockJump is how far ahead of the highest Lamport clock we have seen a
// live envelope's clock may be: one validly signed message cannot push the
// room's clock (and the order of everything after it) arbitrarily far.
const maxClockJump = 1 << 20

// nextClock is the clock of our next message after c, saturating below
// wire.ClockLimit.
func nextClock(c uint64) uint64 {
	if c >= wire.ClockLimit-1 {
		return wire.ClockLimit - 1
	}
	return c + 1
}

// testHookRead, if set (by tests), runs just before an envelope's
// cryptography.
var testHookRead atomic.Pointer[func(*Room)]

// dropReason names the drop counter for an error of wire's Open steps, ""
// for nil.
func dropReason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, wire.ErrHeader):
		return DropHeader
	case errors.Is(err, wire.ErrEpoch):
		return DropUnknownEpoch // erased while we read it
	case errors.Is(err, wire.ErrAuth):
		return DropAuth
	case errors.Is(err, wire.ErrSender):
		return DropSender
	case errors.Is(err, wire.ErrSignature):
		return DropSignature
	case errors.Is(err, wire.ErrOldIndex):
		return DropReplay
	case errors.Is(err, wire.ErrFarIndex):
		return DropTooFar
	}
	return DropMalformed
}

// unknownEpochLocked handles an envelope under an epoch we do not hold
// while we hold another: it is buffered (and the epoch fetched) only if a
// member of an epoch we hold forwarded it and its epoch wins over ours.
// Only members are answered with our epoch. r.mu must be held.
func (r *Room) unknownEpochLocked(env []byte, ref wire.EpochRef, via peer.ID, mayBuffer bool) (string, error) {
	err := fmt.Errorf("epoch %d/%x: %w", ref.Number, ref.KeyID[:4], wire.ErrEpoch)
	if !r.heldMemberLocked(via) {
		return DropStranger, err
	}
	wins := ref.Better(r.cur.Ref())
	if wins && mayBuffer && r.bufferLocked(env, ref, via) {
		r.convergeLocked(ref, via)
		return "", errBuffered
	}
	if !wins {
		r.announceLocked() // the sender is behind: show it the current epoch
	}
	return DropUnknownEpoch, err
}

// allow is the topic's allow function: the transport exchanges room
// traffic only with peers in the roster of an epoch we hold, so outsiders
// (and, while we hold no key, everyone) get nothing from us and what they
// send is dropped before validation.
func (r *Room) allow(p peer.ID) bool {
	m := r.allowed.Load()
	return m != nil && (*m)[p]
}

// refreshAllowedLocked recomputes the peers allow lets through from the
// epochs we hold. Call it whenever r.cur or r.old changes. r.mu must be held.
func (r *Room) refreshAllowedLocked() {
	m := map[peer.ID]bool{}
	add := func(e *wire.Epoch) {
		for _, pub := range e.Roster() {
			if p, err := peerOf(pub); err == nil && p != r.m.net.ID() {
				m[p] = true
			}
		}
	}
	if r.cur != nil {
		add(r.cur)
	}
	for _, o := range r.old {
		add(o.e)
	}
	r.allowed.Store(&m)
}

// heldMemberLocked reports whether p is in the roster of an epoch we hold.
// r.mu must be held.
func (r *Room) heldMemberLocked(p peer.ID) bool {
	pub, err := identity.PublicKeyOf(p)
	if err != nil {
		return false
	}
	if r.cur != nil && r.cur.InRoster(pub) {
		return true
	}
	for _, o := range r.old {
		if o.e.InRoster(pub) {
			return true
		}
	}
	return false
}

// coversLocked reports whether the held epoch ref lists every member of the
// current epoch: then anyone who can read the current epoch could read ref.
// r.mu must be held.
func (r *Room) coversLocked(ref wire.EpochRef) bool {
	e := r.epochLocked(ref)
	if e == nil || r.cur == nil {
		return false
	}
	for _, pub := range r.cur.Roster() {
		if !e.InRoster(pub) {
			return false
		}
	}
	return true
}

// epochLocked returns the held epoch named ref, or nil. r.mu must be held.
func (r *Room) epochLocked(ref wire.EpochRef) *wire.Epoch {
	if r.cur != nil && r.cur.Ref() == ref {
		return r.cur
	}
	if o, ok := r.old[ref]; ok {
		return o.e
	}
	return nil
}

func (r *Room) receiveLoop() {
	for {
		d, err := r.topic.Next(r.ctx)
		if err != nil {
			return
		}
		// Our own publications come back here too (carrying the value we
		// gave Publish); Send has already reported them.
		rcv, ok := d.Value.(*received)
		if !ok || rcv.from == r.m.net.ID() {
			continue
		}
		r.handle(rcv)
	}
}

// handle acts on a verified envelope from another member.
func (r *Room) handle(rcv *received) {
	b := rcv.body
	fp, _ := identity.PeerFingerprint(rcv.from)
	if b.Kind == wire.KindBye {
		r.removeMember(rcv.from, ReasonLeft)
		return
	}
	r.seen(rcv.from, b.Nick, fp.Short())
	r.noteSkew(rcv.from, b.Nick, fp.Short(), b.Time)
	switch b.Kind {
	case wire.KindHello:
		r.noteAway(rcv.from, b.Text)
		r.announceSoon()
	case wire.KindHere:
		r.noteAway(rcv.from, b.Text)
	default:
		r.deliver(rcv.from, b, false)
	}
}
