package tui

import (
	"slices"
	"strings"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/slash"
)

// completion is a Tab cycle in progress: pressing Tab again moves to the
// next candidate; any other key ends it.
type completion struct {
	head, tail string   // the input before the word and after the cursor
	cands      []string // what the word may become, suffixes included
	i          int      // the candidate shown
	shown      string   // the input as the last Tab left it
}

// candidates returns what the word that ends at the cursor (the last word
// of before) may be completed to: commands at the start of a line, rooms
// after the commands that take one (/join, /leave), nicks elsewhere ("bob: " at the start of a line).
func (m *Model) candidates(before string) (head string, cands []string) {
	start := strings.LastIndexAny(before, " \n") + 1
	head, word := before[:start], before[start:]
	fields := strings.Fields(head)
	switch {
	case start == 0 && strings.HasPrefix(word, "/"):
		for _, c := range slash.Names(slash.UI) {
			if strings.HasPrefix(c, strings.ToLower(word)) {
				cands = append(cands, c+" ")
			}
		}
	case len(fields) > 0 && takesRoom(fields[0]):
		if fields[len(fields)-1] != fields[0] && fields[len(fields)-1] != "-p" {
			return head, nil // the room is given already
		}
		for _, name := range m.order {
			if strings.HasPrefix(name, strings.ToLower(word)) {
				cands = append(cands, name+" ")
			}
		}
	default:
		at := ""
		if strings.HasPrefix(word, "@") {
			at, word = "@", word[1:]
		}
		suffix := " "
		if start == 0 && at == "" {
			suffix = ": "
		}
		for _, n := range m.nicks() {
			if strings.HasPrefix(strings.ToLower(n), strings.ToLower(word)) {
				cands = append(cands, at+n+suffix)
			}
		}
	}
	return head, cands
}

// takesRoom reports whether the command word (with its slash) takes a
// room name.
func takesRoom(word string) bool {
	name, ok := strings.CutPrefix(word, "/")
	c := slash.Lookup(name, slash.UI)
	return ok && c != nil && c.RoomArg
}

// nicks returns the names the current room's members go by: the nick, or
// nick#fp where several members share a nick.
func (m *Model) nicks() []string {
	rs, ok := m.snap.room(m.current)
	if !ok {
		return nil
	}
	count := map[string]int{}
	for _, mb := range rs.Members {
		count[mb.Nick]++
	}
	var out []string
	for _, mb := range rs.Members {
		n := mb.Nick
		if count[n] > 1 {
			n += "#" + mb.Fingerprint.Short()
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// complete runs Tab (step 1) or Shift-Tab (step -1) on the input. It only
// completes single-line input.
func (m *Model) complete(step int) {
	value := m.input.Value()
	if strings.Contains(value, "\n") {
		return
	}
	if c := m.comp; c != nil && value == c.shown && len(c.cands) > 0 {
		c.i = (c.i + step + len(c.cands)) % len(c.cands)
		m.applyCompletion(c)
		return
	}
	runes := []rune(value)
	col := min(m.input.Column(), len(runes))
	before, after := string(runes[:col]), string(runes[col:])
	head, cands := m.candidates(before)
	if len(cands) == 0 {
		m.comp = nil
		return
	}
	c := &completion{head: head, tail: after, cands: cands}
	if step < 0 {
		c.i = len(cands) - 1
	}
	if len(cands) > 1 {
		// Extend to the longest common prefix first, like a shell, if
		// that adds something; Tab again then cycles.
		if p := commonPrefix(cands); len(p) > len(before)-len(head) {
			c.i = -1
			m.setInput(head+p, after)
			c.shown = m.input.Value()
			m.comp = c
			if step < 0 {
				c.i = len(cands) - 1
				m.applyCompletion(c)
			}
			return
		}
	}
	m.applyCompletion(c)
	m.comp = c
}

func (m *Model) applyCompletion(c *completion) {
	if c.i < 0 {
		c.i = 0
	}
	m.setInput(c.head+c.cands[c.i], c.tail)
	c.shown = m.input.Value()
}

// setInput sets the input to before+after with the cursor between them.
func (m *Model) setInput(before, after string) {
	m.input.SetValue(before + after)
	m.input.SetCursorColumn(len([]rune(before)))
}

// commonPrefix returns the longest common prefix of ss, compared
// case-insensitively and taken from the first.
func commonPrefix(ss []string) string {
	p := []rune(ss[0])
	for _, s := range ss[1:] {
		r := []rune(s)
		n := 0
		for n < len(p) && n < len(r) && strings.EqualFold(string(p[n]), string(r[n])) {
			n++
		}
		p = p[:n]
	}
	return strings.TrimRight(string(p), " :")
}
