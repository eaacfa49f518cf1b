package identity

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrBadFingerprint is returned (wrapped) by [ParseFingerprint] when the input
// has the wrong length, a character outside the base32 alphabet, or a check
// character that does not match its chunk.
var ErrBadFingerprint = errors.New("not a valid fingerprint")

// fingerprintLabel separates fingerprint hashes from every other use of a
// public key.
const fingerprintLabel = "p2pchat/v1/fingerprint"

const (
	alphabet   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // RFC 4648 base32
	chunkLen   = 13                                 // base32 characters per check character
	chunks     = 4                                  // 4 × 13 = 52 = len(base32 of 32 bytes)
	fullLen    = chunks * (chunkLen + 1)            // 56
	groupLen   = 7                                  // characters between dashes
	shortLen   = 5                                  // characters in Short
	dataLength = chunks * chunkLen                  // 52
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Fingerprint identifies a public key to humans: SHA-256 of
// "p2pchat/v1/fingerprint" followed by the 32-byte Ed25519 public key. The
// package documentation describes its printed form. The zero value is the
// fingerprint of no key.
type Fingerprint [32]byte

// FingerprintOf returns the fingerprint of pub, which should be 32 bytes; it
// is hashed as given.
func FingerprintOf(pub ed25519.PublicKey) Fingerprint {
	h := sha256.New()
	h.Write([]byte(fingerprintLabel))
	h.Write(pub)
	var f Fingerprint
	h.Sum(f[:0])
	return f
}

// PeerFingerprint returns the fingerprint of the Ed25519 public key embedded
// in p. It returns an error if p does not embed an Ed25519 public key.
func PeerFingerprint(p peer.ID) (Fingerprint, error) {
	pub, err := PublicKeyOf(p)
	if err != nil {
		return Fingerprint{}, err
	}
	return FingerprintOf(pub), nil
}

// PublicKeyOf returns the 32-byte Ed25519 public key embedded in p. It
// returns an error if p is malformed, does not embed its public key (as with
// hashed RSA or ECDSA peer IDs), or embeds a key of another type.
func PublicKeyOf(p peer.ID) (ed25519.PublicKey, error) {
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("identity: cannot get public key from peer ID %s: %w", p, err)
	}
	ek, ok := pk.(*crypto.Ed25519PublicKey)
	if !ok {
		return nil, fmt.Errorf("identity: peer ID %s has a %s key, want Ed25519", p, pk.Type())
	}
	raw, err := ek.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("identity: peer ID %s has a malformed Ed25519 key", p)
	}
	return append(ed25519.PublicKey(nil), raw...), nil
}

// String returns the full form: 56 upper-case base32 and check characters in
// 8 groups of 7 joined by '-'. The package documentation describes the
// algorithm.
func (f Fingerprint) String() string {
	data := b32.EncodeToString(f[:])
	full := make([]byte, 0, fullLen)
	for i := range chunks {
		chunk := data[i*chunkLen : (i+1)*chunkLen]
		full = append(full, chunk...)
		full = append(full, luhnCheck(chunk))
	}
	var b strings.Builder
	b.Grow(fullLen + fullLen/groupLen - 1)
	for i := 0; i < fullLen; i += groupLen {
		if i > 0 {
			b.WriteByte('-')
		}
		b.Write(full[i : i+groupLen])
	}
	return b.String()
}

// Short returns the first 5 base32 characters of the fingerprint in lower
// case, e.g. "k3f9q". It is a display name, not something to verify.
func (f Fingerprint) Short() string {
	return strings.ToLower(b32.EncodeToString(f[:])[:shortLen])
}

// MarshalText returns the full form, as [Fingerprint.String]. It never fails.
func (f Fingerprint) MarshalText() ([]byte, error) {
	return []byte(f.String()), nil
}

// UnmarshalText parses text with [ParseFingerprint]. On error f is unchanged.
func (f *Fingerprint) UnmarshalText(text []byte) error {
	p, err := ParseFingerprint(string(text))
	if err != nil {
		return err
	}
	*f = p
	return nil
}

// ParseFingerprint parses the full form written by [Fingerprint.String]. It
// ignores case, dashes and spaces, so the grouping does not matter. It returns
// an error wrapping [ErrBadFingerprint] unless exactly 56 base32 characters
// remain, every chunk's check character matches, and the data is the
// canonical encoding of 32 bytes.
func ParseFingerprint(s string) (Fingerprint, error) {
	full := make([]byte, 0, fullLen)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		if strings.IndexByte(alphabet, c) < 0 {
			return Fingerprint{}, fmt.Errorf("%w: character %q is not in the base32 alphabet", ErrBadFingerprint, c)
		}
		if len(full) == fullLen {
			return Fingerprint{}, fmt.Errorf("%w: more than %d characters", ErrBadFingerprint, fullLen)
		}
		full = append(full, c)
	}
	if len(full) != fullLen {
		return Fingerprint{}, fmt.Errorf("%w: %d characters, want %d", ErrBadFingerprint, len(full), fullLen)
	}

	data := make([]byte, 0, dataLength)
	for i := range chunks {
		chunk := full[i*(chunkLen+1) : (i+1)*(chunkLen+1)]
		if luhnCheck(string(chunk[:chunkLen])) != chunk[chunkLen] {
			return Fingerprint{}, fmt.Errorf("%w: characters %d–%d do not add up: typo?", ErrBadFingerprint, i*(chunkLen+1)+1, (i+1)*(chunkLen+1))
		}
		data = append(data, chunk[:chunkLen]...)
	}

	var f Fingerprint
	if n, err := b32.Decode(f[:], data); err != nil || n != len(f) {
		return Fingerprint{}, fmt.Errorf("%w: cannot decode base32", ErrBadFingerprint)
	}
	// The last character carries 4 unused bits; insisting on the canonical
	// encoding keeps the mapping from strings to fingerprints one-to-one.
	if b32.EncodeToString(f[:]) != string(data) {
		return Fingerprint{}, fmt.Errorf("%w: non-canonical encoding", ErrBadFingerprint)
	}
	return f, nil
}

// luhnCheck returns the Luhn mod 32 check character of s, whose characters
// must all be in alphabet.
func luhnCheck(s string) byte {
	const n = len(alphabet)
	sum := 0
	double := true // the rightmost character is doubled
	for i := len(s) - 1; i >= 0; i-- {
		v := strings.IndexByte(alphabet, s[i])
		if double {
			v *= 2
			v = v/n + v%n
		}
		sum += v
		double = !double
	}
	return alphabet[(n-sum%n)%n]
}
