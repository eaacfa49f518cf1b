package tui

import (
	"fmt"
	"slices"

	tea "charm.land/bubbletea/v2"

	"github.com/p2pchat/p2pchat/room"
)

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
		m.add(v, &entry{kind: kindMember, from: ev.Peer, nick: ev.Nick, short: ev.Short, text: prefix + "left" + room.LeftText(ev.Reason)})
	case room.EventNick:
		m.add(v, &entry{kind: kindMember, from: ev.Peer, nick: ev.OldNick, short: ev.Short, text: prefix + "is now " + sanitize(ev.Nick, false) + "#" + ev.Short})
	case room.EventKeyChanged:
		if !m.verified[ev.Peer] {
			m.keyChanged[ev.Peer] = true
		}
		was := sanitize(room.KeyChangedWas(ev), false)
		m.add(v, &entry{kind: kindKeyChanged, from: ev.Peer, nick: ev.Nick, short: ev.Short,
			text: prefix + "uses the nick of a different key than before (was " + was + ") — verify before trusting"})
	case room.EventError:
		k := kindError
		switch ev.Reason {
		case room.ReasonUnreadable:
			k = kindUnreadable
		case room.ReasonFingerprintMismatch:
			// The verification is cleared (the core did so): "!" until
			// the peer is verified again.
			if ev.Peer != "" {
				delete(m.verified, ev.Peer)
				m.keyChanged[ev.Peer] = true
			}
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
	case room.EventReaction, room.EventEdit, room.EventDelete:
		m.onChanged(v, ev)
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

// onChanged shows a reaction, edit or delete: the message named, and the
// quotes of the replies to it, as they are now.
func (m *Model) onChanged(v *roomView, ev room.Event) {
	msg := ev.Message
	if msg == nil {
		return // not held yet: it comes with its reactions and edits applied
	}
	for _, e := range v.entries {
		switch {
		case e.id == ev.Target:
			e.text = msg.Text
			e.annotate(msg)
		case e.replyTo == ev.Target && ev.Type != room.EventReaction:
			e.quote = quoteOf(msg.Nick, msg.Text, msg.Deleted)
		}
	}
}
