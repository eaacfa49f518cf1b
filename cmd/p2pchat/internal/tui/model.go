package tui

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/slash"
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
	// Notify, if set, shows a desktop notification (--notify). It is
	// called from a command's goroutine. Nil: no notifications.
	Notify func(title, body string) error
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
	snap          Snapshot
	verified      map[peer.ID]bool // peers seen verified (verification is sticky)
	keyChanged    map[peer.ID]bool // keys that took over a known nick, until verified

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

func newInput() textarea.Model {
	in := textarea.New()
	in.Prompt = ""
	in.ShowLineNumbers = false
	in.EndOfBufferCharacter = ' '
	in.CharLimit = 0
	in.DynamicHeight = true
	in.MinHeight = 1
	in.MaxHeight = 5
	in.SetHeight(1)
	in.Placeholder = "type a message; /help lists commands and keys"
	km := textarea.DefaultKeyMap()
	// Enter sends (Update handles it); a new line is Alt-Enter or Ctrl-J.
	km.InsertNewline = key.NewBinding(key.WithKeys("alt+enter", "ctrl+j"))
	// ↑/↓ move between lines, and recall history at the edges (Update);
	// Ctrl-N/Ctrl-P switch rooms; PgUp/PgDn scroll the messages.
	km.LineNext = key.NewBinding(key.WithKeys("down"))
	km.LinePrevious = key.NewBinding(key.WithKeys("up"))
	km.PageUp = key.NewBinding(key.WithDisabled())
	km.PageDown = key.NewBinding(key.WithDisabled())
	in.KeyMap = km
	st := textarea.DefaultStyles(true)
	plain := textarea.StyleState{
		Base: lipgloss.NewStyle(), Text: lipgloss.NewStyle(), CursorLine: lipgloss.NewStyle(),
		EndOfBuffer: lipgloss.NewStyle(), Placeholder: styleDim, Prompt: lipgloss.NewStyle(),
		Selection: lipgloss.NewStyle().Reverse(true),
	}
	st.Focused, st.Blurred = plain, plain
	in.SetStyles(st)
	in.SetVirtualCursor(false)
	in.Focus()
	return in
}

type tickMsg time.Time

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// commandDoneMsg reports a finished [Core.Command].
type commandDoneMsg struct{ res CommandResult }

// sendDoneMsg reports a finished [Core.Send] of our entry local in room.
type sendDoneMsg struct {
	room  string
	local int
	msg   *room.Message
	err   error
}

type notifyDoneMsg struct{ err error }

// Init starts the clock that refreshes the status line, the listener for
// passphrase prompts and the loading of the rooms' stored messages.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(tick(), m.waitAsk(), m.takeLoads())
}

// takeLoads returns the commands that load the stored history of rooms
// shown for the first time.
func (m *Model) takeLoads() tea.Cmd {
	var cmds []tea.Cmd
	for _, name := range m.loads {
		cmds = append(cmds, m.loadHistory(name, historyPage, false))
	}
	m.loads = nil
	return tea.Batch(cmds...)
}

// loadHistory asks the core for the last n stored messages of room name,
// if it keeps any.
func (m *Model) loadHistory(name string, n int, note bool) tea.Cmd {
	h, ok := m.core.(Historian)
	v, shown := m.views[name]
	if !ok || !shown || v.historyBusy {
		return nil
	}
	v.historyBusy, v.historyAsked = true, n
	ctx := m.ctx
	return func() tea.Msg {
		msgs, err := h.History(ctx, name, n)
		return HistoryMsg{Room: name, Messages: msgs, Err: err, Asked: n, Note: note}
	}
}

type searchDoneMsg struct {
	query string
	hits  []room.SearchHit
	err   error
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
		return m, tick()
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
		m.onSendDone(msg)
		return m, nil
	case notifyDoneMsg:
		if msg.err != nil && !m.notifyFailed {
			m.notifyFailed = true
			m.add(m.view(m.current), &entry{kind: kindError, text: "desktop notification failed: " + msg.err.Error() + "; no more tries this session"})
		}
		return m, nil
	case tea.PasteMsg:
		return m, m.onPaste(msg.Content)
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
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

// onPaste inserts pasted text where it belongs; it never sends.
func (m *Model) onPaste(s string) tea.Cmd {
	if m.prompt != nil {
		m.prompt.paste(s)
		return nil
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	m.input.InsertString(s)
	m.fitInput()
	m.comp = nil
	return nil
}

func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	s := k.String()
	if m.prompt != nil {
		return m.onPromptKey(k)
	}
	if s != "tab" && s != "shift+tab" {
		m.comp = nil
	}
	switch s {
	case "ctrl+c":
		return m.quit()
	case "ctrl+d":
		if m.input.Value() == "" {
			return m.quit()
		}
	case "enter":
		return m.submit()
	case "tab":
		m.complete(1)
		return nil
	case "shift+tab":
		m.complete(-1)
		return nil
	case "esc":
		if m.help {
			m.help = false
		} else if v := m.view(m.current); v.scroll > 0 {
			v.scroll, v.newBelow = 0, 0
		}
		return nil
	case "pgup":
		return m.page(1)
	case "pgdown":
		return m.page(-1)
	case "ctrl+n":
		m.cycle(1)
		return nil
	case "ctrl+p":
		m.cycle(-1)
		return nil
	case "alt+a":
		m.nextActive()
		return nil
	case "ctrl+l":
		return tea.ClearScreen
	case "up":
		if m.input.Line() == 0 && m.histPos > 0 {
			if m.histPos == len(m.history) {
				m.draft = m.input.Value()
			}
			m.histPos--
			m.input.SetValue(m.history[m.histPos])
			m.fitInput()
			return nil
		}
	case "down":
		if m.input.Line() == m.input.LineCount()-1 && m.histPos < len(m.history) {
			m.histPos++
			if m.histPos == len(m.history) {
				m.input.SetValue(m.draft)
			} else {
				m.input.SetValue(m.history[m.histPos])
			}
			m.fitInput()
			return nil
		}
	}
	if len(s) == 5 && strings.HasPrefix(s, "alt+") && s[4] >= '1' && s[4] <= '9' {
		if i := int(s[4] - '1'); i < len(m.order) {
			m.switchTo(m.order[i])
		}
		return nil
	}
	if typed, ok := m.escThenKey(k); ok {
		// Esc and a key pressed right after it reach us as one Alt-key
		// (the terminal sends the same bytes): Esc, then the key. Else
		// Esc, "/join lobby" would lose its slash and go out as chat.
		m.onKey(tea.KeyPressMsg{Code: tea.KeyEscape})
		k = typed
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	m.fitInput()
	return cmd
}

// escThenKey returns the key that k, an Alt-key that neither the model
// nor the input binds, is without its Alt: Alt-/ is Esc then /.
func (m *Model) escThenKey(k tea.KeyPressMsg) (tea.KeyPressMsg, bool) {
	if k.Text != "" || !unicode.IsPrint(k.Code) || (k.Mod != tea.ModAlt && k.Mod != tea.ModAlt|tea.ModShift) {
		return k, false
	}
	v := reflect.ValueOf(m.input.KeyMap)
	for i := range v.NumField() {
		if b, ok := v.Field(i).Interface().(key.Binding); ok && key.Matches(k, b) {
			return k, false
		}
	}
	r := k.Code
	if k.Mod&tea.ModShift != 0 {
		r = unicode.ToUpper(r)
	}
	return tea.KeyPressMsg{Code: r, Text: string(r)}, true
}

func (m *Model) onPromptKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		m.prompt.submit()
		m.prompt = nil
	case "esc", "ctrl+c":
		m.prompt.cancel()
		m.prompt = nil
	case "backspace", "ctrl+h":
		m.prompt.backspace()
	case "ctrl+u":
		m.prompt.erase()
	default:
		if k.Text != "" {
			m.prompt.insert(k.Text)
		}
	}
	return nil
}

// quit ends the program, cancelling a passphrase prompt so that the
// command behind it returns.
func (m *Model) quit() tea.Cmd {
	if m.prompt != nil {
		m.prompt.cancel()
		m.prompt = nil
	}
	if !m.quitting {
		m.quitting = true
		close(m.done)
	}
	return tea.Quit
}

// submit handles Enter: a command, or a message to the current room.
func (m *Model) submit() tea.Cmd {
	text := strings.TrimRight(m.input.Value(), "\n")
	if strings.TrimSpace(text) == "" {
		m.input.Reset()
		m.fitInput()
		return nil
	}
	if len(text) > room.MaxText {
		m.add(m.view(m.current), &entry{kind: kindError,
			text: fmt.Sprintf("message of %d bytes not sent: messages are limited to %d bytes; shorten it and press Enter again", len(text), room.MaxText)})
		return nil
	}
	m.remember(text)
	m.input.Reset()
	m.fitInput()
	m.help = false
	multiline := strings.Contains(text, "\n")
	switch {
	case strings.HasPrefix(text, "//"):
		return m.send(text[1:], false)
	case strings.HasPrefix(text, "/") && !multiline:
		return m.command(text)
	}
	// A multi-line message is sent as it is, even if it starts with "/":
	// commands are one line.
	return m.send(text, false)
}

// remember adds text to the input history.
func (m *Model) remember(text string) {
	if n := len(m.history); n == 0 || m.history[n-1] != text {
		m.history = append(m.history, text)
		if len(m.history) > maxHistory {
			m.history = slices.Delete(m.history, 0, len(m.history)-maxHistory)
		}
	}
	m.histPos, m.draft = len(m.history), ""
}

// command runs a /command line: the UI's own commands here, the others
// through the core. A line that names no command is an error, never a
// message.
func (m *Model) command(line string) tea.Cmd {
	v := m.view(m.current)
	c, err := slash.Parse(line, slash.UI)
	if err != nil {
		m.add(v, &entry{kind: kindError, text: err.Error()})
		return nil
	}
	switch c.Name {
	case "help":
		m.help, m.helpScroll = true, 0
		return nil
	case "clear":
		v.entries, v.scroll, v.newBelow = nil, 0, 0
		return nil
	case "quit":
		return m.quit()
	case "me":
		return m.send(c.Text, true)
	case "search", "history":
		return m.historyCommand(v, c)
	}
	ctx, core, current, ask := m.ctx, m.core, m.current, m.ask
	return func() tea.Msg {
		return commandDoneMsg{core.Command(ctx, current, line, ask)}
	}
}

// historyCommand runs /history [N] and /search TEXT.
func (m *Model) historyCommand(v *roomView, c slash.Call) tea.Cmd {
	h, ok := m.core.(Historian)
	if !ok {
		m.add(v, &entry{kind: kindNote, text: "/" + c.Name + ": this node keeps no message history; the pane holds what this session received (PgUp to scroll back)"})
		return nil
	}
	if c.Name == "search" {
		ctx, query := m.ctx, c.Text
		return func() tea.Msg {
			hits, err := h.Search(ctx, query, searchResults)
			return searchDoneMsg{query: query, hits: hits, err: err}
		}
	}
	if m.current == "" {
		m.add(v, &entry{kind: kindError, text: "not in any room; /join ROOM first"})
		return nil
	}
	v.historyBusy = false
	return m.loadHistory(m.current, c.N, true) // N 0: all
}

func (m *Model) onSearchDone(d searchDoneMsg) {
	v := m.view(m.current)
	if d.err != nil {
		m.add(v, &entry{kind: kindError, text: "/search: " + d.err.Error()})
		return
	}
	lines := []string{fmt.Sprintf("search %q: %s", d.query, plural(len(d.hits), "stored message"))}
	for _, h := range d.hits {
		msg := h.Message
		lines = append(lines, fmt.Sprintf("  [%s] %s %s#%s: %s", h.Room, msg.Time.In(m.cfg.Location).Format("2006-01-02 15:04"),
			sanitize(msg.Nick, false), msg.Short, sanitize(h.Snippet, false)))
	}
	m.add(v, &entry{kind: kindNote, text: strings.Join(lines, "\n")})
}

func (m *Model) onCommandDone(res CommandResult) tea.Cmd {
	m.refresh()
	var cmds []tea.Cmd
	for _, o := range res.Output {
		if o.Event != nil {
			cmds = append(cmds, m.onEvent(*o.Event))
			continue
		}
		m.add(m.view(m.current), &entry{kind: kindNote, text: o.Text})
	}
	if res.Current != m.current {
		m.switchTo(res.Current)
	}
	if res.Quit {
		cmds = append(cmds, m.quit())
	}
	return tea.Batch(cmds...)
}

// send shows text as our own message, sending, and sends it.
func (m *Model) send(text string, action bool) tea.Cmd {
	v := m.view(m.current)
	if m.current == "" {
		m.add(v, &entry{kind: kindError, text: "not in any room; /join ROOM first"})
		return nil
	}
	m.nextLocal++
	e := &entry{kind: kindMessage, time: m.cfg.Now(), from: m.snap.ID, nick: m.snap.Nick, short: m.snap.Short,
		text: text, self: true, action: action, local: m.nextLocal, state: StateSending}
	if action {
		e.kind = kindAction
	}
	m.add(v, e)
	v.scroll, v.newBelow = 0, 0
	ctx, core, name, local := m.ctx, m.core, m.current, m.nextLocal
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, sendTimeout)
		defer cancel()
		msg, err := core.Send(ctx, name, text, action)
		return sendDoneMsg{room: name, local: local, msg: msg, err: err}
	}
}

func (m *Model) onSendDone(d sendDoneMsg) {
	v, ok := m.views[d.room]
	if !ok {
		return
	}
	for _, e := range v.entries {
		if e.local != d.local {
			continue
		}
		if d.err != nil {
			e.state, e.err = StateNotSent, d.err.Error()
			return
		}
		if d.msg == nil {
			e.state = StateSent
			return
		}
		// A state event may have come first and told more.
		if s := stateOf(d.msg.State); e.state == StateSending || s > e.state {
			e.state = s
		}
		e.id, e.time, e.nick, e.short = d.msg.ID, d.msg.Time, d.msg.Nick, d.msg.Short
		// The core may have reported the message before Send returned;
		// that copy is this one.
		v.entries = slices.DeleteFunc(v.entries, func(o *entry) bool { return o != e && o.self && o.id == d.msg.ID })
		return
	}
}

// onEvent shows one event of the core's stream (or a command's answer).
func (m *Model) onEvent(ev room.Event) tea.Cmd {
	v, ok := m.views[ev.Room]
	prefix := ""
	if !ok {
		v = m.view(m.current)
		if ev.Room != "" {
			prefix = "[" + ev.Room + "] "
		}
	}
	switch ev.Type {
	case room.EventJoined:
		text := prefix + "joined; messages are end-to-end encrypted"
		if rs, ok := m.snap.room(ev.Room); ok {
			text += " (" + room.DescribeKind(rs.Kind) + ")"
		}
		m.add(v, &entry{kind: kindInfo, text: text})
	case room.EventLeft:
		m.add(v, &entry{kind: kindInfo, text: "[" + ev.Room + "] left"})
	case room.EventMemberJoined:
		m.add(v, &entry{kind: kindMember, from: ev.Peer, nick: ev.Nick, short: ev.Short, text: prefix + "joined"})
	case room.EventMemberLeft:
		m.add(v, &entry{kind: kindMember, from: ev.Peer, nick: ev.Nick, short: ev.Short, text: prefix + "left (" + ev.Reason + ")"})
	case room.EventNick:
		m.add(v, &entry{kind: kindMember, from: ev.Peer, nick: ev.OldNick, short: ev.Short, text: prefix + "is now " + sanitize(ev.Nick, false) + "#" + ev.Short})
	case room.EventKeyChanged:
		if !m.verified[ev.Peer] {
			m.keyChanged[ev.Peer] = true
		}
		was := sanitize(ev.OldPeer, false)
		if ev.OldVerified {
			was += ", verified"
		}
		m.add(v, &entry{kind: kindKeyChanged, from: ev.Peer, nick: ev.Nick, short: ev.Short,
			text: prefix + "uses the nick of a different key than before (was " + was + ") — verify before trusting"})
	case room.EventError:
		k := kindError
		if ev.Reason == room.DropUnreadable {
			k = kindUnreadable
		}
		text := "error"
		if ev.Err != nil {
			text = ev.Err.Error()
		}
		m.add(v, &entry{kind: k, from: ev.Peer, text: prefix + text})
	case room.EventMessage:
		if ev.Message == nil {
			return nil
		}
		return m.onMessage(v, prefix, ev.Message)
	case room.EventState:
		if ev.Message == nil {
			return nil
		}
		for _, e := range v.entries {
			if e.self && e.id == ev.Message.ID {
				e.state, e.seenBy = stateOf(ev.Message.State), ev.Message.SeenBy
			}
		}
	}
	return nil
}

func (m *Model) onMessage(v *roomView, prefix string, msg *room.Message) tea.Cmd {
	if msg.Self {
		for _, e := range v.entries {
			if e.self && (e.id == msg.ID || (e.id == "" && e.state == StateSending && e.text == msg.Text && e.action == msg.Action)) {
				// Our own message, already shown as sending.
				e.id = msg.ID
				return nil
			}
		}
	}
	e := messageEntry(msg)
	e.text = prefix + msg.Text
	e.mention = !msg.Self && mentions(msg.Text, m.snap.Nick)
	m.add(v, e)
	if msg.Self {
		return nil
	}
	shown := v.name == m.current && v.scroll == 0
	if v.name != m.current && v.name != "" {
		v.unread++
		v.mention = v.mention || e.mention
	}
	if !e.mention || m.cfg.Notify == nil || m.notifyFailed || (shown && m.focused) {
		return nil
	}
	// The notification names who and where, never the text: notification
	// daemons keep and show what they are given outside this program.
	notify := m.cfg.Notify
	title := "p2pchat: " + v.name
	body := fmt.Sprintf("%s#%s mentioned you in %s", sanitize(msg.Nick, false), msg.Short, v.name)
	return func() tea.Msg { return notifyDoneMsg{notify(title, body)} }
}

// onHistory puts stored messages above what the room's pane holds.
func (m *Model) onHistory(h HistoryMsg) {
	v, ok := m.views[h.Room]
	if !ok {
		return
	}
	v.historyBusy = false
	if h.Err != nil {
		v.historyDone = true
		m.add(v, &entry{kind: kindError, text: "stored messages could not be read: " + h.Err.Error()})
		return
	}
	if h.Asked <= 0 || len(h.Messages) < h.Asked {
		v.historyDone = true
	}
	have := map[string]bool{}
	for _, e := range v.entries {
		if e.id != "" {
			have[e.id] = true
		}
	}
	var older []*entry
	for _, msg := range h.Messages {
		if msg == nil || have[msg.ID] {
			continue
		}
		have[msg.ID] = true
		older = append(older, messageEntry(msg))
	}
	space := max(0, m.cfg.Scrollback-len(v.entries))
	if len(older) > space {
		older = older[len(older)-space:]
	}
	v.entries = append(older, v.entries...)
	if h.Note {
		text := fmt.Sprintf("%s of %s loaded above; PgUp to read them", plural(len(older), "more stored message"), h.Room)
		if len(older) == 0 {
			text = "no more stored messages of " + h.Room
		}
		m.add(v, &entry{kind: kindInfo, text: text})
	}
}

// add appends e to v, stamping it, keeping the scrollback bounded and the
// view still if it is scrolled up.
func (m *Model) add(v *roomView, e *entry) {
	if e.time.IsZero() {
		e.time = m.cfg.Now()
	}
	i := len(v.entries)
	if e.late && e.msg != nil {
		// A late message goes to its place in the room's order: above the
		// messages that follow it.
		for i > 0 && v.entries[i-1].msg != nil && e.msg.Before(v.entries[i-1].msg) {
			i--
		}
	}
	v.entries = slices.Insert(v.entries, i, e)
	if over := len(v.entries) - m.cfg.Scrollback; over > 0 {
		v.entries = slices.Delete(v.entries, 0, over)
	}
	if v.scroll > 0 {
		v.scroll += len(m.renderEntry(e, m.layout().paneW))
		v.newBelow++
	}
}

// refresh takes a new snapshot of the core and brings the rooms column in
// line with it.
func (m *Model) refresh() {
	m.snap = m.core.Snapshot()
	var names []string
	for _, r := range m.snap.Rooms {
		names = append(names, r.Name)
		for _, mb := range r.Members {
			if mb.Verified {
				m.verified[mb.Peer] = true
				delete(m.keyChanged, mb.Peer)
			}
		}
		if _, ok := m.views[r.Name]; !ok {
			m.views[r.Name] = &roomView{name: r.Name}
			m.order = append(m.order, r.Name)
			m.loads = append(m.loads, r.Name)
		}
	}
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

// switchTo makes room name current and marks it read.
func (m *Model) switchTo(name string) {
	if _, ok := m.views[name]; !ok {
		name = ""
	}
	m.current = name
	v := m.view(name)
	v.unread, v.mention = 0, false
	m.fitInput()
}

// cycle moves to the next (1) or previous (-1) room.
func (m *Model) cycle(step int) {
	if len(m.order) == 0 {
		return
	}
	i := slices.Index(m.order, m.current)
	m.switchTo(m.order[(i+step+len(m.order))%len(m.order)])
}

// nextActive moves to the next room, after the current one, that names us
// in an unread message; failing that, the next one with unread messages.
func (m *Model) nextActive() {
	n := len(m.order)
	i := slices.Index(m.order, m.current)
	for _, want := range []func(*roomView) bool{
		func(v *roomView) bool { return v.mention },
		func(v *roomView) bool { return v.unread > 0 },
	} {
		for j := 1; j <= n; j++ {
			name := m.order[(i+j+n)%n]
			if want(m.views[name]) {
				m.switchTo(name)
				return
			}
		}
	}
}

// page scrolls the help panel or the messages by a page up (1) or down (-1).
func (m *Model) page(dir int) tea.Cmd {
	return m.scrollBy(dir * max(1, m.layout().paneH-2))
}

// scrollBy scrolls the current room's messages up by n rows (down if
// negative). Scrolling past the top loads more stored messages.
func (m *Model) scrollBy(n int) tea.Cmd {
	if m.help {
		m.helpScroll = max(0, m.helpScroll-n)
		return nil
	}
	v := m.view(m.current)
	before := v.scroll
	v.scroll += n
	m.clampScroll(v)
	if n > 0 && v.scroll-before < n && !v.historyDone && v.historyAsked > 0 {
		return m.loadHistory(m.current, v.historyAsked+historyPage, false)
	}
	return nil
}

func (m *Model) clampScroll(v *roomView) {
	if v.scroll <= 0 {
		v.scroll, v.newBelow = 0, 0
		return
	}
	l := m.layout()
	total := 0
	for _, e := range v.entries {
		total += len(m.renderEntry(e, l.paneW))
	}
	v.scroll = min(v.scroll, max(0, total-l.msgRows()))
	if v.scroll == 0 {
		v.newBelow = 0
	}
}

// fitInput sizes the input to the window and its content.
func (m *Model) fitInput() {
	if m.width <= 0 {
		return
	}
	m.input.MaxHeight = max(1, min(5, m.height/4))
	m.input.SetWidth(max(1, m.width-lipgloss.Width(m.promptText())))
}
