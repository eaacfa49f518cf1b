package room

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// Buffer bounds for envelopes under an epoch we do not hold yet: in all,
// and per forwarding peer, so that one peer (only members of an epoch we
// hold are buffered from at all) cannot displace another's envelopes.
const (
	maxBuffered             = 256
	maxBufferedBytes        = 1 << 20
	maxBufferedPerPeer      = 64
	maxBufferedBytesPerPeer = 256 << 10
)

// buffered is an envelope under an epoch we do not hold yet.
type buffered struct {
	env  []byte
	ref  wire.EpochRef
	from peer.ID // the member that forwarded it
	at   time.Time
}

// bufferLocked keeps env, forwarded by from, until its epoch arrives,
// within the buffer's bounds. r.mu must be held.
func (r *Room) bufferLocked(env []byte, ref wire.EpochRef, from peer.ID) bool {
	size, n, peerSize := 0, 0, 0
	for _, b := range r.buffered {
		size += len(b.env)
		if b.from == from {
			n++
			peerSize += len(b.env)
		}
	}
	if len(r.buffered) >= maxBuffered || size+len(env) > maxBufferedBytes ||
		n >= maxBufferedPerPeer || peerSize+len(env) > maxBufferedBytesPerPeer {
		return false
	}
	r.buffered = append(r.buffered, buffered{env: append([]byte(nil), env...), ref: ref, from: from, at: time.Now()})
	return true
}
