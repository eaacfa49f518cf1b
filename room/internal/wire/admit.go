package wire

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// MaxFrame bounds every admission and rekey frame; readers refuse longer
// ones before allocating.
const MaxFrame = 12 << 10

// Frame types. Each frame is: version (1) | type (1) | fields.
const (
	frameHello     = 1
	frameChallenge = 2
	frameShare     = 3
	frameWelcome   = 4
	frameRefuse    = 5
	frameRekey     = 6
)

// Frame is one message of the admission or rekey protocol.
type Frame interface{ frameType() byte }

// Hello opens an admission: the joiner names the room and sends its nonce,
// and the epoch it already holds, if any (two groups meeting).
type Hello struct {
	Room  RoomID
	Nonce [32]byte
	Have  *EpochRef
}

// Challenge is the member's answer to Hello: its nonce and CPace share.
type Challenge struct {
	Nonce [32]byte
	Y     [32]byte
}

// Share carries the joiner's CPace share and key confirmation.
type Share struct {
	Y       [32]byte
	Confirm [32]byte
}

// Welcome admits the joiner: the member's key confirmation and the new
// epoch sealed under the PAKE-derived wrap key (see [SealWelcome]).
type Welcome struct {
	Confirm [32]byte
	Sealed  []byte
}

// Refuse ends an admission without a key.
type Refuse struct{ Reason RefuseReason }

// Rekey hands a new epoch to a member of the current one, over a Noise
// stream. MAC is [Epoch.RekeyMAC] under the epoch From, which both hold.
type Rekey struct {
	Room   RoomID
	From   EpochRef
	Epoch  uint32
	Secret [32]byte
	Roster []ed25519.PublicKey
	MAC    [32]byte
}

// RefuseReason says why an admission was refused.
type RefuseReason byte

// Refusal reasons.
const (
	RefuseUnknownRoom RefuseReason = 1 // the member is not in that room
	RefuseNoKey       RefuseReason = 2 // the member has not obtained a key yet
	RefuseBadProof    RefuseReason = 3 // key confirmation failed: wrong room secret
	RefuseRateLimited RefuseReason = 4 // too many failed attempts from this peer
	RefuseFull        RefuseReason = 5 // the room has MaxRoster members
)

func (r RefuseReason) String() string {
	switch r {
	case RefuseUnknownRoom:
		return "not a member of that room"
	case RefuseNoKey:
		return "no room key yet"
	case RefuseBadProof:
		return "wrong passphrase (key confirmation failed)"
	case RefuseRateLimited:
		return "too many failed attempts"
	case RefuseFull:
		return "room is full"
	}
	return fmt.Sprintf("reason %d", byte(r))
}

func (*Hello) frameType() byte     { return frameHello }
func (*Challenge) frameType() byte { return frameChallenge }
func (*Share) frameType() byte     { return frameShare }
func (*Welcome) frameType() byte   { return frameWelcome }
func (*Refuse) frameType() byte    { return frameRefuse }
func (*Rekey) frameType() byte     { return frameRekey }

func appendRef(b []byte, r EpochRef) []byte {
	b = binary.BigEndian.AppendUint32(b, r.Number)
	return append(b, r.KeyID[:]...)
}

func appendRoster(b []byte, roster []ed25519.PublicKey) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(roster)))
	for _, p := range roster {
		b = append(b, p...)
	}
	return b
}

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
			b = appendRef(append(b, 1), *f.Have)
		}
	case *Challenge:
		b = append(b, f.Nonce[:]...)
		b = append(b, f.Y[:]...)
	case *Share:
		b = append(b, f.Y[:]...)
		b = append(b, f.Confirm[:]...)
	case *Welcome:
		b = append(b, f.Confirm[:]...)
		b = append(b, f.Sealed...)
	case *Refuse:
		b = append(b, byte(f.Reason))
	case *Rekey:
		b = append(b, f.Room[:]...)
		b = appendRef(b, f.From)
		b = binary.BigEndian.AppendUint32(b, f.Epoch)
		b = append(b, f.Secret[:]...)
		b = appendRoster(b, f.Roster)
		b = append(b, f.MAC[:]...)
	}
	return b
}

// reader consumes a frame's fields; the first short read sets bad.
type reader struct {
	p   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || len(r.p) < n {
		r.bad = true
		return make([]byte, n)
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b
}

func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }

func (r *reader) ref() EpochRef {
	var e EpochRef
	e.Number = r.u32()
	copy(e.KeyID[:], r.take(16))
	return e
}

func (r *reader) roster() []ed25519.PublicKey {
	n := int(r.u16())
	if n == 0 || n > MaxRoster {
		r.bad = true
		return nil
	}
	out := make([]ed25519.PublicKey, 0, n)
	for range n {
		out = append(out, ed25519.PublicKey(append([]byte(nil), r.take(ed25519.PublicKeySize)...)))
	}
	return out
}

// done reports whether every byte was consumed and none was missing.
func (r *reader) done() bool { return !r.bad && len(r.p) == 0 }

// DecodeFrame parses one admission or rekey frame. It refuses unknown
// versions and types, and any length that does not match the type exactly.
func DecodeFrame(b []byte) (Frame, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("frame of %d bytes: %w", len(b), ErrMalformed)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("frame version %d: %w", b[0], ErrVersion)
	}
	t := b[1]
	r := &reader{p: b[2:]}
	var f Frame
	switch t {
	case frameHello:
		h := &Hello{}
		copy(h.Room[:], r.take(16))
		copy(h.Nonce[:], r.take(32))
		switch r.take(1)[0] {
		case 0:
		case 1:
			ref := r.ref()
			h.Have = &ref
		default:
			r.bad = true
		}
		f = h
	case frameChallenge:
		c := &Challenge{}
		copy(c.Nonce[:], r.take(32))
		copy(c.Y[:], r.take(32))
		f = c
	case frameShare:
		s := &Share{}
		copy(s.Y[:], r.take(32))
		copy(s.Confirm[:], r.take(32))
		f = s
	case frameWelcome:
		w := &Welcome{}
		copy(w.Confirm[:], r.take(32))
		if len(r.p) < 24+chacha20poly1305.Overhead {
			r.bad = true
		}
		w.Sealed = append([]byte(nil), r.p...)
		r.p = nil
		f = w
	case frameRefuse:
		f = &Refuse{Reason: RefuseReason(r.take(1)[0])}
	case frameRekey:
		k := &Rekey{}
		copy(k.Room[:], r.take(16))
		k.From = r.ref()
		k.Epoch = r.u32()
		copy(k.Secret[:], r.take(32))
		k.Roster = r.roster()
		copy(k.MAC[:], r.take(32))
		f = k
	default:
		return nil, fmt.Errorf("frame type %d: %w", t, ErrMalformed)
	}
	if !r.done() {
		return nil, fmt.Errorf("frame type %d of %d bytes: %w", t, len(b), ErrMalformed)
	}
	return f, nil
}

// Admission CPace parameters. The channel identifier binds the room and both
// Noise-authenticated peer IDs; the session id is both fresh nonces.
var (
	JoinerAD = []byte("p2pchat/v2/joiner")
	MemberAD = []byte("p2pchat/v2/member")
)

// ChannelID is CPace's CI for an admission: LabelAdmitCI || room id ||
// len || joiner || len || member, lengths as 2 bytes.
func ChannelID(room RoomID, joiner, member []byte) []byte {
	b := append([]byte(LabelAdmitCI), room[:]...)
	for _, id := range [][]byte{joiner, member} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
		b = append(b, id...)
	}
	return b
}

// SessionID is CPace's sid for an admission: joiner nonce || member nonce.
func SessionID(joinerNonce, memberNonce [32]byte) []byte {
	return append(append([]byte(nil), joinerNonce[:]...), memberNonce[:]...)
}

// AdmissionKeys are derived from CPace's ISK: two key-confirmation keys and
// the key that wraps the epoch handed to the joiner.
type AdmissionKeys struct {
	joinerConf, memberConf, wrap [32]byte
}

// DeriveAdmissionKeys derives the keys of one admission from the ISK, each
// HKDF(ISK, salt = empty, info = label).
func DeriveAdmissionKeys(isk []byte) *AdmissionKeys {
	return &AdmissionKeys{
		joinerConf: hkdf32(isk, nil, LabelAdmitJoinerConf),
		memberConf: hkdf32(isk, nil, LabelAdmitMemberConf),
		wrap:       hkdf32(isk, nil, LabelAdmitWrap),
	}
}

// Erase clears the keys.
func (k *AdmissionKeys) Erase() {
	clear(k.joinerConf[:])
	clear(k.memberConf[:])
	clear(k.wrap[:])
}

func confirm(key *[32]byte, label string, ya, yb [32]byte) [32]byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(label))
	m.Write(ya[:])
	m.Write(yb[:])
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// JoinerConfirm is HMAC(joiner confirmation key, LabelAdmitJoinerConf || Ya || Yb).
func (k *AdmissionKeys) JoinerConfirm(ya, yb [32]byte) [32]byte {
	return confirm(&k.joinerConf, LabelAdmitJoinerConf, ya, yb)
}

// MemberConfirm is HMAC(member confirmation key, LabelAdmitMemberConf || Ya || Yb).
func (k *AdmissionKeys) MemberConfirm(ya, yb [32]byte) [32]byte {
	return confirm(&k.memberConf, LabelAdmitMemberConf, ya, yb)
}

// Grant is what a Welcome hands the joiner.
type Grant struct {
	Epoch  uint32
	Secret [32]byte
	Roster []ed25519.PublicKey
	Nick   string // the admitting member's nick
}

// SealWelcome encrypts g under the wrap key: nonce (24) || XChaCha20-Poly1305
// of epoch (4) || secret (32) || nick length (1) || nick || roster, with
// associated data LabelAdmitWrap.
func (k *AdmissionKeys) SealWelcome(g *Grant) ([]byte, error) {
	pt := binary.BigEndian.AppendUint32(nil, g.Epoch)
	pt = append(pt, g.Secret[:]...)
	pt = append(pt, byte(len(g.Nick)))
	pt = append(pt, g.Nick...)
	pt = appendRoster(pt, g.Roster)
	defer clear(pt)
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	aead, _ := chacha20poly1305.NewX(k.wrap[:])
	return aead.Seal(nonce, nonce, pt, []byte(LabelAdmitWrap)), nil
}

// OpenWelcome decrypts and decodes a sealed grant.
func (k *AdmissionKeys) OpenWelcome(sealed []byte) (*Grant, error) {
	if len(sealed) < 24+chacha20poly1305.Overhead {
		return nil, ErrMalformed
	}
	aead, _ := chacha20poly1305.NewX(k.wrap[:])
	pt, err := aead.Open(nil, sealed[:24], sealed[24:], []byte(LabelAdmitWrap))
	if err != nil {
		return nil, ErrAuth
	}
	defer clear(pt)
	r := &reader{p: pt}
	g := &Grant{Epoch: r.u32()}
	copy(g.Secret[:], r.take(32))
	g.Nick = string(r.take(int(r.take(1)[0])))
	g.Roster = r.roster()
	if !r.done() || !ValidNick(g.Nick) {
		clear(g.Secret[:])
		return nil, ErrMalformed
	}
	return g, nil
}
