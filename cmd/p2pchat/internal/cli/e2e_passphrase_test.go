//go:build e2e && linux

package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestNetnsPassphraseRoom: three hosts on one LAN, found by mDNS only. Alice
// and bob share a passphrase room; carol knows the room's name but not its
// passphrase. Carol is refused and told why, reads nothing, and is never a
// member; neither the passphrase nor the message crosses the bridge in
// clear.
func TestNetnsPassphraseRoom(t *testing.T) {
	lab := newE2ELab(t)
	bin := lab.buildP2PChat()
	lan := lab.newLAN(3)
	capture := lab.startCapture(lan.BridgeNS, lan.Bridge, "vault.pcap")

	const right, wrong = "pw-right-" + "7f3kq9", "pw-wrong-" + "2m8zx4"
	file := func(name, pass string) string {
		p := filepath.Join(lab.dir, name)
		if err := os.WriteFile(p, []byte(pass+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rightFile, wrongFile := file("right.pass", right), file("wrong.pass", wrong)
	const vault = "e2evault"
	alice := lab.startChat(bin, lan.Hosts[0], "alice", vault, "--passphrase-file", rightFile)
	bob := lab.startChat(bin, lan.Hosts[1], "bob", vault, "--passphrase-file", rightFile)
	ids := map[*e2eChat]string{}
	for _, c := range []*e2eChat{alice, bob} {
		ids[c] = c.waitEvent(20*time.Second, "ready", isType("ready")).PeerID
	}
	alice.waitEvent(30*time.Second, "member_joined bob", func(ev e2eEvent) bool {
		return ev.Type == "member_joined" && ev.PeerID == ids[bob]
	})
	bob.waitEvent(30*time.Second, "member_joined alice", func(ev e2eEvent) bool {
		return ev.Type == "member_joined" && ev.PeerID == ids[alice]
	})
	// Carol comes to the existing room. (Started together, three nodes are
	// two groups on one name, and which side is refused depends on who
	// created the room first.)
	carol := lab.startChat(bin, lan.Hosts[2], "carol", vault, "--passphrase-file", wrongFile)
	chats := []*e2eChat{alice, bob, carol}
	ids[carol] = carol.waitEvent(20*time.Second, "ready", isType("ready")).PeerID
	carol.waitEvent(30*time.Second, "wrong passphrase notice", func(ev e2eEvent) bool {
		return ev.Type == "error" && ev.Reason == "wrong_passphrase"
	})

	marker := "mk" + randHex(6)
	alice.writeLine(marker)
	bob.waitEvent(10*time.Second, "alice's marker", func(ev e2eEvent) bool {
		return ev.Type == "message" && ev.Text == marker
	})
	// Give carol's node time to receive (and fail to read) the envelope.
	time.Sleep(2 * time.Second)

	for _, c := range chats {
		c.closeStdin()
	}
	for _, c := range chats {
		if code := c.waitExit(10 * time.Second); code != 0 {
			t.Errorf("%s exited with code %d, want 0", c.Nick, code)
		}
	}
	if n := carol.count(func(ev e2eEvent) bool { return ev.Type == "message" && ev.Text == marker }); n != 0 {
		t.Errorf("carol, without the passphrase, showed the message %d times", n)
	}
	for _, c := range []*e2eChat{alice, bob} {
		if n := c.count(func(ev e2eEvent) bool { return ev.Type == "member_joined" && ev.PeerID == ids[carol] }); n != 0 {
			t.Errorf("%s listed carol as a member", c.Nick)
		}
	}
	if n := carol.count(func(ev e2eEvent) bool {
		return ev.Type == "member_joined" && (ev.PeerID == ids[alice] || ev.PeerID == ids[bob])
	}); n != 0 {
		t.Errorf("carol listed a member of the passphrase room")
	}

	capture.stop()
	raw, err := os.ReadFile(capture.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{marker, right, wrong} {
		if pcapContains(raw, secret) {
			t.Errorf("%q appears in clear in the capture %s", secret, capture.Path)
		}
	}
	t.Logf("capture: %d bytes", len(raw))
}
