//go:build e2e && linux

package cli

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNetnsLinkDownAndRestart: two namespaced hosts chat; alice's link goes
// down, both send, it comes back, and both end with every message. Then
// alice is killed with SIGKILL, bob sends more, and alice, restarted with
// the same --home, shows her history and catches up on what she missed.
func TestNetnsLinkDownAndRestart(t *testing.T) {
	lab := newE2ELab(t)
	bin := lab.buildP2PChat()
	lan := lab.newLAN(2)
	const roomName = "e2ehistory"
	alice := lab.startChat(bin, lan.Hosts[0], "alice", roomName)
	bob := lab.startChat(bin, lan.Hosts[1], "bob", roomName)
	aID := alice.waitEvent(20*time.Second, "ready", isType("ready")).PeerID
	bID := bob.waitEvent(20*time.Second, "ready", isType("ready")).PeerID
	alice.waitEvent(30*time.Second, "member_joined bob", func(ev e2eEvent) bool { return ev.Type == "member_joined" && ev.PeerID == bID })
	bob.waitEvent(30*time.Second, "member_joined alice", func(ev e2eEvent) bool { return ev.Type == "member_joined" && ev.PeerID == aID })

	hasText := func(c *e2eChat, text string) func() bool {
		return func() bool {
			return c.count(func(ev e2eEvent) bool { return ev.Type == "message" && ev.Text == text }) > 0
		}
	}
	var texts []string
	lab.setLink(lan.Hosts[0].NS, "eth0", false)
	for i := range 3 {
		for _, c := range []*e2eChat{alice, bob} {
			text := fmt.Sprintf("%s-down-%d-%s", c.Nick, i, randHex(3))
			c.writeLine(text)
			texts = append(texts, text)
		}
	}
	time.Sleep(3 * time.Second)
	lab.setLink(lan.Hosts[0].NS, "eth0", true)
	// Bringing a link up does not restore routes added by hand.
	exec.Command("ip", "-n", lan.Hosts[0].NS, "route", "replace", "224.0.0.0/4", "dev", "eth0").Run()
	start := time.Now()
	for _, c := range []*e2eChat{alice, bob} {
		for _, text := range texts {
			waitFor(t, lab.ctx, 60*time.Second, c.Nick+" has "+text, hasText(c, text))
		}
	}
	t.Logf("after the link came back, both had all %d messages in %v", len(texts), time.Since(start).Round(time.Millisecond))

	// kill -9 alice; bob goes on; alice comes back with the same home.
	alice.kill()
	alice.waitExit(10 * time.Second)
	var missed []string
	for i := range 3 {
		text := fmt.Sprintf("bob-while-alice-dead-%d-%s", i, randHex(3))
		bob.writeLine(text)
		missed = append(missed, text)
	}
	time.Sleep(500 * time.Millisecond)
	alice2 := lab.startChat(bin, lan.Hosts[0], "alice", roomName)
	if id := alice2.waitEvent(20*time.Second, "ready", isType("ready")).PeerID; id != aID {
		t.Fatalf("restarted alice has peer ID %s, want %s (same --home)", id, aID)
	}
	start = time.Now()
	for _, text := range missed {
		waitFor(t, lab.ctx, 60*time.Second, "restarted alice catches up on "+text, hasText(alice2, text))
	}
	t.Logf("restarted alice caught up on %d missed messages in %v", len(missed), time.Since(start).Round(time.Millisecond))
	out, err := exec.Command("ip", "netns", "exec", lan.Hosts[0].NS, bin, "history", roomName, "--home", alice2.Home).Output()
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	for _, text := range append(texts, missed...) {
		if !strings.Contains(string(out), text) {
			t.Errorf("alice's history lacks %q", text)
		}
	}
	for _, c := range []*e2eChat{alice2, bob} {
		c.closeStdin()
	}
	for _, c := range []*e2eChat{alice2, bob} {
		if code := c.waitExit(10 * time.Second); code != 0 {
			t.Errorf("%s exited %d", c.Nick, code)
		}
	}
}
