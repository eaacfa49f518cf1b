//go:build e2e && linux

package cli

// End-to-end: two real p2pchat processes on two hosts (network namespaces)
// joined by a bridge find each other by mDNS alone, chat, and exit cleanly
// on EOF, while tcpdump on the bridge proves the chat crossed the wire and
// that no message text did so in clear.
//
//	go test -tags e2e -race -count=1 -run TestNetns -v ./cmd/p2pchat/internal/cli/
//
// Needs root, ip(8) and tcpdump; skips without root or ip(8). On failure
// it logs both nodes' stdout and stderr; P2PCHAT_E2E_DUMP=1 logs them on
// success too, and P2PCHAT_E2E_ARTIFACTS=DIR keeps the stderr logs and the
// pcap of a failed run in DIR/<test name>/.

import (
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

const e2eRoom = "e2eroom"

func TestNetnsLANChat(t *testing.T) {
	lab := newE2ELab(t)
	testStart := time.Now()
	bin := lab.buildP2PChat()

	lan := lab.newLAN(2)
	capture := lab.startCapture(lan.BridgeNS, lan.Bridge, "lan.pcap")

	chatStart := time.Now()
	alice := lab.startChat(bin, lan.Hosts[0], "alice", e2eRoom)
	bob := lab.startChat(bin, lan.Hosts[1], "bob", e2eRoom)
	chats := []*e2eChat{alice, bob}

	// ready, then joined.
	ready := map[*e2eChat]e2eEvent{}
	for _, c := range chats {
		ev := c.waitEvent(20*time.Second, "ready event", isType("ready"))
		checkReady(t, c, ev)
		ready[c] = ev
		c.waitEvent(20*time.Second, "joined "+e2eRoom, func(ev e2eEvent) bool {
			return ev.Type == "joined" && ev.Room == e2eRoom
		})
	}
	if ready[alice].PeerID == ready[bob].PeerID {
		t.Fatalf("alice and bob have the same peer ID %s (is --home ignored?)", ready[alice].PeerID)
	}
	if ready[alice].Fingerprint == ready[bob].Fingerprint {
		t.Errorf("alice and bob have the same fingerprint %q", ready[alice].Fingerprint)
	}

	// Each sees the other join, by mDNS alone.
	deadline := time.Now().Add(30 * time.Second)
	other := map[*e2eChat]*e2eChat{alice: bob, bob: alice}
	joined := map[*e2eChat]e2eEvent{}
	for _, c := range chats {
		o := other[c]
		ev := c.waitEvent(time.Until(deadline), "member_joined for "+o.Nick+" "+ready[o].PeerID,
			func(ev e2eEvent) bool {
				return ev.Type == "member_joined" && ev.PeerID == ready[o].PeerID
			})
		if ev.Room != e2eRoom {
			t.Errorf("%s: member_joined room = %q, want %q: %s", c.Nick, ev.Room, e2eRoom, ev.Raw)
		}
		if ev.Nick != o.Nick {
			t.Errorf("%s: member_joined nick = %q, want %q: %s", c.Nick, ev.Nick, o.Nick, ev.Raw)
		}
		joined[c] = ev
	}
	bothReady := later(ready[alice].At, ready[bob].At)
	bothJoined := later(joined[alice].At, joined[bob].At)
	for _, c := range chats {
		t.Logf("%s: ready %v after start, member_joined(%s) %v after both were ready",
			c.Nick, ready[c].At.Sub(c.started).Round(time.Millisecond),
			other[c].Nick, joined[c].At.Sub(bothReady).Round(time.Millisecond))
	}
	t.Logf("both saw the other as a member %v after both were ready (%v after the processes started)",
		bothJoined.Sub(bothReady).Round(time.Millisecond), bothJoined.Sub(chatStart).Round(time.Millisecond))

	// Markers: short (a TCP segment boundary cannot split them in practice),
	// random, and different per sender.
	marker := map[*e2eChat]string{alice: "mk" + randHex(6), bob: "mk" + randHex(6)}
	for marker[bob] == marker[alice] {
		marker[bob] = "mk" + randHex(6)
	}
	sent := time.Now()
	for _, c := range chats {
		c.writeLine(marker[c])
	}
	shown := map[*e2eChat]map[*e2eChat]e2eEvent{} // shown[reader][author]
	for _, c := range chats {
		shown[c] = map[*e2eChat]e2eEvent{}
		for _, from := range chats {
			self := from == c
			ev := c.waitEvent(15*time.Second, "message "+marker[from]+" from "+from.Nick,
				func(ev e2eEvent) bool { return ev.Type == "message" && ev.Text == marker[from] })
			checkMessage(t, c, ev, ready[from].PeerID, from.Nick, self)
			shown[c][from] = ev
			t.Logf("%s shows %s's marker (self=%v) %v after it was written",
				c.Nick, from.Nick, self, ev.At.Sub(sent).Round(time.Millisecond))
		}
	}
	// The id names the message, not the copy (docs/PROTOCOL.md, "Message id").
	for _, from := range chats {
		if a, b := string(shown[alice][from].ID), string(shown[bob][from].ID); a != b {
			t.Errorf("%s's message has id %s at alice but %s at bob", from.Nick, a, b)
		}
	}

	// SIGTERM stops bob cleanly: exit 0, and alice sees a goodbye, not a
	// disconnect. Then EOF on alice's stdin: clean exit too.
	if err := bob.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := bob.waitExit(10 * time.Second); code != 0 {
		t.Errorf("bob exited with code %d after SIGTERM, want 0", code)
	}
	left := alice.waitEvent(10*time.Second, "member_left(bob)", func(ev e2eEvent) bool {
		return ev.Type == "member_left" && ev.PeerID == ready[bob].PeerID
	})
	if left.Reason != "left" {
		t.Errorf("alice saw bob leave with reason %q, want \"left\" (the goodbye was lost)", left.Reason)
	}
	alice.closeStdin()
	if code := alice.waitExit(10 * time.Second); code != 0 {
		t.Errorf("alice exited with code %d after stdin closed, want 0", code)
	}
	stopped := time.Now()

	// The whole output, now that it is complete.
	for _, c := range chats {
		evs, bad := c.events()
		for _, b := range bad {
			t.Errorf("%s: stdout line is not a JSON object: %s", c.Nick, b)
		}
		for _, ev := range evs {
			if ev.Type == "error" {
				t.Logf("%s reported an error event: %s", c.Nick, ev.Raw)
			}
		}
		for _, from := range chats {
			if n := c.count(func(ev e2eEvent) bool { return ev.Type == "message" && ev.Text == marker[from] }); n != 1 {
				t.Errorf("%s showed %s's message %d times, want once", c.Nick, from.Nick, n)
			}
		}
	}

	// The wire: chat traffic crossed the bridge, markers never in clear.
	reported := capture.stop()
	raw, err := os.ReadFile(capture.Path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := readPcap(raw, netip.MustParseAddr(alice.Host.IP), netip.MustParseAddr(bob.Host.IP))
	if err != nil {
		t.Fatalf("reading %s: %v", capture.Path, err)
	}
	t.Logf("capture: %d bytes, %d packets (tcpdump reported %d): %d TCP between %s and %s (%d payload bytes), %d mDNS, %d IPv4, %d IPv6, %d other",
		len(raw), st.Packets, reported, st.TCP, alice.Host.IP, bob.Host.IP, st.TCPPayloadBytes, st.MDNS, st.IPv4, st.IPv6, st.Other)
	if st.TCP == 0 || st.TCPPayloadBytes == 0 {
		t.Errorf("capture holds no TCP payload between %s and %s: the chat did not cross the bridge", alice.Host.IP, bob.Host.IP)
	}
	if st.MDNS == 0 {
		t.Errorf("capture holds no mDNS (UDP 5353) packets")
	} else if st.TCP > 0 {
		t.Logf("on the wire, after the processes started: first mDNS packet %v, first TCP segment between the hosts %v; member_joined on both sides %v",
			st.FirstMDNS.Sub(chatStart).Round(time.Millisecond), st.FirstTCP.Sub(chatStart).Round(time.Millisecond),
			bothJoined.Sub(chatStart).Round(time.Millisecond))
	}
	for _, c := range chats {
		if pcapContains(raw, marker[c]) {
			t.Errorf("%s's marker %q appears in clear in the capture %s", c.Nick, marker[c], capture.Path)
		}
	}
	t.Logf("total %v (build %v, chat start to clean exit %v)",
		time.Since(testStart).Round(time.Millisecond), chatStart.Sub(testStart).Round(time.Millisecond),
		stopped.Sub(chatStart).Round(time.Millisecond))
}

// checkReady checks a ready event against the CLI contract.
func checkReady(t *testing.T, c *e2eChat, ev e2eEvent) {
	t.Helper()
	if !strings.HasPrefix(ev.PeerID, "12D3") {
		t.Errorf("%s: ready peer_id %q does not look like an Ed25519 libp2p ID: %s", c.Nick, ev.PeerID, ev.Raw)
	}
	if ev.Fingerprint == "" {
		t.Errorf("%s: ready has no fingerprint: %s", c.Nick, ev.Raw)
	}
	onLAN := false
	for _, a := range ev.Addrs {
		if !strings.HasSuffix(a, "/p2p/"+ev.PeerID) {
			t.Errorf("%s: ready addr %q does not end in /p2p/<peer_id>", c.Nick, a)
		}
		onLAN = onLAN || strings.HasPrefix(a, "/ip4/"+c.Host.IP+"/tcp/")
	}
	if !onLAN {
		t.Errorf("%s: no ready addr on /ip4/%s/tcp/: %s", c.Nick, c.Host.IP, ev.Raw)
	}
}

// checkMessage checks a message event against the CLI contract.
func checkMessage(t *testing.T, c *e2eChat, ev e2eEvent, fromID, fromNick string, self bool) {
	t.Helper()
	if ev.Room != e2eRoom {
		t.Errorf("%s: message room = %q, want %q: %s", c.Nick, ev.Room, e2eRoom, ev.Raw)
	}
	if ev.From != fromID {
		t.Errorf("%s: message from = %q, want %s (%s): %s", c.Nick, ev.From, fromID, fromNick, ev.Raw)
	}
	if ev.Nick != fromNick {
		t.Errorf("%s: message nick = %q, want %q: %s", c.Nick, ev.Nick, fromNick, ev.Raw)
	}
	if ev.Self == nil || *ev.Self != self {
		t.Errorf("%s: message self = %v, want %v: %s", c.Nick, deref(ev.Self), self, ev.Raw)
	}
	if id := strings.Trim(string(ev.ID), `"`); id == "" || id == "null" {
		t.Errorf("%s: message has no id: %s", c.Nick, ev.Raw)
	}
	if _, err := time.Parse(time.RFC3339, ev.Time); err != nil {
		t.Errorf("%s: message time %q is not RFC3339: %s", c.Nick, ev.Time, ev.Raw)
	}
}

func deref(b *bool) any {
	if b == nil {
		return "missing"
	}
	return *b
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
