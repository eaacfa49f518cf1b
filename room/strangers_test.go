package room_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// unreadableEvents counts the unreadable notices p was shown.
func unreadableEvents(p *peerNode) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ev := range p.events {
		if ev.Type == room.EventError && ev.Reason == room.ReasonUnreadable {
			n++
		}
	}
	return n
}

// TestStrangerCannotFillBuffer (issue 12 items 5 and 9): a peer in no roster
// we hold publishes envelopes naming better epochs. None is buffered, none
// leads to an unreadable notice, and a member's envelope that arrives
// before its key is still kept and read.
func TestStrangerCannotFillBuffer(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		b, r, roster, seal, alice := bobWithAlice(t)
		stranger, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		_, junk := alongside(t, b, "lobby")
		for i := range 300 {
			var s [32]byte
			rand.Read(s[:])
			r.DeliverForTest(junk(uint32(10+i), s, fmt.Sprint("junk ", i)), stranger.PeerID())
		}
		if st := r.Status(); st.Buffered != 0 || st.Drops[room.DropStranger] != 300 {
			t.Errorf("after the stranger: buffered %d, drops %v; want none buffered, 300 not_member", st.Buffered, st.Drops)
		}
		var s5 [32]byte
		rand.Read(s5[:])
		r.DeliverForTest(seal(500, s5, "real"), alice)
		if st := r.Status(); st.Buffered != 1 {
			t.Errorf("member's envelope not buffered: %+v", st)
		}
		if !r.AdoptForTest(500, s5, roster) {
			t.Fatal("epoch 500 not adopted")
		}
		b.waitMessage("lobby", "real")
		quiet(t, 3*fastTiming.BufferTTL)
		if n := unreadableEvents(b); n != 0 {
			t.Errorf("%d unreadable notices caused by a stranger: %v", n, b.snapshot())
		}
	})
}

// TestBufferPerPeerBudget: one member flooding envelopes under epochs we do
// not hold fills only its own share of the buffer; another member's
// envelope is still kept and read.
func TestBufferPerPeerBudget(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		b := newPeer(t, "bob")
		r := b.join("lobby")
		<-r.Ready()
		// Epoch 1 of alice, mallory and bob.
		_, aPriv, _ := ed25519.GenerateKey(rand.Reader)
		_, mPriv, _ := ed25519.GenerateKey(rand.Reader)
		roster := []ed25519.PublicKey{aPriv.Public().(ed25519.PublicKey), mPriv.Public().(ed25519.PublicKey), b.id.PublicKey()}
		var s1 [32]byte
		rand.Read(s1[:])
		if !r.AdoptForTest(1, s1, roster) {
			t.Fatal("epoch 1 not adopted")
		}
		alice, mallory := peerOfKey(t, roster[0]), peerOfKey(t, roster[1])
		sealAs := sealer(t, "lobby", roster)
		for i := range 400 {
			var s [32]byte
			rand.Read(s[:])
			r.DeliverForTest(sealAs(mPriv, uint32(2+i), s, fmt.Sprint("flood ", i)), mallory)
		}
		if st := r.Status(); st.Buffered > 64 {
			t.Errorf("one member buffered %d envelopes, want at most 64", st.Buffered)
		}
		var s9 [32]byte
		rand.Read(s9[:])
		r.DeliverForTest(sealAs(aPriv, 9000, s9, "alice's"), alice)
		if !r.AdoptForTest(9000, s9, roster) {
			t.Fatal("epoch 9000 not adopted")
		}
		b.waitMessage("lobby", "alice's")
	})
}

// TestNoKeyNoReports (issue 12 item 9, issue 13 item 1): while a node holds
// no key for the room, envelopes are dropped and counted, never buffered
// and never reported as unreadable.
func TestNoKeyNoReports(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		b := newPeer(t, "bob")
		r := b.join("lobby")
		_, seal := alongside(t, b, "lobby")
		stranger, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			var s [32]byte
			rand.Read(s[:])
			r.DeliverForTest(seal(uint32(7+i), s, "before any key"), stranger.PeerID())
		}
		st := r.Status()
		if st.Ready {
			t.Fatal("the test needs a node without a key")
		}
		if st.Buffered != 0 || st.Drops[room.DropNoKey] != 5 {
			t.Errorf("without a key: buffered %d, drops %v; want none buffered, 5 no_key", st.Buffered, st.Drops)
		}
		<-r.Ready()
		quiet(t, 3*fastTiming.BufferTTL)
		if n := unreadableEvents(b); n != 0 {
			t.Errorf("%d unreadable notices for envelopes that arrived before we held any key: %v", n, b.snapshot())
		}
	})
}

// TestCryptoOutsideLock: an envelope's header MAC, ratchet walk, AEAD and
// signature are checked without the room's lock held, so a slow envelope
// does not hold up sends, status or key changes.
func TestCryptoOutsideLock(t *testing.T) {
	// Not parallel: the hook is package-wide.
	inBubble(t, func(t *testing.T) {
		b := newPeer(t, "bob")
		r := b.join("lobby")
		<-r.Ready()
		roster, seal := alongside(t, b, "lobby")
		var s [32]byte
		rand.Read(s[:])
		if !r.AdoptForTest(3, s, roster) {
			t.Fatal("epoch 3 not adopted")
		}
		var reads, locked int
		room.OnReadForTest(func(free bool) {
			reads++
			if !free {
				locked++
			}
		})
		defer room.OnReadForTest(nil)
		if res := r.DeliverForTest(seal(3, s, "hi"), peerOfKey(t, roster[0])); res != room.Accept {
			t.Fatalf("verdict %v", res)
		}
		if reads != 1 || locked != 0 {
			t.Errorf("%d reads, %d with the room lock held", reads, locked)
		}
		b.waitMessage("lobby", "hi")
	})
}
