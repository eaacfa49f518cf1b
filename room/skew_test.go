package room_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// TestClockSkewReported: a member whose claimed times are 3 days ahead of
// ours is reported once, however many messages it sends; members whose
// clocks agree are not reported.
func TestClockSkewReported(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b, c := newHomeTrio(t, t.TempDir(), 72*time.Hour)
		for i := range 3 {
			if _, err := a.m.Send(context.Background(), "lobby", "skewed "+string(rune('a'+i))); err != nil {
				t.Fatal(err)
			}
		}
		b.waitMessage("lobby", "skewed c")
		quiet(t, 3*fastTiming.Heartbeat) // heartbeats carry the clock too
		want := "alice#" + shortOf(t, a) + "'s clock is 3 days ahead"
		if told := clockNotices(b); len(told) != 1 || !strings.Contains(told[0], want) {
			t.Errorf("bob was told %q, want one %q", told, want)
		}
		for _, s := range clockNotices(c) {
			if strings.Contains(s, "bob#") {
				t.Errorf("carol was told of bob's clock: %q", s)
			}
		}
	})
}

// clockNotices returns the texts of p's error events about clocks.
func clockNotices(p *peerNode) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, ev := range p.events {
		if ev.Type == room.EventError && ev.Err != nil && strings.Contains(ev.Err.Error(), "clock") {
			if ev.Reason != room.ReasonClockSkew {
				p.t.Errorf("clock notice with reason %q: %v", ev.Reason, ev.Err)
			}
			out = append(out, ev.Err.Error())
		}
	}
	return out
}

func shortOf(t *testing.T, p *peerNode) string {
	t.Helper()
	fp, err := identity.PeerFingerprint(p.id.PeerID())
	if err != nil {
		t.Fatal(err)
	}
	return fp.Short()
}
