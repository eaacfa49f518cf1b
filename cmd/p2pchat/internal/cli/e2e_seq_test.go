//go:build e2e && linux

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestNetnsLostWAL (issue 20 item 1): alice sends 30 messages, her WAL is
// deleted while she runs and she is killed with SIGKILL, so her database
// loses its latest writes; restarted with the same --home, she gets her
// messages back from bob by sync and sends 5 more: all 5 must reach bob.
// Before the fix she reused the sequence numbers (and so the message ids)
// of her lost messages and bob dropped the new ones as replays.
func TestNetnsLostWAL(t *testing.T) {
	lab := newE2ELab(t)
	bin := lab.buildP2PChat()
	lan := lab.newLAN(2)
	const roomName = "e2elostwal"
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

	tag := randHex(3)
	for i := 1; i <= 30; i++ {
		alice.writeLine(fmt.Sprintf("old-%d-%s", i, tag))
	}
	for i := 1; i <= 30; i++ {
		waitFor(t, lab.ctx, 30*time.Second, fmt.Sprintf("bob has old-%d", i), hasText(bob, fmt.Sprintf("old-%d-%s", i, tag)))
	}
	if err := os.Remove(filepath.Join(alice.Home, "p2pchat.db-wal")); err != nil {
		t.Fatalf("deleting alice's WAL: %v", err)
	}
	alice.kill()
	alice.waitExit(10 * time.Second)

	alice2 := lab.startChat(bin, lan.Hosts[0], "alice", roomName)
	alice2.waitEvent(20*time.Second, "ready", isType("ready"))
	alice2.waitEvent(60*time.Second, "old-30 back by sync", func(ev e2eEvent) bool {
		return ev.Type == "message" && ev.Text == fmt.Sprintf("old-30-%s", tag)
	})
	start := time.Now()
	for i := 1; i <= 5; i++ {
		alice2.writeLine(fmt.Sprintf("new-%d-%s", i, tag))
	}
	got := 0
	deadline := time.Now().Add(30 * time.Second)
	for i := 1; i <= 5; i++ {
		text := fmt.Sprintf("new-%d-%s", i, tag)
		if poll(lab.ctx, max(time.Until(deadline), 0), hasText(bob, text)) == nil {
			got++
		} else {
			t.Errorf("bob never got %s", text)
		}
	}
	t.Logf("%d of 5 messages sent after the restart reached bob (%v)", got, time.Since(start).Round(time.Millisecond))
	for _, c := range []*e2eChat{alice2, bob} {
		c.closeStdin()
	}
	for _, c := range []*e2eChat{alice2, bob} {
		if code := c.waitExit(10 * time.Second); code != 0 {
			t.Errorf("%s exited %d", c.Nick, code)
		}
	}
}
