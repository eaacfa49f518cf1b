//go:build e2e && linux

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNetnsFirstDay runs the real binary on two hosts, each in line mode
// with a node of its own (no daemon), for issue 13:
//   - item 5: while alice's session runs, `p2pchat send` on her host goes
//     out through her node (bob gets it; her session shows it as her
//     own) and `p2pchat status` answers;
//   - item 2: alice quits and runs plain `p2pchat` (no ROOM): she is back
//     in both rooms (not lobby), and bob sees her again. (The order is
//     TestPlainRunRejoins' and TestStoredRoomsOrder's.)
func TestNetnsFirstDay(t *testing.T) {
	lab := newE2ELab(t)
	bin := lab.buildP2PChat()
	lan := lab.newLAN(2)
	env := func(nick string) []string {
		run := filepath.Join(lab.dir, "run-"+nick)
		if err := os.MkdirAll(run, 0o700); err != nil {
			t.Fatal(err)
		}
		return append(lab.e2eEnv(), "XDG_RUNTIME_DIR="+run)
	}
	aliceEnv, bobEnv := env("alice"), env("bob")
	aliceHome := filepath.Join(lab.dir, "home-alice")
	cli := func(args ...string) (string, error) {
		return lab.runCLI(bin, lan.Hosts[0].NS, aliceHome, aliceEnv, args...)
	}
	chat := func(name, nick string, env []string, rooms ...string) *e2eChat {
		argv := append([]string{bin, "--json", "--home", filepath.Join(lab.dir, "home-"+nick), "--nick", nick, "--log-level", "debug"}, rooms...)
		host := lan.Hosts[map[string]int{"alice": 0, "bob": 1}[nick]]
		return &e2eChat{e2eProc: lab.start(name, host.NS, env, argv...), Host: host, Nick: nick}
	}
	bob := chat("bob", "bob", bobEnv, "fd-two")
	alice := chat("alice", "alice", aliceEnv, "fd-zed", "fd-two")
	bobID := bob.waitEvent(20*time.Second, "bob ready", isType("ready")).PeerID
	aliceID := alice.waitEvent(20*time.Second, "alice ready", isType("ready")).PeerID
	alice.waitEvent(30*time.Second, "alice sees bob in fd-two", func(e e2eEvent) bool {
		return e.Type == "member_joined" && e.Room == "fd-two" && e.PeerID == bobID
	})

	// Item 5: the CLI works against alice's own node.
	var out string
	waitFor(t, lab.ctx, 20*time.Second, "status against alice's session", func() bool {
		var err error
		out, err = cli("status", "--json")
		return err == nil
	})
	if !strings.Contains(out, `"peer_id":"`+aliceID+`"`) {
		t.Errorf("status --json: %q", out)
	}
	text := "sent with the CLI beside the session " + randHex(4)
	if _, err := cli("send", "fd-two", text); err != nil {
		t.Fatal(err)
	}
	bob.waitEvent(20*time.Second, "bob gets the CLI's message", func(e e2eEvent) bool {
		return e.Type == "message" && e.Text == text && e.From == aliceID
	})
	own := alice.waitEvent(10*time.Second, "alice's session shows it", func(e e2eEvent) bool { return e.Type == "message" && e.Text == text })
	if own.Self == nil || !*own.Self {
		t.Errorf("the CLI's message in alice's session: %s; want self", own.Raw)
	}

	// Item 2: quit, then plain p2pchat rejoins both rooms in order.
	alice.closeStdin()
	if code := alice.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("alice exited %d", code)
	}
	if _, err := cli("status"); err == nil {
		t.Error("status still answers after alice's session ended")
	}
	n := bob.count(func(e e2eEvent) bool { return e.Type == "member_joined" && e.PeerID == aliceID })
	again := chat("alice-again", "alice", aliceEnv)
	again.waitEvent(20*time.Second, "alice ready again", isType("ready"))
	waitFor(t, lab.ctx, 30*time.Second, "bob sees alice back", func() bool {
		return bob.count(func(e e2eEvent) bool { return e.Type == "member_joined" && e.PeerID == aliceID }) > n
	})
	waitFor(t, lab.ctx, 20*time.Second, "alice's rooms", func() bool {
		out, err := cli("rooms", "--json")
		if err != nil {
			return false
		}
		var r struct{ Rooms []string }
		return json.Unmarshal([]byte(out), &r) == nil && slices.Equal(r.Rooms, []string{"fd-two", "fd-zed"})
	})
	if _, ok := again.find(func(e e2eEvent) bool { return e.Type == "joined" && e.Room == "lobby" }); ok {
		t.Error("plain p2pchat joined lobby on a second run")
	}
	again.closeStdin()
	again.waitExit(15 * time.Second)
	bob.closeStdin()
	bob.waitExit(15 * time.Second)
}
