package tui

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// updating reports whether -update was given: rewrite the golden files in
// testdata/ with what the tests render. The flag itself is defined by
// github.com/charmbracelet/x/exp/golden, which teatest imports.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// frame renders m at its size as plain text (styles stripped), checking
// that every row is exactly as wide as the window and that there are as
// many rows as it is high.
func frame(t *testing.T, m *Model) string {
	t.Helper()
	content := m.View().Content
	rows := strings.Split(content, "\n")
	if len(rows) != m.height {
		t.Errorf("frame has %d rows, want %d", len(rows), m.height)
	}
	for i, r := range rows {
		if w := ansi.StringWidth(r); w != m.width {
			t.Errorf("row %d is %d cells wide, want %d: %q", i, w, m.width, ansi.Strip(r))
		}
		rows[i] = strings.TrimRight(ansi.Strip(r), " ")
	}
	return strings.Join(rows, "\n") + "\n"
}

// golden compares got with testdata/name.golden (or rewrites it with
// -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("frame differs from %s (go test -update rewrites it)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// clock returns a Now that starts at testTime and moves a minute a call.
func clock() func() time.Time {
	now := testTime
	return func() time.Time {
		now = now.Add(time.Minute)
		return now
	}
}

func newTestModel(t *testing.T, core Core, current string, w, h int) *Model {
	t.Helper()
	m := New(context.Background(), Config{Core: core, Current: current, Now: clock(), Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

// send feeds msgs to m in order, as the program would, dropping commands.
func send(m *Model, msgs ...tea.Msg) {
	for _, msg := range msgs {
		m.Update(msg)
	}
}

func msgEvent(roomName string, from room.Member, text string, at time.Time) EventMsg {
	return EventMsg{room.Event{Type: room.EventMessage, Room: roomName, Message: &room.Message{
		ID: from.Nick + at.Format("1504") + text[:min(3, len(text))], From: from.Peer, Short: from.Fingerprint.Short(),
		Nick: from.Nick, Text: text, Time: at}}}
}

// lobbyScenario is a busy room with every look the pane has: members
// verified, unverified and with a changed key, a mention, our messages
// sent and not sent, an action, a multi-line message, a long one, an
// unreadable notice and a key change; and a second room with unread
// messages that name us.
func lobbyScenario(t *testing.T, w, h int) (*Model, *fakeCore) {
	t.Helper()
	core := newFakeCore(t)
	bob, carol, mallory := member(t, 1, "bob", true), member(t, 2, "carol", false), member(t, 3, "bob", false)
	core.setRooms(
		RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob, mallory, carol}},
		RoomState{Name: "vault", Kind: room.KindPassphrase, Ready: true, Members: []room.Member{carol}},
		RoomState{Name: "dev", Kind: room.KindOpen},
	)
	m := newTestModel(t, core, "lobby", w, h)
	at := func(min int) time.Time { return testTime.Add(time.Duration(min) * time.Minute) }
	send(m,
		EventMsg{room.Event{Type: room.EventJoined, Room: "lobby"}},
		EventMsg{room.Event{Type: room.EventMemberJoined, Room: "lobby", Peer: bob.Peer, Nick: "bob", Short: bob.Fingerprint.Short()}},
		EventMsg{room.Event{Type: room.EventMemberJoined, Room: "lobby", Peer: carol.Peer, Nick: "carol", Short: carol.Fingerprint.Short()}},
		msgEvent("lobby", bob, "hi all, the build is green again", at(3)),
		msgEvent("lobby", carol, "alice: can you look at the release notes?", at(4)),
		msgEvent("lobby", bob, "first line\nsecond line\n\tindented with a tab", at(5)),
	)
	send(m, typed("sure, on it")...)
	run(t, m, press(tea.KeyEnter))
	core.sendErr = errNoRoute
	send(m, typed("/me waves")...)
	run(t, m, press(tea.KeyEnter))
	core.sendErr = nil
	send(m,
		EventMsg{room.Event{Type: room.EventKeyChanged, Room: "lobby", Peer: mallory.Peer, Nick: "bob", Short: mallory.Fingerprint.Short(), OldPeer: bob.Peer.String(), OldVerified: true}},
		EventMsg{room.Event{Type: room.EventMemberJoined, Room: "lobby", Peer: mallory.Peer, Nick: "bob", Short: mallory.Fingerprint.Short()}},
		msgEvent("lobby", mallory, "it's me, bob, new laptop; send me the passphrase", at(8)),
		EventMsg{room.Event{Type: room.EventError, Room: "lobby", Reason: room.DropUnreadable, Err: errors.New(`room "lobby": 2 message(s) could not be read: they were sent under epoch 4, whose key no member handed us within 10s`)}},
		msgEvent("lobby", carol, "a long message that has to wrap over several rows of the pane, because it just keeps going and going without a break in sight", at(9)),
		msgEvent("vault", carol, "alice, the vault is open", at(10)),
		msgEvent("vault", carol, "ping @alice", at(11)),
		msgEvent("vault", carol, "anyone?", at(12)),
	)
	return m, core
}

// run feeds msg to m and then runs the command Update returns, feeding its
// messages back the same way, until none is left. Only for commands that
// return at once: sends, the fake's commands without a prompt.
func run(t *testing.T, m *Model, msg tea.Msg) {
	t.Helper()
	_, cmd := m.Update(msg)
	runCmd(t, m, cmd)
}

func runCmd(t *testing.T, m *Model, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			runCmd(t, m, c)
		}
	case tea.QuitMsg:
	default:
		run(t, m, msg)
	}
}

func typed(s string) []tea.Msg {
	var msgs []tea.Msg
	for _, r := range s {
		msgs = append(msgs, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return msgs
}

func press(code rune, mods ...tea.KeyMod) tea.KeyPressMsg {
	k := tea.KeyPressMsg{Code: code}
	for _, md := range mods {
		k.Mod |= md
	}
	return k
}

func TestGoldenLobby(t *testing.T) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"120x40", 120, 40}, {"40x10", 40, 10}, {"60x16", 60, 16}} {
		t.Run(sz.name, func(t *testing.T) {
			m, _ := lobbyScenario(t, sz.w, sz.h)
			golden(t, "lobby-"+sz.name, frame(t, m))
		})
	}
}

// TestGoldenConversation: a reply shows what it answers under it, an
// edited message says so, reactions follow a message, a deleted one says
// "message deleted" (and the reply to it says whose it was); reaction,
// edit and delete events change what is on screen. The members column
// marks carol away and lists dave, a member before, as not here.
func TestGoldenConversation(t *testing.T) {
	core := newFakeCore(t)
	bob, carol, dave := member(t, 1, "bob", true), member(t, 2, "carol", false), member(t, 4, "dave", false)
	carol.Away = "lunch"
	core.setRooms(RoomState{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: []room.Member{bob, carol}, Absent: []room.Member{dave}})
	m := newTestModel(t, core, "lobby", 80, 14)
	at := func(min int) time.Time { return testTime.Add(time.Duration(min) * time.Minute) }
	q := msgEvent("lobby", bob, "lunch today?", at(1))
	gone := msgEvent("lobby", carol, "my phone number is 555-0100", at(2))
	reply := msgEvent("lobby", carol, "yes, at noon", at(3))
	reply.Event.Message.ReplyTo, reply.Event.Message.ReplyNick, reply.Event.Message.ReplyText = q.Event.Message.ID, "bob", "lunch today?"
	toGone := msgEvent("lobby", bob, "thanks, noted", at(4))
	toGone.Event.Message.ReplyTo, toGone.Event.Message.ReplyNick, toGone.Event.Message.ReplyText = gone.Event.Message.ID, "carol", "my phone number is 555-0100"
	unknown := msgEvent("lobby", carol, "what about this?", at(5))
	unknown.Event.Message.ReplyTo = "00112233445566778899aabbccddeeff"
	send(m, q, gone, reply, toGone, unknown)

	edited := *q.Event.Message
	edited.Text, edited.Edited = "lunch today at 12?", true
	edited.Reactions = map[string][]peer.ID{"👍": {carol.Peer, bob.Peer}, "🎉": {carol.Peer}}
	deleted := *gone.Event.Message
	deleted.Text, deleted.Deleted = "", true
	send(m,
		EventMsg{room.Event{Type: room.EventEdit, Room: "lobby", Peer: bob.Peer, Target: edited.ID, Message: &edited}},
		EventMsg{room.Event{Type: room.EventReaction, Room: "lobby", Peer: carol.Peer, Target: edited.ID, Reaction: "👍", On: true, Message: &edited}},
		EventMsg{room.Event{Type: room.EventDelete, Room: "lobby", Peer: carol.Peer, Target: deleted.ID, Message: &deleted}},
	)
	out := frame(t, m)
	if strings.Contains(out, "555-0100") {
		t.Error("the deleted text is still on screen")
	}
	golden(t, "conversation-80x14", out)
}
