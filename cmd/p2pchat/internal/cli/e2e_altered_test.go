//go:build e2e && linux

package cli

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNetnsAlteredRecord (issue 20 item 3): one message edited in bob's
// database. history shows the others and warns once (exit 0); bob's node,
// started again, says the database was altered and gets alice's verified
// copy by sync; history then shows all three without a warning.
func TestNetnsAlteredRecord(t *testing.T) {
	lab := newE2ELab(t)
	bin := lab.buildP2PChat()
	lan := lab.newLAN(2)
	const roomName = "e2ealtered"
	alice := lab.startChat(bin, lan.Hosts[0], "alice", roomName)
	bob := lab.startChat(bin, lan.Hosts[1], "bob", roomName)
	aID := alice.waitEvent(20*time.Second, "ready", isType("ready")).PeerID
	bID := bob.waitEvent(20*time.Second, "ready", isType("ready")).PeerID
	alice.waitEvent(30*time.Second, "member_joined bob", func(ev e2eEvent) bool { return ev.Type == "member_joined" && ev.PeerID == bID })
	bob.waitEvent(30*time.Second, "member_joined alice", func(ev e2eEvent) bool { return ev.Type == "member_joined" && ev.PeerID == aID })
	tag := randHex(3)
	texts := []string{"one-" + tag, "two-" + tag, "three-" + tag}
	for _, text := range texts {
		alice.writeLine(text)
		bob.waitEvent(30*time.Second, text, func(ev e2eEvent) bool { return ev.Type == "message" && ev.Text == text })
	}
	bob.closeStdin()
	if code := bob.waitExit(10 * time.Second); code != 0 {
		t.Fatalf("bob exited %d", code)
	}
	alterRecord(t, bob.Home, texts[1])

	history := func() (string, string, int) {
		cmd := exec.Command("ip", "netns", "exec", lan.Hosts[1].NS, bin, "history", roomName, "--home", bob.Home)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	out, errOut, code := history()
	if code != 0 || !strings.Contains(out, texts[0]) || !strings.Contains(out, texts[2]) || strings.Contains(out, "Two-"+tag) {
		t.Errorf("history with one altered record: exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errOut, "1 stored messages were left out") {
		t.Errorf("history gave no warning: %q", errOut)
	}

	bob2 := lab.startChat(bin, lan.Hosts[1], "bob", roomName)
	warn := bob2.waitEvent(30*time.Second, "the database was altered", func(ev e2eEvent) bool {
		return ev.Type == "error" && strings.Contains(string(ev.Error), "the database was altered")
	})
	if warn.Reason != "store" {
		t.Errorf("altered warning with reason %q, want store: %s", warn.Reason, warn.Raw)
	}
	bob2.waitEvent(60*time.Second, "alice's copy of "+texts[1], func(ev e2eEvent) bool { return ev.Type == "message" && ev.Text == texts[1] })
	for _, c := range []*e2eChat{alice, bob2} {
		c.closeStdin()
	}
	for _, c := range []*e2eChat{alice, bob2} {
		if code := c.waitExit(10 * time.Second); code != 0 {
			t.Errorf("%s exited %d", c.Nick, code)
		}
	}
	out, errOut, code = history()
	for _, text := range texts {
		if !strings.Contains(out, text) {
			t.Errorf("history after sync lacks %q: %s", text, out)
		}
	}
	if code != 0 || errOut != "" {
		t.Errorf("history after sync: exit %d, stderr %q", code, errOut)
	}
	t.Logf("history after the repair:\n%s", out)
}
