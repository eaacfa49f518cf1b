package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"github.com/p2pchat/p2pchat/internal/syncbuf"
)

// TestUnreachablePeerNotLoggedTwice: with Notify set, the notice is how
// the user hears of an unreachable --peer; the log has it only at debug
// level, so it is not reported twice.
func TestUnreachablePeerNotLoggedTwice(t *testing.T) {
	var logB noticeLog
	var out syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ghost, err := peer.IDFromPrivateKey(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", freePort(t), ghost)
	newTestNode(t, Config{NoMDNS: true, Notify: logB.add, Logger: log, Peers: []string{addr},
		backoffMin: 5 * time.Millisecond, backoffMax: 20 * time.Millisecond})
	waitFor(t, "the unreachable notice", func() bool { return logB.count(NoticePeerUnreachable, ghost) == 1 })
	waitFor(t, "the debug line", func() bool { return strings.Contains(out.String(), "unreachable") })
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			t.Errorf("logged above debug: %s", l)
		}
	}
}

// TestDialReason: a dial error in words, without libp2p's nesting.
func TestDialReason(t *testing.T) {
	n := newTestNode(t, Config{NoMDNS: true})
	ghost, err := peer.IDFromPrivateKey(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	other := newTestNode(t, Config{NoMDNS: true})
	tests := []struct {
		name string
		addr string
		want string
	}{
		{"nothing listens", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t)), "connection refused"},
		{"another peer answers", other.host.Network().ListenAddresses()[0].String(), "a different peer answers at that address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := n.Connect(ctx, peer.AddrInfo{ID: ghost, Addrs: []multiaddr.Multiaddr{multiaddr.StringCast(tt.addr)}})
			if err == nil {
				t.Fatal("connected")
			}
			if got := DialReason(err); got != tt.want {
				t.Errorf("DialReason(%v) = %q, want %q", err, got, tt.want)
			}
		})
	}
	if got := DialReason(context.DeadlineExceeded); got != "no answer" {
		t.Errorf("DialReason(deadline) = %q", got)
	}
	if got := DialReason(errors.New("something else")); got != "could not connect" {
		t.Errorf("DialReason(other) = %q", got)
	}
}
