package room_test

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

const churnSends = 15

var churnRun = flag.Bool("churn", false, "TestChurnStarvedCPU: run it (it fails on today's code: issue 20 item 6)")

// TestChurnStarvedCPU (issue 20 item 6) reproduces a room that churns
// under load: 20 members join one room on memnet 20 ms apart while every
// node's validator is starved (each envelope costs 40 ms of virtual time),
// and each sends a message a second for 15 s once admitted. Nobody leaves,
// crashes or is cut off, so every member_left event is spurious. It logs
// the commits (the final epoch number), the spurious departures and the
// settling time, and requires one epoch holding everyone within 60 s of
// virtual time, no spurious departure and at most 3N commits.
//
// With the default heartbeat (15 s, so a member times out after 45 s of
// silence) the room settles on epoch 19, the least it can (one join each),
// with no spurious departure. With fastTiming's 1 s heartbeat (member
// timeout 3 s) it fails, so that variant is opt-in (-churn): on
// 2026-12-03, final epochs 31 to 37, 44 to 57 spurious departures, almost
// all "timed out", never one epoch. With 1 s heartbeats the
// envelopes ask about 1.6 s of validation per second of each node, so
// memnet's queues (unbounded, unlike gossipsub's) delay them past the
// member timeout; each rekey then restarts the silence count and re-sends
// recent messages, adding load. A fix has to judge liveness by something a
// backed-up queue does not delay, or shed load as gossipsub's bounded
// validation queue does; see docs/TESTING.md.
func TestChurnStarvedCPU(t *testing.T) {
	t.Run("heartbeat=15s", func(t *testing.T) {
		t.Parallel()
		tm := fastTiming
		tm.Heartbeat = 15 * time.Second // the default: member timeout 45 s
		testChurnStarved(t, tm)
	})
	t.Run("heartbeat=1s", func(t *testing.T) {
		if !*churnRun {
			t.Skip("run with -churn: it fails until issue 20 item 6 is fixed (see the doc comment)")
		}
		t.Parallel()
		testChurnStarved(t, fastTiming)
	})
}

func testChurnStarved(t *testing.T, timing room.Timing) {
	const n, cost = 20, 40 * time.Millisecond
	inBubble(t, func(t *testing.T) {
		ps := make([]*peerNode, n)
		for i := range ps {
			ps[i] = newPeerTimed(t, fmt.Sprintf("n%d", i), "", timing)
			ps[i].mem.SetValidateCost(ps[i].id.PeerID(), cost)
		}
		connectAll(t, ps...)
		start := time.Now()
		ps[0].join("lobby")
		<-mustRoom(t, ps[0], "lobby").Ready()
		for _, p := range ps[1:] {
			time.Sleep(20 * time.Millisecond)
			p.join("lobby")
			go func() {
				select {
				case <-mustRoom(t, p, "lobby").Ready():
				case <-p.done:
					return
				}
				for i := range churnSends {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					p.m.Send(ctx, "lobby", fmt.Sprintf("%d from %s", i, p.nick))
					cancel()
					time.Sleep(time.Second)
				}
			}()
		}
		deadline := start.Add(60 * time.Second)
		settled := false
		time.Sleep(churnSends * time.Second)
		for time.Now().Before(deadline) {
			if churnConverged(ps) {
				settled = true
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		took := time.Since(start)
		var top uint32
		for _, p := range ps {
			if num, _, _, ok := simView(mustRoom(t, p, "lobby")); ok {
				top = max(top, num)
			}
		}
		spurious, why := 0, map[room.Reason]int{}
		for _, p := range ps {
			p.mu.Lock()
			for _, ev := range p.events {
				if ev.Type == room.EventMemberLeft {
					spurious++
					why[ev.Reason]++
				}
			}
			p.mu.Unlock()
		}
		t.Logf("%d members, validation %v each: settled=%v after %v, final epoch %d, spurious departures %d %v", n, cost, settled, took.Round(time.Millisecond), top, spurious, why)
		if !settled {
			t.Errorf("no single epoch holding all %d members within 60 s", n)
		}
		if spurious > 0 {
			t.Errorf("%d member_left events, none of them a departure", spurious)
		}
		if top > 3*n {
			t.Errorf("final epoch %d: more than 3N commits", top)
		}
		for _, p := range ps {
			p.mem.SetValidateCost(p.id.PeerID(), 0)
		}
		for _, p := range ps {
			p.close()
		}
	})
}

// churnConverged reports whether every node holds the same epoch whose
// roster is exactly ps.
func churnConverged(ps []*peerNode) bool {
	var key string
	var first []peer.ID
	for i, p := range ps {
		rm, err := p.m.Room("lobby")
		if err != nil {
			return false
		}
		_, k, roster, ok := simView(rm)
		if !ok || len(roster) != len(ps) || (i > 0 && k != key) {
			return false
		}
		key = k
		if i == 0 {
			first = roster
		}
	}
	ids := map[peer.ID]bool{}
	for _, q := range first {
		ids[q] = true
	}
	for _, p := range ps {
		if !ids[p.id.PeerID()] {
			return false
		}
	}
	return true
}
