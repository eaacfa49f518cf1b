package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// MaxFrame bounds every admission frame; readers refuse longer ones before
// allocating.
const MaxFrame = 256

// Admission frame types. Each frame is: version (1) | type (1) | fields.
const (
	frameHello     = 1
	frameChallenge = 2
	frameProof     = 3
	frameWelcome   = 4
	frameRefuse    = 5
)

// Frame is one message of the admission protocol.
type Frame interface{ frameType() byte }

// Hello opens an admission: the joiner names the room and sends its nonce,
// and the epoch it already holds, if any (used to converge on one epoch).
type Hello struct {
	Room  RoomID
	Nonce [32]byte
	Have  *EpochRef
}

// Challenge is the member's answer to Hello: its own nonce.
type Challenge struct{ Nonce [32]byte }

// Proof carries the joiner's MAC over the transcript, see [JoinerMAC].
type Proof struct{ MAC [32]byte }

// Welcome admits the joiner: the member's MAC (see [MemberMAC]), the current
// epoch and its secret, and the member's nick.
type Welcome struct {
	MAC    [32]byte
	Epoch  uint32
	Secret [32]byte
	Nick   string
}

// Refuse ends an admission without a key.
type Refuse struct{ Reason RefuseReason }

// RefuseReason says why an admission was refused.
type RefuseReason byte

// Refusal reasons.
const (
	RefuseUnknownRoom RefuseReason = 1 // the member is not in that room
	RefuseNoKey       RefuseReason = 2 // the member has not obtained a key yet
	RefuseBadProof    RefuseReason = 3 // the joiner's MAC did not verify
	RefuseRateLimited RefuseReason = 4 // too many failed attempts from this peer
)

func (r RefuseReason) String() string {
	switch r {
	case RefuseUnknownRoom:
		return "not a member of that room"
	case RefuseNoKey:
		return "no room key yet"
	case RefuseBadProof:
		return "proof of the room name did not verify"
	case RefuseRateLimited:
		return "too many failed attempts"
	}
	return fmt.Sprintf("reason %d", byte(r))
}

func (*Hello) frameType() byte     { return frameHello }
func (*Challenge) frameType() byte { return frameChallenge }
func (*Proof) frameType() byte     { return frameProof }
func (*Welcome) frameType() byte   { return frameWelcome }
func (*Refuse) frameType() byte    { return frameRefuse }

// EncodeFrame returns the bytes of f.
func EncodeFrame(f Frame) []byte {
	b := []byte{Version, f.frameType()}
	switch f := f.(type) {
	case *Hello:
		b = append(b, f.Room[:]...)
		b = append(b, f.Nonce[:]...)
		if f.Have == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = binary.BigEndian.AppendUint32(b, f.Have.Number)
			b = append(b, f.Have.KeyID[:]...)
		}
	case *Challenge:
		b = append(b, f.Nonce[:]...)
	case *Proof:
		b = append(b, f.MAC[:]...)
	case *Welcome:
		b = append(b, f.MAC[:]...)
		b = binary.BigEndian.AppendUint32(b, f.Epoch)
		b = append(b, f.Secret[:]...)
		b = append(b, byte(len(f.Nick)))
		b = append(b, f.Nick...)
	case *Refuse:
		b = append(b, byte(f.Reason))
	}
	return b
}

// DecodeFrame parses one admission frame. It refuses unknown versions and
// types, and any length that does not match the type exactly.
func DecodeFrame(b []byte) (Frame, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("frame of %d bytes: %w", len(b), ErrMalformed)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("frame version %d: %w", b[0], ErrVersion)
	}
	t, p := b[1], b[2:]
	bad := fmt.Errorf("frame type %d of %d bytes: %w", t, len(b), ErrMalformed)
	switch t {
	case frameHello:
		f := &Hello{}
		if len(p) != 16+32+1 && len(p) != 16+32+1+4+16 {
			return nil, bad
		}
		copy(f.Room[:], p[:16])
		copy(f.Nonce[:], p[16:48])
		switch {
		case p[48] == 0 && len(p) == 49:
		case p[48] == 1 && len(p) == 69:
			f.Have = &EpochRef{Number: binary.BigEndian.Uint32(p[49:53])}
			copy(f.Have.KeyID[:], p[53:69])
		default:
			return nil, bad
		}
		return f, nil
	case frameChallenge:
		f := &Challenge{}
		if len(p) != 32 {
			return nil, bad
		}
		copy(f.Nonce[:], p)
		return f, nil
	case frameProof:
		f := &Proof{}
		if len(p) != 32 {
			return nil, bad
		}
		copy(f.MAC[:], p)
		return f, nil
	case frameWelcome:
		f := &Welcome{}
		if len(p) < 32+4+32+1 {
			return nil, bad
		}
		copy(f.MAC[:], p[:32])
		f.Epoch = binary.BigEndian.Uint32(p[32:36])
		copy(f.Secret[:], p[36:68])
		n := int(p[68])
		if len(p) != 69+n {
			return nil, bad
		}
		f.Nick = string(p[69:])
		if !ValidNick(f.Nick) {
			return nil, bad
		}
		return f, nil
	case frameRefuse:
		if len(p) != 1 {
			return nil, bad
		}
		return &Refuse{Reason: RefuseReason(p[0])}, nil
	}
	return nil, fmt.Errorf("frame type %d: %w", t, ErrMalformed)
}

// Transcript is what both sides of an admission MAC: the room, both peer IDs
// (as authenticated by Noise, never as sent by the peer) and both nonces.
type Transcript struct {
	Room          RoomID
	Joiner        []byte // raw peer ID bytes
	Member        []byte
	JoinerNonce   [32]byte
	MemberNonce   [32]byte
	JoinerHasKey  bool
	JoinerHaveRef EpochRef
}

func (t *Transcript) write(m interface{ Write([]byte) (int, error) }) {
	m.Write(t.Room[:])
	for _, id := range [][]byte{t.Joiner, t.Member} {
		m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(id))))
		m.Write(id)
	}
	m.Write(t.JoinerNonce[:])
	m.Write(t.MemberNonce[:])
	if t.JoinerHasKey {
		m.Write([]byte{1})
		m.Write(binary.BigEndian.AppendUint32(nil, t.JoinerHaveRef.Number))
		m.Write(t.JoinerHaveRef.KeyID[:])
	} else {
		m.Write([]byte{0})
	}
}

// JoinerMAC is HMAC-SHA256(admission key, LabelAdmitJoiner || transcript).
func JoinerMAC(key *[32]byte, t *Transcript) [32]byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(LabelAdmitJoiner))
	t.write(m)
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// MemberMAC is HMAC-SHA256(admission key, LabelAdmitMember || transcript ||
// epoch number || key id of the epoch handed over). It proves to the joiner
// that the member knows the room name and binds the epoch it is given.
func MemberMAC(key *[32]byte, t *Transcript, ref EpochRef) [32]byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(LabelAdmitMember))
	t.write(m)
	m.Write(binary.BigEndian.AppendUint32(nil, ref.Number))
	m.Write(ref.KeyID[:])
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}
