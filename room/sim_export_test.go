package room

import (
	"crypto/ed25519"
	"encoding/hex"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// The randomized simulation (sim_test.go) reads room internals only
// through the two methods below, so that a change of the epoch machinery
// needs only them adapted.

// SimViewForTest returns this node's current epoch: its number, hex key id
// and roster; ok is false while no key is held.
func (r *Room) SimViewForTest() (number uint32, keyID string, roster []peer.ID, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		return 0, "", nil, false
	}
	ref := r.cur.Ref()
	return ref.Number, hex.EncodeToString(ref.KeyID[:]), simPeers(r.cur.Roster()), true
}

// SimSentRosterForTest returns the roster of the epoch that our message
// seq was first sealed under (the sender's view when it sent it); ok is
// false if that message or epoch is no longer remembered.
func (r *Room) SimSentRosterForTest(seq uint64) (roster []peer.ID, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sb := range r.sent {
		if sb.body.Seq != seq {
			continue
		}
		h, _, err := wire.VerifyRecord(sb.body.Record)
		if err != nil {
			return nil, false
		}
		if r.cur != nil && r.cur.Ref() == h.Epoch {
			return simPeers(r.cur.Roster()), true
		}
		if o, found := r.old[h.Epoch]; found {
			return simPeers(o.e.Roster()), true
		}
		return nil, false
	}
	return nil, false
}

func simPeers(keys []ed25519.PublicKey) []peer.ID {
	out := make([]peer.ID, 0, len(keys))
	for _, k := range keys {
		if p, err := peerOf(k); err == nil {
			out = append(out, p)
		}
	}
	return out
}
