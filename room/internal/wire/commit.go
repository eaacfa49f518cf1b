package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Labels of the epoch chain.
const (
	LabelCommit     = "p2pchat/v3/commit"
	LabelCommitHash = "p2pchat/v3/commit-hash"
)

// MaxChain bounds the commits of one transfer or grant.
const MaxChain = 16

// Errors of the epoch chain.
var (
	ErrCommit     = errors.New("commit does not follow its parent")
	ErrCommitSig  = errors.New("commit signature does not verify")
	ErrCommitKey  = errors.New("commit key id does not match the secret")
	ErrChainBreak = errors.New("commits do not form a chain from a known commit")
)

// Change says what a commit changes.
type Change byte

// Changes of a commit.
const (
	ChangeCreate Change = 0 // number 0: the room's first epoch, roster {author}
	ChangeJoin   Change = 1 // one subject joins
	ChangeRemove Change = 2 // the subjects leave
)

// Commit is the signed statement that makes an epoch: who made it, on which
// parent, why, for which roster and which secret (by key id). Its author
// signs it with its node key; every member verifies it on its parent
// before adopting the epoch (see [VerifyCommit]).
type Commit struct {
	Room     RoomID
	Number   uint32
	Parent   [32]byte // hash of the parent commit; zero for number 0
	Author   ed25519.PublicKey
	Change   Change
	Subjects []ed25519.PublicKey // the joiner, or the removed members
	Roster   []ed25519.PublicKey // sorted, unique
	KeyID    [16]byte
	Sig      [64]byte
}

// Ref returns the epoch the commit makes.
func (c *Commit) Ref() EpochRef { return EpochRef{Number: c.Number, KeyID: c.KeyID} }

// InRoster reports whether pub is a member of the commit's epoch.
func (c *Commit) InRoster(pub ed25519.PublicKey) bool { return inKeys(c.Roster, pub) }

func inKeys(keys []ed25519.PublicKey, pub ed25519.PublicKey) bool {
	return slices.ContainsFunc(keys, func(k ed25519.PublicKey) bool { return k.Equal(pub) })
}

func appendKeys(b []byte, keys []ed25519.PublicKey) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(keys)))
	for _, p := range keys {
		b = append(b, p...)
	}
	return b
}

// signed returns the commit's fields before the signature.
func (c *Commit) signed() []byte {
	b := []byte{Version}
	b = append(b, c.Room[:]...)
	b = binary.BigEndian.AppendUint32(b, c.Number)
	b = append(b, c.Parent[:]...)
	b = append(b, c.Author...)
	b = append(b, byte(c.Change))
	b = appendKeys(b, c.Subjects)
	b = appendKeys(b, c.Roster)
	return append(b, c.KeyID[:]...)
}

// Encode returns the commit's bytes: version (1) | room (16) | number (4) |
// parent (32) | author (32) | change (1) | subjects (2 + 32 each) | roster
// (2 + 32 each) | key id (16) | signature (64).
func (c *Commit) Encode() []byte { return append(c.signed(), c.Sig[:]...) }

// Hash is SHA-256(LabelCommitHash || encoded commit).
func (c *Commit) Hash() [32]byte {
	h := sha256.New()
	h.Write([]byte(LabelCommitHash))
	h.Write(c.Encode())
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Sign sets the signature: sign is given LabelCommit || the fields before
// the signature.
func (c *Commit) Sign(sign Signer) {
	copy(c.Sig[:], sign(append([]byte(LabelCommit), c.signed()...)))
}

func (c *Commit) verifySig() bool {
	return len(c.Author) == ed25519.PublicKeySize &&
		ed25519.Verify(c.Author, append([]byte(LabelCommit), c.signed()...), c.Sig[:])
}

// DecodeCommit parses one commit. It refuses other versions, unknown
// changes, unsorted or oversized rosters and trailing bytes; it does not
// verify the signature (see [VerifyCommit]).
func DecodeCommit(b []byte) (*Commit, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("commit of 0 bytes: %w", ErrMalformed)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("commit version %d: %w", b[0], ErrVersion)
	}
	r := &reader{p: b[1:]}
	c := decodeCommit(r)
	if !r.done() {
		return nil, fmt.Errorf("commit of %d bytes: %w", len(b), ErrMalformed)
	}
	return c, nil
}

// decodeCommit reads a commit after its version byte.
func decodeCommit(r *reader) *Commit {
	c := &Commit{}
	copy(c.Room[:], r.take(16))
	c.Number = r.u32()
	copy(c.Parent[:], r.take(32))
	c.Author = bytes.Clone(r.take(ed25519.PublicKeySize))
	c.Change = Change(r.take(1)[0])
	if c.Change > ChangeRemove {
		r.bad = true
	}
	c.Subjects = r.keys(0)
	c.Roster = r.keys(1)
	if !sortedUnique(c.Roster) {
		r.bad = true
	}
	copy(c.KeyID[:], r.take(16))
	copy(c.Sig[:], r.take(64))
	return c
}

// keys reads a count (at least min, at most MaxRoster) and that many keys.
func (r *reader) keys(min int) []ed25519.PublicKey {
	n := int(r.u16())
	if n < min || n > MaxRoster || n*ed25519.PublicKeySize > len(r.p) {
		r.bad = true
		return nil
	}
	out := make([]ed25519.PublicKey, 0, n)
	for range n {
		out = append(out, bytes.Clone(r.take(ed25519.PublicKeySize)))
	}
	return out
}

func sortedUnique(keys []ed25519.PublicKey) bool {
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			return false
		}
	}
	return true
}

// NewCommit returns an unsigned commit of change on parent (nil for a
// create) by author, for the epoch whose key id is keyID; the roster is
// computed from the parent's and the subjects.
func NewCommit(room RoomID, parent *Commit, author ed25519.PublicKey, change Change, subjects []ed25519.PublicKey, keyID [16]byte) (*Commit, error) {
	c := &Commit{Room: room, Author: bytes.Clone(author), Change: change, Subjects: sortedRoster(subjects), KeyID: keyID}
	switch {
	case change == ChangeCreate && parent == nil:
		c.Roster = []ed25519.PublicKey{c.Author}
	case parent == nil, change == ChangeCreate:
		return nil, fmt.Errorf("create must have no parent: %w", ErrCommit)
	case parent.Number == math.MaxUint32:
		return nil, fmt.Errorf("epoch number exhausted: %w", ErrCommit)
	default:
		c.Number, c.Parent = parent.Number+1, parent.Hash()
		c.Roster = nextRoster(parent.Roster, change, c.Subjects)
	}
	if err := verifyShape(parent, c); err != nil {
		return nil, err
	}
	return c, nil
}

// nextRoster is parent's roster with the subjects added (join) or removed.
func nextRoster(parent []ed25519.PublicKey, change Change, subjects []ed25519.PublicKey) []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, p := range parent {
		if change != ChangeRemove || !inKeys(subjects, p) {
			out = append(out, p)
		}
	}
	if change == ChangeJoin {
		out = append(out, subjects...)
	}
	return sortedRoster(out)
}

// VerifyCommit checks that c is a valid successor of parent (nil: c must be
// a create): same room, number parent+1 without wrap, the parent's hash,
// an author in both rosters, the change's rules, and the signature.
func VerifyCommit(parent, c *Commit) error {
	if err := verifyShape(parent, c); err != nil {
		return err
	}
	if !c.verifySig() {
		return ErrCommitSig
	}
	return nil
}

func verifyShape(parent, c *Commit) error {
	bad := func(why string) error { return fmt.Errorf("commit %d: %s: %w", c.Number, why, ErrCommit) }
	if len(c.Roster) == 0 || len(c.Roster) > MaxRoster || !sortedUnique(c.Roster) {
		return bad("roster not sorted, empty or too large")
	}
	if !c.InRoster(c.Author) {
		return bad("author not in the new roster")
	}
	if c.Change == ChangeCreate {
		if parent != nil || c.Number != 0 || c.Parent != ([32]byte{}) || len(c.Subjects) != 0 || len(c.Roster) != 1 {
			return bad("create must be number 0 with roster {author}")
		}
		return nil
	}
	switch {
	case parent == nil:
		return bad("no parent")
	case c.Room != parent.Room:
		return bad("other room")
	case parent.Number == math.MaxUint32 || c.Number != parent.Number+1:
		return bad("number is not parent+1")
	case c.Parent != parent.Hash():
		return bad("parent hash")
	case !parent.InRoster(c.Author):
		return bad("author not in the parent roster")
	}
	switch c.Change {
	case ChangeJoin:
		if len(c.Subjects) != 1 || parent.InRoster(c.Subjects[0]) {
			return bad("join of other than one new member")
		}
	case ChangeRemove:
		if len(c.Subjects) == 0 || inKeys(c.Subjects, c.Author) {
			return bad("remove of nobody or of its author")
		}
		for _, s := range c.Subjects {
			if !parent.InRoster(s) {
				return bad("remove of a non-member")
			}
		}
	default:
		return bad("unknown change")
	}
	want := nextRoster(parent.Roster, c.Change, c.Subjects)
	if !slices.EqualFunc(want, c.Roster, func(a, b ed25519.PublicKey) bool { return a.Equal(b) }) {
		return bad("roster does not follow from the change")
	}
	return nil
}

// VerifyChain checks that commits (oldest first) follow base one by one.
func VerifyChain(base *Commit, commits []*Commit) error {
	p := base
	for _, c := range commits {
		if err := VerifyCommit(p, c); err != nil {
			return err
		}
		p = c
	}
	return nil
}

// Prefer reports whether branch a wins over branch b, both the commits
// (oldest first) after their common ancestor; one may be empty (its tip is
// the ancestor). If a commit on one branch removes the author of a commit
// on the other and not the other way round, the removing branch wins: a
// removed member's commits never win against the branch that removed it
// (a removal the same branch undoes by joining the member again does not
// count). Otherwise the higher tip number wins, then the lower tip key id (what
// envelope headers carry, so that every node ranks epochs it sees named the
// same way, see [EpochRef.Better]), then the lower tip hash.
func Prefer(a, b []*Commit) bool {
	ra, rb := RemovesAuthorOf(a, b), RemovesAuthorOf(b, a)
	if ra != rb {
		return ra
	}
	if ra && rb {
		// Each removes the other's author (a partition, or a departed
		// member removing one who removed it): the branch that keeps more
		// of the ancestor's members wins. A lone member cannot make its
		// branch keep more by making it longer.
		if ka, kb := Kept(a), Kept(b); ka != kb {
			return ka > kb
		}
	}
	switch {
	case len(b) == 0:
		return len(a) > 0
	case len(a) == 0:
		return false
	}
	ta, tb := a[len(a)-1], b[len(b)-1]
	if ta.Number != tb.Number {
		return ta.Number > tb.Number
	}
	if ta.KeyID != tb.KeyID {
		return bytes.Compare(ta.KeyID[:], tb.KeyID[:]) < 0
	}
	ha, hb := ta.Hash(), tb.Hash()
	return bytes.Compare(ha[:], hb[:]) < 0
}

// RemovesAuthorOf reports whether a commit of a removes the author of a
// commit of b (and a does not join it again later).
func RemovesAuthorOf(a, b []*Commit) bool {
	for i, c := range a {
		if c.Change != ChangeRemove {
			continue
		}
		for _, d := range b {
			if inKeys(c.Subjects, d.Author) && !joinsLater(a[i+1:], d.Author) {
				return true
			}
		}
	}
	return false
}

func joinsLater(cs []*Commit, pub ed25519.PublicKey) bool {
	for _, c := range cs {
		if c.Change == ChangeJoin && inKeys(c.Subjects, pub) {
			return true
		}
	}
	return false
}

// Kept returns how many members of the roster the branch starts from (the
// parent of its first commit) are still in its tip's roster.
func Kept(branch []*Commit) int {
	if len(branch) == 0 {
		return 0
	}
	first, tip := branch[0], branch[len(branch)-1]
	var base []ed25519.PublicKey
	switch first.Change {
	case ChangeRemove:
		base = append(append(base, first.Roster...), first.Subjects...)
	case ChangeJoin:
		for _, p := range first.Roster {
			if !inKeys(first.Subjects, p) {
				base = append(base, p)
			}
		}
	}
	n := 0
	for _, p := range base {
		if tip.InRoster(p) {
			n++
		}
	}
	return n
}

// MutualTie reports whether each branch removes an author of the other and
// both keep as many of the ancestor's members: then nothing in the chain
// says which side is right, and fork choice falls back to numbers.
func MutualTie(a, b []*Commit) bool {
	return RemovesAuthorOf(a, b) && RemovesAuthorOf(b, a) && Kept(a) == Kept(b)
}
