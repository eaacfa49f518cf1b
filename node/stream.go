package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
)

// ErrFrameTooLarge is returned by [ReadFrame] when a frame's declared length
// exceeds the caller's maximum, and by [Topic.Publish] for a message that
// does not fit in [MaxMessageSize].
var ErrFrameTooLarge = errors.New("node: frame too large")

// errBadLength reports a frame length that is not a minimal uvarint or does
// not fit in 64 bits.
var errBadLength = errors.New("node: malformed frame length")

// Handle serves protocol proto with h, replacing any previous handler. h runs
// in its own goroutine for each inbound stream and owns the stream; it only
// runs for streams on Noise-secured connections: others are reset (and logged
// at debug level). After [Node.Close] begins, new streams are reset; Close
// waits for running handlers, which must return once their stream is reset.
func (n *Node) Handle(proto protocol.ID, h func(network.Stream)) {
	n.host.SetStreamHandler(proto, func(s network.Stream) {
		if !n.handlerStarting() {
			s.Reset()
			return
		}
		defer n.handlers.Done()
		// The host is Noise-only, but the handler trusts this, so it is
		// checked where it is relied on.
		if sec := s.Conn().ConnState().Security; sec != noise.ID {
			n.log.Debug("refusing stream on a connection not secured by noise",
				"protocol", proto, "peer", s.Conn().RemotePeer(), "security", sec)
			s.Reset()
			return
		}
		h(s)
	})
}

// handlerStarting registers a running handler unless the node is closing.
func (n *Node) handlerStarting() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.handlers.Add(1)
	return true
}

// RemoveHandler stops serving protocol proto. Running handlers are not
// interrupted.
func (n *Node) RemoveHandler(proto protocol.ID) {
	n.host.RemoveStreamHandler(proto)
}

// Open opens a stream to p for protocol proto, dialing p if needed. It
// returns an error wrapping [ErrNotNoise], after resetting the stream, if the
// connection the stream runs on is not secured by Noise.
func (n *Node) Open(ctx context.Context, p peer.ID, proto protocol.ID) (network.Stream, error) {
	s, err := n.host.NewStream(ctx, p, proto)
	if err != nil {
		return nil, fmt.Errorf("node: failed to open %s stream to %s: %w", proto, p, err)
	}
	if sec := s.Conn().ConnState().Security; sec != noise.ID {
		s.Reset()
		return nil, fmt.Errorf("node: %s stream to %s runs over %q: %w", proto, p, sec, ErrNotNoise)
	}
	return s, nil
}

// WriteFrame writes b to w as one frame: its length as a uvarint, then b,
// in a single Write call.
func WriteFrame(w io.Writer, b []byte) error {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(b))
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	buf = append(buf, b...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("node: write frame: %w", err)
	}
	return nil
}

// ReadFrame reads one frame written by [WriteFrame] and returns its payload.
// It reads exactly the frame's bytes from r, one byte at a time for the
// length unless r is an [io.ByteReader], so r may be a raw stream. A declared
// length above max is refused with an error wrapping [ErrFrameTooLarge]
// before anything is allocated for it. It returns io.EOF if r ends before the
// frame starts, io.ErrUnexpectedEOF if it ends inside it, and an error for a
// length that is not a minimal uvarint.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	n, err := readUvarint(r)
	if err != nil {
		return nil, err
	}
	if max < 0 || n > uint64(max) {
		return nil, fmt.Errorf("node: %d-byte frame, limit %d: %w", n, max, ErrFrameTooLarge)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// readUvarint reads a minimally encoded uvarint. Non-minimal encodings are
// refused so that every length has one encoding.
func readUvarint(r io.Reader) (uint64, error) {
	br, ok := r.(io.ByteReader)
	if !ok {
		br = &byteReader{r: r}
	}
	var x uint64
	for i := range binary.MaxVarintLen64 {
		b, err := br.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, errBadLength // more than 64 bits
			}
			if b == 0 && i > 0 {
				return 0, errBadLength // trailing zero group: not minimal
			}
			return x | uint64(b)<<(7*i), nil
		}
		x |= uint64(b&0x7f) << (7 * i)
	}
	return 0, errBadLength
}

// byteReader reads single bytes from r without reading ahead.
type byteReader struct {
	r   io.Reader
	buf [1]byte
}

func (b *byteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(b.r, b.buf[:]); err != nil {
		return 0, err
	}
	return b.buf[0], nil
}
