package cpace

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gtank/ristretto255"
)

// DSI is the domain separation identifier of CPace-RISTR255-SHA512. It
// starts the generator string, and DSI || "_ISK" starts the ISK hash input.
const DSI = "CPaceRistretto255"

// ShareSize is the size in bytes of a share Y: a canonical ristretto255
// encoding.
const ShareSize = 32

// ISKSize is the size in bytes of the intermediate session key returned by
// [Session.Finish]: one SHA-512 output.
const ISKSize = sha512.Size

// sInBytes is s_in_bytes, the input block size of SHA-512, which sets the
// zero padding of the generator string.
const sInBytes = sha512.BlockSize

var (
	// ErrIdentity is returned by [Session.Finish] when the shared point K is
	// the identity element, which happens exactly when the peer's share
	// decodes to the identity. The run must be aborted.
	ErrIdentity = errors.New("cpace: peer share is the identity element")

	// ErrPoint is returned by [Session.Finish] when the peer's share is not a
	// 32-byte canonical ristretto255 encoding. The run must be aborted.
	ErrPoint = errors.New("cpace: peer share is not a valid ristretto255 encoding")

	errFinished = errors.New("cpace: Finish called more than once")
)

// Role distinguishes the two parties of a run. The ISK transcript is ordered
// initiator first (the draft's "ir" ordering), so the two parties must take
// different roles and agree on which is which.
type Role int

const (
	// Initiator is the party whose share and associated data come first in
	// the transcript (Ya, ADa).
	Initiator Role = iota
	// Responder is the party whose share and associated data come second in
	// the transcript (Yb, ADb).
	Responder
)

// String returns "initiator" or "responder".
func (r Role) String() string {
	switch r {
	case Initiator:
		return "initiator"
	case Responder:
		return "responder"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Session is one run of CPace, created by [Start]. It holds the secret
// scalar until [Session.Finish] erases it. A Session is not safe for
// concurrent use, and Finish may be called at most once. The zero value is
// not usable.
type Session struct {
	role Role
	y    ristretto255.Scalar // secret; zeroed by Finish
	ownY [ShareSize]byte
	ad   []byte
	sid  []byte
	done bool
}

// Start begins a run of CPace as role. It computes the generator from the
// password-related string prs, the channel identifier ci and the session
// identifier sid, samples a secret scalar from crypto/rand, and returns the
// session and this party's share Y ([ShareSize] bytes).
//
// ad is this party's associated data: the caller sends it in the clear
// alongside Y, and it is bound into the ISK. Both parties must use the same
// prs, ci and sid. sid should be fresh for every run (the draft recommends
// at least 16 random bytes agreed by both parties); it may be empty. Start
// copies its inputs. It fails only if role is invalid, crypto/rand fails,
// or (with probability 2^-252) the sampled scalar is zero.
func Start(role Role, prs, ci, sid, ad []byte) (*Session, []byte, error) {
	var buf [64]byte
	defer clear(buf[:])
	if _, err := rand.Read(buf[:]); err != nil {
		return nil, nil, fmt.Errorf("cpace: failed to sample scalar: %w", err)
	}
	var y ristretto255.Scalar
	y.FromUniformBytes(buf[:])
	// A zero scalar would send the identity, which the peer rejects; it has
	// probability 2^-252 but costs nothing to rule out.
	if y.Equal(ristretto255.NewScalar()) == 1 {
		return nil, nil, errors.New("cpace: sampled the zero scalar")
	}
	return start(role, prs, ci, sid, ad, &y)
}

// startWithScalar is [Start] with a fixed secret scalar, the 32-byte
// canonical little-endian encoding in scalar. It exists for known-answer
// tests.
func startWithScalar(role Role, prs, ci, sid, ad, scalar []byte) (*Session, []byte, error) {
	if len(scalar) != 32 {
		return nil, nil, errors.New("cpace: scalar is not 32 bytes")
	}
	var y ristretto255.Scalar
	if err := y.Decode(scalar); err != nil {
		return nil, nil, fmt.Errorf("cpace: invalid scalar: %w", err)
	}
	return start(role, prs, ci, sid, ad, &y)
}

// start computes the generator and the share y·g, and returns a Session that
// owns a copy of y; the caller's y is zeroed.
func start(role Role, prs, ci, sid, ad []byte, y *ristretto255.Scalar) (*Session, []byte, error) {
	defer y.Zero()
	if role != Initiator && role != Responder {
		return nil, nil, fmt.Errorf("cpace: invalid role %d", int(role))
	}
	g := calculateGenerator(DSI, prs, ci, sid)
	// g depends on the password, so it is as sensitive as prs.
	defer g.Zero()

	s := &Session{
		role: role,
		ad:   append([]byte(nil), ad...),
		sid:  append([]byte(nil), sid...),
	}
	s.y = *y
	var Y ristretto255.Element
	Y.ScalarMult(&s.y, g)
	Y.Encode(s.ownY[:0])
	return s, append([]byte(nil), s.ownY[:]...), nil
}

// Finish completes the run with the peer's share peerY and associated data
// peerAD, and returns the [ISKSize]-byte intermediate session key ISK.
//
// It returns [ErrPoint] if peerY is not a canonical ristretto255 encoding
// (including a wrong length) and [ErrIdentity] if the shared point is the
// identity; the session must then be discarded. Finish erases the secret
// scalar whatever the outcome, and a second call returns an error.
func (s *Session) Finish(peerY, peerAD []byte) ([]byte, error) {
	if s.done {
		return nil, errFinished
	}
	s.done = true
	defer s.y.Zero()

	k, err := s.sharedSecret(peerY)
	defer clear(k[:])
	if err != nil {
		return nil, err
	}

	var ya, ada, yb, adb []byte
	if s.role == Initiator {
		ya, ada, yb, adb = s.ownY[:], s.ad, peerY, peerAD
	} else {
		ya, ada, yb, adb = peerY, peerAD, s.ownY[:], s.ad
	}
	isk := computeISK(DSI, s.sid, k[:], ya, ada, yb, adb)
	return isk[:], nil
}

// sharedSecret decodes peerY and returns the encoding of K = y·peerY: the
// draft's scalar_mult_vfy. It returns [ErrPoint] or [ErrIdentity].
func (s *Session) sharedSecret(peerY []byte) ([32]byte, error) {
	var k [32]byte
	var P ristretto255.Element
	if err := P.Decode(peerY); err != nil {
		return k, ErrPoint
	}
	var K ristretto255.Element
	defer K.Zero()
	K.ScalarMult(&s.y, &P)
	// The group has prime order and y is non-zero, so K is the identity
	// exactly when peerY is: checking K covers both, in constant time.
	if K.Equal(ristretto255.NewElement()) == 1 {
		return k, ErrIdentity
	}
	K.Encode(k[:0])
	return k, nil
}

// computeISK returns
// SHA-512(lv(dsi || "_ISK") || lv(sid) || lv(k) || lv(ya) || lv(ada) || lv(yb) || lv(adb)).
func computeISK(dsi string, sid, k, ya, ada, yb, adb []byte) [ISKSize]byte {
	var in []byte
	in = appendLV(in, []byte(dsi+"_ISK"))
	in = appendLV(in, sid)
	in = appendLV(in, k)
	in = appendLV(in, ya)
	in = appendLV(in, ada)
	in = appendLV(in, yb)
	in = appendLV(in, adb)
	out := sha512.Sum512(in)
	clear(in) // holds K
	return out
}

// generatorString returns the draft's generator_string(DSI, PRS, CI, sid,
// s_in_bytes) for SHA-512: lv_cat(dsi, prs, zpad, ci, sid), where zpad is as
// many zero bytes as it takes to fill the first 128-byte block with
// lv(dsi) || lv(prs) || lv(zpad) (none if they already fill it).
func generatorString(dsi string, prs, ci, sid []byte) []byte {
	lenZpad := max(0, sInBytes-1-lvLen(len(prs))-lvLen(len(dsi)))
	out := make([]byte, 0, lvLen(len(dsi))+lvLen(len(prs))+lvLen(lenZpad)+lvLen(len(ci))+lvLen(len(sid)))
	out = appendLV(out, []byte(dsi))
	out = appendLV(out, prs)
	out = appendLV(out, make([]byte, lenZpad))
	out = appendLV(out, ci)
	out = appendLV(out, sid)
	return out
}

// calculateGenerator returns the ristretto255 generator g: the one-way map
// (FromUniformBytes) of SHA-512(generator_string).
func calculateGenerator(dsi string, prs, ci, sid []byte) *ristretto255.Element {
	gs := generatorString(dsi, prs, ci, sid)
	h := sha512.Sum512(gs)
	clear(gs) // holds prs
	g := ristretto255.NewElement().FromUniformBytes(h[:])
	clear(h[:])
	return g
}

// appendLV appends prepend_len(x): len(x) as unsigned LEB128, then x.
func appendLV(b, x []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(x)))
	return append(b, x...)
}

// lvLen returns the length of prepend_len of an n-byte string.
func lvLen(n int) int {
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutUvarint(tmp[:], uint64(n)) + n
}
