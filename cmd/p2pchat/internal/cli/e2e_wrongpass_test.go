//go:build e2e && linux

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNetnsWrongThenRight: alice and bob are in a passphrase room; carol
// joins with a typo in the passphrase. One wrong passphrase costs her at
// most one attempt at each member, never a retry: she is told within
// seconds, is never shown as joined, and nobody locks
// her out; started again with the right passphrase she gets in within
// seconds. (Before protocol v3 her node spent its five attempts by itself
// against both members and she was locked out for ten minutes.)
func TestNetnsWrongThenRight(t *testing.T) {
	lab := newE2ELab(t)
	bin := lab.buildP2PChat()
	lan := lab.newLAN(3)

	const right, wrong = "pw-right-" + "k2v8qz", "pw-wrong-" + "k2v8qx"
	file := func(name, pass string) string {
		p := filepath.Join(lab.dir, name)
		if err := os.WriteFile(p, []byte(pass+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rightFile, wrongFile := file("right.pass", right), file("wrong.pass", wrong)
	const vault = "e2etypo"
	alice := lab.startChat(bin, lan.Hosts[0], "alice", vault, "--passphrase-file", rightFile)
	bob := lab.startChat(bin, lan.Hosts[1], "bob", vault, "--passphrase-file", rightFile)
	ids := map[*e2eChat]string{}
	for _, c := range []*e2eChat{alice, bob} {
		ids[c] = c.waitEvent(20*time.Second, "ready", isType("ready")).PeerID
	}
	alice.waitEvent(30*time.Second, "member_joined bob", func(ev e2eEvent) bool {
		return ev.Type == "member_joined" && ev.PeerID == ids[bob]
	})

	carol := lab.startChat(bin, lan.Hosts[2], "carol", vault, "--passphrase-file", wrongFile)
	ids[carol] = carol.waitEvent(20*time.Second, "ready", isType("ready")).PeerID
	carol.waitEvent(30*time.Second, "wrong passphrase notice", func(ev e2eEvent) bool {
		return ev.Type == "error" && ev.Reason == "wrong_passphrase"
	})
	// Long enough for a node that retries by itself to spend its attempts.
	time.Sleep(5 * time.Second)
	if n := carol.count(func(ev e2eEvent) bool { return ev.Type == "joined" && ev.Room == vault }); n != 0 {
		t.Errorf("carol was shown as joined to %s with a wrong passphrase (%d joined events)", vault, n)
	}
	if n := carol.count(func(ev e2eEvent) bool { return ev.Type == "error" && ev.Reason == "wrong_passphrase" }); n != 1 {
		t.Errorf("carol was told %d times that her passphrase is wrong, want once", n)
	}
	for _, c := range []*e2eChat{alice, bob} {
		if ev, ok := c.find(func(ev e2eEvent) bool {
			return ev.Type == "error" && strings.Contains(ev.Raw, "refusing it")
		}); ok {
			t.Errorf("%s locked carol out after one typo: %s", c.Nick, ev.Raw)
		}
	}
	carol.closeStdin()
	if code := carol.waitExit(10 * time.Second); code != 0 {
		t.Errorf("carol exited with code %d, want 0", code)
	}

	// The right passphrase now: in within seconds, no lockout.
	start := time.Now()
	carol2 := lab.startChat(bin, lan.Hosts[2], "carol", vault, "--passphrase-file", rightFile)
	carol2.waitEvent(30*time.Second, "member_joined alice after the right passphrase", func(ev e2eEvent) bool {
		return ev.Type == "member_joined" && ev.PeerID == ids[alice]
	})
	t.Logf("carol admitted %v after restarting with the right passphrase", time.Since(start).Round(time.Millisecond))
	alice.waitEvent(15*time.Second, "member_joined carol", func(ev e2eEvent) bool {
		return ev.Type == "member_joined" && ev.PeerID == ids[carol]
	})

	for _, c := range []*e2eChat{alice, bob, carol2} {
		c.closeStdin()
	}
	for _, c := range []*e2eChat{alice, bob, carol2} {
		if code := c.waitExit(10 * time.Second); code != 0 {
			t.Errorf("%s exited with code %d, want 0", c.Nick, code)
		}
	}
}
