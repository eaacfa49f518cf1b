package room

import (
	"time"

	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// Buffer bounds for envelopes under an epoch we do not hold yet.
const (
	maxBuffered      = 256
	maxBufferedBytes = 1 << 20
)

// buffered is an envelope under an epoch we do not hold yet.
type buffered struct {
	env []byte
	ref wire.EpochRef
	at  time.Time
}

// bufferLocked keeps env until its epoch arrives, within the buffer's
// bounds. r.mu must be held.
func (r *Room) bufferLocked(env []byte, ref wire.EpochRef) bool {
	size := 0
	for _, b := range r.buffered {
		size += len(b.env)
	}
	if len(r.buffered) >= maxBuffered || size+len(env) > maxBufferedBytes {
		return false
	}
	r.buffered = append(r.buffered, buffered{env: append([]byte(nil), env...), ref: ref, at: time.Now()})
	return true
}
