package memnet

import (
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// half is one direction of a pipe.
type half struct {
	data     chan []byte
	eof      chan struct{} // the writer closed: reads end once data is drained
	eofOnce  sync.Once
	gone     chan struct{} // the reader closed: writes fail
	goneOnce sync.Once
}

func newHalf() *half {
	return &half{data: make(chan []byte, 64), eof: make(chan struct{}), gone: make(chan struct{})}
}

// Stream is one end of a channel-backed duplex pipe; it implements
// room.Stream.
type Stream struct {
	remote    peer.ID
	rd, wr    *half
	reset     chan struct{} // shared by both ends
	resetOnce *sync.Once

	mu       sync.Mutex // guards buf and deadline; held briefly
	buf      []byte
	deadline time.Time
}

// Pipe returns the two ends of a stream between a and b: the first is a's
// (its RemotePeer is b), the second b's.
func Pipe(a, b peer.ID) (*Stream, *Stream) {
	ab, ba := newHalf(), newHalf()
	reset, once := make(chan struct{}), &sync.Once{}
	return &Stream{remote: b, rd: ba, wr: ab, reset: reset, resetOnce: once},
		&Stream{remote: a, rd: ab, wr: ba, reset: reset, resetOnce: once}
}

// RemotePeer returns the peer at the other end.
func (s *Stream) RemotePeer() peer.ID { return s.remote }

// SetDeadline bounds later reads and writes (a zero time: no bound).
func (s *Stream) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	return nil
}

// timeout returns a channel that fires at the deadline (nil without one)
// and a function releasing its timer.
func (s *Stream) timeout() (<-chan time.Time, func(), bool) {
	select {
	case <-s.reset:
		return nil, func() {}, true // the caller's select sees the reset
	default:
	}
	s.mu.Lock()
	d := s.deadline
	s.mu.Unlock()
	if d.IsZero() {
		return nil, func() {}, true
	}
	wait := time.Until(d)
	if wait <= 0 {
		return nil, func() {}, false
	}
	t := time.NewTimer(wait)
	return t.C, func() { t.Stop() }, true
}

// Read reads what the other end wrote; io.EOF after it closed.
func (s *Stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	if len(s.buf) > 0 {
		n := copy(p, s.buf)
		s.buf = s.buf[n:]
		s.mu.Unlock()
		return n, nil
	}
	s.mu.Unlock()
	select {
	case <-s.reset:
		return 0, ErrReset
	default:
	}
	tc, stop, ok := s.timeout()
	defer stop()
	if !ok {
		return 0, ErrDeadline
	}
	var b []byte
	select {
	case b = <-s.rd.data:
	case <-s.rd.eof:
		select {
		case b = <-s.rd.data:
		default:
			return 0, io.EOF
		}
	case <-s.reset:
		return 0, ErrReset
	case <-s.rd.gone:
		return 0, ErrClosed
	case <-tc:
		return 0, ErrDeadline
	}
	n := copy(p, b)
	if n < len(b) {
		s.mu.Lock()
		s.buf = b[n:]
		s.mu.Unlock()
	}
	return n, nil
}

// Write sends a copy of p to the other end.
func (s *Stream) Write(p []byte) (int, error) {
	tc, stop, ok := s.timeout()
	defer stop()
	if !ok {
		return 0, ErrDeadline
	}
	select {
	case <-s.reset:
		return 0, ErrReset
	case <-s.wr.eof:
		return 0, ErrClosed
	default:
	}
	b := append([]byte(nil), p...)
	select {
	case s.wr.data <- b:
		return len(p), nil
	case <-s.reset:
		return 0, ErrReset
	case <-s.wr.gone:
		return 0, ErrClosed
	case <-tc:
		return 0, ErrDeadline
	}
}

// Close ends both directions: the other end reads io.EOF once it has read
// everything written, and its writes fail.
func (s *Stream) Close() error {
	s.wr.eofOnce.Do(func() { close(s.wr.eof) })
	s.rd.goneOnce.Do(func() { close(s.rd.gone) })
	return nil
}

// Reset aborts the stream at both ends.
func (s *Stream) Reset() error {
	s.resetOnce.Do(func() { close(s.reset) })
	return nil
}
