package room

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
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
	DropHeader       = "bad_header"  // header MAC wrong: not made by a holder of the epoch
	DropNoKey        = "no_key"      // we hold no key for the room yet: dropped unread, never reported
	DropStranger     = "not_member"  // unknown epoch, forwarded by a peer in no roster we hold
	DropOldVersion   = "old_version" // an older protocol's envelope
	DropBadClock     = "bad_clock"   // Lamport clock implausibly far ahead
)

// leaveGrace is how long a topic peer must stay gone before a member that
// did not say goodbye is reported as disconnected.
const leaveGrace = 300 * time.Millisecond

// Room is one joined room. Its methods are safe for concurrent use.
type Room struct {
	m      *Manager
	name   string
	id     wire.RoomID
	kind   Kind
	secret [32]byte // the admission secret CPace runs on
	topic  Topic

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	spawnMu sync.Mutex
	stopped bool          // no more goroutines may start (under spawnMu)
	ready   chan struct{} // closed once a key is held

	rekeyMu sync.Mutex // one commit at a time

	mu         sync.Mutex
	cur        *wire.Epoch
	chain      []*wire.Commit // our branch, oldest first, its tip cur's commit (at most maxKeptCommits)
	tipSecret  [32]byte       // cur's secret, to answer epoch requests from its members
	rosterLost bool           // recording a roster failed: the next install records the whole chain
	blocked    error          // a member refused our secret: no admission until the user gives one again
	blockedCh  chan struct{}  // closed when blocked is set
	joinerRuns int            // CPace runs on the joiner side
	lastRejoin time.Time      // the last automatic re-admission (see rejoin)
	tried      map[wire.EpochRef]time.Time
	since      time.Time     // when cur was adopted
	asked      bool          // a Hello went out for cur's members not heard from (see tickLoop)
	changed    chan struct{} // closed and replaced whenever cur changes
	old        map[wire.EpochRef]oldEpoch
	members    map[peer.ID]*member
	departed   map[peer.ID]Reason // members of cur that left, and why; a rekey drops them
	rekeyAt    *time.Timer
	drops      map[string]uint64
	buffered   []buffered
	converging bool
	announce   bool                    // a presence announcement is scheduled
	failures   map[peer.ID][]time.Time // admission attempts by peer (see attempt)
	sent       []sentBody              // our recent messages, re-sent under a later epoch (see resend)
	met        map[peer.ID]time.Time   // topic peers outside our rosters we tried to merge with, and when (see meet)
	seenIDs    map[[16]byte]time.Time
	pending    map[string]bool             // ids of messages not held that an annotation named (see foldNew)
	seq        uint64                      // our last message's sequence number in this room
	own        ownSeq                      // reservations of seq and the first send's wait (seq.go)
	clock      uint64                      // the room's Lamport clock
	shown      orderKey                    // the latest message shown, in room order
	acks       map[peer.ID][]wire.SeqRange // which of our messages each member holds
	syncQueue  map[peer.ID]bool
	syncWake   chan struct{}
	ackAt      *time.Timer // a sync with every member to learn what is seen (see ackSoon)

	// allowed is the set of peers in the roster of an epoch we hold, for
	// the transport's allow function (read without r.mu; replaced, never
	// changed, by refreshAllowedLocked).
	allowed atomic.Pointer[map[peer.ID]bool]

	// testHookResend, if set (by tests), runs in resend between choosing
	// the messages to send again and publishing them.
	testHookResend func()
}

// sentBody is one of our recent messages and the epoch it went out under.
type sentBody struct {
	body   *wire.Body
	ref    wire.EpochRef
	at     time.Time
	state  State
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
	away     string // its away text, "" while available
}

// received is a verified envelope, handed from the validator to the
// receive loop as the validator's value (Delivery.Value).
type received struct {
	from peer.ID
	body *wire.Body
}

func newRoom(m *Manager, name string, kind Kind, secret [32]byte) (*Room, error) {
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
		departed:  map[peer.ID]Reason{},
		drops:     map[string]uint64{},
		tried:     map[wire.EpochRef]time.Time{},
		failures:  map[peer.ID][]time.Time{},
		blockedCh: make(chan struct{}),
		met:       map[peer.ID]time.Time{},
		seenIDs:   map[[16]byte]time.Time{},
		pending:   map[string]bool{},
		acks:      map[peer.ID][]wire.SeqRange{},
		syncQueue: map[peer.ID]bool{},
		syncWake:  make(chan struct{}, 1),
	}
	if err := r.loadHistory(context.Background()); err != nil {
		return nil, err
	}
	t, err := m.net.Join(TopicFor(name), r.validate, r.allow)
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
func (r *Room) Kind() Kind { return r.kind }

// Ready is closed once this node holds the room key.
func (r *Room) Ready() <-chan struct{} { return r.ready }

// Member is one member of a room as this node sees it.
type Member struct {
	Peer        peer.ID
	Nick        string
	Fingerprint identity.Fingerprint
	Verified    bool      // the user confirmed this fingerprint (see Manager.Verify)
	Mismatch    bool      // the user's last check of it found another key's (see Manager.Mismatch)
	Away        string    // its away text ("" while available), as its last presence said
	LastSeen    time.Time // when this node last heard from it
}

// Members returns the peers that proved they can read the room, sorted by
// nick then peer ID. This node is not included.
func (r *Room) Members() []Member {
	r.mu.Lock()
	out := make([]Member, 0, len(r.members))
	for p, mb := range r.members {
		fp, _ := identity.PeerFingerprint(p)
		out = append(out, Member{Peer: p, Nick: mb.nick, Fingerprint: fp, Away: mb.away, LastSeen: mb.lastSeen})
	}
	r.mu.Unlock()
	for i := range out {
		out[i].Verified, out[i].Mismatch = r.m.trust(out[i].Peer)
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
	Kind     Kind   // KindOpen or KindPassphrase
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
// that member is in place, so that nothing is sent the departed can read;
// the first send also waits, at most AdmitTimeout, for one history sync
// with a member (see ownSeq). action marks a /me message.
func (r *Room) Send(ctx context.Context, text string, action bool) (*Message, error) {
	if len(text) > wire.MaxText {
		return nil, fmt.Errorf("room %q: message of %d bytes: %w", r.name, len(text), ErrTooLong)
	}
	kind := wire.KindText
	if action {
		kind = wire.KindAction
	}
	if err := r.waitSendable(ctx); err != nil {
		return nil, err
	}
	return r.sendMessage(ctx, r.body(kind, text))
}

// waitSendable waits until a message may be sent: the room key is held,
// a rekey we started is done, and our own numbers are known.
func (r *Room) waitSendable(ctx context.Context) error {
	select {
	case <-r.ready:
	case <-r.blockedCh:
		r.mu.Lock()
		err := r.blocked
		r.mu.Unlock()
		return err
	case <-ctx.Done():
		return fmt.Errorf("room %q: waiting for the room key: %w", r.name, ctx.Err())
	case <-r.ctx.Done():
		return fmt.Errorf("room %q: %w", r.name, ErrClosed)
	}
	if err := r.waitRekeyed(ctx); err != nil {
		return err
	}
	return r.waitOwnSynced(ctx)
}

// body builds a body of kind; messages get their sequence number and
// clock in sendMessage.
func (r *Room) body(kind wire.Kind, text string) *wire.Body {
	return &wire.Body{
		Kind:   kind,
		Author: r.m.id.PublicKey(),
		Time:   r.m.now().UnixNano(),
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
// went out under another epoch: members that never held that epoch (a
// member whose push was lost or came after a later epoch) read them now;
// members that did read them drop the copy by its message id. Only messages
// whose epoch's roster includes every member of the current one are sent
// again, so that no one reads a copy who could not read the original: a
// joiner never gets what was said before it joined, even when its
// admission raced another (the other side of a healed partition fetches
// what it missed by history sync instead).
func (r *Room) resend() {
	r.mu.Lock()
	if r.cur == nil {
		r.mu.Unlock()
		return
	}
	cur := r.cur.Ref()
	type copied struct {
		env  []byte
		body *wire.Body
	}
	var again []copied
	for i := range r.sent {
		sb := &r.sent[i]
		if sb.ref == cur || time.Since(sb.at) >= resendWindow || !r.coversLocked(sb.ref) {
			continue
		}
		// A copy: the original's Record is its first envelope's. It is
		// sealed here, under the epoch whose roster was just checked:
		// sealed after the lock is let go, it could go out under a
		// later epoch with a member the original's roster left out.
		b := *sb.body
		b.Record = nil
		env, err := wire.Seal(r.cur, &b, r.m.id.Sign)
		if err != nil {
			r.m.log.Debug("re-send failed", "room", r.name, "err", err)
			continue
		}
		again = append(again, copied{env, &b})
		sb.ref = cur
	}
	hook := r.testHookResend
	r.mu.Unlock()
	if hook != nil && len(again) > 0 {
		hook()
	}
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	for _, c := range again {
		if err := r.topic.Publish(ctx, c.env, &received{from: r.m.net.ID(), body: c.body}); err != nil {
			r.m.log.Debug("re-send failed", "room", r.name, "err", err)
		}
	}
}

func (r *Room) message(from peer.ID, b *wire.Body, self bool) *Message {
	id := wire.MessageID(r.id, b.Author, b.Seq)
	fp, _ := identity.PeerFingerprint(from)
	msg := &Message{
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
		kind:   b.Kind,
	}
	msg.ReplyTo = replyTo(b)
	return msg
}

// errBuffered reports that an envelope was kept until its epoch's key comes.
var errBuffered = errors.New("buffered until its epoch key arrives")

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
	if r.ackAt != nil {
		r.ackAt.Stop()
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
