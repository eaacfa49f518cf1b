// Package replay implements a sliding-window filter that accepts each
// sequence number at most once, in the manner of IPsec and WireGuard.
package replay

// WindowSize is how far behind the highest sequence number seen a number may
// lag and still be accepted once.
const WindowSize = 1024

// Window remembers which of the last WindowSize sequence numbers have been
// seen. The zero value is an empty window. A Window is not safe for
// concurrent use.
type Window struct {
	last uint64
	bits [WindowSize / 64]uint64
}

// Accept reports whether seq has not been seen before and is not older than
// the window, and records it. Sequence number 0 is never accepted.
func (w *Window) Accept(seq uint64) bool {
	if seq == 0 {
		return false
	}
	if seq > w.last {
		if seq-w.last >= WindowSize {
			clear(w.bits[:])
		} else {
			for i := w.last + 1; i < seq; i++ {
				w.clearBit(i)
			}
		}
		w.last = seq
		w.setBit(seq)
		return true
	}
	if w.last-seq >= WindowSize {
		return false
	}
	if w.bit(seq) {
		return false
	}
	w.setBit(seq)
	return true
}

func (w *Window) bit(i uint64) bool {
	i %= WindowSize
	return w.bits[i/64]&(1<<(i%64)) != 0
}

func (w *Window) setBit(i uint64) {
	i %= WindowSize
	w.bits[i/64] |= 1 << (i % 64)
}

func (w *Window) clearBit(i uint64) {
	i %= WindowSize
	w.bits[i/64] &^= 1 << (i % 64)
}
