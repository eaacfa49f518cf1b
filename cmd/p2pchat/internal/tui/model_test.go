package tui

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/slash"
	"github.com/p2pchat/p2pchat/room"
)

// twoRooms is a model on lobby (current) and vault, with bob in both.
func twoRooms(t *testing.T) (*Model, *fakeCore, room.Member) {
	t.Helper()
	core := newFakeCore(t)
	bob := member(t, 1, "bob", false)
	core.setRooms(
		RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob}},
		RoomState{Name: "vault", Kind: room.KindPassphrase, Ready: true, Members: []room.Member{bob}},
		RoomState{Name: "zoo", Kind: room.KindOpen, Ready: true},
	)
	// Wide, so that checks of the screen's text are not foiled by wrapping.
	return newTestModel(t, core, "lobby", 160, 40), core, bob
}

func plain(t *testing.T, m *Model) string {
	t.Helper()
	return frame(t, m)
}

func TestUnreadAndSwitching(t *testing.T) {
	m, _, bob := twoRooms(t)
	send(m,
		msgEvent("vault", bob, "one", testTime),
		msgEvent("vault", bob, "two", testTime),
		msgEvent("zoo", bob, "hey alice, look", testTime),
		msgEvent("lobby", bob, "here", testTime),
	)
	if v := m.views["vault"]; v.unread != 2 || v.mention {
		t.Errorf("vault: unread %d mention %v, want 2 false", v.unread, v.mention)
	}
	if v := m.views["zoo"]; v.unread != 1 || !v.mention {
		t.Errorf("zoo: unread %d mention %v, want 1 true", v.unread, v.mention)
	}
	if v := m.views["lobby"]; v.unread != 0 {
		t.Errorf("the current room counts %d unread", v.unread)
	}
	f := plain(t, m)
	for _, want := range []string{`(?m)^›1 lobby +│`, `(?m)^ 2 vault +2│`, `(?m)^ 3 zoo +1@│`} {
		if !regexp.MustCompile(want).MatchString(f) {
			t.Errorf("rooms column does not match %s:\n%s", want, f)
		}
	}

	// Alt-A goes to the mention first, then to the other unread room.
	send(m, press('a', tea.ModAlt))
	if m.current != "zoo" || m.views["zoo"].unread != 0 || m.views["zoo"].mention {
		t.Fatalf("after Alt-A: current %q, zoo %+v", m.current, m.views["zoo"])
	}
	send(m, press('a', tea.ModAlt))
	if m.current != "vault" || m.views["vault"].unread != 0 {
		t.Fatalf("after second Alt-A: current %q", m.current)
	}
	send(m, press('a', tea.ModAlt)) // nothing left: stays
	if m.current != "vault" {
		t.Errorf("Alt-A with nothing unread moved to %q", m.current)
	}

	// Ctrl-N, Ctrl-P and Alt-digits.
	for _, step := range []struct {
		key  tea.KeyPressMsg
		want string
	}{
		{press('n', tea.ModCtrl), "zoo"},
		{press('n', tea.ModCtrl), "lobby"},
		{press('p', tea.ModCtrl), "zoo"},
		{press('2', tea.ModAlt), "vault"},
		{press('1', tea.ModAlt), "lobby"},
		{press('9', tea.ModAlt), "lobby"}, // no ninth room
	} {
		send(m, step.key)
		if m.current != step.want {
			t.Fatalf("after %s: current %q, want %q", step.key, m.current, step.want)
		}
	}
	if got := m.promptText(); got != "lobby> " {
		t.Errorf("prompt %q after switching to lobby", got)
	}
}

func TestPasteNeverSends(t *testing.T) {
	m, core, _ := twoRooms(t)
	run(t, m, tea.PasteMsg{Content: "first line\r\nsecond line\nthird\n"})
	if s := core.sends(); len(s) != 0 {
		t.Fatalf("a paste sent %q", s)
	}
	if got := m.input.Value(); got != "first line\nsecond line\nthird\n" {
		t.Errorf("input after paste = %q", got)
	}
	if h := m.layout().inputH; h < 3 {
		t.Errorf("input is %d rows high with three lines in it", h)
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	golden(t, "paste-80x24", frame(t, m))
	run(t, m, press(tea.KeyEnter))
	if s := core.sends(); !slices.Equal(s, []string{"lobby|first line\nsecond line\nthird"}) {
		t.Errorf("Enter sent %q; want the three lines as one message", s)
	}
	if m.input.Value() != "" {
		t.Errorf("input not cleared after sending: %q", m.input.Value())
	}
	// A pasted text that starts with "/" but has several lines is a
	// message, not a command.
	run(t, m, tea.PasteMsg{Content: "/etc/hosts\n127.0.0.1 localhost"})
	run(t, m, press(tea.KeyEnter))
	if s := core.sends(); len(s) != 2 || s[1] != "lobby|/etc/hosts\n127.0.0.1 localhost" {
		t.Errorf("sends %q", s)
	}
	if len(core.lines) != 0 {
		t.Errorf("ran commands %q", core.lines)
	}
	// Alt-Enter inserts a line break and sends nothing.
	send(m, typed("a")...)
	send(m, press(tea.KeyEnter, tea.ModAlt))
	send(m, typed("b")...)
	if m.input.Value() != "a\nb" || len(core.sends()) != 2 {
		t.Errorf("Alt-Enter: input %q, sends %q", m.input.Value(), core.sends())
	}
}

func TestSendStates(t *testing.T) {
	m, core, _ := twoRooms(t)
	// Sending: shown at once, before Send returns.
	send(m, typed("hello")...)
	_, cmd := m.Update(press(tea.KeyEnter))
	own := m.views["lobby"].entries[len(m.views["lobby"].entries)-1]
	if !own.self || own.state != StateSending || own.text != "hello" {
		t.Fatalf("own entry %+v", own)
	}
	if !strings.Contains(plain(t, m), "hello · sending…") {
		t.Errorf("no sending mark:\n%s", plain(t, m))
	}
	// The core reports the message before Send returns: no second copy.
	done := cmd().(sendDoneMsg)
	send(m, EventMsg{room.Event{Type: room.EventMessage, Room: "lobby", Message: done.msg}})
	send(m, done)
	if own.state != StateSent || own.id != done.msg.ID {
		t.Errorf("after Send: %+v", own)
	}
	if n := countText(m.views["lobby"], "hello"); n != 1 {
		t.Errorf("own message shown %d times", n)
	}
	// The report after Send returned: no second copy either.
	send(m, typed("again")...)
	run(t, m, press(tea.KeyEnter))
	last := m.views["lobby"].entries[len(m.views["lobby"].entries)-1]
	send(m, EventMsg{room.Event{Type: room.EventMessage, Room: "lobby", Message: &room.Message{ID: last.id, Text: "again", Self: true}}})
	if n := countText(m.views["lobby"], "again"); n != 1 || last.state != StateSent {
		t.Errorf("shown %d times, state %v", n, last.state)
	}
	// A failed send says so, with the reason.
	core.sendErr = errNoRoute
	send(m, typed("lost")...)
	run(t, m, press(tea.KeyEnter))
	if f := plain(t, m); !strings.Contains(f, "lost · not sent: "+errNoRoute.Error()) {
		t.Errorf("no not-sent mark:\n%s", f)
	}
	// Stored but no member reachable: pending, until the core says more.
	core.sendErr, core.state = nil, room.StatePending
	send(m, typed("later")...)
	run(t, m, press(tea.KeyEnter))
	later := m.views["lobby"].entries[len(m.views["lobby"].entries)-1]
	if later.state != StatePending || !strings.Contains(plain(t, m), "later · pending: no member reachable") {
		t.Errorf("pending message: state %v\n%s", later.state, plain(t, m))
	}
	send(m, EventMsg{room.Event{Type: room.EventState, Room: "lobby", Message: &room.Message{ID: later.id, Self: true, State: room.StateSeen, SeenBy: 1}}})
	if !strings.Contains(plain(t, m), "later · seen by 1 member") {
		t.Errorf("no seen mark:\n%s", plain(t, m))
	}
	core.state = ""
	// "//" sends a line starting with "/"; /me sends an action.
	send(m, typed("//slash")...)
	run(t, m, press(tea.KeyEnter))
	send(m, typed("/me waves")...)
	run(t, m, press(tea.KeyEnter))
	want := []string{"lobby|hello", "lobby|again", "lobby|lost", "lobby|later", "lobby|/slash", "lobby|* waves"}
	if s := core.sends(); !slices.Equal(s, want) {
		t.Errorf("sends %q, want %q", s, want)
	}
	// Too long: refused before sending, the input kept to be shortened.
	long := strings.Repeat("x", room.MaxText+1)
	run(t, m, tea.PasteMsg{Content: long})
	run(t, m, press(tea.KeyEnter))
	if len(core.sends()) != len(want) || m.input.Value() != long {
		t.Errorf("an oversized message was sent or dropped")
	}
}

func countText(v *roomView, text string) int {
	n := 0
	for _, e := range v.entries {
		if e.text == text {
			n++
		}
	}
	return n
}

func TestCommands(t *testing.T) {
	m, core, _ := twoRooms(t)
	send(m, typed("/who")...)
	run(t, m, press(tea.KeyEnter))
	send(m, typed("/bogus")...)
	run(t, m, press(tea.KeyEnter))
	// The UI answers an unknown command itself.
	if !slices.Equal(core.lines, []string{"/who"}) {
		t.Errorf("core ran %q", core.lines)
	}
	f := plain(t, m)
	for _, want := range []string{"[lobby] 0 other member(s)", "! unknown command /bogus; /help lists the commands"} {
		if !strings.Contains(f, want) {
			t.Errorf("screen lacks %q:\n%s", want, f)
		}
	}
	// /search and /history say that history is to come; /clear clears.
	for _, c := range []string{"/search foo", "/history"} {
		send(m, typed(c)...)
		run(t, m, press(tea.KeyEnter))
	}
	if f := plain(t, m); strings.Count(f, "this node keeps no message history") != 2 {
		t.Errorf("no history notice:\n%s", f)
	}
	send(m, typed("/clear")...)
	run(t, m, press(tea.KeyEnter))
	if n := len(m.views["lobby"].entries); n != 0 {
		t.Errorf("/clear left %d entries", n)
	}
	// /leave: the core says which room is current next.
	send(m, typed("/leave")...)
	run(t, m, press(tea.KeyEnter))
	if m.current != "zoo" || slices.Contains(m.order, "lobby") {
		t.Errorf("after /leave: current %q, rooms %q", m.current, m.order)
	}
	// /help shows the panel, Esc closes it.
	send(m, typed("/help")...)
	run(t, m, press(tea.KeyEnter))
	if !m.help {
		t.Fatal("/help did not open the panel")
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	golden(t, "help-80x24", frame(t, m))
	send(m, press(tea.KeyPgDown))
	if m.helpScroll == 0 {
		t.Errorf("PgDn did not scroll the help panel")
	}
	send(m, press(tea.KeyEscape))
	if m.help {
		t.Error("Esc did not close the panel")
	}
	// /quit and Ctrl-D on an empty line quit; Ctrl-D elsewhere does not.
	send(m, typed("x")...)
	if _, cmd := m.Update(press('d', tea.ModCtrl)); cmd != nil {
		if _, ok := cmd().(tea.QuitMsg); ok {
			t.Error("Ctrl-D on a non-empty line quit")
		}
	}
	m.input.Reset()
	if _, cmd := m.Update(press('d', tea.ModCtrl)); cmd == nil {
		t.Error("Ctrl-D on an empty line did not quit")
	} else if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Error("Ctrl-D on an empty line did not quit")
	}
}

func TestInputHistory(t *testing.T) {
	m, _, _ := twoRooms(t)
	for _, s := range []string{"one", "two", "/who"} {
		send(m, typed(s)...)
		run(t, m, press(tea.KeyEnter))
	}
	send(m, typed("draft")...)
	for _, want := range []string{"/who", "two", "one", "one"} {
		send(m, press(tea.KeyUp))
		if got := m.input.Value(); got != want {
			t.Fatalf("↑: %q, want %q", got, want)
		}
	}
	for _, want := range []string{"two", "/who", "draft", "draft"} {
		send(m, press(tea.KeyDown))
		if got := m.input.Value(); got != want {
			t.Fatalf("↓: %q, want %q", got, want)
		}
	}
}

func TestTabCompletion(t *testing.T) {
	m, _, _ := twoRooms(t)
	core := m.core.(*fakeCore)
	rs := core.Snapshot().Rooms
	rs[0].Members = append(rs[0].Members, member(t, 2, "bobby", false), member(t, 3, "carol", false), member(t, 4, "carol", false))
	core.setRooms(rs...)
	m.refresh()
	tests := []struct {
		typed string
		tabs  int
		want  string
	}{
		{"/jo", 1, "/join "},
		{"/h", 1, "/help "},
		{"/h", 2, "/history "},
		{"/h", 3, "/help "},
		{"/join v", 1, "/join vault "},
		{"/join -p z", 1, "/join -p zoo "},
		{"/leave ", 1, "/leave lobby "},
		{"bo", 1, "bob"},
		{"bo", 2, "bob: "},
		{"bo", 3, "bobby: "},
		{"hi @bobb", 1, "hi @bobby "},
		{"/verify ca", 1, "/verify carol#"},
		{"xyz", 1, "xyz"},
	}
	for _, tt := range tests {
		m.input.Reset()
		m.comp = nil
		send(m, typed(tt.typed)...)
		for range tt.tabs {
			send(m, press(tea.KeyTab))
		}
		if got := m.input.Value(); got != tt.want {
			t.Errorf("%q + %d×Tab = %q, want %q", tt.typed, tt.tabs, got, tt.want)
		}
	}
}

func TestScrollback(t *testing.T) {
	m, _, bob := twoRooms(t)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	for i := range 60 {
		send(m, msgEvent("lobby", bob, fmt.Sprintf("message %02d", i), testTime))
	}
	if f := plain(t, m); !strings.Contains(f, "message 59") || strings.Contains(f, "message 30") {
		t.Fatalf("not at the newest:\n%s", f)
	}
	send(m, press(tea.KeyPgUp))
	f := plain(t, m)
	if strings.Contains(f, "message 59") || !strings.Contains(f, "more below") {
		t.Fatalf("PgUp did not scroll up:\n%s", f)
	}
	// New messages keep the view still and are counted.
	send(m, msgEvent("lobby", bob, "fresh", testTime), msgEvent("lobby", bob, "fresher", testTime))
	golden(t, "scrolled-80x24", frame(t, m))
	if f2 := plain(t, m); !strings.Contains(f2, "2 new below") {
		t.Errorf("no count of new messages:\n%s", f2)
	}
	for range 20 {
		send(m, press(tea.KeyPgUp))
	}
	if f := plain(t, m); !strings.Contains(f, "message 00") {
		t.Errorf("PgUp does not reach the oldest:\n%s", f)
	}
	send(m, tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if m.views["lobby"].scroll == 0 {
		t.Errorf("wheel down went to the bottom at once")
	}
	send(m, press(tea.KeyEscape))
	if f := plain(t, m); !strings.Contains(f, "fresher") || m.views["lobby"].scroll != 0 {
		t.Errorf("Esc did not return to the newest:\n%s", f)
	}
	send(m, tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	if m.views["lobby"].scroll != wheelLines {
		t.Errorf("wheel up scrolled %d rows", m.views["lobby"].scroll)
	}
}

func TestScrollbackBound(t *testing.T) {
	core := newFakeCore(t)
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true})
	m := New(context.Background(), Config{Core: core, Scrollback: 10, Now: clock(), Location: time.UTC})
	bob := member(t, 1, "bob", false)
	for i := range 25 {
		send(m, msgEvent("lobby", bob, fmt.Sprint(i), testTime))
	}
	v := m.views["lobby"]
	if len(v.entries) != 10 || v.entries[0].text != "15" {
		t.Errorf("kept %d entries from %q", len(v.entries), v.entries[0].text)
	}
}

func TestHistoryHook(t *testing.T) {
	m, _, bob := twoRooms(t)
	send(m, msgEvent("lobby", bob, "live", testTime.Add(time.Hour)))
	live := m.views["lobby"].entries[len(m.views["lobby"].entries)-1]
	send(m, HistoryMsg{Room: "lobby", Messages: []*room.Message{
		{ID: "h1", From: bob.Peer, Nick: "bob", Short: "abcde", Text: "old one", Time: testTime},
		{ID: "h2", From: bob.Peer, Nick: "bob", Short: "abcde", Text: "old two", Time: testTime},
		{ID: live.id, From: bob.Peer, Nick: "bob", Text: "live", Time: testTime},
	}})
	var texts []string
	for _, e := range m.views["lobby"].entries {
		if e.kind == kindMessage {
			texts = append(texts, e.text)
		}
	}
	if !slices.Equal(texts, []string{"old one", "old two", "live"}) {
		t.Errorf("messages after history: %q", texts)
	}
}

func TestSecurityLooks(t *testing.T) {
	m, _ := lobbyScenario(t, 120, 40)
	f := plain(t, m)
	for _, want := range []string{
		"✓ bob#",                  // verified member
		"? carol#",                // unverified member
		"! bob#",                  // the key that took bob's nick
		"bob#bboci✓: hi all",      // verified author
		"!bob#vjwzl: it's me",     // author whose key changed
		"!!! bob#vjwzl uses the",  // the key change itself
		"✗ unreadable: room",      // messages that could not be read
		"!!! key changed: bob#vj", // and the status line keeps saying so
	} {
		if !strings.Contains(f, want) {
			t.Errorf("screen lacks %q:\n%s", want, f)
		}
	}
	// Verifying the new key clears its warning.
	core := m.core.(*fakeCore)
	rs := core.Snapshot().Rooms
	for i := range rs[0].Members {
		rs[0].Members[i].Verified = true
	}
	core.setRooms(rs...)
	send(m, tickMsg(testTime))
	if f := plain(t, m); strings.Contains(f, "key changed:") || !strings.Contains(f, "bob#vjwzl✓: it's me") {
		t.Errorf("warning stays after verification:\n%s", f)
	}
}

func TestMentionLook(t *testing.T) {
	m, _, bob := twoRooms(t)
	send(m, msgEvent("lobby", bob, "ask Alice about it", testTime), msgEvent("lobby", bob, "ask alicex about it", testTime))
	content := m.View().Content
	var hit, miss string
	for _, row := range strings.Split(content, "\n") {
		switch s := ansi.Strip(row); {
		case strings.Contains(s, "ask Alice"):
			hit = row
		case strings.Contains(s, "ask alicex"):
			miss = row
		}
	}
	if !strings.Contains(hit, styleMention.Render("Alice")) {
		t.Errorf("mention not highlighted: %q", hit)
	}
	if strings.Contains(miss, styleMention.Render("alicex")) || strings.Contains(miss, styleMention.Render("alice")) {
		t.Errorf("a longer word highlighted as a mention: %q", miss)
	}
	for _, tt := range []struct {
		text string
		want bool
	}{
		{"alice", true}, {"@alice: hi", true}, {"hi Alice.", true}, {"malice", false}, {"alice_b", false}, {"", false},
	} {
		if got := mentions(tt.text, "alice"); got != tt.want {
			t.Errorf("mentions(%q) = %v", tt.text, got)
		}
	}
}

func TestNotify(t *testing.T) {
	core := newFakeCore(t)
	bob := member(t, 1, "bob", false)
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true}, RoomState{Name: "vault", Kind: room.KindOpen, Ready: true})
	var mu sync.Mutex
	var got []string
	fail := false
	m := New(context.Background(), Config{Core: core, Current: "lobby", Now: clock(), Location: time.UTC,
		Notify: func(title, body string) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, title+"|"+body)
			if fail {
				return errors.New("no notification daemon")
			}
			return nil
		}})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	run(t, m, msgEvent("lobby", bob, "alice: in view, not notified", testTime))
	run(t, m, msgEvent("vault", bob, "no mention here", testTime))
	run(t, m, msgEvent("vault", bob, "alice, the secret plan", testTime))
	run(t, m, tea.BlurMsg{})
	run(t, m, msgEvent("lobby", bob, "alice?", testTime))
	if len(got) != 2 || !strings.HasPrefix(got[0], "p2pchat: vault|bob#") || !strings.HasSuffix(got[0], "mentioned you in vault") {
		t.Fatalf("notifications %q", got)
	}
	for _, n := range got {
		if strings.Contains(n, "secret") || strings.Contains(n, "alice?") {
			t.Errorf("a notification carries the message text: %q", n)
		}
	}
	fail = true
	run(t, m, msgEvent("lobby", bob, "alice!", testTime))
	run(t, m, msgEvent("lobby", bob, "alice!!", testTime))
	if len(got) != 3 || !strings.Contains(plain(t, m), "desktop notification failed") {
		t.Errorf("after a failure: %d notifications", len(got))
	}
}

func TestResize(t *testing.T) {
	m, _ := lobbyScenario(t, 80, 24)
	for _, sz := range [][2]int{{120, 40}, {40, 10}, {200, 60}, {20, 5}, {1, 1}, {10, 3}, {55, 8}, {80, 24}} {
		send(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		f := frame(t, m) // checks the size of every row
		l := m.layout()
		if narrow := sz[0] < minWidthRooms || sz[1] < minHeightSides; narrow && (l.roomsW > 0 || l.membersW > 0) {
			t.Errorf("%dx%d: side columns shown", sz[0], sz[1])
		}
		if sz[1] >= 3 && !strings.Contains(f, "lobby>") {
			t.Errorf("%dx%d: no input line:\n%s", sz[0], sz[1], f)
		}
	}
	golden(t, "resized-80x24", frame(t, m))
}

func TestNoRooms(t *testing.T) {
	core := newFakeCore(t)
	m := New(context.Background(), Config{Core: core, Intro: []string{"you are alice"}, Now: clock(), Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	send(m, EventMsg{room.Event{Type: room.EventError, Err: errors.New("peer x is unreachable")}})
	send(m, typed("hello")...)
	run(t, m, press(tea.KeyEnter))
	f := plain(t, m)
	for _, want := range []string{"not in any room: /join ROOM", "you are alice", "! peer x is unreachable", "! not in any room; /join ROOM first"} {
		if !strings.Contains(f, want) {
			t.Errorf("screen lacks %q:\n%s", want, f)
		}
	}
	if len(core.sends()) != 0 {
		t.Errorf("sent %q with no room", core.sends())
	}
}

func TestSanitize(t *testing.T) {
	m, _, _ := twoRooms(t)
	evil := member(t, 5, "ev\x1b[2Jil", false)
	send(m, msgEvent("lobby", evil, "bye\x1b]0;pwned\x07\u202etxt.exe", testTime))
	content := m.View().Content
	if strings.Contains(content, "\x1b[2J") || strings.Contains(content, "\x1b]0;pwned") || strings.Contains(content, "\u202e") {
		t.Errorf("control sequences from the network reach the terminal")
	}
	if f := plain(t, m); !strings.Contains(f, `ev\x1b[2Jil#`) || !strings.Contains(f, `bye\x1b]0;pwned\x07\x202etxt.exe`) {
		t.Errorf("escapes not shown:\n%s", f)
	}
}

// TestWideCharacters: double-width characters and emoji keep every row of
// the frame exactly as wide as the window, however they wrap.
func TestWideCharacters(t *testing.T) {
	m, _, bob := twoRooms(t)
	wide := member(t, 6, "太郎", false)
	send(m,
		msgEvent("lobby", wide, strings.Repeat("日本語のテキスト、", 12), testTime),
		msgEvent("lobby", bob, "party 🎉🎉🎉 "+strings.Repeat("🎉", 40), testTime),
		msgEvent("lobby", bob, "e\u0301 combining, ﷽ wide ligature, \u200bzero width", testTime),
	)
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {40, 10}, {33, 9}} {
		send(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		frame(t, m)
	}
}

// historyCore is a fakeCore that keeps history: stored messages of lobby,
// oldest first.
type historyCore struct {
	*fakeCore
	mu     sync.Mutex
	stored []*room.Message
	asked  []int
}

func (h *historyCore) History(ctx context.Context, name string, n int) ([]*room.Message, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.asked = append(h.asked, n)
	if name != "lobby" {
		return nil, nil
	}
	if n <= 0 || n > len(h.stored) {
		n = len(h.stored)
	}
	return h.stored[len(h.stored)-n:], nil
}

func (h *historyCore) Search(ctx context.Context, query string, limit int) ([]room.SearchHit, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var hits []room.SearchHit
	for i := len(h.stored) - 1; i >= 0 && len(hits) < limit; i-- {
		if msg := h.stored[i]; strings.Contains(msg.Text, query) {
			hits = append(hits, room.SearchHit{Room: "lobby", Message: msg, Snippet: strings.ReplaceAll(msg.Text, query, "["+query+"]")})
		}
	}
	return hits, nil
}

var _ Historian = (*historyCore)(nil)

// TestStoredHistory: a room's stored messages are loaded when it is first
// shown, more when scrolling past the top; /history loads them all and
// /search lists matches; our own stored messages show their state.
func TestStoredHistory(t *testing.T) {
	bob := member(t, 1, "bob", false)
	core := &historyCore{fakeCore: newFakeCore(t)}
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob}}, RoomState{Name: "vault", Kind: room.KindOpen, Ready: true})
	for i := range 450 {
		msg := &room.Message{ID: fmt.Sprintf("s%03d", i), From: bob.Peer, Nick: "bob", Short: bob.Fingerprint.Short(), Text: fmt.Sprintf("stored %03d", i), Time: testTime.Add(-time.Hour)}
		if i == 449 {
			msg.From, msg.Nick, msg.Short, msg.Self, msg.State = core.snap.ID, "alice", core.snap.Short, true, room.StatePending
			msg.Text = "my last words"
		}
		if i == 448 {
			msg.Late = true
		}
		core.stored = append(core.stored, msg)
	}
	m := New(context.Background(), Config{Core: core, Current: "lobby", Now: clock(), Location: time.UTC})
	runCmd(t, m, m.takeLoads()) // what Init starts
	run(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if n := len(m.views["lobby"].entries); n != historyPage {
		t.Fatalf("%d entries after the first load, want %d", n, historyPage)
	}
	f := plain(t, m)
	if !strings.Contains(f, "· pending: no member reachable") || !strings.Contains(f, "stored 448 · arrived late") {
		t.Errorf("stored own message without its state, or late one unmarked:\n%s", f)
	}
	// The core later reports it seen.
	send(m, EventMsg{room.Event{Type: room.EventState, Room: "lobby", Message: &room.Message{ID: "s449", Self: true, State: room.StateSeen, SeenBy: 2}}})
	if f := plain(t, m); !strings.Contains(f, "· seen by 2 members") {
		t.Errorf("state event not shown:\n%s", f)
	}
	// Scrolling past the top loads the next page, and then the rest.
	for range 200 {
		run(t, m, press(tea.KeyPgUp))
	}
	if n := len(m.views["lobby"].entries); n != 450 || !m.views["lobby"].historyDone {
		t.Errorf("%d entries after scrolling to the top (done %v); asked %v", n, m.views["lobby"].historyDone, core.asked)
	}
	if f := plain(t, m); !strings.Contains(f, "stored 000") {
		t.Errorf("the oldest message is not reachable:\n%s", f)
	}
	send(m, press(tea.KeyEscape))
	// /search lists matches with their room and time.
	send(m, typed("/search 44")...)
	run(t, m, press(tea.KeyEnter))
	run(t, m, tea.WindowSizeMsg{Width: 120, Height: 40})
	f = plain(t, m)
	if !strings.Contains(f, `search "44": 13 stored messages`) || !strings.Contains(f, "[lobby] 2026-11-24 11:00 bob#bboci: stored [44]8") {
		t.Errorf("search results:\n%s", f)
	}
	// /history in a room without stored messages says so.
	send(m, press('2', tea.ModAlt))
	send(m, typed("/history")...)
	run(t, m, press(tea.KeyEnter))
	if f := plain(t, m); !strings.Contains(f, "no more stored messages of vault") {
		t.Errorf("/history in vault:\n%s", f)
	}
}

// TestLateMessageInPlace: a message that arrives after one that follows it
// in the room's order is shown in its place, marked late.
func TestLateMessageInPlace(t *testing.T) {
	core := newFakeCore(t)
	bob := member(t, 1, "bob", true)
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob}})
	m := newTestModel(t, core, "lobby", 80, 24)
	ev := func(text string, clock uint64, late bool) EventMsg {
		e := msgEvent("lobby", bob, text, testTime)
		e.Event.Message.Clock, e.Event.Message.Seq, e.Event.Message.Late, e.Event.Message.ID = clock, clock, late, text
		return e
	}
	send(m, ev("first", 1, false), ev("third", 3, false), ev("second", 2, true))
	var texts []string
	for _, e := range m.views["lobby"].entries {
		if e.kind == kindMessage {
			texts = append(texts, e.text)
		}
	}
	if strings.Join(texts, ",") != "first,second,third" {
		t.Errorf("order %v, want first,second,third", texts)
	}
	if !strings.Contains(plain(t, m), "second · arrived late") {
		t.Errorf("late mark missing:\n%s", plain(t, m))
	}
}

// TestSlashLinesNeverChat checks that a line starting with "/" is a
// command or an error, never a message: unknown commands, wrong
// arguments, and Esc typed just before "/join", which the terminal sends
// as Alt-/.
func TestSlashLinesNeverChat(t *testing.T) {
	tests := []struct {
		name string
		keys []tea.Msg
		want string // on the screen; "" for nothing in particular
		core []string
	}{
		{"unknown", typed("/frobnicate now"), "! unknown command /frobnicate; /help lists the commands", nil},
		{"slash alone", typed("/"), "! unknown command /; /help lists the commands", nil},
		{"room with a space", typed("/join my room"), `! room names cannot contain spaces, and "my room" has one; did you mean /join my-room?`, nil},
		{"leave with a space", typed("/leave my room"), "did you mean /leave my-room?", nil},
		{"me without action", typed("/me"), "! usage: /me ACTION", nil},
		{"history word", typed("/history five"), "! usage: /history [N]", nil},
		{"alias", typed("/exit"), "", nil},
		{"Esc, /who", append([]tea.Msg{press('/', tea.ModAlt)}, typed("who")...), "", []string{"/who"}},
		{"Esc, /leave", append([]tea.Msg{press('/', tea.ModAlt)}, typed("leave")...), "", []string{"/leave"}},
		{"Esc in help, /who", append([]tea.Msg{press('/', tea.ModAlt)}, typed("who")...), "", []string{"/who"}},
		{"Esc key, /who", append([]tea.Msg{press(tea.KeyEscape)}, typed("/who")...), "", []string{"/who"}},
		{"double slash", typed("//join is a command"), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, core, _ := twoRooms(t)
			if strings.HasPrefix(tt.name, "Esc in help") {
				m.help = true
			}
			send(m, tt.keys...)
			run(t, m, press(tea.KeyEnter))
			if m.help {
				t.Error("the help panel is still open")
			}
			sent := core.sends()
			if tt.name == "double slash" {
				if !slices.Equal(sent, []string{"lobby|/join is a command"}) {
					t.Errorf("sent %q, want the literal /join line", sent)
				}
				return
			}
			if len(sent) != 0 {
				t.Errorf("sent %q as chat", sent)
			}
			if !slices.Equal(core.lines, tt.core) {
				t.Errorf("core ran %q, want %q", core.lines, tt.core)
			}
			if tt.name == "alias" && !m.quitting {
				t.Error("/exit did not quit")
			}
			if tt.want == "" {
				return
			}
			if f := plain(t, m); !strings.Contains(f, tt.want) {
				t.Errorf("screen lacks %q:\n%s", tt.want, f)
			}
		})
	}
}

// TestEscThenJoin types Esc and "/join dev" as the terminal sends them
// when they come quickly: Alt-/, then "join dev". The Enter must run
// /join (which asks for a passphrase, so its command is not run here),
// not send "join dev".
func TestEscThenJoin(t *testing.T) {
	m, core, _ := twoRooms(t)
	send(m, press('/', tea.ModAlt))
	send(m, typed("join dev")...)
	if got := m.input.Value(); got != "/join dev" {
		t.Fatalf("input %q, want /join dev", got)
	}
	_, cmd := m.Update(press(tea.KeyEnter))
	if cmd == nil || len(core.sends()) != 0 || m.history[len(m.history)-1] != "/join dev" {
		t.Errorf("Enter: command %v, sent %q", cmd != nil, core.sends())
	}
	// Alt-keys the input binds keep their meaning: Alt-B is a word back.
	m.input.Reset()
	send(m, typed("one two")...)
	send(m, press('b', tea.ModAlt))
	send(m, typed("X")...)
	if got := m.input.Value(); got != "one Xtwo" {
		t.Errorf("Alt-B then X: input %q, want one Xtwo", got)
	}
}

// TestHelpPanelListsEachCommandOnce checks the UI's help: every command
// of the table once, with the UI's text, and the keys.
func TestHelpPanelListsEachCommandOnce(t *testing.T) {
	m, _, _ := twoRooms(t)
	send(m, typed("/help")...)
	run(t, m, press(tea.KeyEnter))
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 80})
	help := plain(t, m)
	flat := strings.Join(strings.Fields(help), " ")
	for _, c := range slash.Commands(slash.UI) {
		if n := strings.Count(help, "\n  "+c.Usage()); n != 1 {
			t.Errorf("%s listed %d times:\n%s", c.Usage(), n, help)
		}
		if !strings.Contains(flat, c.HelpFor(slash.UI)) {
			t.Errorf("%s lacks its help %q:\n%s", c.Usage(), c.HelpFor(slash.UI), help)
		}
	}
	if !strings.Contains(help, "Alt-1 … Alt-9") || strings.Contains(help, "(default 20)") {
		t.Errorf("the panel lacks the keys or has line mode's /history:\n%s", help)
	}
}

// TestIdleAway: with AwayAfter, the UI marks the node away once no key was
// pressed for that long, once, and back at the next key; an /away the
// user typed is not undone by a key press nor replaced by idleness.
func TestIdleAway(t *testing.T) {
	core := newFakeCore(t)
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true})
	now := testTime
	m := New(context.Background(), Config{Core: core, Current: "lobby", Now: func() time.Time { return now }, Location: time.UTC, AwayAfter: 10 * time.Minute})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	lines := func() []string {
		core.mu.Lock()
		defer core.mu.Unlock()
		return slices.Clone(core.lines)
	}
	// What the second's tick runs (the tick itself chains the next one).
	tickAt := func(d time.Duration) {
		now = now.Add(d)
		runCmd(t, m, m.checkIdle())
	}
	tickAt(time.Second)
	tickAt(9 * time.Minute)
	if l := lines(); len(l) != 0 {
		t.Fatalf("away before 10 minutes: %q", l)
	}
	tickAt(time.Minute)
	tickAt(time.Minute)
	if l := lines(); !slices.Equal(l, []string{"/away idle"}) {
		t.Fatalf("after 10 idle minutes the core got %q", l)
	}
	run(t, m, press('x'))
	if l := lines(); !slices.Equal(l, []string{"/away idle", "/back"}) {
		t.Fatalf("after a key the core got %q", l)
	}
	run(t, m, press(tea.KeyBackspace))
	send(m, typed("/away lunch")...)
	run(t, m, press(tea.KeyEnter))
	tickAt(time.Hour)
	run(t, m, press('y'))
	if l := lines(); !slices.Equal(l, []string{"/away idle", "/back", "/away lunch"}) {
		t.Errorf("after the user's /away the core got %q", l)
	}
}
