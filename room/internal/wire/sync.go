package wire

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
)

// History sync frames (/p2pchat/sync/1.0.0): a member asks another for the
// messages it lacks, describing what it has as runs of sequence numbers per
// author; the answer is a batch of records (see VerifyRecord), which the
// asker verifies one by one.
const (
	MaxSyncFrame     = 2 << 20 // bounds both frames; checked before allocating
	MaxSyncAuthors   = 512
	MaxSyncRanges    = 32 // per author; a more fragmented history is described in part
	MaxSyncBatch     = 1 << 20
	frameSyncRequest = 7
	frameSyncBatch   = 8
)

// SeqRange is an inclusive run of sequence numbers.
type SeqRange struct{ Lo, Hi uint64 }

// AuthorRanges is what a member holds of one author.
type AuthorRanges struct {
	Author ed25519.PublicKey
	Ranges []SeqRange
}

// SyncRequest asks for the messages of a room the asker lacks.
type SyncRequest struct {
	Room RoomID
	Have []AuthorRanges
}

// SyncBatch answers a SyncRequest: records the asker lacks and may read, the
// ranges of the asker's own messages the answerer holds (so the asker knows
// who has seen what it sent), and whether more records remain.
type SyncBatch struct {
	Records  [][]byte
	YourSeqs []SeqRange
	More     bool
}

func (*SyncRequest) frameType() byte { return frameSyncRequest }
func (*SyncBatch) frameType() byte   { return frameSyncBatch }

func appendRanges(b []byte, rs []SeqRange) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(rs)))
	for _, r := range rs {
		b = binary.BigEndian.AppendUint64(b, r.Lo)
		b = binary.BigEndian.AppendUint64(b, r.Hi)
	}
	return b
}

func (r *reader) ranges() []SeqRange {
	n := int(r.u16())
	if n > MaxSyncRanges {
		r.bad = true
		return nil
	}
	out := make([]SeqRange, 0, n)
	for range n {
		lo, hi := binary.BigEndian.Uint64(r.take(8)), binary.BigEndian.Uint64(r.take(8))
		if lo == 0 || lo > hi {
			r.bad = true
		}
		out = append(out, SeqRange{lo, hi})
	}
	return out
}

// EncodeSync returns the bytes of a sync frame.
func EncodeSync(f Frame) []byte {
	b := []byte{Version, f.frameType()}
	switch f := f.(type) {
	case *SyncRequest:
		b = append(b, f.Room[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.Have)))
		for _, a := range f.Have {
			b = append(b, a.Author...)
			b = appendRanges(b, a.Ranges)
		}
	case *SyncBatch:
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.Records)))
		for _, rec := range f.Records {
			b = binary.BigEndian.AppendUint32(b, uint32(len(rec)))
			b = append(b, rec...)
		}
		b = appendRanges(b, f.YourSeqs)
		if f.More {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// DecodeSync parses a sync frame, refusing unknown versions and types and
// any length that does not add up. Records are not verified here.
func DecodeSync(b []byte) (Frame, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("sync frame of %d bytes: %w", len(b), ErrMalformed)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("sync frame version %d: %w", b[0], ErrVersion)
	}
	r := &reader{p: b[2:]}
	var f Frame
	switch b[1] {
	case frameSyncRequest:
		q := &SyncRequest{}
		copy(q.Room[:], r.take(16))
		n := int(r.u16())
		if n > MaxSyncAuthors {
			return nil, fmt.Errorf("sync request naming %d authors: %w", n, ErrMalformed)
		}
		for range n {
			if r.bad {
				break
			}
			a := AuthorRanges{Author: ed25519.PublicKey(append([]byte(nil), r.take(32)...))}
			a.Ranges = r.ranges()
			q.Have = append(q.Have, a)
		}
		f = q
	case frameSyncBatch:
		s := &SyncBatch{}
		n := int(r.u16())
		total := 0
		for range n {
			l := int(r.u32())
			total += l
			if l > MaxEnvelope || total > MaxSyncBatch {
				return nil, fmt.Errorf("sync batch too large: %w", ErrMalformed)
			}
			if r.bad {
				break
			}
			s.Records = append(s.Records, append([]byte(nil), r.take(l)...))
		}
		s.YourSeqs = r.ranges()
		switch r.take(1)[0] {
		case 0:
		case 1:
			s.More = true
		default:
			r.bad = true
		}
		f = s
	default:
		return nil, fmt.Errorf("sync frame type %d: %w", b[1], ErrMalformed)
	}
	if !r.done() {
		return nil, fmt.Errorf("sync frame type %d of %d bytes: %w", b[1], len(b), ErrMalformed)
	}
	return f, nil
}
