package tui

import (
	"strings"
	"testing"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"

	"github.com/p2pchat/p2pchat/room"
)

// quits reports whether cmd ends the program.
func quits(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// TestCtrlCClearsThenQuits: Ctrl-C with text in the input clears it (all
// of a long paste) and does not quit; ↑ brings the text back; a second
// Ctrl-C, on the empty input, quits.
func TestCtrlCClearsThenQuits(t *testing.T) {
	m, core, _ := twoRooms(t)
	paste := strings.Repeat("a line of a long paste\n", 1100)
	run(t, m, tea.PasteMsg{Content: paste})
	_, cmd := m.Update(press('c', tea.ModCtrl))
	if quits(cmd) || m.quitting {
		t.Fatal("Ctrl-C with a draft in the input quit")
	}
	if v := m.input.Value(); v != "" {
		t.Fatalf("Ctrl-C left %d bytes in the input", len(v))
	}
	if f := plain(t, m); !strings.Contains(f, "Ctrl-C again quits") {
		t.Errorf("no word of what Ctrl-C did:\n%s", f)
	}
	if len(core.sends()) != 0 {
		t.Errorf("Ctrl-C sent %q", core.sends())
	}
	send(m, press(tea.KeyUp))
	if m.input.Value() != paste {
		t.Errorf("↑ after Ctrl-C brought back %d bytes, want the %d cleared", len(m.input.Value()), len(paste))
	}
	m.input.Reset()
	_, cmd = m.Update(press('c', tea.ModCtrl))
	if !quits(cmd) || !m.quitting {
		t.Error("Ctrl-C on an empty input did not quit")
	}
}

// TestCtrlUClearsOneLine: Ctrl-U on a one-line input clears all of it,
// wherever the cursor is (as readline on a line of its own); in a
// multi-line input it clears before the cursor on the cursor's line only.
func TestCtrlUClearsOneLine(t *testing.T) {
	m, _, _ := twoRooms(t)
	send(m, typed("hello there")...)
	send(m, press(tea.KeyLeft), press(tea.KeyLeft), press(tea.KeyLeft))
	send(m, press('u', tea.ModCtrl))
	if v := m.input.Value(); v != "" {
		t.Errorf("Ctrl-U on one line left %q", v)
	}
	run(t, m, tea.PasteMsg{Content: "one\ntwo\nthree"})
	send(m, press('u', tea.ModCtrl))
	if v := m.input.Value(); v != "one\ntwo\n" {
		t.Errorf("Ctrl-U on the last of three lines left %q, want the first two", v)
	}
}

// TestSplitLongMessage: a message over room.MaxText is offered as several
// messages; nothing goes out before y; n keeps the input; y sends every
// part, in order, each within the limit, and together they are the text.
func TestSplitLongMessage(t *testing.T) {
	m, core, _ := twoRooms(t)
	var b strings.Builder
	for i := 0; b.Len() < 2*room.MaxText+100; i++ {
		b.WriteString("héllo wörld, line ")
		b.WriteString(strings.Repeat("x", i%70))
		b.WriteString("\n")
	}
	text := strings.TrimRight(b.String(), "\n")
	run(t, m, tea.PasteMsg{Content: text})
	run(t, m, press(tea.KeyEnter))
	if len(core.sends()) != 0 {
		t.Fatalf("Enter on a too-long message sent %d messages before any yes", len(core.sends()))
	}
	if f := plain(t, m); !strings.Contains(f, "y sends it as 3 messages") {
		t.Fatalf("no offer to split:\n%s", f)
	}
	run(t, m, press('n'))
	if m.input.Value() != text || len(core.sends()) != 0 || strings.Contains(plain(t, m), "y sends it") {
		t.Fatalf("n: input kept %v, sends %d; the offer must go", m.input.Value() == text, len(core.sends()))
	}
	run(t, m, press(tea.KeyEnter))
	run(t, m, press('y'))
	sent := core.sends()
	if len(sent) != 3 {
		t.Fatalf("y sent %d messages, want 3", len(sent))
	}
	var parts []string
	for _, s := range sent {
		p, ok := strings.CutPrefix(s, "lobby|")
		if !ok || len(p) > room.MaxText || !utf8.ValidString(p) {
			t.Errorf("part of %d bytes (valid UTF-8: %v) to %q", len(p), utf8.ValidString(p), strings.Split(s, "|")[0])
		}
		parts = append(parts, p)
	}
	if got := strings.Join(parts, "\n"); got != text {
		t.Errorf("the parts joined by line breaks are not the text (%d bytes, want %d)", len(got), len(text))
	}
	if m.input.Value() != "" {
		t.Error("input not cleared after sending the parts")
	}
	var mine int
	for _, e := range m.views["lobby"].entries {
		if e.self && e.state == StateSent {
			mine++
		}
	}
	if mine != 3 {
		t.Errorf("%d own entries marked sent, want 3", mine)
	}
}

// TestSplitStopsOnFailure: a part that fails to send stops the rest, and
// the pane says how many did not go.
func TestSplitStopsOnFailure(t *testing.T) {
	m, core, _ := twoRooms(t)
	core.sendErr = errNoRoute
	run(t, m, tea.PasteMsg{Content: strings.Repeat("word ", 2*room.MaxText/5)})
	run(t, m, press(tea.KeyEnter))
	run(t, m, press('y'))
	if n := len(core.sends()); n != 1 {
		t.Errorf("%d sends after the first failed, want 1", n)
	}
	if f := plain(t, m); !strings.Contains(f, "the 2 remaining parts of the split message not sent") {
		t.Errorf("no word of the parts not sent:\n%s", f)
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		text  string
		limit int
		want  []string
	}{
		{"short", 10, []string{"short"}},
		{"one two three four", 10, []string{"one two ", "three four"}},
		{"one two three four", 9, []string{"one two ", "three ", "four"}},
		{"ab\ncd\nef", 6, []string{"ab\ncd", "ef"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"ééééé", 3, []string{"é", "é", "é", "é", "é"}}, // never half a character
		{"a\n\n\n\nb", 2, []string{"a", "b"}},           // blank parts left out
	}
	for _, tt := range tests {
		got := splitText(tt.text, tt.limit)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitText(%q, %d) = %q, want %q", tt.text, tt.limit, got, tt.want)
		}
	}
}
