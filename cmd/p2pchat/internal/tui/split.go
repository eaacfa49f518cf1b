package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
)

// maxSplitParts bounds how many messages one input may be split into: a
// paste that needs more is refused (at 16 KiB a part, 64 parts are 1 MiB).
const maxSplitParts = 64

// splitOffer is a too-long input waiting for the user's yes to go out as
// several messages.
type splitOffer struct {
	room  string
	parts []string
}

// splitText cuts text into parts of at most limit bytes, each valid UTF-8:
// at the last line break within the limit (line breaks there are dropped), else the last
// space (kept at the end of the part), else the last whole character.
// Parts that are only white space are left out.
func splitText(text string, limit int) []string {
	var parts []string
	add := func(p string) {
		if strings.TrimSpace(p) != "" {
			parts = append(parts, p)
		}
	}
	for len(text) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		if i := strings.LastIndexByte(text[:cut], '\n'); i > 0 {
			add(text[:i])
			text = strings.TrimLeft(text[i+1:], "\n")
			continue
		}
		if i := strings.LastIndexByte(text[:cut], ' '); i > 0 {
			cut = i + 1
		}
		if cut == 0 { // limit smaller than one character: cannot happen with MaxText
			cut = limit
		}
		add(text[:cut])
		text = text[cut:]
	}
	add(text)
	return parts
}

// offerSplit answers an input longer than limit: it offers to send it as
// several messages to the current room, or says why it cannot.
func (m *Model) offerSplit(text string, limit int) {
	if m.current == "" {
		m.add(m.view(m.current), &entry{kind: kindError, text: "not in any room; /join ROOM first"})
		return
	}
	parts := splitText(text, limit)
	if len(parts) > maxSplitParts {
		m.add(m.view(m.current), &entry{kind: kindError, text: fmt.Sprintf(
			"message of %d bytes not sent: it would take %d messages of at most %d bytes (the most is %d); shorten it (Ctrl-C clears the input)",
			len(text), len(parts), limit, maxSplitParts)})
		return
	}
	m.split = &splitOffer{room: m.current, parts: parts}
	m.notice = fmt.Sprintf(" message of %d bytes is over the %d-byte limit: y sends it as %d messages, any other key keeps editing",
		len(text), limit, len(parts))
}

// onSplitKey answers the split offer: y sends the parts in order and
// clears the input; n or Esc only withdraws the offer; another key
// withdraws it and does what it always does (handled reports that).
func (m *Model) onSplitKey(k tea.KeyPressMsg) (cmd tea.Cmd, handled bool) {
	offer := m.split
	m.split, m.notice = nil, ""
	switch k.String() {
	case "y", "Y":
		if _, ok := m.views[offer.room]; !ok {
			m.add(m.view(m.current), &entry{kind: kindError, text: "not sent: you left " + offer.room})
			return nil, true
		}
		m.remember(strings.TrimRight(m.input.Value(), "\n"))
		m.input.Reset()
		m.fitInput()
		return m.sendParts(offer.room, offer.parts, false), true
	case "n", "N", "esc":
		return nil, true
	}
	return nil, false
}
