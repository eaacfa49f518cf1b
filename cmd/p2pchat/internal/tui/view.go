package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/slash"
	"github.com/p2pchat/p2pchat/room"
)

// Below these sizes the side columns are hidden, the rooms column last.
const (
	minWidthRooms   = 56
	minWidthMembers = 76
	minHeightSides  = 8
)

const timeFormat = "15:04"

// layout is where things go at the current window size.
type layout struct {
	roomsW, membersW int // 0: hidden
	paneX, paneW     int
	paneH            int // the pane's rows, its header included; the side columns' too
	inputH           int
}

// msgRows is how many rows the messages get (the pane less its header).
func (l layout) msgRows() int { return max(0, l.paneH-1) }

func (m *Model) layout() layout {
	w, h := m.width, m.height
	l := layout{inputH: 1}
	if m.prompt == nil {
		l.inputH = max(1, m.input.Height())
	}
	if h >= minHeightSides {
		switch {
		case w >= 110:
			l.roomsW, l.membersW = 18, 26
		case w >= minWidthMembers:
			l.roomsW, l.membersW = 12, 17
		case w >= minWidthRooms:
			l.roomsW = 12
		}
	}
	l.paneW = w
	if l.roomsW > 0 {
		l.paneX = l.roomsW + 1
		l.paneW -= l.roomsW + 1
	}
	if l.membersW > 0 {
		l.paneW -= l.membersW + 1
	}
	l.paneW = max(1, l.paneW)
	l.paneH = max(0, h-1-l.inputH)
	return l
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	var v tea.View
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.ReportFocus = true
	v.WindowTitle = "p2pchat"
	if m.current != "" {
		v.WindowTitle = "p2pchat: " + m.current
	}
	if m.width <= 0 || m.height <= 0 || m.quitting {
		return v
	}
	l := m.layout()
	var rows []string
	var pane []string
	if m.help {
		// The help panel takes the side columns' room too.
		l.roomsW, l.membersW, l.paneX, l.paneW = 0, 0, 0, m.width
		pane = m.helpLines(l)
	} else {
		pane = m.paneLines(l)
	}
	var rooms, members []string
	if l.roomsW > 0 {
		rooms = m.roomLines(l)
	}
	if l.membersW > 0 {
		members = m.memberLines(l)
	}
	sep := styleDim.Render("│")
	for i := range l.paneH {
		var b strings.Builder
		if l.roomsW > 0 {
			b.WriteString(fit(rooms[i], l.roomsW))
			b.WriteString(sep)
		}
		b.WriteString(fit(pane[i], l.paneW))
		if l.membersW > 0 {
			b.WriteString(sep)
			b.WriteString(fit(members[i], l.membersW))
		}
		rows = append(rows, b.String())
	}
	rows = append(rows, styleStatus.Render(fit(m.statusText(), m.width)))
	input, cursor := m.inputLines(l)
	rows = append(rows, input...)
	v.SetContent(strings.Join(rows[:min(len(rows), m.height)], "\n"))
	if cursor != nil {
		cursor.Y += m.height - l.inputH
		v.Cursor = cursor
	}
	return v
}

// fit pads or truncates a styled line to exactly w cells.
func fit(s string, w int) string {
	if sw := ansi.StringWidth(s); sw > w {
		s = ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", max(0, w-ansi.StringWidth(s)))
}

// paneLines draws the current room's header and messages, newest at the
// bottom.
func (m *Model) paneLines(l layout) []string {
	v := m.view(m.current)
	out := make([]string, 0, l.paneH)
	if l.paneH == 0 {
		return out
	}
	out = append(out, m.headerText())
	rows := l.msgRows()
	var lines []string
	for i := len(v.entries) - 1; i >= 0 && len(lines) < rows+v.scroll; i-- {
		lines = append(m.renderEntry(v.entries[i], l.paneW), lines...)
	}
	end := max(0, len(lines)-v.scroll)
	start := max(0, end-rows)
	lines = lines[start:end]
	for len(lines) < rows {
		lines = append([]string{""}, lines...)
	}
	if v.scroll > 0 && rows > 0 {
		more := "more below"
		if v.newBelow > 0 {
			more = fmt.Sprintf("%d new below", v.newBelow)
		}
		lines[rows-1] = styleStatus.Render(fit(fmt.Sprintf(" ↓ %s: PgDn or Esc ", more), l.paneW))
	}
	return append(out, lines...)
}

// headerText is the pane's first row: the room, its kind and key state.
func (m *Model) headerText() string {
	if m.current == "" {
		return styleHeader.Render("not in any room: /join ROOM")
	}
	s := styleHeader.Render(m.current)
	rs, ok := m.snap.room(m.current)
	if !ok {
		return s
	}
	switch rs.Kind {
	case room.KindOpen:
		s += " · open: anyone who knows the name can join"
	case room.KindPassphrase:
		s += " · passphrase: only those who know it can join"
	default:
		s += " · " + string(rs.Kind)
	}
	if !rs.Ready {
		s += " · " + styleWarn.Render("waiting for the room key")
	}
	return s
}

// renderEntry draws one entry as rows at most width cells wide.
func (m *Model) renderEntry(e *entry, width int) []string {
	ts := styleDim.Render(e.time.In(m.cfg.Location).Format(timeFormat)) + " "
	var head string // styled, after the time
	textStyle := lipgloss.NewStyle()
	text := sanitize(e.text, true)
	if e.deleted {
		text, textStyle = "message deleted", styleDim.Italic(true)
	}
	switch e.kind {
	case kindMessage:
		head = m.who(e.from, e.nick, e.short, e.self, true) + ": "
	case kindAction:
		head = "* " + m.who(e.from, e.nick, e.short, e.self, true) + " "
	case kindMember:
		head = styleDim.Render("* ") + m.who(e.from, e.nick, e.short, false, true) + " "
		textStyle = styleDim
	case kindInfo:
		head = styleDim.Render("* ")
		textStyle = styleDim
	case kindNote:
	case kindError:
		head = styleError.Render("! ")
		textStyle = styleError
	case kindUnreadable:
		head = styleUnreadable.Render("✗ unreadable: ")
		textStyle = styleUnreadable
	case kindKeyChanged:
		head = styleWarnMark.Render("!!!") + " " + m.who(e.from, e.nick, e.short, false, false) + " "
		textStyle = styleWarn
	}
	prefix := ts + head
	// Continuation rows hang under the text when the prefix leaves it
	// room, else under the time.
	indent := ansi.StringWidth(prefix)
	if indent > width*2/5 {
		indent = min(6, width/2)
	}
	first := width - ansi.StringWidth(prefix)
	var suffix string
	switch e.state {
	case StateSending, StateSent:
		suffix = styleDim.Render(" · " + e.state.String())
	case StatePending:
		suffix = stylePending.Render(" · " + e.state.String())
	case StateSeen:
		suffix = styleDim.Render(" · seen by " + plural(e.seenBy, "member"))
	case StateNotSent:
		suffix = styleNotSent.Render(" · not sent: " + sanitize(e.err, false))
	}
	if e.late {
		suffix += styleDim.Render(" · arrived late")
	}
	if e.edited {
		suffix += styleDim.Render(" · edited")
	}
	var rows []string
	if first < max(8, width/4) {
		// Too little room after a long nick: the text starts below.
		rows = append(rows, ansi.Truncate(prefix, width, "…"))
		first = width - indent
		prefix = ""
	}
	pad := strings.Repeat(" ", indent)
	for i, para := range strings.Split(text, "\n") {
		// A wrapped indented line (a command's answer) keeps its indent.
		lead := len(para) - len(strings.TrimLeft(para, " "))
		if lead > (width-indent)/2 {
			lead = 0
		}
		firstW := width - indent
		if i == 0 {
			firstW = first
		}
		for j, line := range hangWrap(para, firstW, width-indent-lead) {
			styled := m.styleText(line, textStyle, e.mention)
			switch {
			case i == 0 && j == 0 && prefix != "":
				rows = append(rows, prefix+styled)
			case j > 0:
				rows = append(rows, pad+strings.Repeat(" ", lead)+styled)
			default:
				rows = append(rows, pad+styled)
			}
		}
	}
	if suffix != "" {
		last := rows[len(rows)-1]
		if ansi.StringWidth(last)+ansi.StringWidth(suffix) <= width {
			rows[len(rows)-1] = last + suffix
		} else {
			// On a row of its own, under the time: room for the reason.
			in := min(indent, 6)
			rows = append(rows, strings.Repeat(" ", in)+ansi.Truncate(strings.TrimPrefix(suffix, " "), width-in, "…"))
		}
	}
	if e.replyTo != "" {
		// What it answers, under its text.
		rows = append(rows, pad+styleDim.Render(ansi.Truncate("↪ reply to "+sanitize(oneLine(e.quote), false), width-indent, "…")))
	}
	if e.reactions != "" && !e.deleted {
		rows = append(rows, pad+styleDim.Render(ansi.Truncate(sanitize(e.reactions, false), width-indent, "…")))
	}
	return rows
}

// styleText styles one wrapped row of text, highlighting mentions of our
// nick.
func (m *Model) styleText(line string, st lipgloss.Style, mention bool) string {
	if !mention {
		return st.Render(line)
	}
	spans := mentionSpans(line, m.snap.Nick)
	if len(spans) == 0 {
		return st.Render(line)
	}
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		b.WriteString(st.Render(line[at:sp[0]]))
		b.WriteString(styleMention.Render(line[sp[0]:sp[1]]))
		at = sp[1]
	}
	b.WriteString(st.Render(line[at:]))
	return b.String()
}

// who draws nick#fp in p's colour; with marks, "✓" after a verified peer
// and "!" before one whose key took over a known nick.
func (m *Model) who(p peer.ID, nick, short string, self, marks bool) string {
	st := peerStyle(p, self)
	s := st.Render(sanitize(nick, false)) + st.Faint(true).Render("#"+short)
	switch {
	case self || !marks:
	case m.keyChanged[p]:
		s = styleWarn.Render("!") + s
	case m.verified[p]:
		s += styleVerified.Render("✓")
	}
	return s
}

// mark is a member's security mark in the members column.
func (m *Model) mark(p peer.ID) string {
	switch {
	case m.keyChanged[p]:
		return styleWarn.Render("!")
	case m.verified[p]:
		return styleVerified.Render("✓")
	}
	return styleDim.Render("?")
}

// roomLines draws the rooms column: number, name, unread count and "@" for
// a mention.
func (m *Model) roomLines(l layout) []string {
	out := []string{styleHeader.Render("rooms")}
	for i, name := range m.order {
		v := m.views[name]
		num := " "
		if i < 9 {
			num = fmt.Sprint(i + 1)
		}
		var tail string
		if v.unread > 0 {
			tail = styleUnread.Render(fmt.Sprint(v.unread))
		}
		if v.mention {
			tail += styleMentionMk.Render("@")
		}
		cur := " "
		if name == m.current {
			cur = "›"
		}
		nameW := l.roomsW - 2 - 1 - 1 - ansi.StringWidth(tail)
		line := cur + num + " " + fit(ansi.Truncate(name, max(1, nameW), "…"), max(1, nameW)) + " " + tail
		if name == m.current {
			line = styleCurrent.Render(fit(ansi.Strip(line), l.roomsW))
		}
		out = append(out, line)
	}
	for len(out) < l.paneH {
		out = append(out, "")
	}
	return out[:l.paneH]
}

// memberLines draws the members column: this node first, then the others
// with their security marks.
func (m *Model) memberLines(l layout) []string {
	var out []string
	rs, ok := m.snap.room(m.current)
	switch {
	case !ok:
		out = append(out, styleHeader.Render("members"))
	default:
		out = append(out, styleHeader.Render(fmt.Sprintf("members %d", len(rs.Members)+1)))
		self := "  " + m.who(m.snap.ID, m.snap.Nick, m.snap.Short, true, false)
		if you := styleDim.Render(" (you)"); ansi.StringWidth(self+you) <= l.membersW {
			self += you
		}
		out = append(out, self)
		for _, mb := range rs.Members {
			line := m.mark(mb.Peer) + " " + m.who(mb.Peer, mb.Nick, mb.Fingerprint.Short(), false, false)
			if mb.Away != "" {
				// As much of "(away)" as fits: "(away)", "·away", else "·".
				for _, away := range []string{" (away)", " ·away", "·"} {
					if ansi.StringWidth(line+away) <= l.membersW {
						line += styleDim.Render(away)
						break
					}
				}
			}
			out = append(out, line)
		}
		if !rs.Ready {
			out = append(out, styleDim.Render("(waiting for the room key)"))
		}
		if len(rs.Absent) > 0 {
			out = append(out, styleDim.Render("not here now"))
			for _, mb := range rs.Absent {
				out = append(out, styleDim.Render("  "+sanitize(mb.Nick, false)+"#"+mb.Fingerprint.Short()))
			}
		}
	}
	for len(out) < l.paneH {
		out = append(out, "")
	}
	if len(out) > l.paneH && l.paneH > 0 {
		more := len(out) - l.paneH + 1
		out = append(out[:l.paneH-1], styleDim.Render(fmt.Sprintf("… %d more (/who)", more)))
	}
	return out[:l.paneH]
}

// statusText is the status line: warnings first, so that a narrow screen
// keeps them, then this node, its peers and the current room.
func (m *Model) statusText() string {
	if m.prompt != nil {
		return " Enter to confirm, Esc to cancel; what you type is not shown"
	}
	if m.notice != "" {
		return m.notice
	}
	var parts []string
	rs, ok := m.snap.room(m.current)
	if ok {
		var changed []string
		for _, mb := range rs.Members {
			if m.keyChanged[mb.Peer] {
				changed = append(changed, sanitize(mb.Nick, false)+"#"+mb.Fingerprint.Short())
			}
		}
		if len(changed) > 0 {
			parts = append(parts, "!!! key changed: "+strings.Join(changed, ", "))
		}
	}
	parts = append(parts, sanitize(m.snap.Nick, false)+"#"+m.snap.Short, plural(m.snap.Peers, "peer"))
	if ok {
		verified := 0
		for _, mb := range rs.Members {
			if m.verified[mb.Peer] {
				verified++
			}
		}
		parts = append(parts, string(rs.Kind))
		// You included, as in the members column's header.
		s := plural(len(rs.Members)+1, "member")
		if len(rs.Members) > 0 {
			s += fmt.Sprintf(", %d verified", verified)
		}
		parts = append(parts, s)
		if !rs.Ready {
			parts = append(parts, "no room key yet")
		}
	}
	return " " + strings.Join(parts, " · ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// promptText is what stands left of the input.
func (m *Model) promptText() string {
	if m.current == "" {
		return "> "
	}
	return ansi.Truncate(m.current, 16, "…") + "> "
}

// inputLines draws the input (or the passphrase prompt) and returns where
// the cursor goes, relative to the input's first row.
func (m *Model) inputLines(l layout) ([]string, *tea.Cursor) {
	if m.prompt != nil {
		mask := styleSecret.Render(m.prompt.mask())
		text := stylePrompt.Render(sanitize(m.prompt.text, false))
		maskW := ansi.StringWidth(mask)
		if maskW >= m.width {
			mask = styleSecret.Render(strings.Repeat("•", max(0, m.width-1)))
			maskW = m.width - 1
		}
		room := m.width - maskW - 1
		if ansi.StringWidth(text) > room {
			text = ansi.TruncateLeft(text, ansi.StringWidth(text)-room, "…")
		}
		line := text + mask
		return []string{fit(line, m.width)}, tea.NewCursor(min(m.width-1, ansi.StringWidth(line)), 0)
	}
	p := stylePrompt.Render(m.promptText())
	pw := ansi.StringWidth(p)
	rows := strings.Split(m.input.View(), "\n")
	pad := strings.Repeat(" ", pw)
	for i := range rows {
		if i == 0 {
			rows[i] = fit(p+rows[i], m.width)
		} else {
			rows[i] = fit(pad+rows[i], m.width)
		}
	}
	for len(rows) < l.inputH {
		rows = append(rows, strings.Repeat(" ", m.width))
	}
	rows = rows[:l.inputH]
	c := m.input.Cursor()
	if c != nil {
		c.X += pw
	}
	return rows, c
}

// helpLines draws the help panel in the pane's place.
func (m *Model) helpLines(l layout) []string {
	var lines []string
	for _, s := range strings.Split(helpKeys+"\n\n"+slash.Help(slash.UI, 0), "\n") {
		// Wrapped rows of an indented line continue under its text.
		indent := 0
		if strings.HasPrefix(s, "  ") {
			indent = min(17, l.paneW/3)
		}
		for i, row := range hangWrap(s, l.paneW, l.paneW-indent) {
			if i > 0 {
				row = strings.Repeat(" ", indent) + row
			}
			lines = append(lines, row)
		}
	}
	rows := l.msgRows()
	m.helpScroll = min(m.helpScroll, max(0, len(lines)-rows))
	lines = lines[m.helpScroll:]
	out := []string{styleHeader.Render("help: Esc closes, PgUp/PgDn scroll")}
	for i := 0; i < rows; i++ {
		if i < len(lines) {
			out = append(out, lines[i])
		} else {
			out = append(out, "")
		}
	}
	return out
}

const helpKeys = `keys:
  Enter          send the message, or run the /command
  Alt-Enter, Ctrl-J
                 new line in the message (a pasted text never sends itself)
  ↑ ↓            earlier and later input lines
  Ctrl-U         clear the line (a one-line input: all of it)
  Ctrl-C         clear the whole input, however many lines (↑ brings it back); on an empty input: quit
  Tab            complete commands, nicks and rooms (again: next choice)
  PgUp PgDn, mouse wheel
                 scroll back (stored messages load at the top); Esc returns
  Alt-1 … Alt-9  go to room 1 … 9
  Ctrl-N Ctrl-P  next, previous room
  Alt-A          next room with a mention, else with unread messages
  Ctrl-D         quit, on an empty input
marks:
  ✓ verified peer  ? not verified yet  ! its key changed: verify it
  ✗ messages that could not be read  3@ unread messages, one names you`

// hangWrap wraps one paragraph: its first row to first cells, the others
// to rest cells.
func hangWrap(para string, first, rest int) []string {
	if first == rest {
		return wrapText(para, rest)
	}
	row := wrapText(para, first)[0]
	more, ok := strings.CutPrefix(para, row)
	if !ok {
		return wrapText(para, min(first, rest))
	}
	lines := []string{row}
	if more = strings.TrimLeft(more, " "); more != "" {
		lines = append(lines, wrapText(more, rest)...)
	}
	return lines
}

// oneLine is the first line of s, with " …" if there are more.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
