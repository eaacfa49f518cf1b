//go:build e2e

package room_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// jsReport is what .ci/jsoutsider/outsider.mjs prints.
type jsReport struct {
	PeerID           string `json:"peerId"`
	Connected        bool   `json:"connected"`
	MemberSubscribed bool   `json:"memberSubscribed"`
	Received         int    `json:"received"`
	Published        int    `json:"published"`
	PublishErrors    int    `json:"publishErrors"`
}

// TestJSOutsider runs an outsider built on another libp2p implementation
// (js-libp2p and its gossipsub, over TCP, Noise and yamux; see
// .ci/jsoutsider) against two members on loopback. It connects, sees the
// members' subscription, subscribes to the room's topic and publishes
// garbage, old-version, forged, oversized, flipped and replayed envelopes
// (among them a genuine envelope of alice's she never published). It must
// receive no room message; the members show nothing of it, never validate
// it, and deliver on. Run `npm ci` in .ci/jsoutsider first.
func TestJSOutsider(t *testing.T) {
	dir := filepath.Join("..", ".ci", "jsoutsider")
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("the js outsider is not installed (npm ci in %s): %v", dir, err)
	}
	newTestNet(t, true)
	a, b := newPair(t, "lobby")
	if _, err := a.m.Send(context.Background(), "lobby", "before"); err != nil {
		t.Fatal(err)
	}
	b.waitMessage("lobby", "before")
	genuine, err := mustRoom(t, a, "lobby").SealForTest(&wire.Body{Kind: wire.KindText, Author: a.id.PublicKey(),
		Seq: uint64(time.Now().UnixMicro()) + 1e9, Time: time.Now().UnixNano(), Nick: "alice", Text: "never published"}, a.id.Sign)
	if err != nil {
		t.Fatal(err)
	}
	var addr string
	for _, ad := range a.n.Addrs() {
		if strings.HasPrefix(ad.String(), "/ip4/127.0.0.1/") {
			addr = ad.String()
		}
	}
	if addr == "" {
		t.Fatalf("no loopback address in %v", a.n.Addrs())
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "outsider.mjs", addr, room.TopicFor("lobby"), hex.EncodeToString(genuine))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	lines := bufio.NewScanner(stdout)
	read := func(what string) jsReport {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("js outsider: no %s report: %v", what, lines.Err())
		}
		var r jsReport
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			t.Fatalf("js outsider: %q: %v", lines.Text(), err)
		}
		return r
	}
	ready := read("ready")
	if !ready.Connected || !ready.MemberSubscribed || ready.Published == 0 {
		t.Fatalf("the js outsider did not get to attack: %+v", ready)
	}
	// Members deliver on; everything the outsider sent came before this.
	for _, text := range []string{"after the outsider", "and again"} {
		if _, err := a.m.Send(context.Background(), "lobby", text); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("lobby", text)
		if _, err := b.m.Send(context.Background(), "lobby", "re: "+text); err != nil {
			t.Fatal(err)
		}
		a.waitMessage("lobby", "re: "+text)
	}
	stdin.Close()
	final := read("final")
	t.Logf("js outsider %s: %+v", final.PeerID, final)
	if final.Received != 0 {
		t.Errorf("the js outsider received %d room messages", final.Received)
	}
	if got, want := b.messages("lobby"), []string{"before", "after the outsider", "and again"}; !slices.Equal(got, want) {
		t.Errorf("bob shows %q, want %q", got, want)
	}
	for _, p := range []*peerNode{a, b} {
		drops := p.m.Status().Rooms[0].Drops
		for _, reason := range []string{room.DropMalformed, room.DropHeader, room.DropStranger, room.DropAuth, room.DropOldVersion, room.DropReplay} {
			if drops[reason] != 0 {
				t.Errorf("%s validated the js outsider's publications: %v", p.nick, drops)
				break
			}
		}
		for _, mb := range mustRoom(t, p, "lobby").Members() {
			if mb.Peer.String() == final.PeerID {
				t.Errorf("%s lists the js outsider as a member", p.nick)
			}
		}
		for _, ev := range p.snapshot() {
			if strings.HasPrefix(ev, string(room.EventError)) {
				t.Errorf("%s was shown an error: %v", p.nick, p.snapshot())
				break
			}
		}
	}
}
