package room_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// TestClockBounds (issue 12 item 6): a member's validly signed message with
// a Lamport clock far ahead of the room's is not shown (clocks at or above
// 2^62 cannot even be sealed or opened: wire's TestClockLimit) and
// does not move the room's clock: later messages are still ordered after
// the earlier ones, never wrapped to 0.
func TestClockBounds(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b := newPair(t, "lobby")
		if _, err := a.m.Send(context.Background(), "lobby", "first"); err != nil {
			t.Fatal(err)
		}
		first := b.waitMessage("lobby", "first")
		bPriv := bobKey(t, b)
		rb, ra := mustRoom(t, b, "lobby"), mustRoom(t, a, "lobby")
		seq := uint64(time.Now().UnixMicro()) + 1e9
		for i, clock := range []uint64{first.Clock + 1<<20 + 2, 1<<62 - 1} {
			env, err := rb.SealForTest(&wire.Body{Kind: wire.KindText, Author: b.id.PublicKey(), Seq: seq + uint64(i),
				Time: time.Now().UnixNano(), Clock: clock, Nick: "bob", Text: "from the future"}, func(m []byte) []byte { return ed25519.Sign(bPriv, m) })
			if err != nil {
				t.Fatal(err)
			}
			if res := ra.DeliverForTest(env, b.id.PeerID()); res == room.Accept {
				t.Errorf("clock %d accepted", clock)
			}
		}
		if hasText(a, "lobby", "from the future") {
			t.Error("alice shows a message with an impossible clock")
		}
		if d := ra.Status().Drops; d["bad_clock"] != 2 {
			t.Errorf("drops %v, want 2 bad_clock", d)
		}
		if _, err := a.m.Send(context.Background(), "lobby", "second"); err != nil {
			t.Fatal(err)
		}
		second := b.waitMessage("lobby", "second")
		if second.Clock <= first.Clock || second.Clock > first.Clock+8 {
			t.Errorf("clock after the attempts: %d, first message's %d", second.Clock, first.Clock)
		}
	})
}
