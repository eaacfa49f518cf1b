package tui

import (
	"context"
	"slices"
	"time"

	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// Limits and defaults.
const (
	defaultScrollback = 5000
	maxHistory        = 500 // input lines ↑ recalls
	sendTimeout       = 30 * time.Second
	wheelLines        = 3
	historyPage       = 200 // stored messages loaded at a time
	searchResults     = 20
)

// Config configures a [Model].
type Config struct {
	Core Core // required
	// Intro lines open the first room's pane: who this node is, where it
	// listens.
	Intro []string
	// Current is the room shown first; "" shows the first joined room.
	Current string
	// Order is the order of the rooms column (normalised names, as joined
	// on the command line or remembered); rooms it does not name follow
	// in the order they are first seen.
	Order []string
	// Notify, if set, shows a desktop notification (--notify). It is
	// called from a command's goroutine. Nil: no notifications.
	Notify func(title, body string) error
	// AwayAfter, if not 0, marks this node away ("/away idle") after that
	// long without a key press, and back at the next one (--away-after).
	// An /away typed by the user is left alone.
	AwayAfter time.Duration
	// Now returns the time; nil: time.Now.
	Now func() time.Time
	// Location is the time zone of timestamps; nil: time.Local.
	Location *time.Location
	// Scrollback bounds the entries kept per room; 0: 5000. The oldest go
	// first.
	Scrollback int
}

// Model is the full-screen UI's state: a [tea.Model]. Create it with [New];
// Bubble Tea calls its methods from one goroutine.
type Model struct {
	// ctx parents the contexts of the core calls the model starts: Update
	// has no ctx parameter, so the one Program.Run runs under is kept here.
	ctx  context.Context
	cfg  Config
	core Core

	width, height int
	focused       bool
	lastKey       time.Time // the last key press (AwayAfter)
	idleAway      bool      // this model marked the node away for idleness
	userAway      bool      // the user typed /away (and not /back since)
	snap          Snapshot
	verified      map[peer.ID]bool // peers seen verified (verification is sticky)
	keyChanged    map[peer.ID]bool // keys that took over a known nick, or failed a /verify, until verified

	order   []string             // the rooms column, in the order rooms were first seen
	views   map[string]*roomView // by room name
	sys     *roomView            // shown when no room is current
	current string

	input   textarea.Model
	history []string
	histPos int    // index into history while browsing it; len(history) otherwise
	draft   string // the input before browsing began
	comp    *completion

	asks       chan askRequest
	ask        AskFunc
	done       chan struct{} // closed when the model quits
	prompt     *secretPrompt
	help       bool
	helpScroll int
	split      *splitOffer // a too-long input waiting for y
	notice     string      // replaces the status line until the next key

	nextLocal    int
	notifyFailed bool
	quitting     bool
	loads        []string // rooms whose stored history is to be loaded
}

var _ tea.Model = (*Model)(nil)

// roomView is one room as the UI shows it.
type roomView struct {
	name     string
	entries  []*entry
	unread   int  // messages since the room was last shown
	mention  bool // one of them names us
	scroll   int  // rows scrolled up from the newest
	newBelow int  // entries that arrived while scrolled up

	historyAsked int  // stored messages asked for so far
	historyBusy  bool // a load is under way
	historyDone  bool // the store has no more
}

// New returns a model for cfg, showing cfg.Current. ctx bounds the core
// calls it makes; it must be the context the program runs under.
func New(ctx context.Context, cfg Config) *Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Scrollback <= 0 {
		cfg.Scrollback = defaultScrollback
	}
	m := &Model{
		ctx: ctx, cfg: cfg, core: cfg.Core,
		focused:    true,
		verified:   map[peer.ID]bool{},
		keyChanged: map[peer.ID]bool{},
		views:      map[string]*roomView{},
		sys:        &roomView{},
		asks:       make(chan askRequest),
		done:       make(chan struct{}),
	}
	m.ask = newAsk(m.asks, m.done)
	m.input = newInput()
	m.refresh()
	m.current = cfg.Current
	if _, ok := m.views[m.current]; !ok {
		m.current = ""
		if len(m.order) > 0 {
			m.current = m.order[0]
		}
	}
	for _, l := range cfg.Intro {
		m.add(m.view(m.current), &entry{kind: kindInfo, text: l})
	}
	return m
}

type tickMsg time.Time

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

type notifyDoneMsg struct{ err error }

// Init starts the clock that refreshes the status line, the listener for
// passphrase prompts and the loading of the rooms' stored messages.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(tick(), m.waitAsk(), m.takeLoads())
}

func (m *Model) waitAsk() tea.Cmd {
	asks, done := m.asks, m.done
	return func() tea.Msg {
		select {
		case req := <-asks:
			return askMsg{req}
		case <-done:
			return nil
		}
	}
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := m.update(msg)
	if len(m.loads) > 0 {
		cmd = tea.Batch(cmd, m.takeLoads())
	}
	return m, cmd
}

func (m *Model) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.fitInput()
		for _, rv := range m.allViews() {
			m.clampScroll(rv)
		}
		return m, nil
	case tea.FocusMsg:
		m.focused = true
		return m, nil
	case tea.BlurMsg:
		m.focused = false
		return m, nil
	case tickMsg:
		m.refresh()
		return m, tea.Batch(tick(), m.checkIdle())
	case SnapshotMsg:
		m.refresh()
		return m, nil
	case EventMsg:
		// Messages change nothing a snapshot shows, and may come in bursts.
		if _, ok := m.views[msg.Event.Room]; !ok || msg.Event.Type != room.EventMessage {
			m.refresh()
		}
		return m, m.onEvent(msg.Event)
	case HistoryMsg:
		m.onHistory(msg)
		return m, nil
	case searchDoneMsg:
		m.onSearchDone(msg)
		return m, nil
	case askMsg:
		if m.prompt != nil {
			msg.req.reply <- askReply{err: errCancelled}
		} else {
			m.prompt = &secretPrompt{text: msg.req.prompt, reply: msg.req.reply}
		}
		return m, m.waitAsk()
	case commandDoneMsg:
		return m, m.onCommandDone(msg.res)
	case sendDoneMsg:
		return m, m.onSendDone(msg)
	case notifyDoneMsg:
		if msg.err != nil && !m.notifyFailed {
			m.notifyFailed = true
			m.add(m.view(m.current), &entry{kind: kindError, text: "desktop notification failed: " + msg.err.Error() + "; no more tries this session"})
		}
		return m, nil
	case tea.PasteMsg:
		return m, m.onPaste(msg.Content)
	case tea.KeyPressMsg:
		return m, tea.Batch(m.active(), m.onKey(msg))
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			return m, m.scrollBy(wheelLines)
		case tea.MouseWheelDown:
			return m, m.scrollBy(-wheelLines)
		}
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

// refresh takes a new snapshot of the core and brings the rooms column in
// line with it.
func (m *Model) refresh() {
	m.snap = m.core.Snapshot()
	var names, added []string
	for _, r := range m.snap.Rooms {
		names = append(names, r.Name)
		for _, mb := range r.Members {
			switch {
			case mb.Mismatch:
				// A failed check, remembered by the core: "!" until
				// verified again, also after a restart.
				delete(m.verified, mb.Peer)
				m.keyChanged[mb.Peer] = true
			case mb.Verified:
				m.verified[mb.Peer] = true
				delete(m.keyChanged, mb.Peer)
			}
		}
		if _, ok := m.views[r.Name]; !ok {
			m.views[r.Name] = &roomView{name: r.Name}
			added = append(added, r.Name)
		}
	}
	// The snapshot is sorted by name; new rooms go in the configured
	// order, the others after them as they came.
	rank := func(n string) int {
		if i := slices.Index(m.cfg.Order, n); i >= 0 {
			return i
		}
		return len(m.cfg.Order)
	}
	slices.SortStableFunc(added, func(a, b string) int { return rank(a) - rank(b) })
	m.order = append(m.order, added...)
	m.loads = append(m.loads, added...)
	for _, name := range m.order {
		if !slices.Contains(names, name) {
			delete(m.views, name)
		}
	}
	m.order = slices.DeleteFunc(m.order, func(n string) bool { return !slices.Contains(names, n) })
	if _, ok := m.views[m.current]; !ok && m.current != "" {
		m.current = ""
		if len(m.order) > 0 {
			m.current = m.order[len(m.order)-1]
		}
		m.fitInput()
	}
}

// view returns the view of room name, or the system view.
func (m *Model) view(name string) *roomView {
	if v, ok := m.views[name]; ok {
		return v
	}
	return m.sys
}

func (m *Model) allViews() []*roomView {
	vs := []*roomView{m.sys}
	for _, n := range m.order {
		vs = append(vs, m.views[n])
	}
	return vs
}

// idleText is the away text of a node idle for AwayAfter.
const idleText = "idle"

// checkIdle marks the node away once no key was pressed for AwayAfter.
func (m *Model) checkIdle() tea.Cmd {
	if m.cfg.AwayAfter <= 0 || m.idleAway || m.userAway {
		return nil
	}
	if m.lastKey.IsZero() {
		m.lastKey = m.cfg.Now()
	}
	if m.cfg.Now().Sub(m.lastKey) < m.cfg.AwayAfter {
		return nil
	}
	m.idleAway = true
	return m.coreCommand("/away " + idleText)
}

// active notes a key press: a node marked away for idleness is back.
func (m *Model) active() tea.Cmd {
	if m.cfg.AwayAfter <= 0 {
		return nil
	}
	m.lastKey = m.cfg.Now()
	if !m.idleAway {
		return nil
	}
	m.idleAway = false
	return m.coreCommand("/back")
}

// coreCommand runs line through the core, as a command the user typed.
func (m *Model) coreCommand(line string) tea.Cmd {
	ctx, core, current, ask := m.ctx, m.core, m.current, m.ask
	return func() tea.Msg {
		return commandDoneMsg{core.Command(ctx, current, line, ask)}
	}
}
