package tui

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/p2pchat/p2pchat/room"
)

// newInput returns the message input: Enter is left to the model, a new
// line is Alt-Enter or Ctrl-J.
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

// onPaste inserts pasted text where it belongs; it never sends.
func (m *Model) onPaste(s string) tea.Cmd {
	if m.prompt != nil {
		m.prompt.paste(s)
		return nil
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	m.split, m.notice = nil, ""
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
	m.notice = ""
	if m.split != nil {
		if cmd, handled := m.onSplitKey(k); handled {
			return cmd
		}
	}
	switch s {
	case "ctrl+c":
		if m.input.Value() == "" {
			return m.quit()
		}
		// A draft is cleared, not lost with the program: ↑ brings it
		// back, and a second Ctrl-C quits.
		m.remember(m.input.Value())
		m.input.Reset()
		m.fitInput()
		m.notice = " input cleared (↑ brings it back); Ctrl-C again quits"
		return nil
	case "ctrl+u":
		if m.input.LineCount() == 1 {
			// As readline's on a line of its own: the whole line goes,
			// wherever the cursor is.
			m.input.Reset()
			m.fitInput()
			return nil
		}
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
		if strings.HasPrefix(text, "/") && !strings.HasPrefix(text, "//") && !strings.Contains(text, "\n") {
			m.add(m.view(m.current), &entry{kind: kindError,
				text: fmt.Sprintf("command of %d bytes not run: messages are limited to %d bytes; shorten it (Ctrl-C clears the input)", len(text), room.MaxText)})
			return nil
		}
		if strings.HasPrefix(text, "//") {
			text = text[1:]
		}
		m.offerSplit(text, room.MaxText)
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
