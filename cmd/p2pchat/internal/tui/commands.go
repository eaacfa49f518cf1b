package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/slash"
	"github.com/p2pchat/p2pchat/room"
)

// commandDoneMsg reports a finished [Core.Command].
type commandDoneMsg struct{ res CommandResult }

type searchDoneMsg struct {
	query string
	hits  []room.SearchHit
	err   error
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
	case "away":
		m.userAway, m.idleAway = true, false
	case "back":
		m.userAway, m.idleAway = false, false
	}
	return m.coreCommand(line)
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

// send shows text as our own message in the current room, sending, and
// sends it.
func (m *Model) send(text string, action bool) tea.Cmd {
	if m.current == "" {
		m.add(m.view(m.current), &entry{kind: kindError, text: "not in any room; /join ROOM first"})
		return nil
	}
	return m.sendParts(m.current, []string{text}, action)
}

// sendParts shows parts[0] as our own message in room name, sending, and
// sends it; the next part goes once it is sent, so that the parts keep
// their order. A failed part stops the rest.
func (m *Model) sendParts(name string, parts []string, action bool) tea.Cmd {
	v := m.view(name)
	text := parts[0]
	m.nextLocal++
	e := &entry{kind: kindMessage, time: m.cfg.Now(), from: m.snap.ID, nick: m.snap.Nick, short: m.snap.Short,
		text: text, self: true, action: action, local: m.nextLocal, state: StateSending}
	if action {
		e.kind = kindAction
	}
	m.add(v, e)
	v.scroll, v.newBelow = 0, 0
	ctx, core, local, rest := m.ctx, m.core, m.nextLocal, parts[1:]
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, sendTimeout)
		defer cancel()
		msg, err := core.Send(ctx, name, text, action)
		return sendDoneMsg{room: name, local: local, msg: msg, err: err, rest: rest}
	}
}

// sendDoneMsg reports a finished [Core.Send] of our entry local in room;
// rest are the parts of a split message still to send.
type sendDoneMsg struct {
	room  string
	local int
	msg   *room.Message
	err   error
	rest  []string
}

// onSendDone marks our entry with how its send went and sends the next
// part of a split message, if any.
func (m *Model) onSendDone(d sendDoneMsg) tea.Cmd {
	m.markSent(d)
	if len(d.rest) == 0 {
		return nil
	}
	v, ok := m.views[d.room]
	switch {
	case !ok:
		return nil
	case d.err != nil:
		m.add(v, &entry{kind: kindError, text: fmt.Sprintf("the %s of the split message not sent", plural(len(d.rest), "remaining part"))})
		return nil
	}
	return m.sendParts(d.room, d.rest, false)
}

func (m *Model) markSent(d sendDoneMsg) {
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
