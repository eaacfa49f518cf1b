//go:build e2e && linux

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNetnsDaemon: a daemon on each of two namespaced hosts, found by mDNS;
// `p2pchat send` on one, `p2pchat tail --json` on the other sees the
// message once; the full-screen UI attaches to a daemon and detaches; a
// reply and a reaction sent on one host show in the other's --json stream
// and its UI.
// SIGTERM and SIGHUP stop the daemons cleanly.
func TestNetnsDaemon(t *testing.T) {
	lab := newE2ELab(t)
	bin := lab.buildP2PChat()
	lan := lab.newLAN(2)
	const roomName = "e2edaemon"
	type host struct {
		nick, home string
		env        []string
		ns         string
		daemon     *e2eProc
	}
	var hosts []*host
	for i, nick := range []string{"alice", "bob"} {
		h := &host{nick: nick, home: filepath.Join(lab.dir, "home-"+nick), ns: lan.Hosts[i].NS}
		run := filepath.Join(lab.dir, "run-"+nick)
		if err := os.Mkdir(run, 0o700); err != nil {
			t.Fatal(err)
		}
		h.env = append(lab.e2eEnv(), "XDG_RUNTIME_DIR="+run)
		h.daemon = lab.start(nick+"-daemon", h.ns, h.env, bin, "--home", h.home, "daemon", "--nick", nick, "--log-format", "json")
		hosts = append(hosts, h)
	}
	// cli runs one p2pchat subcommand on h and returns its stdout.
	cli := func(h *host, args ...string) (string, error) {
		return lab.runCLI(bin, h.ns, h.home, h.env, args...)
	}
	var peerIDs []string
	for _, h := range hosts {
		var out string
		waitFor(t, lab.ctx, 20*time.Second, h.nick+"'s daemon answers", func() bool {
			var err error
			out, err = cli(h, "status", "--json")
			return err == nil
		})
		var st struct {
			PeerID string `json:"peer_id"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil || st.PeerID == "" {
			t.Fatalf("status --json: %q (%v)", out, err)
		}
		peerIDs = append(peerIDs, st.PeerID)
		if _, err := cli(h, "join", roomName); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range hosts {
		waitFor(t, lab.ctx, 30*time.Second, h.nick+" sees the other member", func() bool {
			out, err := cli(h, "rooms")
			return err == nil && strings.Contains(out, "ready") && strings.Contains(out, " 1 other member")
		})
	}
	tail := lab.start("bob-tail", hosts[1].ns, hosts[1].env, bin, "--home", hosts[1].home, "tail", roomName, "--json")
	// alice's own stream (with the last messages stored, so that it shows
	// what it may have missed while subscribing) sees bob's reply and
	// reaction below.
	aliceTail := lab.start("alice-tail", hosts[0].ns, hosts[0].env, bin, "--home", hosts[0].home, "tail", roomName, "--json", "-n", "5")
	// tail is subscribed once a probe sent through bob's own daemon shows.
	probe := "probe-" + randHex(4)
	text := "hello from alice's daemon " + randHex(4)
	waitFor(t, lab.ctx, 20*time.Second, "bob's tail is subscribed", func() bool {
		if _, err := cli(hosts[1], "send", roomName, probe); err != nil {
			t.Logf("probe: %v", err)
			return false
		}
		time.Sleep(200 * time.Millisecond)
		return countText(tail.stdoutLines(), probe) > 0
	})
	start := time.Now()
	if _, err := cli(hosts[0], "send", roomName, text); err != nil {
		t.Fatal(err)
	}
	waitFor(t, lab.ctx, 20*time.Second, "bob's tail shows alice's message", func() bool {
		return countText(tail.stdoutLines(), text) > 0
	})
	t.Logf("send on alice → tail on bob: %v", time.Since(start).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	for _, ln := range tail.stdoutLines() {
		var ev struct {
			Type, Text, From string
			Self             bool
			EventID          uint64 `json:"event_id"`
		}
		if err := json.Unmarshal([]byte(ln.Text), &ev); err != nil {
			t.Errorf("tail line is not JSON: %q", ln.Text)
			continue
		}
		if ev.Text == text && (ev.Type != "message" || ev.From != peerIDs[0] || ev.Self || ev.EventID == 0) {
			t.Errorf("tail line %q: want a message from %s, not self, with an event_id", ln.Text, peerIDs[0])
		}
	}
	if n := countText(tail.stdoutLines(), text); n != 1 {
		t.Errorf("tail showed the message %d times, want once", n)
	}
	// The full-screen UI attaches to alice's daemon: it shows the room's
	// history and what bob sends, and what is typed in it reaches bob.
	x := newE2ETmux(lab)
	ui := x.startPane("alice-ui", 100, 30, "ip", "netns", "exec", hosts[0].ns, "env", "XDG_RUNTIME_DIR="+filepath.Join(lab.dir, "run-alice"),
		bin, "--home", hosts[0].home)
	ui.waitScreen(20*time.Second, "the attached UI shows the room and its history", func(s string) bool {
		return strings.Contains(s, roomName) && strings.Contains(s, text)
	})
	reply := "bob answers the UI " + randHex(4)
	if _, err := cli(hosts[1], "send", roomName, reply); err != nil {
		t.Fatal(err)
	}
	ui.waitScreen(20*time.Second, "the attached UI shows bob's reply", func(s string) bool { return strings.Contains(s, reply) })

	// bob answers alice's message and reacts to it: alice's --json stream
	// and her UI show both.
	var textID string
	for _, ln := range tail.stdoutLines() {
		var ev struct{ Type, Text, ID string }
		if json.Unmarshal([]byte(ln.Text), &ev) == nil && ev.Type == "message" && ev.Text == text {
			textID = ev.ID
		}
	}
	answer := "an answer to alice " + randHex(4)
	if _, err := cli(hosts[1], "send", "--reply-to", textID, roomName, answer); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(hosts[1], "react", roomName, textID, "🎉"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, lab.ctx, 20*time.Second, "alice's tail shows bob's reply and reaction", func() bool {
		var replied, reacted bool
		for _, ln := range aliceTail.stdoutLines() {
			var ev struct {
				Type, Text, Target, Reaction string
				ReplyTo                      string `json:"reply_to"`
				On                           bool
				PeerID                       string `json:"peer_id"`
			}
			if json.Unmarshal([]byte(ln.Text), &ev) != nil {
				continue
			}
			replied = replied || (ev.Type == "message" && ev.Text == answer && ev.ReplyTo == textID)
			reacted = reacted || (ev.Type == "reaction" && ev.Target == textID && ev.Reaction == "🎉" && ev.On && ev.PeerID == peerIDs[1])
		}
		return replied && reacted
	})
	ui.waitScreen(20*time.Second, "the attached UI shows the reply's quote and the reaction", func(s string) bool {
		return strings.Contains(s, "↪ reply to alice: "+text[:20]) && strings.Contains(s, answer) && strings.Contains(s, "🎉 1")
	})
	// bob steps away: alice's stream and her members column say so.
	if _, err := cli(hosts[1], "away", "lunch, back at 2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, lab.ctx, 20*time.Second, "alice's tail shows bob away", func() bool {
		for _, ln := range aliceTail.stdoutLines() {
			var ev struct{ Type, Text string }
			if json.Unmarshal([]byte(ln.Text), &ev) == nil && ev.Type == "away" && ev.Text == "lunch, back at 2" {
				return true
			}
		}
		return false
	})
	ui.waitScreen(20*time.Second, "the attached UI marks bob away", func(s string) bool { return regexp.MustCompile(`bob#[a-z2-7]{5} ·away`).MatchString(s) })
	typed := "typed in the attached UI " + randHex(4)
	ui.keys(typed)
	ui.key("Enter")
	waitFor(t, lab.ctx, 20*time.Second, "bob's tail shows what was typed in alice's UI", func() bool {
		return countText(tail.stdoutLines(), typed) == 1
	})
	ui.keys("/quit")
	ui.key("Enter")
	ui.waitExit(15 * time.Second)
	if out, err := cli(hosts[0], "rooms"); err != nil || !strings.Contains(out, roomName) {
		t.Errorf("alice's daemon left the room when the UI detached: %q, %v", out, err)
	}

	if err := aliceTail.signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := aliceTail.waitExit(10 * time.Second); code != 0 {
		t.Errorf("alice's tail exited %d after SIGINT", code)
	}
	if err := tail.signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := tail.waitExit(10 * time.Second); code != 0 {
		t.Errorf("tail exited %d after SIGINT", code)
	}
	// SIGTERM (a service manager) and SIGHUP (a closed terminal) both stop
	// a daemon cleanly.
	for i, h := range hosts {
		if err := h.daemon.signal([]syscall.Signal{syscall.SIGTERM, syscall.SIGHUP}[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range hosts {
		if code := h.daemon.waitExit(15 * time.Second); code != 0 {
			t.Errorf("%s's daemon exited %d after its signal", h.nick, code)
		}
		stopped := false
		for _, ln := range h.daemon.stderrLines() {
			stopped = stopped || strings.Contains(ln.Text, `"msg":"stopped"`)
		}
		if !stopped {
			t.Errorf("%s's daemon did not log that it stopped", h.nick)
		}
		if _, err := cli(h, "status"); err == nil {
			t.Errorf("%s: status succeeds after the daemon stopped", h.nick)
		}
	}
}

// countText counts the lines that carry text as a JSON "text" value.
func countText(lines []e2eLine, text string) int {
	n := 0
	for _, ln := range lines {
		var ev struct{ Text string }
		if json.Unmarshal([]byte(ln.Text), &ev) == nil && ev.Text == text {
			n++
		}
	}
	return n
}
