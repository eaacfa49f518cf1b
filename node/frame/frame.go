// Package frame writes and reads length-prefixed frames on byte streams: a
// uvarint length, then the payload. It is the framing of every p2pchat
// stream protocol.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrFrameTooLarge is returned by [ReadFrame] when a frame's declared length
// exceeds the caller's maximum.
var ErrFrameTooLarge = errors.New("node: frame too large")

// errBadLength reports a frame length that is not a minimal uvarint or does
// not fit in 64 bits.
var errBadLength = errors.New("node: malformed frame length")

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
