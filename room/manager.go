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

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// Errors callers branch on.
var (
	ErrNotJoined = errors.New("not in that room")
	ErrClosed    = errors.New("closed")
	ErrTooLong   = wire.ErrTooLong
	ErrNick      = wire.ErrNick
)

// MaxText is the longest message text in bytes.
const MaxText = wire.MaxText

// Timing holds the protocol's timers. Zero fields take the documented
// defaults; tests shorten them.
type Timing struct {
	FoundWait     time.Duration // how long a joiner looks for a member before creating the room key itself; default 1.5s
	Heartbeat     time.Duration // how often a member announces itself; default 15s
	MemberTimeout time.Duration // a member not heard from for this long is dropped; default 3×Heartbeat
	OldEpochTTL   time.Duration // how long a replaced epoch key is kept to read late messages; default 2m
	AdmitTimeout  time.Duration // deadline of one admission exchange; default 10s
}

func (t Timing) withDefaults() Timing {
	if t.FoundWait == 0 {
		t.FoundWait = 1500 * time.Millisecond
	}
	if t.Heartbeat == 0 {
		t.Heartbeat = 15 * time.Second
	}
	if t.MemberTimeout == 0 {
		t.MemberTimeout = 3 * t.Heartbeat
	}
	if t.OldEpochTTL == 0 {
		t.OldEpochTTL = 2 * time.Minute
	}
	if t.AdmitTimeout == 0 {
		t.AdmitTimeout = 10 * time.Second
	}
	return t
}

// Config configures a [Manager].
type Config struct {
	Identity *identity.Identity // required
	Node     *node.Node         // required
	Nick     string             // required; see wire.ValidNick
	Logger   *slog.Logger       // nil: discard
	Timing   Timing
}

// Manager is this node's set of rooms: the one core that every face (line
// mode, --json) drives. Its methods are safe for concurrent use.
type Manager struct {
	id     *identity.Identity
	node   *node.Node
	log    *slog.Logger
	timing Timing
	nick   atomic.Value // string
	seq    atomic.Uint64

	mu     sync.Mutex
	rooms  map[string]*Room // by normalised name
	byID   map[wire.RoomID]*Room
	closed bool

	events *eventQueue
}

// New returns a Manager that serves the admission protocol on n. Events are
// read from [Manager.Events] until it is closed by [Manager.Close].
func New(cfg Config) (*Manager, error) {
	if cfg.Identity == nil || cfg.Node == nil {
		return nil, errors.New("room: Config needs Identity and Node")
	}
	if !wire.ValidNick(cfg.Nick) {
		return nil, fmt.Errorf("nick %q: %w", cfg.Nick, ErrNick)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		id:     cfg.Identity,
		node:   cfg.Node,
		log:    log,
		timing: cfg.Timing.withDefaults(),
		rooms:  map[string]*Room{},
		byID:   map[wire.RoomID]*Room{},
		events: newEventQueue(),
	}
	m.nick.Store(cfg.Nick)
	// Sequence numbers start at the current time in microseconds so that they
	// keep rising across restarts (receivers drop numbers they have seen).
	m.seq.Store(uint64(time.Now().UnixMicro()))
	m.node.Handle(ProtocolAdmit, m.handleAdmit)
	return m, nil
}

// Events returns the stream of events of all rooms. It is closed after
// [Manager.Close] has delivered the last event. Events are queued without
// bound, so a slow reader loses nothing; read it promptly.
func (m *Manager) Events() <-chan Event { return m.events.out }

func (m *Manager) emit(e Event) { m.events.push(e) }

// Nick returns the current nick.
func (m *Manager) Nick() string { return m.nick.Load().(string) }

// SetNick changes the nick used in rooms and announces it to them.
func (m *Manager) SetNick(ctx context.Context, nick string) error {
	if !wire.ValidNick(nick) {
		return fmt.Errorf("nick %q: %w", nick, ErrNick)
	}
	m.nick.Store(nick)
	for _, r := range m.roomList() {
		r.announceSoon()
	}
	return nil
}

func (m *Manager) nextSeq() uint64 { return m.seq.Add(1) }

// Join joins the room called name and returns once it is subscribed; the
// room key is obtained in the background ([EventJoined] reports it). Joining
// a room twice is not an error.
func (m *Manager) Join(ctx context.Context, name string) (*Room, error) {
	norm, err := Normalize(name)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if r := m.rooms[norm]; r != nil {
		return r, nil
	}
	r, err := newRoom(m, norm)
	if err != nil {
		return nil, fmt.Errorf("room %q: %w", norm, err)
	}
	m.rooms[norm] = r
	m.byID[r.id] = r
	r.start()
	return r, nil
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
	m.node.RemoveHandler(ProtocolAdmit)
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

// ValidNick reports whether nick is acceptable: 1 to 32 bytes of printable
// UTF-8 without spaces or '#'.
func ValidNick(nick string) bool { return wire.ValidNick(nick) }
