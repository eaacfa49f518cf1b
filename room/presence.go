package room

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// seen records that p, calling itself nick, sent a verified envelope. It
// becomes a member if it is in the current epoch's roster (a late message
// from an earlier epoch does not make its sender a member again).
func (r *Room) seen(p peer.ID, nick, short string) {
	pub, err := identity.PublicKeyOf(p)
	if err != nil {
		return
	}
	r.mu.Lock()
	mb := r.members[p]
	var ev *Event
	switch {
	case mb == nil && r.cur != nil && r.cur.InRoster(pub) && !r.departed[p]:
		mb = &member{nick: nick, short: short}
		r.members[p] = mb
		ev = &Event{Type: EventMemberJoined, Room: r.name, Peer: p, Nick: nick, Short: short}
	case mb != nil && mb.nick != nick:
		ev = &Event{Type: EventNick, Room: r.name, Peer: p, Nick: nick, OldNick: mb.nick, Short: short}
		mb.nick = nick
	}
	if mb != nil {
		mb.lastSeen = time.Now()
	}
	r.mu.Unlock()
	if ev != nil {
		r.m.emit(*ev)
		if ev.Type == EventMemberJoined {
			r.m.noteNick(r.name, p, nick)
			r.syncSoon(p)
		}
	}
}

// removeMember handles a member leaving: it is reported, and if it holds
// the current epoch a rekey is scheduled.
func (r *Room) removeMember(p peer.ID, reason Reason) {
	pub, _ := identity.PublicKeyOf(p)
	r.mu.Lock()
	mb := r.members[p]
	delete(r.members, p)
	if r.cur != nil && pub != nil && r.cur.InRoster(pub) && p != r.m.net.ID() {
		r.departed[p] = true
		r.scheduleRekeyLocked()
	}
	r.mu.Unlock()
	if mb != nil {
		r.m.emit(Event{Type: EventMemberLeft, Room: r.name, Peer: p, Nick: mb.nick, Short: mb.short, Reason: reason})
	}
}

// peerLoop follows the topic's subscribers: a member that disconnects or
// unsubscribes has left; a peer that (re)appears gets our presence.
func (r *Room) peerLoop() {
	for {
		ev, err := r.topic.NextPeerEvent(r.ctx)
		if err != nil {
			return
		}
		if ev.Joined {
			r.meet(ev.Peer)
			r.announceSoon()
			continue
		}
		// A goodbye published just before unsubscribing may still be in
		// flight on the other path; give it a moment to win, so the member
		// is reported as having left rather than disconnected.
		r.spawn(func() {
			select {
			case <-time.After(leaveGrace):
			case <-r.ctx.Done():
				return
			}
			if !slices.Contains(r.topic.Peers(), ev.Peer) {
				r.removeMember(ev.Peer, ReasonDisconnected)
			}
		})
	}
}

// tickLoop heartbeats, drops silent members (roster members never heard
// from count from the epoch's start), erases expired epoch keys and gives
// up on buffered envelopes whose key never came.
func (r *Room) tickLoop() {
	t := time.NewTicker(r.m.timing.Tick)
	defer t.Stop()
	lastBeat := time.Now()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if now.Sub(lastBeat) >= r.m.timing.Heartbeat {
			lastBeat = now
			r.announceSoon()
		}
		var gone []peer.ID
		var expired []buffered
		r.mu.Lock()
		if r.cur != nil {
			for _, pub := range r.cur.Roster() {
				p, err := peerOf(pub)
				if err != nil || p == r.m.net.ID() || r.departed[p] {
					continue
				}
				last := r.since
				if mb := r.members[p]; mb != nil && mb.lastSeen.After(last) {
					last = mb.lastSeen
				}
				if now.Sub(last) > r.m.timing.MemberTimeout {
					gone = append(gone, p)
				}
			}
		}
		expiredEpoch := false
		for ref, o := range r.old {
			if now.After(o.expires) {
				o.e.Erase()
				delete(r.old, ref)
				expiredEpoch = true
			}
		}
		if expiredEpoch {
			r.refreshAllowedLocked()
		}
		// The best epoch in view: ours, or one that envelopes waiting for
		// their key were sent under.
		var best wire.EpochRef
		if r.cur != nil {
			best = r.cur.Ref()
		}
		for _, b := range r.buffered {
			if b.ref.Better(best) {
				best = b.ref
			}
		}
		keep := r.buffered[:0]
		for _, b := range r.buffered {
			switch {
			case now.Sub(b.at) <= r.m.timing.BufferTTL:
				keep = append(keep, b)
			case now.Sub(b.at) <= 2*r.m.timing.BufferTTL && best.Better(b.ref):
				// A better epoch is in view and we are converging to it:
				// once we hold it, this one has lost (superseded, see
				// adopt), so wait a while longer before calling it
				// unreadable. Only a while: a forged header naming a
				// better epoch must not hide a real loss.
				keep = append(keep, b)
			case r.cur != nil && !b.ref.Better(r.cur.Ref()):
				// Its epoch lost to ours: the author re-sends it under
				// a later epoch (see resend), so nothing is lost.
				r.drops[DropSuperseded]++
			default:
				expired = append(expired, b)
			}
		}
		r.buffered = keep
		if len(expired) > 0 {
			r.drops[DropUnreadable] += uint64(len(expired))
		}
		r.mu.Unlock()
		for _, p := range gone {
			r.removeMember(p, ReasonTimedOut)
		}
		r.meetStrangers()
		if len(expired) > 0 {
			r.m.emit(Event{Type: EventError, Room: r.name, Reason: ReasonUnreadable,
				Err: fmt.Errorf("room %q: %d message(s) could not be read: they were sent under epoch %d, whose key no member handed us within %v", r.name, len(expired), expired[0].ref.Number, r.m.timing.BufferTTL)})
		}
	}
}

// announceSoon publishes a presence envelope shortly, coalescing bursts of
// requests into one.
func (r *Room) announceSoon() {
	r.mu.Lock()
	r.announceLocked()
	r.mu.Unlock()
}

func (r *Room) announceLocked() {
	if r.announce || r.cur == nil || r.ctx.Err() != nil {
		return
	}
	r.announce = true
	r.spawn(func() {
		select {
		case <-time.After(50 * time.Millisecond):
		case <-r.ctx.Done():
			return
		}
		r.mu.Lock()
		r.announce = false
		r.mu.Unlock()
		r.present(wire.KindHere)
	})
}

func (r *Room) present(kind wire.Kind) {
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	if _, err := r.publish(ctx, kind, ""); err != nil && r.ctx.Err() == nil {
		r.m.log.Debug("presence not sent", "room", r.name, "err", err)
	}
}

// maxMet bounds the peers remembered by meet.
const maxMet = 1024

// meetRetry is how often meetStrangers tries the same peer again.
const meetRetry = time.Second

// metPeer is a topic peer in no roster we hold, as meetStrangers sees it.
type metPeer struct {
	seen, tried time.Time
}

// meet notes when a topic peer appeared (see meetStrangers).
func (r *Room) meet(p peer.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.met[p]; !ok && len(r.met) < maxMet {
		r.met[p] = &metPeer{seen: time.Now()}
	}
}

// meetStrangers converges with groups that made their keys apart, in open
// rooms only: a topic peer that has been on the topic for FoundWait (a
// joiner is admitted by then) and is in no roster we hold is asked to admit
// us (convergeLocked, at most one peer a tick and each peer once a
// second), and we adopt its epoch if it wins. Envelopes never start this
// (only members' envelopes are even buffered); in a passphrase room it
// never runs, since each attempt would test our passphrase for that peer.
func (r *Room) meetStrangers() {
	if r.kind != KindOpen {
		return
	}
	peers := r.topic.Peers() // not under r.mu: it waits for the transport
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.met {
		if !slices.Contains(peers, p) || r.heldMemberLocked(p) {
			delete(r.met, p)
		}
	}
	if r.cur == nil || r.converging {
		return
	}
	for _, p := range peers {
		mp := r.met[p]
		if mp == nil || now.Sub(mp.seen) < r.m.timing.FoundWait || now.Sub(mp.tried) < meetRetry || r.heldMemberLocked(p) {
			continue
		}
		mp.tried = now
		r.convergeLocked(r.cur.Ref(), p)
		return
	}
}
