package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/chacha20poly1305"
)

// Version is the envelope and frame format version this package speaks.
// Earlier versions are refused on the wire: 1 (one key per epoch), 2
// (epochs without signed commits, envelopes without a header MAC), 3
// (bodies without an extension, unknown kinds refused). Stored records of
// version 3 still verify ([VerifyRecord]): history outlives the upgrade.
const Version = 4

// recordV3 is the one earlier version whose records VerifyRecord accepts.
const recordV3 = 3

// Sizes and limits of the envelope.
const (
	HeaderSize  = 97
	macOffset   = 81 // the header MAC covers the bytes before it
	HeaderMAC   = 16
	adSize      = 57 // version through chain index
	MaxNick     = 32
	MaxText     = 16 << 10
	MaxReaction = 64  // bytes of a reaction (one emoji, or a short word)
	MaxStatus   = 128 // bytes of a presence body's status ("" available, else away with this text)
	MaxExt      = 255 // bytes of a body's extension
	bodyFixedV3 = 1 + 32 + 8 + 8 + 8 + 1 + 2 + ed25519.SignatureSize
	bodyFixed   = bodyFixedV3 + 1 // v4 adds the extension's length
	overhead    = chacha20poly1305.Overhead
	MaxEnvelope = HeaderSize + bodyFixed + MaxNick + MaxText + MaxExt + overhead
	minEnvelope = HeaderSize + bodyFixed + 1 + overhead
)

// ClockLimit bounds Lamport clocks: no body carries one at or above it, so
// no clock can wrap (a room would need 2^62 messages to reach it).
const ClockLimit = 1 << 62

// Errors returned by the decoders and [Open]. Callers count drops by them.
var (
	ErrVersion   = errors.New("unknown format version")
	ErrMalformed = errors.New("malformed")
	ErrRoom      = errors.New("wrong room")
	ErrEpoch     = errors.New("wrong epoch")
	ErrAuth      = errors.New("decryption failed")
	ErrHeader    = errors.New("header authentication failed")
	ErrSender    = errors.New("sender tag does not match author")
	ErrSignature = errors.New("bad signature")
	ErrTooLong   = fmt.Errorf("text longer than %d bytes", MaxText)
	ErrClock     = fmt.Errorf("clock not below %d", uint64(ClockLimit))
	ErrNick      = fmt.Errorf("nick must be 1 to %d bytes of printable UTF-8 without spaces or '#'", MaxNick)
	ErrReaction  = fmt.Errorf("a reaction must be 1 to %d bytes of printable UTF-8 without spaces", MaxReaction)
	ErrRef       = errors.New("a reference must name an earlier message")
	ErrStatus    = fmt.Errorf("a status must be at most %d bytes of printable UTF-8", MaxStatus)
)

// Kind says what an envelope body carries.
type Kind byte

// Body kinds. Kinds above [KindDelete] are reserved for later versions:
// their bodies parse (the same layout, any extension) and verify, and
// [Kind.Known] tells a receiver to ignore them. Kind 0 is malformed.
const (
	KindText   Kind = 1 // a chat message
	KindAction Kind = 2 // an action (/me)
	KindHello  Kind = 3 // a member announces itself after obtaining the key
	KindHere   Kind = 4 // a member answers a hello or heartbeats
	KindBye    Kind = 5 // a member leaves
	KindReply  Kind = 6 // a chat message answering the message Ref names
	KindReact  Kind = 7 // a reaction (Text) to the message Ref names; the same one again takes it back
	KindEdit   Kind = 8 // new text for the author's own message RefSeq
	KindDelete Kind = 9 // takes back the author's own message RefSeq
)

// Known reports whether this version knows what k means.
func (k Kind) Known() bool { return k >= KindText && k <= KindDelete }

// extSize is the length of a known kind's extension.
func (k Kind) extSize() int {
	switch k {
	case KindReply, KindReact:
		return len(MessageRef{})
	case KindEdit, KindDelete:
		return 8
	}
	return 0
}

// MessageRef names a message of the room: its [MessageID].
type MessageRef = [16]byte

// Header is the cleartext part of an envelope.
type Header struct {
	Version byte
	Room    RoomID
	Epoch   EpochRef
	Sender  [16]byte
	Index   uint32 // position in the sender's chain
	Nonce   [24]byte
	MAC     [HeaderMAC]byte // HMAC(header key, LabelHeader || bytes before it), truncated
}

func (h *Header) marshal() []byte {
	b := make([]byte, 0, HeaderSize)
	b = append(b, h.Version)
	b = append(b, h.Room[:]...)
	b = binary.BigEndian.AppendUint32(b, h.Epoch.Number)
	b = append(b, h.Epoch.KeyID[:]...)
	b = append(b, h.Sender[:]...)
	b = binary.BigEndian.AppendUint32(b, h.Index)
	b = append(b, h.Nonce[:]...)
	return append(b, h.MAC[:]...)
}

// ParseHeader decodes the cleartext header of env. It checks the version and
// that the length is plausible, nothing else.
func ParseHeader(env []byte) (Header, error) {
	var h Header
	if len(env) < 1 {
		return h, ErrMalformed
	}
	if env[0] != Version {
		return h, fmt.Errorf("envelope version %d: %w", env[0], ErrVersion)
	}
	if len(env) < minEnvelope || len(env) > MaxEnvelope {
		return h, fmt.Errorf("envelope of %d bytes: %w", len(env), ErrMalformed)
	}
	return decodeHeader(env), nil
}

// decodeHeader reads the HeaderSize bytes at the start of b, whose length
// the caller has checked.
func decodeHeader(b []byte) Header {
	var h Header
	h.Version = b[0]
	copy(h.Room[:], b[1:17])
	h.Epoch.Number = binary.BigEndian.Uint32(b[17:21])
	copy(h.Epoch.KeyID[:], b[21:37])
	copy(h.Sender[:], b[37:53])
	h.Index = binary.BigEndian.Uint32(b[53:57])
	copy(h.Nonce[:], b[57:81])
	copy(h.MAC[:], b[macOffset:HeaderSize])
	return h
}

// Body is the signed plaintext of an envelope.
type Body struct {
	Kind   Kind
	Author ed25519.PublicKey
	Seq    uint64
	Time   int64  // Unix nanoseconds, as claimed by the author
	Clock  uint64 // Lamport clock of the room: the order messages are shown in
	Nick   string
	Text   string
	Ref    MessageRef // KindReply, KindReact: the message answered or reacted to
	RefSeq uint64     // KindEdit, KindDelete: the sequence number of the author's message
	Ext    []byte     // kinds not Known: the extension, uninterpreted

	// Record is set by Seal, Open and VerifyRecord: the envelope header and
	// the signed plaintext body, which anyone can verify again later with
	// VerifyRecord without any room key.
	Record []byte
}

// ValidNick reports whether nick is acceptable: 1 to MaxNick bytes of valid
// UTF-8 with no control characters, spaces or '#'.
func ValidNick(nick string) bool {
	if len(nick) == 0 || len(nick) > MaxNick || !utf8.ValidString(nick) {
		return false
	}
	for _, r := range nick {
		if r < 0x21 || r == 0x7f || r == '#' || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

func (b *Body) check() error {
	if b.Kind == 0 {
		return fmt.Errorf("kind 0: %w", ErrMalformed)
	}
	if len(b.Ext) > MaxExt || (b.Kind.Known() && len(b.Ext) != 0) {
		return fmt.Errorf("extension of %d bytes: %w", len(b.Ext), ErrMalformed)
	}
	if len(b.Author) != ed25519.PublicKeySize {
		return fmt.Errorf("author key: %w", ErrMalformed)
	}
	if !ValidNick(b.Nick) {
		return ErrNick
	}
	if len(b.Text) > MaxText {
		return ErrTooLong
	}
	if b.Clock >= ClockLimit {
		return fmt.Errorf("clock %d: %w", b.Clock, ErrClock)
	}
	if !utf8.ValidString(b.Text) {
		return fmt.Errorf("text is not UTF-8: %w", ErrMalformed)
	}
	switch b.Kind {
	case KindHello, KindHere, KindBye:
		if !ValidStatus(b.Text) {
			return ErrStatus
		}
	case KindReact:
		if !validReaction(b.Text) {
			return ErrReaction
		}
	case KindEdit, KindDelete:
		if b.RefSeq == 0 || b.RefSeq >= b.Seq {
			return fmt.Errorf("message %d refers to %d: %w", b.Seq, b.RefSeq, ErrRef)
		}
		if (b.Kind == KindEdit) == (b.Text == "") {
			return fmt.Errorf("an edit has text, a delete none: %w", ErrMalformed)
		}
	}
	return nil
}

// validReaction reports whether s is 1 to MaxReaction bytes of UTF-8 with
// no control characters, white space or bidirectional controls.
func validReaction(s string) bool {
	if len(s) == 0 || len(s) > MaxReaction {
		return false
	}
	for _, r := range s {
		if unsafeRune(r) || r == ' ' || r == 0xa0 || r == 0xfeff {
			return false
		}
	}
	return true
}

// unsafeRune reports whether r may not be shown as it is: a control
// character (C0, DEL, C1), a line or paragraph separator, or a
// bidirectional control.
func unsafeRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Bidi_Control, r)
}

// ValidStatus reports whether s may be a presence body's status: at most
// MaxStatus bytes of UTF-8 without control characters, line breaks or
// bidirectional controls.
func ValidStatus(s string) bool {
	if len(s) > MaxStatus {
		return false
	}
	for _, r := range s {
		if unsafeRune(r) {
			return false
		}
	}
	return true
}

// ext is b's extension as encoded.
func (b *Body) ext() []byte {
	switch b.Kind {
	case KindReply, KindReact:
		return b.Ref[:]
	case KindEdit, KindDelete:
		return binary.BigEndian.AppendUint64(nil, b.RefSeq)
	}
	return b.Ext
}

func (b *Body) marshal() []byte {
	ext := b.ext()
	out := make([]byte, 0, bodyFixed+len(b.Nick)+len(b.Text)+len(ext))
	out = append(out, byte(b.Kind))
	out = append(out, b.Author...)
	out = binary.BigEndian.AppendUint64(out, b.Seq)
	out = binary.BigEndian.AppendUint64(out, uint64(b.Time))
	out = binary.BigEndian.AppendUint64(out, b.Clock)
	out = append(out, byte(len(b.Nick)))
	out = append(out, b.Nick...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.Text)))
	out = append(out, b.Text...)
	out = append(out, byte(len(ext)))
	return append(out, ext...)
}

// parseBody decodes a body of format version v (Version, or recordV3 for
// stored records, which have no extension) and returns it with the signed
// prefix and the signature.
func parseBody(p []byte, v byte) (b *Body, signed, sig []byte, err error) {
	fixed := bodyFixed
	if v == recordV3 {
		fixed = bodyFixedV3
	}
	if len(p) < fixed+1 {
		return nil, nil, nil, ErrMalformed
	}
	b = &Body{Kind: Kind(p[0])}
	b.Author = ed25519.PublicKey(append([]byte(nil), p[1:33]...))
	b.Seq = binary.BigEndian.Uint64(p[33:41])
	b.Time = int64(binary.BigEndian.Uint64(p[41:49]))
	b.Clock = binary.BigEndian.Uint64(p[49:57])
	n := int(p[57])
	rest := p[58:]
	if len(rest) < n+2 {
		return nil, nil, nil, ErrMalformed
	}
	b.Nick = string(rest[:n])
	m := int(binary.BigEndian.Uint16(rest[n : n+2]))
	rest = rest[n+2:]
	if len(rest) < m+ed25519.SignatureSize {
		return nil, nil, nil, ErrMalformed
	}
	b.Text = string(rest[:m])
	rest = rest[m:]
	var ext []byte
	if v != recordV3 {
		if len(rest) < 1 || len(rest) < 1+int(rest[0])+ed25519.SignatureSize {
			return nil, nil, nil, ErrMalformed
		}
		ext, rest = rest[1:1+int(rest[0])], rest[1+int(rest[0]):]
	} else if b.Kind > KindBye {
		return nil, nil, nil, fmt.Errorf("kind %d in a version 3 record: %w", b.Kind, ErrMalformed)
	}
	if len(rest) != ed25519.SignatureSize {
		return nil, nil, nil, ErrMalformed
	}
	if err := b.setExt(ext); err != nil {
		return nil, nil, nil, err
	}
	if err := b.check(); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	cut := len(p) - ed25519.SignatureSize
	return b, p[:cut], p[cut:], nil
}

// setExt decodes a parsed extension into b's fields for its kind.
func (b *Body) setExt(ext []byte) error {
	if !b.Kind.Known() {
		b.Ext = append([]byte(nil), ext...)
		return nil
	}
	if len(ext) != b.Kind.extSize() {
		return fmt.Errorf("kind %d with a %d-byte extension: %w", b.Kind, len(ext), ErrMalformed)
	}
	switch b.Kind {
	case KindReply, KindReact:
		copy(b.Ref[:], ext)
	case KindEdit, KindDelete:
		b.RefSeq = binary.BigEndian.Uint64(ext)
	}
	return nil
}

// Signer signs msg with the author's node key. The message handed to it is
// already domain-separated by [LabelSignature].
type Signer func(msg []byte) []byte

// Seal builds an envelope carrying b under epoch e with the next key of the
// author's chain, which it then erases. b.Author must be in the epoch's
// roster and be the key that sign signs with. It fails with [ErrTooLong] or
// [ErrNick] for bodies that no receiver would accept.
func Seal(e *Epoch, b *Body, sign Signer) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	h := Header{Version: Version, Room: e.room, Epoch: e.ref, Sender: e.SenderTag(b.Author)}
	if _, err := rand.Read(h.Nonce[:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	idx, mk, err := e.nextSendKey(b.Author)
	if err != nil {
		return nil, err
	}
	h.Index = idx
	env := seal(e, &mk, &h, b, sign)
	clear(mk[:])
	return env, nil
}

// seal sets h's MAC under e's header key and builds the envelope with
// message key mk.
func seal(e *Epoch, mk *[32]byte, h *Header, b *Body, sign Signer) []byte {
	h.MAC = e.headerMAC(h.marshal()[:macOffset])
	hdr := h.marshal()
	pt := b.marshal()
	pt = append(pt, sign(signedBytes(hdr, pt))...)
	b.Record = append(append([]byte(nil), hdr...), pt...)
	aead, err := chacha20poly1305.NewX(mk[:])
	if err != nil {
		panic("wire: " + err.Error()) // key size is fixed
	}
	return aead.Seal(hdr, h.Nonce[:], pt, associatedData(hdr))
}

func signedBytes(hdr, body []byte) []byte {
	m := make([]byte, 0, len(LabelSignature)+len(hdr)+len(body))
	m = append(m, LabelSignature...)
	m = append(m, hdr...)
	return append(m, body...)
}

// associatedData binds version, room, epoch, sender tag and chain index to
// the ciphertext.
func associatedData(hdr []byte) []byte {
	ad := make([]byte, 0, len(LabelEnvelopeAD)+adSize)
	ad = append(ad, LabelEnvelopeAD...)
	return append(ad, hdr[:adSize]...)
}

// VerifyRecord checks a stored or synced record (header || signed body, see
// Body.Record) without any room key: the version, the encoding, and the
// author's signature over header and body. It is how a member checks
// history another member hands it: the other member cannot forge or alter
// a message of a third.
func VerifyRecord(rec []byte) (Header, *Body, error) {
	if len(rec) < HeaderSize+bodyFixedV3+1 || len(rec) > MaxEnvelope {
		return Header{}, nil, fmt.Errorf("record of %d bytes: %w", len(rec), ErrMalformed)
	}
	if rec[0] != Version && rec[0] != recordV3 {
		return Header{}, nil, fmt.Errorf("record version %d: %w", rec[0], ErrVersion)
	}
	h := decodeHeader(rec)
	b, signed, sig, err := parseBody(rec[HeaderSize:], rec[0])
	if err != nil {
		return h, nil, err
	}
	if !ed25519.Verify(b.Author, signedBytes(rec[:HeaderSize], signed), sig) {
		return h, nil, ErrSignature
	}
	b.Record = append([]byte(nil), rec...)
	return h, b, nil
}
