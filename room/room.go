package room

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// Drop reasons, as counted in [RoomStatus.Drops].
const (
	DropMalformed    = "malformed"
	DropWrongRoom    = "wrong_room"
	DropUnknownEpoch = "unknown_epoch"
	DropAuth         = "auth_failed"
	DropSender       = "bad_sender"
	DropSignature    = "bad_signature"
	DropReplay       = "replay"
	DropTooFar       = "index_too_far"
	DropUnreadable   = "unreadable" // buffered for a key that never came
	DropSuperseded   = "superseded" // buffered under an epoch that lost; its author re-sends
	DropRekey        = "rekey_refused"
)

// leaveGrace is how long a topic peer must stay gone before a member that
// did not say goodbye is reported as disconnected.
const leaveGrace = 300 * time.Millisecond

// Room is one joined room. Its methods are safe for concurrent use.
type Room struct {
	m      *Manager
	name   string
	id     wire.RoomID
	kind   string
	secret [32]byte // the admission secret CPace runs on
	topic  Topic

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	spawnMu sync.Mutex
	stopped bool          // no more goroutines may start (under spawnMu)
	ready   chan struct{} // closed once a key is held

	rekeyMu sync.Mutex // one rekey at a time

	mu         sync.Mutex
	cur        *wire.Epoch
	since      time.Time     // when cur was adopted
	changed    chan struct{} // closed and replaced whenever cur changes
	old        map[wire.EpochRef]oldEpoch
	members    map[peer.ID]*member
	departed   map[peer.ID]bool // members of cur that left; a rekey drops them
	rekeyAt    *time.Timer
	drops      map[string]uint64
	buffered   []buffered
	converging bool
	tried      map[wire.EpochRef]time.Time
	announce   bool // a presence announcement is scheduled
	failures   map[peer.ID][]time.Time
	refusedBy  map[peer.ID]bool // members that refused our passphrase (told once)
	sent       []sentBody       // our recent messages, re-sent under a later epoch (see resend)
	seenIDs    map[[16]byte]time.Time
	seq        uint64                      // our last message's sequence number in this room
	clock      uint64                      // the room's Lamport clock
	shown      orderKey                    // the latest message shown, in room order
	acks       map[peer.ID][]wire.SeqRange // which of our messages each member holds
	syncQueue  map[peer.ID]bool
	syncWake   chan struct{}
}

// sentBody is one of our recent messages and the epoch it went out under.
type sentBody struct {
	body   *wire.Body
	ref    wire.EpochRef
	at     time.Time
	state  string
	seenBy int
}

// Bounds of the re-send log and the in-memory seen-id set.
const (
	resendWindow = 10 * time.Second
	maxSent      = 64
	seenTTL      = 10 * time.Minute
	maxSeenIDs   = 8192
)

type oldEpoch struct {
	e       *wire.Epoch
	expires time.Time
}

type member struct {
	nick     string
	short    string
	lastSeen time.Time
}

// buffered is an envelope under an epoch we do not hold yet.
type buffered struct {
	env []byte
	ref wire.EpochRef
	at  time.Time
}

// received is a verified envelope, handed from the validator to the
// receive loop as the validator's value (Delivery.Value).
type received struct {
	from peer.ID
	body *wire.Body
}

func newRoom(m *Manager, name, kind string, secret [32]byte) (*Room, error) {
	r := &Room{
		m:         m,
		name:      name,
		id:        wire.DeriveRoomID(name),
		kind:      kind,
		secret:    secret,
		ready:     make(chan struct{}),
		changed:   make(chan struct{}),
		old:       map[wire.EpochRef]oldEpoch{},
		members:   map[peer.ID]*member{},
		departed:  map[peer.ID]bool{},
		drops:     map[string]uint64{},
		tried:     map[wire.EpochRef]time.Time{},
		failures:  map[peer.ID][]time.Time{},
		refusedBy: map[peer.ID]bool{},
		seenIDs:   map[[16]byte]time.Time{},
		acks:      map[peer.ID][]wire.SeqRange{},
		syncQueue: map[peer.ID]bool{},
		syncWake:  make(chan struct{}, 1),
	}
	if err := r.loadHistory(context.Background()); err != nil {
		return nil, err
	}
	t, err := m.net.Join(TopicFor(name), r.validate)
	if err != nil {
		return nil, err
	}
	r.topic = t
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

func (r *Room) start() {
	r.spawn(r.receiveLoop)
	r.spawn(r.peerLoop)
	r.spawn(r.syncLoop)
	r.spawn(r.acquire)
	r.spawn(r.tickLoop)
}

// spawn runs f in a goroutine that leave waits for, unless the room is
// already leaving.
func (r *Room) spawn(f func()) {
	r.spawnMu.Lock()
	defer r.spawnMu.Unlock()
	if !r.stopped {
		r.wg.Go(f)
	}
}

// Name returns the room's normalised name.
func (r *Room) Name() string { return r.name }

// Kind returns KindOpen or KindPassphrase.
func (r *Room) Kind() string { return r.kind }

// Ready is closed once this node holds the room key.
func (r *Room) Ready() <-chan struct{} { return r.ready }

// Member is one member of a room as this node sees it.
type Member struct {
	Peer        peer.ID
	Nick        string
	Fingerprint identity.Fingerprint
	Verified    bool // the user confirmed this fingerprint (see Manager.Verify)
}

// Members returns the peers that proved they can read the room, sorted by
// nick then peer ID. This node is not included.
func (r *Room) Members() []Member {
	r.mu.Lock()
	out := make([]Member, 0, len(r.members))
	for p, mb := range r.members {
		fp, _ := identity.PeerFingerprint(p)
		out = append(out, Member{Peer: p, Nick: mb.nick, Fingerprint: fp})
	}
	r.mu.Unlock()
	for i := range out {
		out[i].Verified = r.m.verified(out[i].Peer)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Nick != out[j].Nick {
			return out[i].Nick < out[j].Nick
		}
		return out[i].Peer < out[j].Peer
	})
	return out
}

// RoomStatus is a snapshot of one room.
type RoomStatus struct {
	Name     string
	Topic    string
	Kind     string // KindOpen or KindPassphrase
	Ready    bool   // this node holds the key
	Epoch    uint32 // current epoch number
	KeyID    string // hex key id of the current epoch
	Roster   int    // members of the current epoch, this node included
	Members  int    // other members heard from
	Buffered int    // envelopes waiting for a key
	Drops    map[string]uint64
}

// Status returns a snapshot of the room.
func (r *Room) Status() RoomStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := RoomStatus{Name: r.name, Topic: TopicFor(r.name), Kind: r.kind, Members: len(r.members), Buffered: len(r.buffered), Drops: map[string]uint64{}}
	for k, v := range r.drops {
		s.Drops[k] = v
	}
	if r.cur != nil {
		ref := r.cur.Ref()
		s.Ready, s.Epoch, s.KeyID, s.Roster = true, ref.Number, hex.EncodeToString(ref.KeyID[:]), len(r.cur.Roster())
	}
	return s
}

func (r *Room) count(reason string) {
	r.mu.Lock()
	r.drops[reason]++
	r.mu.Unlock()
}

// Send signs, encrypts and publishes text. It waits (bounded by ctx) until
// the room key is held and, after a member has left, until an epoch without
// that member is in place, so that nothing is sent the departed can read.
// action marks a /me message.
func (r *Room) Send(ctx context.Context, text string, action bool) (*Message, error) {
	if len(text) > wire.MaxText {
		return nil, fmt.Errorf("room %q: message of %d bytes: %w", r.name, len(text), ErrTooLong)
	}
	kind := wire.KindText
	if action {
		kind = wire.KindAction
	}
	select {
	case <-r.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("room %q: waiting for the room key: %w", r.name, ctx.Err())
	case <-r.ctx.Done():
		return nil, fmt.Errorf("room %q: %w", r.name, ErrClosed)
	}
	if err := r.waitRekeyed(ctx); err != nil {
		return nil, err
	}
	return r.sendMessage(ctx, kind, text)
}

// body builds a presence body; messages get their sequence number and
// clock in sendMessage.
func (r *Room) body(kind wire.Kind, text string) *wire.Body {
	return &wire.Body{
		Kind:   kind,
		Author: r.m.id.PublicKey(),
		Time:   time.Now().UnixNano(),
		Nick:   r.m.Nick(),
		Text:   text,
	}
}

// publish seals and publishes a new body under the current epoch.
func (r *Room) publish(ctx context.Context, kind wire.Kind, text string) (*wire.Body, error) {
	b := r.body(kind, text)
	_, err := r.publishBody(ctx, b)
	return b, err
}

// publishBody seals b under the current epoch and publishes it, returning
// the epoch used.
func (r *Room) publishBody(ctx context.Context, b *wire.Body) (wire.EpochRef, error) {
	r.mu.Lock()
	if r.cur == nil {
		r.mu.Unlock()
		return wire.EpochRef{}, fmt.Errorf("room %q: no room key yet", r.name)
	}
	ref := r.cur.Ref()
	env, err := wire.Seal(r.cur, b, r.m.id.Sign)
	r.mu.Unlock()
	if err != nil {
		return ref, fmt.Errorf("room %q: %w", r.name, err)
	}
	if err := r.topic.Publish(ctx, env, &received{from: r.m.net.ID(), body: b}); err != nil {
		return ref, fmt.Errorf("room %q: publish: %w", r.name, err)
	}
	return ref, nil
}

// resend publishes again, under the current epoch, our recent messages that
// went out under another epoch: members that never held that epoch (the
// other side of a healed partition, a member whose rekey to it was lost or
// came after a later epoch) read them now; members that did read them drop
// the copy by its message id.
//
// With all false (every change of epoch), only messages whose epoch's
// roster includes every member of the current one are sent again, so that
// no one reads a copy who could not read the original: a joiner never gets
// what was said before it joined. With all true (our epoch lost to another
// group's, see convergeLocked), every recent message is.
func (r *Room) resend(all bool) {
	r.mu.Lock()
	if r.cur == nil {
		r.mu.Unlock()
		return
	}
	cur := r.cur.Ref()
	var again []*wire.Body
	for i := range r.sent {
		sb := &r.sent[i]
		if sb.ref == cur || time.Since(sb.at) >= resendWindow || (!all && !r.coversLocked(sb.ref)) {
			continue
		}
		// A copy: the original's Record is its first envelope's.
		b := *sb.body
		b.Record = nil
		again = append(again, &b)
		sb.ref = cur
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	for _, b := range again {
		if _, err := r.publishBody(ctx, b); err != nil {
			r.m.log.Debug("re-send failed", "room", r.name, "err", err)
		}
	}
}

func (r *Room) message(from peer.ID, b *wire.Body, self bool) *Message {
	id := wire.MessageID(b.Author, b.Seq)
	fp, _ := identity.PeerFingerprint(from)
	return &Message{
		ID:     hex.EncodeToString(id[:]),
		From:   from,
		Short:  fp.Short(),
		Nick:   b.Nick,
		Text:   b.Text,
		Action: b.Kind == wire.KindAction,
		Time:   time.Unix(0, b.Time),
		Seq:    b.Seq,
		Clock:  b.Clock,
		Self:   self,
	}
}

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

// errBuffered reports that an envelope was kept until its epoch's key comes.
var errBuffered = errors.New("buffered until its epoch key arrives")

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
		r.removeMember(rcv.from, "left")
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
func (r *Room) removeMember(p peer.ID, reason string) {
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
				r.removeMember(ev.Peer, "disconnected")
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
		for ref, o := range r.old {
			if now.After(o.expires) {
				o.e.Erase()
				delete(r.old, ref)
			}
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
			r.removeMember(p, "timed out")
		}
		if len(expired) > 0 {
			r.m.emit(Event{Type: EventError, Room: r.name, Reason: "unreadable",
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

// leave says goodbye, stops the room's goroutines and erases its keys.
func (r *Room) leave(ctx context.Context) {
	select {
	case <-r.ready:
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if _, err := r.publish(ctx, wire.KindBye, ""); err != nil {
			r.m.log.Debug("goodbye not sent", "room", r.name, "err", err)
		}
		cancel()
	default:
	}
	r.cancel()
	r.mu.Lock()
	if r.rekeyAt != nil {
		r.rekeyAt.Stop()
	}
	r.mu.Unlock()
	r.spawnMu.Lock()
	r.stopped = true
	r.spawnMu.Unlock()
	r.wg.Wait()
	if err := r.topic.Close(); err != nil {
		r.m.log.Debug("closing topic", "room", r.name, "err", err)
	}
	r.mu.Lock()
	if r.cur != nil {
		r.cur.Erase()
	}
	for _, o := range r.old {
		o.e.Erase()
	}
	clear(r.old)
	r.buffered = nil
	r.mu.Unlock()
}

func peerOf(pub []byte) (peer.ID, error) {
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(k)
}
