package wire

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// Domain-separation labels. Each derivation, MAC and signature uses its own
// label so that no value computed for one purpose is valid for another.
const (
	LabelRoomID       = "p2pchat/v1/room-id"
	LabelAdmissionKey = "p2pchat/v1/admission-key"
	LabelKeyID        = "p2pchat/v1/key-id"
	LabelMessageKey   = "p2pchat/v1/message-key"
	LabelSenderTagKey = "p2pchat/v1/sender-tag-key"
	LabelSenderTag    = "p2pchat/v1/sender-tag"
	LabelEnvelopeAD   = "p2pchat/v1/envelope-ad"
	LabelSignature    = "p2pchat/v1/envelope-signature"
	LabelMessageID    = "p2pchat/v1/message-id"
	LabelAdmitJoiner  = "p2pchat/v1/admit/joiner"
	LabelAdmitMember  = "p2pchat/v1/admit/member"
)

// RoomID is the public identifier of a room, derived from its normalised
// name. It appears in topic names and envelope headers.
type RoomID [16]byte

// DeriveRoomID returns the first 16 bytes of
// SHA-256(LabelRoomID || 0x00 || name). name must already be normalised.
func DeriveRoomID(name string) RoomID {
	h := sha256.New()
	h.Write([]byte(LabelRoomID))
	h.Write([]byte{0})
	h.Write([]byte(name))
	var id RoomID
	copy(id[:], h.Sum(nil))
	return id
}

// DeriveAdmissionKey returns HKDF-SHA256(ikm=name, salt=empty,
// info=LabelAdmissionKey), the key under which joiners and members prove to
// each other that they know the room's name. It is never sent anywhere.
func DeriveAdmissionKey(name string) [32]byte {
	return hkdf32([]byte(name), nil, LabelAdmissionKey)
}

// EpochRef names an epoch: its number and the key id of its secret.
type EpochRef struct {
	Number uint32
	KeyID  [16]byte
}

// Better reports whether r wins over o under the convergence rule: the higher
// epoch number wins; within a number, the lexicographically lower key id wins.
func (r EpochRef) Better(o EpochRef) bool {
	if r.Number != o.Number {
		return r.Number > o.Number
	}
	for i := range r.KeyID {
		if r.KeyID[i] != o.KeyID[i] {
			return r.KeyID[i] < o.KeyID[i]
		}
	}
	return false
}

// Epoch holds the keys of one room epoch. Create it with [NewEpoch]; the zero
// value is not usable. An Epoch is immutable until [Epoch.Erase] and safe for
// concurrent use before then.
type Epoch struct {
	room   RoomID
	ref    EpochRef
	secret [32]byte
	msgKey [32]byte
	tagKey [32]byte
}

// NewEpoch derives the keys of epoch number of room from a 32-byte secret.
// Every key is HKDF-SHA256(secret, salt = room id || number, info = label).
func NewEpoch(room RoomID, number uint32, secret *[32]byte) *Epoch {
	salt := make([]byte, 0, 20)
	salt = append(salt, room[:]...)
	salt = binary.BigEndian.AppendUint32(salt, number)
	e := &Epoch{room: room, secret: *secret}
	e.ref.Number = number
	id := hkdf32(secret[:], salt, LabelKeyID)
	copy(e.ref.KeyID[:], id[:16])
	e.msgKey = hkdf32(secret[:], salt, LabelMessageKey)
	e.tagKey = hkdf32(secret[:], salt, LabelSenderTagKey)
	return e
}

// Ref returns the epoch's number and key id.
func (e *Epoch) Ref() EpochRef { return e.ref }

// Room returns the room the epoch belongs to.
func (e *Epoch) Room() RoomID { return e.room }

// Secret returns a copy of the epoch secret, for handing to an admitted member.
func (e *Epoch) Secret() [32]byte { return e.secret }

// SenderTag returns the 16-byte pseudonym that stands for author in envelope
// headers of this epoch: HMAC-SHA256(sender-tag key, LabelSenderTag || author)
// truncated. Members can map it to an author; outsiders cannot.
func (e *Epoch) SenderTag(author ed25519.PublicKey) [16]byte {
	m := hmac.New(sha256.New, e.tagKey[:])
	m.Write([]byte(LabelSenderTag))
	m.Write(author)
	var t [16]byte
	copy(t[:], m.Sum(nil))
	return t
}

// Erase overwrites the epoch's key material (best effort: Go may have copied
// it). The Epoch must not be used afterwards.
func (e *Epoch) Erase() {
	clear(e.secret[:])
	clear(e.msgKey[:])
	clear(e.tagKey[:])
}

// MessageID returns the stable identifier of author's message number seq:
// the first 16 bytes of SHA-256(LabelMessageID || author || seq).
func MessageID(author ed25519.PublicKey, seq uint64) [16]byte {
	h := sha256.New()
	h.Write([]byte(LabelMessageID))
	h.Write(author)
	h.Write(binary.BigEndian.AppendUint64(nil, seq))
	var id [16]byte
	copy(id[:], h.Sum(nil))
	return id
}

func hkdf32(secret, salt []byte, label string) [32]byte {
	k, err := hkdf.Key(sha256.New, secret, salt, label, 32)
	if err != nil {
		panic("wire: hkdf: " + err.Error()) // only fails for absurd lengths
	}
	var out [32]byte
	copy(out[:], k)
	return out
}
