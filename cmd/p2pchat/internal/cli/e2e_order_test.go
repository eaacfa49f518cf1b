//go:build e2e && linux

package cli

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNetnsNewcomerOrder: alice and bob have chatted for a while; dave
// joins and speaks at once. His message is ordered after everything he
// could have seen: it is last in every member's history and in the live
// stream it is not marked late.
func TestNetnsNewcomerOrder(t *testing.T) {
	lab := newE2ELab(t)
	bin := lab.buildP2PChat()
	lan := lab.newLAN(3)
	const roomName = "e2eorder"
	alice := lab.startChat(bin, lan.Hosts[0], "alice", roomName)
	bob := lab.startChat(bin, lan.Hosts[1], "bob", roomName)
	bID := bob.waitEvent(20*time.Second, "ready", isType("ready")).PeerID
	alice.waitEvent(20*time.Second, "ready", isType("ready"))
	alice.waitEvent(30*time.Second, "member_joined bob", func(ev e2eEvent) bool { return ev.Type == "member_joined" && ev.PeerID == bID })

	hasText := func(c *e2eChat, text string) func() bool {
		return func() bool {
			return c.count(func(ev e2eEvent) bool { return ev.Type == "message" && ev.Text == text }) > 0
		}
	}
	var before []string
	for i := range 4 {
		for _, c := range []*e2eChat{alice, bob} {
			text := fmt.Sprintf("%s-before-%d-%s", c.Nick, i, randHex(3))
			c.writeLine(text)
			before = append(before, text)
			for _, o := range []*e2eChat{alice, bob} {
				waitFor(t, lab.ctx, 10*time.Second, o.Nick+" has "+text, hasText(o, text))
			}
		}
	}

	dave := lab.startChat(bin, lan.Hosts[2], "dave", roomName)
	dave.waitEvent(30*time.Second, "joined", func(ev e2eEvent) bool { return ev.Type == "joined" && ev.Room == roomName })
	hello := "dave-hello-" + randHex(3)
	dave.writeLine(hello)
	for _, c := range []*e2eChat{alice, bob} {
		waitFor(t, lab.ctx, 15*time.Second, c.Nick+" has dave's hello", hasText(c, hello))
		ev, _ := c.find(func(ev e2eEvent) bool { return ev.Type == "message" && ev.Text == hello })
		if strings.Contains(ev.Raw, `"late":true`) {
			t.Errorf("%s shows dave's first message as late: %s", c.Nick, ev.Raw)
		}
	}
	for _, c := range []*e2eChat{alice, bob, dave} {
		c.closeStdin()
	}
	for _, c := range []*e2eChat{alice, bob, dave} {
		if code := c.waitExit(10 * time.Second); code != 0 {
			t.Errorf("%s exited %d", c.Nick, code)
		}
	}
	for _, c := range []*e2eChat{alice, bob} {
		out, err := exec.Command("ip", "netns", "exec", c.Host.NS, bin, "history", roomName, "--home", c.Home).Output()
		if err != nil {
			t.Fatalf("%s history: %v", c.Nick, err)
		}
		at := strings.Index(string(out), hello)
		if at < 0 {
			t.Errorf("%s's history lacks dave's hello:\n%s", c.Nick, out)
			continue
		}
		for _, text := range before {
			if i := strings.Index(string(out), text); i < 0 || i > at {
				t.Errorf("%s's history has dave's hello before %q (or lacks it):\n%s", c.Nick, text, out)
				break
			}
		}
	}
}
