package room

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/internal/wire"
	"github.com/p2pchat/p2pchat/room/store"
)

// Errors callers branch on.
var (
	ErrNotJoined = errors.New("not in that room")
	ErrClosed    = errors.New("closed")
	// ErrWrongPassphrase: a member refused our secret (or rate-limits
	// us); the room is not joined until the user gives a secret again.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	ErrTooLong         = wire.ErrTooLong
	ErrNick            = wire.ErrNick
	ErrAway            = wire.ErrStatus
)

// MaxText is the longest message text in bytes.
const MaxText = wire.MaxText

// Timing holds the protocol's timers. Zero fields take the documented
// defaults; tests shorten them.
type Timing struct {
	FoundWait     time.Duration // how long a joiner looks for a member before creating the room key itself; default 1.5s
	Heartbeat     time.Duration // how often a member announces itself; default 15s
	MemberTimeout time.Duration // a member not heard from for this long is dropped and the room rekeyed; default 3×Heartbeat
	OldEpochTTL   time.Duration // how long a replaced epoch key is kept to read late messages; default 2m
	AdmitTimeout  time.Duration // deadline of one admission, rekey or sync exchange; default 10s
	SyncInterval  time.Duration // how often history is reconciled with every member; default 30s
	PushWait      time.Duration // how long to wait for a member's rekey push before fetching the epoch through admission; default 1s
	BufferTTL     time.Duration // how long an envelope waits for its epoch's key; default 10s
	RekeyWait     time.Duration // how long Send waits for another member's rekey after a departure before rekeying itself; default 2s
	Tick          time.Duration // housekeeping period; default 1s
}

func (t Timing) withDefaults() Timing {
	defaultTo(&t.FoundWait, 1500*time.Millisecond)
	defaultTo(&t.Heartbeat, 15*time.Second)
	defaultTo(&t.MemberTimeout, 3*t.Heartbeat)
	defaultTo(&t.OldEpochTTL, 2*time.Minute)
	defaultTo(&t.AdmitTimeout, 10*time.Second)
	defaultTo(&t.PushWait, time.Second)
	defaultTo(&t.SyncInterval, 30*time.Second)
	defaultTo(&t.BufferTTL, 10*time.Second)
	defaultTo(&t.RekeyWait, 2*time.Second)
	defaultTo(&t.Tick, time.Second)
	return t
}

// defaultTo sets *d to def if it is zero.
func defaultTo(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Config configures a [Manager].
type Config struct {
	Identity  *identity.Identity // required
	Transport Transport          // required; roomnet.Transport(n) in the daemon
	Nick      string             // required; see wire.ValidNick
	Store     *store.Store       // nil: nothing persists (secrets, history, verified peers)
	Logger    *slog.Logger       // nil: discard
	Timing    Timing
}

// Manager is this node's set of rooms: the one core that every face (line
// mode, --json) drives. Its methods are safe for concurrent use.
type Manager struct {
	id     *identity.Identity
	net    Transport
	store  *store.Store
	log    *slog.Logger
	timing Timing
	nick   atomic.Value // string
	away   atomic.Value // string: "" available, else away with this text (SetAway)

	mu      sync.Mutex
	rooms   map[string]*Room // by normalised name
	byID    map[wire.RoomID]*Room
	toldOld map[peer.ID]bool // peers told to upgrade from an earlier protocol
	skewed  map[peer.ID]bool // members whose clock skew the user was told of
	closed  bool

	// now is the clock this node claims in its messages and compares
	// members' claimed times with (time.Now; tests set a skewed one).
	now func() time.Time

	events *eventQueue
}

// New returns a Manager that serves the admission protocol on n. Events are
// read from [Manager.Events] until it is closed by [Manager.Close].
func New(cfg Config) (*Manager, error) {
	if cfg.Identity == nil || cfg.Transport == nil {
		return nil, errors.New("room: Config needs Identity and Transport")
	}
	if !wire.ValidNick(cfg.Nick) {
		return nil, fmt.Errorf("nick %q: %w", cfg.Nick, ErrNick)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		id:      cfg.Identity,
		net:     cfg.Transport,
		store:   cfg.Store,
		log:     log,
		timing:  cfg.Timing.withDefaults(),
		rooms:   map[string]*Room{},
		byID:    map[wire.RoomID]*Room{},
		toldOld: map[peer.ID]bool{},
		skewed:  map[peer.ID]bool{},
		now:     time.Now,
		events:  newEventQueue(),
	}
	m.nick.Store(cfg.Nick)
	m.saveNick(context.Background(), cfg.Nick)
	m.net.Handle(ProtocolAdmit, m.handleAdmit)
	m.net.Handle(ProtocolEpoch, m.handleEpoch)
	for _, old := range oldAdmissions {
		m.net.Handle(old.proto, m.handleOldAdmit(old.version))
	}
	m.net.Handle(ProtocolSync, m.handleSync)
	return m, nil
}

// Events returns the stream of events of all rooms. It is closed after
// [Manager.Close] has delivered the last event. Events are queued without
// bound, so a slow reader loses nothing; read it promptly.
func (m *Manager) Events() <-chan Event { return m.events.out }

// Nick returns the current nick.
func (m *Manager) Nick() string { return m.nick.Load().(string) }

// SetNick changes the nick used in rooms and announces it to them.
func (m *Manager) SetNick(ctx context.Context, nick string) error {
	if !wire.ValidNick(nick) {
		return fmt.Errorf("nick %q: %w", nick, ErrNick)
	}
	m.nick.Store(nick)
	m.saveNick(ctx, nick)
	for _, r := range m.roomList() {
		r.announceSoon()
	}
	return nil
}

// Away returns this node's away text: "" while available.
func (m *Manager) Away() string {
	s, _ := m.away.Load().(string)
	return s
}

// SetAway marks this node away in every room, with text as members see it
// ("" marks it available again), and tells the members at once.
func (m *Manager) SetAway(ctx context.Context, text string) error {
	if !wire.ValidStatus(text) {
		return fmt.Errorf("away text %q: %w", text, ErrAway)
	}
	m.away.Store(text)
	for _, r := range m.roomList() {
		r.announceSoon()
	}
	return nil
}

// saveNick remembers the nick in the store, for the next start.
func (m *Manager) saveNick(ctx context.Context, nick string) {
	if m.store == nil {
		return
	}
	if err := m.store.SetSetting(ctx, store.SettingNick, nick); err != nil {
		m.log.Warn("remembering the nick", "err", err)
	}
}

// Join joins the room called name and returns once it is subscribed; the
// room key is obtained in the background ([EventJoined] reports it). With
// no passphrase in opts, a secret stored for the room by an earlier
// passphrase join is used; a passphrase is stored (as its Argon2id hash) for
// later. Joining a room twice is not an error.
func (m *Manager) Join(ctx context.Context, name string, opts JoinOptions) (*Room, error) {
	norm, err := Normalize(name)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	r, closed := m.rooms[norm], m.closed
	m.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case r != nil && (opts.Passphrase == nil || !r.isBlocked()):
		return r, nil
	}
	kind, secret, err := secretFor(norm, opts)
	if err != nil {
		return nil, err
	}
	if m.store != nil {
		rec, ok, err := m.store.Room(ctx, norm)
		if err != nil {
			return nil, fmt.Errorf("room %q: %w", norm, err)
		}
		if opts.Passphrase == nil && ok && Kind(rec.Kind) == KindPassphrase && len(rec.Secret) == 32 {
			kind, secret = KindPassphrase, [32]byte(rec.Secret)
		}
		joined, err := m.joinedTime(ctx, rec, ok)
		if err != nil {
			return nil, fmt.Errorf("room %q: %w", norm, err)
		}
		if err := m.store.SaveRoom(ctx, store.RoomRecord{Name: norm, Kind: string(kind), Secret: secret[:], Joined: joined}); err != nil {
			return nil, fmt.Errorf("room %q: %w", norm, err)
		}
		if err := m.store.SetSetting(ctx, settingJoined, "1"); err != nil {
			return nil, fmt.Errorf("room %q: %w", norm, err)
		}
	}
	if r != nil && r.kind == kind {
		// A passphrase given again for a joined room: after a refusal,
		// admission runs once more with it.
		r.retry(secret)
		return r, nil
	}
	if r != nil {
		// A passphrase for an open room a member refused (its room has a
		// passphrase): the room holds no key; it is made anew as a
		// passphrase room.
		m.mu.Lock()
		if m.rooms[norm] == r {
			delete(m.rooms, norm)
			delete(m.byID, r.id)
		}
		m.mu.Unlock()
		r.leave(ctx)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if r := m.rooms[norm]; r != nil {
		return r, nil
	}
	r, err = newRoom(m, norm, kind, secret)
	if err != nil {
		return nil, fmt.Errorf("room %q: %w", norm, err)
	}
	m.rooms[norm] = r
	m.byID[r.id] = r
	r.start()
	return r, nil
}

// joinedTime is the time to store with a room being joined, which orders
// [Manager.StoredRooms]: a remembered room (rec, if ok) keeps its own; a
// new one comes after every other, even on a coarse clock.
func (m *Manager) joinedTime(ctx context.Context, rec store.RoomRecord, ok bool) (time.Time, error) {
	if ok && !rec.Joined.IsZero() {
		return rec.Joined, nil
	}
	now := time.Now()
	recs, err := m.store.Rooms(ctx)
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range recs {
		if !now.After(r.Joined) {
			now = r.Joined.Add(time.Nanosecond)
		}
	}
	return now, nil
}

// Room returns the joined room called name.
func (m *Manager) Room(name string) (*Room, error) {
	norm, err := Normalize(name)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[norm]
	if r == nil {
		return nil, fmt.Errorf("room %q: %w", norm, ErrNotJoined)
	}
	return r, nil
}

func (m *Manager) roomByID(id wire.RoomID) *Room {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byID[id]
}

func (m *Manager) roomList() []*Room {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := make([]*Room, 0, len(m.rooms))
	for _, r := range m.rooms {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].name < rs[j].name })
	return rs
}

// Rooms returns the normalised names of the joined rooms, sorted.
func (m *Manager) Rooms() []string {
	var names []string
	for _, r := range m.roomList() {
		names = append(names, r.name)
	}
	return names
}

// Leave says goodbye to the room's members and leaves it.
func (m *Manager) Leave(ctx context.Context, name string) error {
	r, err := m.Room(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.rooms, r.name)
	delete(m.byID, r.id)
	m.mu.Unlock()
	r.leave(ctx)
	if m.store != nil {
		// Leaving on purpose forgets the room's secret; quitting keeps it.
		if err := m.store.ForgetRoom(ctx, r.name); err != nil {
			m.log.Warn("forgetting room", "room", r.name, "err", err)
		}
	}
	m.emit(Event{Type: EventLeft, Room: r.name})
	return nil
}

// Send sends text to the room, waiting (bounded by ctx) until the room key
// is held. The returned message is also reported as an [EventMessage].
func (m *Manager) Send(ctx context.Context, room, text string) (*Message, error) {
	r, err := m.Room(room)
	if err != nil {
		return nil, err
	}
	return r.Send(ctx, text, false)
}

// Status is a snapshot of the node's rooms.
type Status struct {
	Rooms []RoomStatus
}

// Status returns a snapshot of every joined room.
func (m *Manager) Status() Status {
	var s Status
	for _, r := range m.roomList() {
		s.Rooms = append(s.Rooms, r.Status())
	}
	return s
}

// Close leaves every room (saying goodbye), stops serving admissions, and
// closes the event stream once its last event is read. It is idempotent.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	rooms := make([]*Room, 0, len(m.rooms))
	for _, r := range m.rooms {
		rooms = append(rooms, r)
	}
	m.rooms, m.byID = map[string]*Room{}, map[wire.RoomID]*Room{}
	m.mu.Unlock()
	m.net.RemoveHandler(ProtocolAdmit)
	m.net.RemoveHandler(ProtocolEpoch)
	for _, old := range oldAdmissions {
		m.net.RemoveHandler(old.proto)
	}
	m.net.RemoveHandler(ProtocolSync)
	var wg sync.WaitGroup
	for _, r := range rooms {
		wg.Go(func() {
			r.leave(ctx)
			m.emit(Event{Type: EventLeft, Room: r.name})
		})
	}
	wg.Wait()
	if len(rooms) > 0 {
		// Publish only queues the goodbyes; give gossipsub a moment to put
		// them on the wire before the caller closes the node.
		select {
		case <-time.After(byeFlush):
		case <-ctx.Done():
		}
	}
	m.events.close()
	return nil
}

// byeFlush is how long Close waits for goodbyes to leave before returning.
const byeFlush = 200 * time.Millisecond

// eventQueue is an unbounded FIFO in front of a channel, so that the
// protocol goroutines never block on a slow reader and never drop events.
type eventQueue struct {
	mu     sync.Mutex
	q      []Event
	closed bool
	wake   chan struct{}
	out    chan Event
}

func newEventQueue() *eventQueue {
	e := &eventQueue{wake: make(chan struct{}, 1), out: make(chan Event)}
	go e.pump()
	return e
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	if !e.closed {
		e.q = append(e.q, ev)
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) pump() {
	defer close(e.out)
	for range e.wake {
		for {
			e.mu.Lock()
			q, closed := e.q, e.closed
			e.q = nil
			e.mu.Unlock()
			for _, ev := range q {
				e.out <- ev
			}
			if len(q) == 0 {
				if closed {
					return
				}
				break
			}
		}
	}
}

// noteNick remembers which peer uses nick and returns the key_changed
// events to report when another peer used it before: a changed key under a
// known nick.
func (m *Manager) noteNick(room string, p peer.ID, nick string) []Event {
	if m.store == nil {
		return nil
	}
	fp, _ := identity.PeerFingerprint(p)
	others, err := m.store.NoteNick(context.Background(), p.String(), fp.String(), nick, time.Now())
	if err != nil {
		m.log.Warn("recording nick", "err", err)
		return nil
	}
	var evs []Event
	for _, o := range others {
		evs = append(evs, Event{Type: EventKeyChanged, Room: room, Peer: p, Nick: nick, Short: fp.Short(), OldPeer: o.PeerID, OldVerified: o.Verified})
	}
	return evs
}

// verified reports whether the user verified p's fingerprint.
func (m *Manager) verified(p peer.ID) bool {
	v, _ := m.trust(p)
	return v
}

// trust reports whether the user verified p's fingerprint, and whether the
// user's last check of it found another key's (see Verify).
func (m *Manager) trust(p peer.ID) (verified, mismatch bool) {
	if m.store == nil {
		return false, false
	}
	rec, ok, err := m.store.Peer(context.Background(), p.String())
	if err != nil || !ok {
		return false, false
	}
	return rec.Verified, rec.Mismatch
}

// ErrFingerprint is returned (wrapped) by Verify when the fingerprint or
// safety number given is not p's: another key.
var ErrFingerprint = errors.New("fingerprint does not match")

// Verify marks p's fingerprint as verified by the user, after checking that
// fingerprint (as read out by the peer's owner) is p's; it may also be the
// safety number of p and this node ([Manager.SafetyNumber]). A fingerprint
// of another key (ErrFingerprint) clears an earlier verification of p and
// marks p as a mismatch ([Member].Mismatch) until it is verified again. A
// typo is an error wrapping [identity.ErrBadFingerprint] that says where it
// is and changes nothing. Errors do not name p: the caller does. It needs a
// store.
func (m *Manager) Verify(ctx context.Context, p peer.ID, fingerprint string) error {
	want, err := identity.PeerFingerprint(p)
	if err != nil {
		return err
	}
	if identity.LooksLikeSafetyNumber(fingerprint) {
		sn, serr := m.SafetyNumber(p)
		if serr != nil {
			return serr
		}
		err = identity.CheckSafetyNumber(sn, fingerprint)
	} else {
		err = want.Check(fingerprint)
	}
	mismatch := errors.Is(err, identity.ErrMismatch)
	if mismatch {
		err = fmt.Errorf("%w: %w", ErrFingerprint, err)
	}
	if m.store == nil {
		if err != nil {
			return err
		}
		return errors.New("verify: no store to remember it in")
	}
	if mismatch {
		if cerr := m.store.SetMismatch(ctx, p.String(), want.String(), time.Now()); cerr != nil {
			return fmt.Errorf("%w; and clearing its verification failed: %v", err, cerr)
		}
		return err
	}
	if err != nil {
		return err
	}
	return m.store.SetVerified(ctx, p.String(), want.String(), true, time.Now())
}

// SafetyNumber returns the safety number of p's key and this node's
// ([identity.SafetyNumber]): the same on both sides.
func (m *Manager) SafetyNumber(p peer.ID) (string, error) {
	return identity.PeerSafetyNumber(m.id.PeerID(), p)
}

// Verified reports whether the user verified p's fingerprint.
func (m *Manager) Verified(p peer.ID) bool { return m.verified(p) }

// Mismatch reports whether the user's last check of p's fingerprint (see
// Verify) found another key's: p is to be shown as "!" until verified
// again. It is remembered across restarts.
func (m *Manager) Mismatch(p peer.ID) bool {
	_, mm := m.trust(p)
	return mm
}

// ValidNick reports whether nick is acceptable: 1 to 32 bytes of printable
// UTF-8 without spaces or '#'.
func ValidNick(nick string) bool { return wire.ValidNick(nick) }
