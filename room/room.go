package room

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room/internal/replay"
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
)

// leaveGrace is how long a topic peer must stay gone before a member that
// did not say goodbye is reported as disconnected.
const leaveGrace = 300 * time.Millisecond

// Room is one joined room. Its methods are safe for concurrent use.
type Room struct {
	m      *Manager
	name   string
	id     wire.RoomID
	topic  *node.Topic
	admKey [32]byte

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  chan struct{} // closed once a key is held

	mu         sync.Mutex
	cur        *wire.Epoch
	old        map[wire.EpochRef]oldEpoch
	members    map[peer.ID]*member
	windows    map[windowKey]*replay.Window
	drops      map[string]uint64
	converging bool
	tried      map[wire.EpochRef]time.Time
	announce   bool // a presence announcement is scheduled
	failures   map[peer.ID][]time.Time
}

type oldEpoch struct {
	e       *wire.Epoch
	expires time.Time
}

type windowKey struct {
	epoch  wire.EpochRef
	author [32]byte
}

type member struct {
	nick     string
	short    string
	lastSeen time.Time
}

// received is a verified envelope, handed from the validator to the
// receive loop through pubsub's ValidatorData.
type received struct {
	from peer.ID
	body *wire.Body
}

func newRoom(m *Manager, name string) (*Room, error) {
	r := &Room{
		m:        m,
		name:     name,
		id:       wire.DeriveRoomID(name),
		admKey:   wire.DeriveAdmissionKey(name),
		ready:    make(chan struct{}),
		old:      map[wire.EpochRef]oldEpoch{},
		members:  map[peer.ID]*member{},
		windows:  map[windowKey]*replay.Window{},
		drops:    map[string]uint64{},
		tried:    map[wire.EpochRef]time.Time{},
		failures: map[peer.ID][]time.Time{},
	}
	t, err := m.node.Join(TopicFor(name), r.validate)
	if err != nil {
		return nil, err
	}
	r.topic = t
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

func (r *Room) start() {
	r.wg.Go(r.receiveLoop)
	r.wg.Go(r.peerLoop)
	r.wg.Go(r.acquire)
	r.wg.Go(r.tickLoop)
}

// Name returns the room's normalised name.
func (r *Room) Name() string { return r.name }

// Ready is closed once this node holds the room key.
func (r *Room) Ready() <-chan struct{} { return r.ready }

// Member is one member of a room as this node sees it.
type Member struct {
	Peer        peer.ID
	Nick        string
	Fingerprint identity.Fingerprint
}

// Members returns the peers that proved they can read the room, sorted by
// nick then peer ID. This node is not included.
func (r *Room) Members() []Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Member, 0, len(r.members))
	for p, mb := range r.members {
		fp, _ := identity.PeerFingerprint(p)
		out = append(out, Member{Peer: p, Nick: mb.nick, Fingerprint: fp})
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
	Name    string
	Topic   string
	Open    bool   // admission needs only the room name
	Ready   bool   // this node holds the key
	Epoch   uint32 // current epoch number
	KeyID   string // hex key id of the current epoch
	Members int    // other members
	Drops   map[string]uint64
}

// Status returns a snapshot of the room.
func (r *Room) Status() RoomStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := RoomStatus{Name: r.name, Topic: TopicFor(r.name), Open: true, Members: len(r.members), Drops: map[string]uint64{}}
	for k, v := range r.drops {
		s.Drops[k] = v
	}
	if r.cur != nil {
		ref := r.cur.Ref()
		s.Ready, s.Epoch, s.KeyID = true, ref.Number, hex.EncodeToString(ref.KeyID[:])
	}
	return s
}

// Send signs, encrypts and publishes text, waiting (bounded by ctx) for the
// room key if it is not held yet. action marks a /me message.
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
	b, err := r.publish(ctx, kind, text)
	if err != nil {
		return nil, err
	}
	msg := r.message(r.m.node.ID(), b, true)
	r.m.emit(Event{Type: EventMessage, Room: r.name, Message: msg})
	return msg, nil
}

// publish seals and publishes one body under the current epoch.
func (r *Room) publish(ctx context.Context, kind wire.Kind, text string) (*wire.Body, error) {
	r.mu.Lock()
	e := r.cur
	r.mu.Unlock()
	if e == nil {
		return nil, fmt.Errorf("room %q: no room key yet", r.name)
	}
	b := &wire.Body{
		Kind:   kind,
		Author: r.m.id.PublicKey(),
		Seq:    r.m.nextSeq(),
		Time:   time.Now().UnixNano(),
		Nick:   r.m.Nick(),
		Text:   text,
	}
	env, err := wire.Seal(e, b, r.m.id.Sign)
	if err != nil {
		return nil, fmt.Errorf("room %q: %w", r.name, err)
	}
	if err := r.topic.Publish(ctx, env, &received{from: r.m.node.ID(), body: b}); err != nil {
		return nil, fmt.Errorf("room %q: publish: %w", r.name, err)
	}
	return b, nil
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
		Self:   self,
	}
}

// validate runs inline in gossipsub for every message on the topic, before
// it is delivered or forwarded: the one place where envelopes are opened and
// verified. Forgeries are rejected (the forwarding peer is penalised);
// messages we cannot judge (unknown epoch) and replays are ignored.
func (r *Room) validate(_ context.Context, from peer.ID, msg *pubsub.Message, local bool) pubsub.ValidationResult {
	if local {
		if _, ok := msg.ValidatorData.(*received); ok {
			return pubsub.ValidationAccept
		}
		return pubsub.ValidationReject
	}
	rcv, reason, err := r.open(msg.Data, msg.ReceivedFrom)
	if err != nil {
		r.m.log.Debug("dropped envelope", "room", r.name, "from", from, "reason", reason, "err", err)
		r.mu.Lock()
		r.drops[reason]++
		r.mu.Unlock()
		switch reason {
		case DropUnknownEpoch, DropReplay:
			return pubsub.ValidationIgnore
		}
		return pubsub.ValidationReject
	}
	msg.ValidatorData = rcv
	return pubsub.ValidationAccept
}

func (r *Room) open(env []byte, via peer.ID) (*received, string, error) {
	h, err := wire.ParseHeader(env)
	if err != nil {
		return nil, DropMalformed, err
	}
	if h.Room != r.id {
		return nil, DropWrongRoom, wire.ErrRoom
	}
	e, err := r.epochFor(h.Epoch, via)
	if err != nil {
		return nil, DropUnknownEpoch, err
	}
	_, b, err := wire.Open(e, env)
	switch {
	case errors.Is(err, wire.ErrAuth):
		return nil, DropAuth, err
	case errors.Is(err, wire.ErrSender):
		return nil, DropSender, err
	case errors.Is(err, wire.ErrSignature):
		return nil, DropSignature, err
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
	if author == r.m.node.ID() {
		// Our own envelope coming back from the network is a replay: gossipsub
		// never delivers our publications to us that way.
		return nil, DropReplay, errors.New("own envelope from the network")
	}
	wk := windowKey{epoch: h.Epoch, author: [32]byte(b.Author)}
	r.mu.Lock()
	w := r.windows[wk]
	if w == nil {
		w = new(replay.Window)
		r.windows[wk] = w
	}
	fresh := w.Accept(b.Seq)
	r.mu.Unlock()
	if !fresh {
		return nil, DropReplay, fmt.Errorf("sequence number %d seen before", b.Seq)
	}
	return &received{from: author, body: b}, "", nil
}

// epochFor returns the key of ref if this node holds it. Otherwise it starts
// converging on ref when ref wins over the current epoch, or announces the
// current epoch when it is the sender that should move.
func (r *Room) epochFor(ref wire.EpochRef, via peer.ID) (*wire.Epoch, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil && r.cur.Ref() == ref {
		return r.cur, nil
	}
	if o, ok := r.old[ref]; ok {
		r.announceLocked() // the sender is behind: show it the current epoch
		return o.e, nil
	}
	if r.cur != nil {
		if ref.Better(r.cur.Ref()) {
			r.convergeLocked(ref, via)
		} else {
			r.announceLocked()
		}
	}
	return nil, fmt.Errorf("epoch %d/%x: %w", ref.Number, ref.KeyID[:4], wire.ErrEpoch)
}

func (r *Room) receiveLoop() {
	for {
		msg, err := r.topic.Next(r.ctx)
		if err != nil {
			return
		}
		// Our own publications come back here too (carrying the ValidatorData
		// we gave them); Send has already reported them.
		rcv, ok := msg.ValidatorData.(*received)
		if !ok || rcv.from == r.m.node.ID() {
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
		r.m.emit(Event{Type: EventMessage, Room: r.name, Message: r.message(rcv.from, b, false)})
	}
}

// seen records that p, calling itself nick, holds the room key.
func (r *Room) seen(p peer.ID, nick, short string) {
	r.mu.Lock()
	mb := r.members[p]
	var ev *Event
	switch {
	case mb == nil:
		mb = &member{nick: nick, short: short}
		r.members[p] = mb
		ev = &Event{Type: EventMemberJoined, Room: r.name, Peer: p, Nick: nick, Short: short}
	case mb.nick != nick:
		ev = &Event{Type: EventNick, Room: r.name, Peer: p, Nick: nick, OldNick: mb.nick, Short: short}
		mb.nick = nick
	}
	mb.lastSeen = time.Now()
	r.mu.Unlock()
	if ev != nil {
		r.m.emit(*ev)
	}
}

func (r *Room) removeMember(p peer.ID, reason string) {
	r.mu.Lock()
	mb := r.members[p]
	delete(r.members, p)
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
		r.wg.Go(func() {
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

// tickLoop heartbeats, drops silent members and erases expired epoch keys.
func (r *Room) tickLoop() {
	t := time.NewTicker(r.m.timing.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		r.announceSoon()
		now := time.Now()
		var gone []peer.ID
		r.mu.Lock()
		for p, mb := range r.members {
			if now.Sub(mb.lastSeen) > r.m.timing.MemberTimeout {
				gone = append(gone, p)
			}
		}
		for ref, o := range r.old {
			if now.After(o.expires) {
				o.e.Erase()
				delete(r.old, ref)
				for k := range r.windows {
					if k.epoch == ref {
						delete(r.windows, k)
					}
				}
			}
		}
		r.mu.Unlock()
		for _, p := range gone {
			r.removeMember(p, "timed out")
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
	r.wg.Go(func() {
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

// adopt makes e the current epoch if it wins over the current one, keeping
// the replaced key for OldEpochTTL to read late messages.
func (r *Room) adopt(e *wire.Epoch) bool {
	r.mu.Lock()
	if r.cur != nil && !e.Ref().Better(r.cur.Ref()) {
		r.mu.Unlock()
		e.Erase()
		return false
	}
	first := r.cur == nil
	if !first {
		r.old[r.cur.Ref()] = oldEpoch{e: r.cur, expires: time.Now().Add(r.m.timing.OldEpochTTL)}
	}
	r.cur = e
	r.mu.Unlock()
	ref := e.Ref()
	r.m.log.Debug("room key", "room", r.name, "epoch", ref.Number, "key_id", hex.EncodeToString(ref.KeyID[:4]))
	if first {
		close(r.ready)
		r.m.emit(Event{Type: EventJoined, Room: r.name})
	}
	r.present(wire.KindHello)
	return true
}

// acquire obtains the room key: from any topic peer that admits us, or, if
// none does within FoundWait, by creating it. When every peer we asked is
// itself still waiting for a key (nodes started together), the one with the
// lowest peer ID creates the key at once and the others get it from it;
// creators that never met converge later (see epochFor).
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

// retryAdmit is how often acquire asks the same peer again.
const retryAdmit = 100 * time.Millisecond

// lowestWaiting reports whether some peers are waiting for a key like us and
// our peer ID sorts below all of theirs.
func (r *Room) lowestWaiting(waiting map[peer.ID]bool) bool {
	if len(waiting) == 0 {
		return false
	}
	self := r.m.node.ID()
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
	if _, err := rand.Read(secret[:]); err != nil {
		r.m.emit(Event{Type: EventError, Room: r.name, Err: fmt.Errorf("room %q: creating key: %w", r.name, err)})
		return
	}
	r.m.log.Debug("creating the room key", "room", r.name)
	r.adopt(wire.NewEpoch(r.id, 0, &secret))
	clear(secret[:])
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
	r.mu.Unlock()
}
