package room

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
	case mb == nil && r.cur != nil && r.cur.InRoster(pub) && r.departed[p] == "":
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
		// The nick is recorded before the event goes out, so that whoever
		// acts on member_joined finds it (Manager.Peers); a key change it
		// reveals is reported after the join.
		var later []Event
		if ev.Type == EventMemberJoined {
			later = r.m.noteNick(r.name, p, nick)
		}
		r.m.emit(*ev)
		for _, e := range later {
			r.m.emit(e)
		}
		if ev.Type == EventMemberJoined {
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
		if r.departed[p] != ReasonLeft { // a goodbye is not undone by what follows it
			r.departed[p] = reason
		}
		r.scheduleRekeyLocked()
	}
	r.mu.Unlock()
	if mb != nil {
		if r.m.store != nil {
			if err := r.m.store.NoteSeen(context.Background(), p.String(), mb.lastSeen); err != nil {
				r.m.log.Warn("remembering when a member was last seen", "room", r.name, "err", err)
			}
		}
		r.m.emit(Event{Type: EventMemberLeft, Room: r.name, Peer: p, Nick: mb.nick, Short: mb.short, Reason: reason})
	}
}

// maxAbsent bounds the members Absent lists.
const maxAbsent = 100

// Absent returns the peers that were members of the room (in a roster of
// an epoch this node recorded) and are not now, the last seen first (at
// most maxAbsent). Their Nick is the last one seen, LastSeen when this
// node last heard from them (zero if never).
func (r *Room) Absent(ctx context.Context) ([]Member, error) {
	if r.m.store == nil {
		return nil, nil
	}
	keys, err := r.m.store.RosterMembers(ctx, r.name)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	present := make(map[peer.ID]bool, len(r.members))
	for p := range r.members {
		present[p] = true
	}
	r.mu.Unlock()
	var out []Member
	for _, k := range keys {
		p, err := peerOf(k)
		if err != nil || present[p] || p == r.m.net.ID() {
			continue
		}
		fp, _ := identity.PeerFingerprint(p)
		mb := Member{Peer: p, Fingerprint: fp}
		if rec, ok, err := r.m.store.Peer(ctx, p.String()); err == nil && ok {
			mb.Nick, mb.LastSeen, mb.Verified, mb.Mismatch = rec.LastNick, rec.LastSeen, rec.Verified, rec.Mismatch
		}
		out = append(out, mb)
	}
	slices.SortFunc(out, func(a, b Member) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(string(a.Peer), string(b.Peer))
	})
	if len(out) > maxAbsent {
		out = out[:maxAbsent]
	}
	return out, nil
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
			if r.kind == KindOpen {
				peers := r.topic.Peers() // not under r.mu: it waits for the transport
				r.mu.Lock()
				peers = slices.DeleteFunc(peers, r.heldMemberLocked)
				r.mu.Unlock()
				for _, p := range peers {
					r.meet(p)
				}
			}
		}
		var gone []peer.ID
		var expired []buffered
		ask := false
		r.mu.Lock()
		if r.cur != nil {
			for _, pub := range r.cur.Roster() {
				p, err := peerOf(pub)
				if err != nil || p == r.m.net.ID() || r.departed[p] != "" {
					continue
				}
				last := r.since
				mb := r.members[p]
				if mb != nil && mb.lastSeen.After(last) {
					last = mb.lastSeen
				}
				// A presence sent before its receiver held the epoch
				// is lost (a newcomer's Hello to a member that does not
				// hold the epoch adding it yet, a member's Here to a
				// newcomer without a key): once per epoch, a while
				// after it, ask the members not heard from, rather than
				// wait for their next heartbeat.
				if mb == nil && !r.asked && now.Sub(r.since) >= r.m.timing.Heartbeat/askDivisor {
					r.asked, ask = true, true
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
		if ask {
			r.spawn(func() { r.present(wire.KindHello) })
		}
		for _, p := range gone {
			r.removeMember(p, ReasonTimedOut)
		}
		if len(expired) > 0 {
			r.m.emit(Event{Type: EventError, Room: r.name, Reason: ReasonUnreadable,
				Err: fmt.Errorf("room %q: %d message(s) could not be read: they were sent under epoch %d, whose key no member handed us within %v", r.name, len(expired), expired[0].ref.Number, r.m.timing.BufferTTL)})
		}
	}
}

// askDivisor sets when a member asks the members of its epoch it has not
// heard from to announce themselves: Heartbeat/askDivisor after adopting it.
const askDivisor = 5

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
	if _, err := r.publish(ctx, kind, r.m.Away()); err != nil && r.ctx.Err() == nil {
		r.m.log.Debug("presence not sent", "room", r.name, "err", err)
	}
}

// mayMeetLocked reports whether meet may run admission towards p: only in
// an open room (its name is its secret), and only towards a peer ID above
// ours, so that of two groups' members one side does. In a passphrase room
// each run would test our secret against p, an outsider as far as we can
// tell, so groups that formed apart stay apart (docs/PROTOCOL.md §5).
// r.mu must be held.
func (r *Room) mayMeetLocked(p peer.ID) bool {
	return r.kind == KindOpen && p > r.m.net.ID()
}

// maxMet bounds the peers remembered by meet.
const maxMet = 1024

// metLocked reports whether meet tried p less than MemberTimeout ago; it
// forgets older tries when the map is full. r.mu must be held.
func (r *Room) metLocked(p peer.ID) bool {
	if len(r.met) >= maxMet {
		for q, at := range r.met {
			if time.Since(at) >= r.m.timing.MemberTimeout {
				delete(r.met, q)
			}
		}
	}
	at, ok := r.met[p]
	return (ok && time.Since(at) < r.m.timing.MemberTimeout) || len(r.met) >= maxMet
}

// meet merges a group that formed apart from ours: outsiders get no room
// traffic, so such a group is seen only as topic peers in none of our
// rosters. FoundWait after such a peer appears (a joiner is admitted by
// then), and again at a heartbeat if it is still outside our rosters a
// member timeout after we last tried (a partition that healed without a
// disconnect shows no new peer), we are admitted through it (see rejoin);
// our old group's members then find us on its chain and follow. Which
// side runs it is mayMeetLocked's rule.
func (r *Room) meet(p peer.ID) {
	r.mu.Lock()
	skip := r.cur == nil || r.metLocked(p) || !r.mayMeetLocked(p)
	r.mu.Unlock()
	if skip {
		return
	}
	r.spawn(func() {
		wait := r.m.timing.FoundWait
		for {
			select {
			case <-time.After(wait):
			case <-r.ctx.Done():
				return
			}
			if !slices.Contains(r.topic.Peers(), p) { // not under r.mu: it waits for the transport
				return
			}
			r.mu.Lock()
			skip := r.cur == nil || r.metLocked(p) || r.heldMemberLocked(p) || r.blocked != nil || !r.mayMeetLocked(p)
			wait = rejoinEvery - time.Since(r.lastRejoin)
			if !skip && wait <= 0 {
				r.met[p] = time.Now()
			}
			r.mu.Unlock()
			if skip {
				return
			}
			if wait <= 0 {
				r.rejoin(p)
				return
			}
			// Another re-admission ran just now (rejoin allows one per
			// rejoinEvery): try again when it allows the next.
		}
	})
}

// noteAway records the away text a member's presence carries and reports
// a change.
func (r *Room) noteAway(p peer.ID, text string) {
	r.mu.Lock()
	mb := r.members[p]
	if mb == nil || mb.away == text {
		r.mu.Unlock()
		return
	}
	mb.away = text
	ev := Event{Type: EventAway, Room: r.name, Peer: p, Nick: mb.nick, Short: mb.short, Text: text}
	r.mu.Unlock()
	r.m.emit(ev)
}
