package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Domain-separation labels. Each derivation, MAC and signature uses its own
// label so that no value computed for one purpose is valid for another.
const (
	LabelRoomID          = "p2pchat/v1/room-id"
	LabelOpenSecret      = "p2pchat/v2/open-room-secret"
	LabelPassphraseSalt  = "p2pchat/v2/passphrase-salt"
	LabelKeyID           = "p2pchat/v2/key-id"
	LabelChain           = "p2pchat/v2/chain"
	LabelSenderTagKey    = "p2pchat/v2/sender-tag-key"
	LabelSenderTag       = "p2pchat/v2/sender-tag"
	LabelEnvelopeAD      = "p2pchat/v2/envelope-ad"
	LabelSignature       = "p2pchat/v2/envelope-signature"
	LabelMessageID       = "p2pchat/v2/message-id"
	LabelAdmitCI         = "p2pchat/v2/admit/channel"
	LabelAdmitJoinerConf = "p2pchat/v2/admit/joiner-confirm"
	LabelAdmitMemberConf = "p2pchat/v2/admit/member-confirm"
	LabelAdmitWrap       = "p2pchat/v2/admit/wrap"
	LabelHeaderKey       = "p2pchat/v3/header-key"
	LabelHeader          = "p2pchat/v3/header"
)

// Ratchet limits: how far ahead of the next expected index a message may
// be, and how many skipped message keys one sender's chain keeps.
const (
	MaxSkip    = 1000
	MaxSkipped = 256
)

// MaxRoster bounds the members of one epoch.
const MaxRoster = 256

// Errors of the key schedule.
var (
	ErrNotInRoster = errors.New("author is not a member of the epoch")
	ErrOldIndex    = errors.New("message key already used or erased")
	ErrFarIndex    = fmt.Errorf("message index more than %d ahead", MaxSkip)
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

// OpenRoomSecret is the admission secret of an open room: HKDF(ikm = name,
// info = LabelOpenSecret). Anyone who knows the name can compute it.
func OpenRoomSecret(name string) [32]byte {
	return hkdf32([]byte(name), nil, LabelOpenSecret)
}

// Passphrase hashing parameters (Argon2id): the RFC 9106 second
// recommended profile's shape at 19 MiB, about 50 ms here. Brute force
// against a stored secret pays this per guess; online guesses are already
// limited by the PAKE and the rate limit.
const (
	argonTime    = 2
	argonMemory  = 19 << 10 // KiB
	argonThreads = 1
)

// PassphraseRoomSecret is the admission secret of a passphrase room:
// Argon2id(passphrase, salt = SHA-256(LabelPassphraseSalt || 0x00 || name)).
// It is what CPace runs on and what p2pchat stores to rejoin; the
// passphrase itself is not kept.
func PassphraseRoomSecret(name string, passphrase []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(LabelPassphraseSalt))
	h.Write([]byte{0})
	h.Write([]byte(name))
	var out [32]byte
	copy(out[:], argon2.IDKey(passphrase, h.Sum(nil), argonTime, argonMemory, argonThreads, 32))
	return out
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
	return bytes.Compare(r.KeyID[:], o.KeyID[:]) < 0
}

// Epoch holds the keys of one room epoch: a sender tag key and one
// hash-ratchet chain per member of its roster. It does not keep the epoch secret. Create it with
// [NewEpoch]. An Epoch is not safe for concurrent use.
type Epoch struct {
	room   RoomID
	ref    EpochRef
	tagKey [32]byte
	hdrKey [32]byte // authenticates envelope headers (see Opening.Read)
	erased bool
	roster []ed25519.PublicKey // sorted
	tags   map[[16]byte]int    // sender tag -> roster index
	chains []chain             // by roster index
}

// chain is one sender's symmetric ratchet: message key i is
// HMAC(ck_i, 0x01) and ck_{i+1} = HMAC(ck_i, 0x02).
type chain struct {
	ck      [32]byte
	next    uint32
	skipped map[uint32][32]byte
}

// NewEpoch derives the keys of epoch number of room, whose commit's parent
// hash is parent (zero for number 0), from secret for the members in roster
// (which must include every sender of the epoch). Every key is
// HKDF-SHA256(secret, salt = room id || number || parent, info = label), the
// chain of member A with info LabelChain || A, so that a secret is bound to
// its place in the chain. The caller erases secret.
func NewEpoch(room RoomID, number uint32, parent [32]byte, secret *[32]byte, roster []ed25519.PublicKey) (*Epoch, error) {
	if len(roster) == 0 || len(roster) > MaxRoster {
		return nil, fmt.Errorf("roster of %d members: %w", len(roster), ErrMalformed)
	}
	salt := epochSalt(room, number, parent)
	e := &Epoch{room: room, tags: map[[16]byte]int{}}
	e.ref.Number = number
	id := hkdf32(secret[:], salt, LabelKeyID)
	copy(e.ref.KeyID[:], id[:16])
	e.tagKey = hkdf32(secret[:], salt, LabelSenderTagKey)
	e.hdrKey = hkdf32(secret[:], salt, LabelHeaderKey)
	e.roster = sortedRoster(roster)
	for i := 1; i < len(e.roster); i++ {
		if e.roster[i].Equal(e.roster[i-1]) {
			return nil, fmt.Errorf("roster lists a member twice: %w", ErrMalformed)
		}
	}
	e.chains = make([]chain, len(e.roster))
	for i, pub := range e.roster {
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("roster key of %d bytes: %w", len(pub), ErrMalformed)
		}
		e.chains[i].ck = hkdf32(secret[:], salt, LabelChain+string(pub))
		e.tags[e.SenderTag(pub)] = i
	}
	return e, nil
}

// EpochKeyID returns the key id of the epoch number of room with parent
// hash parent whose secret is secret: what a commit names.
func EpochKeyID(room RoomID, number uint32, parent [32]byte, secret *[32]byte) [16]byte {
	id := hkdf32(secret[:], epochSalt(room, number, parent), LabelKeyID)
	return [16]byte(id[:16])
}

func epochSalt(room RoomID, number uint32, parent [32]byte) []byte {
	salt := binary.BigEndian.AppendUint32(append([]byte(nil), room[:]...), number)
	return append(salt, parent[:]...)
}

// EpochOf derives the epoch that commit c makes from secret, after checking
// (in constant time) that the secret's key id is the one c names. The
// caller verifies c and erases secret.
func EpochOf(c *Commit, secret *[32]byte) (*Epoch, error) {
	id := EpochKeyID(c.Room, c.Number, c.Parent, secret)
	if !hmac.Equal(id[:], c.KeyID[:]) {
		return nil, ErrCommitKey
	}
	return NewEpoch(c.Room, c.Number, c.Parent, secret, c.Roster)
}

func sortedRoster(r []ed25519.PublicKey) []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(r))
	for i, p := range r {
		out[i] = bytes.Clone(p)
	}
	slices.SortFunc(out, func(a, b ed25519.PublicKey) int { return bytes.Compare(a, b) })
	return out
}

// Ref returns the epoch's number and key id.
func (e *Epoch) Ref() EpochRef { return e.ref }

// Room returns the room the epoch belongs to.
func (e *Epoch) Room() RoomID { return e.room }

// Roster returns the epoch's members, sorted.
func (e *Epoch) Roster() []ed25519.PublicKey { return sortedRoster(e.roster) }

// InRoster reports whether pub is a member of the epoch.
func (e *Epoch) InRoster(pub ed25519.PublicKey) bool { return e.member(pub) >= 0 }

func (e *Epoch) member(pub ed25519.PublicKey) int {
	i, ok := slices.BinarySearchFunc(e.roster, pub, func(a, b ed25519.PublicKey) int { return bytes.Compare(a, b) })
	if !ok {
		return -1
	}
	return i
}

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

// nextSendKey returns author's next message index and key and advances the
// chain, erasing the used chain key.
func (e *Epoch) nextSendKey(author ed25519.PublicKey) (uint32, [32]byte, error) {
	i := e.member(author)
	if i < 0 {
		return 0, [32]byte{}, ErrNotInRoster
	}
	c := &e.chains[i]
	idx := c.next
	mk := c.advance()
	return idx, mk, nil
}

// ratchetSteps counts chain steps taken, so tests can tell how much work
// an envelope cost without measuring time.
var ratchetSteps atomic.Uint64

func (c *chain) advance() [32]byte {
	ratchetSteps.Add(1)
	mk := hmac32(c.ck[:], 0x01)
	next := hmac32(c.ck[:], 0x02)
	clear(c.ck[:])
	c.ck = next
	c.next++
	return mk
}

// trimSkipped keeps the newest MaxSkipped skipped keys.
func (c *chain) trimSkipped() {
	for len(c.skipped) > MaxSkipped {
		oldest := uint32(0)
		found := false
		for k := range c.skipped {
			if !found || k < oldest {
				oldest, found = k, true
			}
		}
		sk := c.skipped[oldest]
		clear(sk[:])
		delete(c.skipped, oldest)
	}
}

// Erase overwrites the epoch's key material (best effort: Go may have copied
// it). The Epoch must not be used afterwards.
func (e *Epoch) Erase() {
	clear(e.tagKey[:])
	clear(e.hdrKey[:])
	e.erased = true
	for i := range e.chains {
		clear(e.chains[i].ck[:])
		for k, v := range e.chains[i].skipped {
			clear(v[:])
			delete(e.chains[i].skipped, k)
		}
	}
}

// MessageID returns the stable identifier of author's message number seq
// in room: the first 16 bytes of SHA-256(LabelMessageID || room || author
// || seq), so that it differs between rooms. (v1 ids, stored before,
// left the room out.)
func MessageID(room RoomID, author ed25519.PublicKey, seq uint64) [16]byte {
	h := sha256.New()
	h.Write([]byte(LabelMessageID))
	h.Write(room[:])
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

func hmac32(key []byte, b byte) [32]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte{b})
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}
