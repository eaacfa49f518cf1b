package node

import (
	"context"
	"fmt"
	"github.com/p2pchat/p2pchat/node/frame"
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
)

// ErrFrameTooLarge is returned by [ReadFrame] when a frame's declared length
// exceeds the caller's maximum, and by [Topic.Publish] for a message that
// does not fit in [MaxMessageSize].
var ErrFrameTooLarge = frame.ErrFrameTooLarge

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
func WriteFrame(w io.Writer, b []byte) error { return frame.WriteFrame(w, b) }

// ReadFrame reads one frame written by [WriteFrame] and returns its payload.
// It reads exactly the frame's bytes from r, one byte at a time for the
// length unless r is an [io.ByteReader], so r may be a raw stream. A declared
// length above max is refused with an error wrapping [ErrFrameTooLarge]
// before anything is allocated for it. It returns io.EOF if r ends before the
// frame starts, io.ErrUnexpectedEOF if it ends inside it, and an error for a
// length that is not a minimal uvarint.
func ReadFrame(r io.Reader, max int) ([]byte, error) { return frame.ReadFrame(r, max) }
