package tui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/p2pchat/p2pchat/room"
)

// spy wraps a Model in a program and keeps every frame it draws (styles
// stripped), for the test to read while the program runs: the terminal
// output itself only carries what changed between frames.
type spy struct {
	*Model
	mu     sync.Mutex
	frames []string
}

func (s *spy) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := s.Model.Update(msg)
	return s, cmd
}

func (s *spy) View() tea.View {
	v := s.Model.View()
	s.mu.Lock()
	s.frames = append(s.frames, ansi.Strip(v.Content))
	s.mu.Unlock()
	return v
}

// screen returns the last frame.
func (s *spy) screen() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) == 0 {
		return ""
	}
	return s.frames[len(s.frames)-1]
}

// drawn reports whether any frame so far showed text.
func (s *spy) drawn(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.frames {
		if strings.Contains(f, text) {
			return true
		}
	}
	return false
}

// waitUntil polls cond for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProgramPassphrasePrompt runs the model in a real Bubble Tea program:
// /join asks for the passphrase with a masked prompt, whose text reaches
// the core but never the screen nor the input history; Esc cancels.
func TestProgramPassphrasePrompt(t *testing.T) {
	core := newFakeCore(t)
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true})
	s := &spy{Model: New(context.Background(), Config{Core: core, Current: "lobby", Now: clock(), Location: time.UTC})}
	tm := teatest.NewTestModel(t, s, teatest.WithInitialTermSize(80, 24))

	const secret = "hunter2-zq8"
	tm.Type("/join vault")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitUntil(t, "the prompt", func() bool { return strings.Contains(s.screen(), "passphrase for vault") })
	tm.Type(secret)
	tm.Send(tea.PasteMsg{Content: "-pasted\n"})
	mask := strings.Repeat("•", len(secret)+len("-pasted"))
	waitUntil(t, "the mask", func() bool { return strings.Contains(s.screen(), mask) && !strings.Contains(s.screen(), mask+"•") })
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitUntil(t, "the join", func() bool {
		core.mu.Lock()
		defer core.mu.Unlock()
		return string(core.joined["vault"]) == secret+"-pasted"
	})
	waitUntil(t, "vault to be current", func() bool { return strings.Contains(s.screen(), "vault>") })

	// Esc cancels a prompt: the command reports that nothing was joined.
	tm.Type("/join other")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitUntil(t, "the second prompt", func() bool { return strings.Contains(s.screen(), "passphrase for other") })
	tm.Type("abc")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	waitUntil(t, "the cancel notice", func() bool { return strings.Contains(s.screen(), "cancelled; not joined") })

	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*spy)
	if s.drawn(secret) || s.drawn("abc") {
		t.Error("a passphrase was drawn on the screen")
	}
	for _, h := range final.history {
		if strings.Contains(h, secret) {
			t.Errorf("a passphrase is in the input history: %q", h)
		}
	}
	if _, ok := core.joined["other"]; ok {
		t.Error("a cancelled prompt joined the room")
	}
	if final.current != "vault" {
		t.Errorf("current room %q, want vault", final.current)
	}
}

// TestProgramChat types a message in a real program and sees it sent and
// marked so; an event from the core shows up; Ctrl-C quits.
func TestProgramChat(t *testing.T) {
	core := newFakeCore(t)
	bob := member(t, 1, "bob", true)
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob}})
	s := &spy{Model: New(context.Background(), Config{Core: core, Current: "lobby", Now: clock(), Location: time.UTC})}
	tm := teatest.NewTestModel(t, s, teatest.WithInitialTermSize(120, 40))

	tm.Type("hello from the test")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitUntil(t, "the send", func() bool { return len(core.sends()) == 1 })
	waitUntil(t, "the sent mark", func() bool { return strings.Contains(s.screen(), "sent") })
	tm.Send(msgEvent("lobby", bob, "hello back", testTime))
	waitUntil(t, "bob's answer", func() bool { return strings.Contains(s.screen(), "hello back") })
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*spy)
	if got := core.sends(); len(got) != 1 || got[0] != "lobby|hello from the test" {
		t.Errorf("sends %q", got)
	}
	var states []SendState
	for _, e := range final.views["lobby"].entries {
		if e.self {
			states = append(states, e.state)
		}
	}
	if len(states) != 1 || states[0] != StateSent {
		t.Errorf("own message states %v, want [sent]", states)
	}
}

// TestPromptFrame is the screen while a passphrase is asked for.
func TestPromptFrame(t *testing.T) {
	m, _ := lobbyScenario(t, 80, 24)
	reply := make(chan askReply, 1)
	send(m, askMsg{askRequest{prompt: "passphrase for vault: ", reply: reply}})
	send(m, typed("s3cret")...)
	f := frame(t, m)
	if strings.Contains(f, "s3cret") {
		t.Fatalf("the passphrase is on the screen:\n%s", f)
	}
	golden(t, "prompt-80x24", f)
	send(m, press(tea.KeyBackspace), press(tea.KeyEnter))
	if r := <-reply; string(r.secret) != "s3cre" || r.err != nil {
		t.Errorf("prompt answered %q, %v", r.secret, r.err)
	}
	if m.prompt != nil {
		t.Error("prompt still shown")
	}
}
