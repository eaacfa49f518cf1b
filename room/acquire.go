package room

import (
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// retryAdmit is how often acquire asks a peer again that had no key yet.
const retryAdmit = 100 * time.Millisecond

// maxRefusals is how many topic peers may refuse our secret ("bad proof")
// before acquire stops asking the others: a stranger who knows only the
// room's name (and holds a key of its own under it) cannot stop us from
// asking the members, and a mistyped passphrase costs at most this many
// attempts, one at each of as many members.
const maxRefusals = 3

// acquire obtains the room key when the user joins: it asks each topic
// peer to admit us, at most one CPace run per peer for the secret the user
// gave, or, if none does within FoundWait, creates the key. When every peer
// we asked is itself still waiting for a key (nodes started together), the
// one with the lowest peer ID creates the key at once and the others get it
// from it. A refusal of our secret stops the attempts to that peer; after
// maxRefusals of them, or at the deadline after one, acquire stops (see
// refused): nothing is created and the user is told. A rate-limit refusal
// stops it at once.
func (r *Room) acquire() {
	deadline := time.Now().Add(r.m.timing.FoundWait)
	ran := map[peer.ID]bool{}
	lastTry := map[peer.ID]time.Time{}
	waiting := map[peer.ID]bool{} // peers that answered "no key yet"
	var refusedBy peer.ID         // the last peer that refused our secret
	var refusal error
	refusals := 0
	for {
		for _, p := range r.topic.Peers() {
			if r.done() {
				return
			}
			if ran[p] || time.Since(lastTry[p]) < retryAdmit {
				continue
			}
			lastTry[p] = time.Now()
			err := r.admitAndAdopt(p)
			var refused *RefusedError
			switch {
			case err == nil:
				return
			case errors.As(err, &refused) && refused.Reason == wire.RefuseNoKey:
				waiting[p] = true
			case errors.As(err, &refused) && refused.Reason == wire.RefuseRateLimited:
				r.refused(p, err)
				return
			case errors.Is(err, errNoChallenge):
				delete(waiting, p)
			case errors.As(err, &refused) && refused.Reason == wire.RefuseBadProof:
				ran[p] = true
				delete(waiting, p)
				refusedBy, refusal = p, err
				if refusals++; refusals >= maxRefusals {
					r.refused(p, err)
					return
				}
			default:
				ran[p] = true
				delete(waiting, p)
				r.m.log.Debug("admission failed", "room", r.name, "peer", p, "err", err)
			}
		}
		if r.done() {
			return
		}
		if refusals > 0 {
			// Never create a key after a refusal: we may be the one
			// who mistyped. Peers found until the deadline are asked.
			if time.Now().After(deadline) {
				r.refused(refusedBy, refusal)
				return
			}
		} else if time.Now().After(deadline) || r.lowestWaiting(waiting) {
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

// done reports whether acquire has nothing more to do: we hold a key, or a
// member refused our secret.
func (r *Room) done() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur != nil || r.blocked != nil
}

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

// isBlocked reports whether a member refused our secret (admission is
// blocked until the user gives one again).
func (r *Room) isBlocked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.blocked != nil
}

// retry is the user giving a secret again after a refusal: admission may
// run again, once per peer, with secret.
func (r *Room) retry(secret [32]byte) {
	r.mu.Lock()
	if r.blocked == nil {
		r.mu.Unlock()
		return
	}
	r.secret, r.blocked, r.blockedCh = secret, nil, make(chan struct{})
	r.mu.Unlock()
	r.spawn(r.acquire)
}
