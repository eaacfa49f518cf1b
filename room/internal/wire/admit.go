package wire

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Frame size bounds: readers refuse longer frames before allocating.
// MaxHelloFrame bounds the first frame of an admission (from anyone);
// MaxFrame the others, sized for a transfer of MaxChain commits of full
// rosters.
const (
	MaxHelloFrame = 256
	MaxFrame      = 288 << 10
)

// Frame types. Each frame is: version (1) | type (1) | fields.
const (
	frameHello     = 1
	frameChallenge = 2
	frameShare     = 3
	frameWelcome   = 4
	frameRefuse    = 5
	frameTransfer  = 7
	frameRequest   = 8
)

// Frame is one message of the admission or epoch protocol.
type Frame interface{ frameType() byte }

// Hello opens an admission: the joiner names the room and sends its nonce.
// It carries no number: nothing a joiner says before it is admitted
// decides anything.
type Hello struct {
	Room  RoomID
	Nonce [32]byte
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

// Welcome admits the joiner: the member's key confirmation and the grant
// sealed under the PAKE-derived wrap key (see [AdmissionKeys.SealWelcome]).
type Welcome struct {
	Confirm [32]byte
	Sealed  []byte
}

// Refuse ends an admission without a key. RetryAfter is the number of
// seconds a rate-limited joiner must wait (zero for other reasons).
type Refuse struct {
	Reason     RefuseReason
	RetryAfter uint32
}

// Transfer hands epochs to a member over a Noise stream: the commits from
// an ancestor the receiver can be expected to hold to the tip, oldest
// first, and the tip's secret when the receiver is in the tip's roster.
type Transfer struct {
	Room    RoomID
	Commits []*Commit
	Secret  *[32]byte
}

// EpochRequest asks a member of our own roster for the epoch Wanted (or
// its best tip); the answer is a Transfer.
type EpochRequest struct {
	Room   RoomID
	Wanted EpochRef
}

// RefuseReason says why an admission was refused.
type RefuseReason byte

// Refusal reasons.
const (
	RefuseUnknownRoom RefuseReason = 1 // the member is not in that room
	RefuseNoKey       RefuseReason = 2 // the member has not obtained a key yet
	RefuseBadProof    RefuseReason = 3 // key confirmation failed: wrong room secret
	RefuseRateLimited RefuseReason = 4 // too many attempts from this peer
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
		return "too many wrong passphrases from this node"
	case RefuseFull:
		return "room is full"
	}
	return fmt.Sprintf("reason %d", byte(r))
}

func (*Hello) frameType() byte        { return frameHello }
func (*Challenge) frameType() byte    { return frameChallenge }
func (*Share) frameType() byte        { return frameShare }
func (*Welcome) frameType() byte      { return frameWelcome }
func (*Refuse) frameType() byte       { return frameRefuse }
func (*Transfer) frameType() byte     { return frameTransfer }
func (*EpochRequest) frameType() byte { return frameRequest }

func appendRef(b []byte, r EpochRef) []byte {
	b = binary.BigEndian.AppendUint32(b, r.Number)
	return append(b, r.KeyID[:]...)
}

// appendCommits appends count (1) and each commit as length (2) || bytes.
func appendCommits(b []byte, cs []*Commit) []byte {
	b = append(b, byte(len(cs)))
	for _, c := range cs {
		enc := c.Encode()
		b = binary.BigEndian.AppendUint16(b, uint16(len(enc)))
		b = append(b, enc...)
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
		b = binary.BigEndian.AppendUint32(b, f.RetryAfter)
	case *Transfer:
		b = append(b, f.Room[:]...)
		b = appendCommits(b, f.Commits)
		if f.Secret == nil {
			b = append(b, 0)
		} else {
			b = append(append(b, 1), f.Secret[:]...)
		}
	case *EpochRequest:
		b = append(b, f.Room[:]...)
		b = appendRef(b, f.Wanted)
	}
	return b
}

// reader consumes a frame's fields; the first short read sets bad.
type reader struct {
	p   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || len(r.p) < n {
		r.bad = true
		return make([]byte, max(n, 0))
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b
}

func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }

func (r *reader) ref() EpochRef {
	var e EpochRef
	e.Number = r.u32()
	copy(e.KeyID[:], r.take(16))
	return e
}

// commits reads count (1..MaxChain) length-prefixed commits.
func (r *reader) commits() []*Commit {
	n := int(r.take(1)[0])
	if n == 0 || n > MaxChain {
		r.bad = true
		return nil
	}
	out := make([]*Commit, 0, n)
	for range n {
		enc := r.take(int(r.u16()))
		if r.bad {
			return nil
		}
		c, err := DecodeCommit(enc)
		if err != nil {
			r.bad = true
			return nil
		}
		out = append(out, c)
	}
	return out
}

// done reports whether every byte was consumed and none was missing.
func (r *reader) done() bool { return !r.bad && len(r.p) == 0 }

// DecodeFrame parses one admission or epoch frame. It refuses unknown
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
		f = &Refuse{Reason: RefuseReason(r.take(1)[0]), RetryAfter: r.u32()}
	case frameTransfer:
		k := &Transfer{}
		copy(k.Room[:], r.take(16))
		k.Commits = r.commits()
		switch r.take(1)[0] {
		case 0:
		case 1:
			k.Secret = new([32]byte)
			copy(k.Secret[:], r.take(32))
		default:
			r.bad = true
		}
		f = k
	case frameRequest:
		q := &EpochRequest{}
		copy(q.Room[:], r.take(16))
		q.Wanted = r.ref()
		f = q
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

// maxGrantClock bounds the clock a grant may carry: Lamport clocks of
// 1<<62 and above are impossible.
const maxGrantClock = 1<<62 - 1

// Grant is what a Welcome hands the joiner: the join commit's parent and
// the join commit (so the joiner can verify later commits), the new
// epoch's secret, the admitting member's nick and its Lamport clock (so
// the joiner's first message is ordered after what it could have seen).
type Grant struct {
	Commits []*Commit // parent, then the join commit
	Secret  [32]byte
	Nick    string
	Clock   uint64
}

// SealWelcome encrypts g under the wrap key: nonce (24) || XChaCha20-Poly1305
// of secret (32) || nick length (1) || nick || clock (8) || commits, with
// associated data LabelAdmitWrap.
func (k *AdmissionKeys) SealWelcome(g *Grant) ([]byte, error) {
	pt := append([]byte(nil), g.Secret[:]...)
	pt = append(pt, byte(len(g.Nick)))
	pt = append(pt, g.Nick...)
	pt = binary.BigEndian.AppendUint64(pt, g.Clock)
	pt = appendCommits(pt, g.Commits)
	defer clear(pt)
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	aead, _ := chacha20poly1305.NewX(k.wrap[:])
	return aead.Seal(nonce, nonce, pt, []byte(LabelAdmitWrap)), nil
}

// OpenWelcome decrypts and decodes a sealed grant. It checks the shape
// (two commits, a clock below 1<<62), not the commits' validity.
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
	g := &Grant{}
	copy(g.Secret[:], r.take(32))
	g.Nick = string(r.take(int(r.take(1)[0])))
	g.Clock = r.u64()
	g.Commits = r.commits()
	if !r.done() || !ValidNick(g.Nick) || g.Clock > maxGrantClock || len(g.Commits) != 2 {
		clear(g.Secret[:])
		return nil, ErrMalformed
	}
	return g, nil
}
