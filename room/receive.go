package room

import (
	"errors"
	"fmt"

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
		case DropUnknownEpoch, DropReplay, "":
			return Ignore, nil
		}
		return Reject, nil
	}
	return Accept, rcv
}

// open parses, decrypts and verifies env. It returns the drop reason on
// failure ("" when the envelope was buffered rather than dropped).
func (r *Room) open(env []byte, via peer.ID, mayBuffer bool) (*received, string, error) {
	h, err := wire.ParseHeader(env)
	if err != nil {
		return nil, DropMalformed, err
	}
	if h.Room != r.id {
		return nil, DropWrongRoom, wire.ErrRoom
	}
	r.mu.Lock()
	e := r.epochLocked(h.Epoch)
	if e == nil {
		wins := r.cur == nil || h.Epoch.Better(r.cur.Ref())
		if wins && mayBuffer && r.bufferLocked(env, h.Epoch) {
			if r.cur != nil {
				r.convergeLocked(h.Epoch, via)
			}
			r.mu.Unlock()
			return nil, "", errBuffered
		}
		if !wins {
			r.announceLocked() // the sender is behind: show it the current epoch
		}
		r.mu.Unlock()
		return nil, DropUnknownEpoch, fmt.Errorf("epoch %d/%x: %w", h.Epoch.Number, h.Epoch.KeyID[:4], wire.ErrEpoch)
	}
	if e != r.cur {
		r.announceLocked() // a late message: the sender may be behind
	}
	_, b, err := wire.Open(e, env)
	r.mu.Unlock()
	switch {
	case errors.Is(err, wire.ErrAuth):
		return nil, DropAuth, err
	case errors.Is(err, wire.ErrSender):
		return nil, DropSender, err
	case errors.Is(err, wire.ErrSignature):
		return nil, DropSignature, err
	case errors.Is(err, wire.ErrOldIndex):
		return nil, DropReplay, err
	case errors.Is(err, wire.ErrFarIndex):
		return nil, DropTooFar, err
	case err != nil:
		return nil, DropMalformed, err
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
	switch b.Kind {
	case wire.KindHello:
		r.announceSoon()
	case wire.KindText, wire.KindAction:
		r.deliver(rcv.from, b, false)
	}
}
