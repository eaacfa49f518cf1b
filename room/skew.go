package room

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// maxSkew is how far a member's claimed time may differ from our clock
// before the user is told: more than delivery (buffering for a key, a
// re-send) ever delays a live envelope.
const maxSkew = 5 * time.Minute

// noteSkew compares the time claimed by a live envelope of member from
// (nick, short fingerprint) with our clock and tells the user, once per
// member for the life of the Manager, when they differ by more than
// maxSkew. History visibility does not depend on it (see serve).
func (r *Room) noteSkew(from peer.ID, nick, short string, claimed int64) {
	d := time.Unix(0, claimed).Sub(r.m.now())
	if d > -maxSkew && d < maxSkew {
		return
	}
	m := r.m
	m.mu.Lock()
	told := m.skewed[from]
	m.skewed[from] = true
	m.mu.Unlock()
	if told {
		return
	}
	m.emit(Event{Type: EventError, Room: r.name, Peer: from, Nick: nick, Short: short, Reason: ReasonClockSkew,
		Err: fmt.Errorf("room %q: %s#%s's clock is %s (message times it shows are as it claims them)", r.name, nick, short, skewText(d))})
}

// skewText says how far ahead (d > 0) or behind a clock is, roughly.
func skewText(d time.Duration) string {
	dir := "ahead"
	if d < 0 {
		dir, d = "behind", -d
	}
	var n int64
	var unit string
	switch {
	case d >= 48*time.Hour:
		n, unit = int64((d+12*time.Hour)/(24*time.Hour)), "days"
	case d >= 2*time.Hour:
		n, unit = int64((d+30*time.Minute)/time.Hour), "hours"
	default:
		n, unit = int64((d+30*time.Second)/time.Minute), "minutes"
	}
	return fmt.Sprintf("%d %s %s", n, unit, dir)
}
