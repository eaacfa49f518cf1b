package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
)

// safetyLabel separates safety-number hashes from every other use of a
// public key.
const safetyLabel = "p2pchat/v1/safety-number"

const (
	safetyGroups = 6      // groups of digits
	safetyDigits = 5      // digits per group
	safetyMod    = 100000 // 10^safetyDigits
)

// SafetyNumber returns the safety number of two Ed25519 public keys: six
// groups of five digits that both sides compute alike (the keys are put in
// byte order first), for people to compare aloud instead of two
// fingerprints. It is SHA-256 of the label "p2pchat/v1/safety-number", the
// lower key and the higher key; group i is bytes 5i to 5i+4 of the hash, as
// a big-endian number, modulo 100000, with leading zeros. The six groups
// carry about 100 bits. Both keys must be 32 bytes.
func SafetyNumber(a, b ed25519.PublicKey) (string, error) {
	if len(a) != ed25519.PublicKeySize || len(b) != ed25519.PublicKeySize {
		return "", fmt.Errorf("safety number: keys of %d and %d bytes, want %d", len(a), len(b), ed25519.PublicKeySize)
	}
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	h := sha256.New()
	h.Write([]byte(safetyLabel))
	h.Write(a)
	h.Write(b)
	sum := h.Sum(nil)
	groups := make([]string, safetyGroups)
	for i := range groups {
		var v [8]byte
		copy(v[3:], sum[5*i:5*i+5])
		groups[i] = fmt.Sprintf("%05d", binary.BigEndian.Uint64(v[:])%safetyMod)
	}
	return strings.Join(groups, " "), nil
}

// LooksLikeSafetyNumber reports whether s is digits only, once spaces and
// dashes are left out: a safety number, not a fingerprint.
func LooksLikeSafetyNumber(s string) bool {
	d := normalise(s)
	if d == "" {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// CheckSafetyNumber reports whether s, as typed (spaces and dashes do not
// matter), is the safety number want. The digits are compared in constant
// time. One group that differs is taken for a typo (an error wrapping
// [ErrBadFingerprint] that names it): another key leaves five groups alike
// with a chance of 1 in 10^25. More is an error wrapping [ErrMismatch].
func CheckSafetyNumber(want, s string) error {
	w, got := normalise(want), normalise(s)
	if len(got) != len(w) {
		return fmt.Errorf("%w: %d digits, a safety number has %d", ErrBadFingerprint, len(got), len(w))
	}
	if subtle.ConstantTimeCompare([]byte(w), []byte(got)) == 1 {
		return nil
	}
	var differ []int
	for g := 0; g*safetyDigits < len(w); g++ {
		lo, hi := g*safetyDigits, min(len(w), (g+1)*safetyDigits)
		if w[lo:hi] != got[lo:hi] {
			differ = append(differ, g+1)
		}
	}
	if len(differ) == 1 {
		return fmt.Errorf("%w: group %d of the safety number does not match: typo?", ErrBadFingerprint, differ[0])
	}
	return fmt.Errorf("%w: the safety numbers differ", ErrMismatch)
}

// PeerSafetyNumber returns the [SafetyNumber] of the Ed25519 keys embedded
// in a and b.
func PeerSafetyNumber(a, b peer.ID) (string, error) {
	ka, err := PublicKeyOf(a)
	if err != nil {
		return "", err
	}
	kb, err := PublicKeyOf(b)
	if err != nil {
		return "", err
	}
	return SafetyNumber(ka, kb)
}
