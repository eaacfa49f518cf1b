package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Identity is a node's long-term Ed25519 key pair with the values derived
// from it. It is immutable and safe for concurrent use. The zero value is not
// usable; obtain one from [Generate], [FromSeed], [Load] or [LoadOrCreate].
type Identity struct {
	_ [0]func() // incomparable: compare PeerIDs instead

	// priv is behind a pointer so that printing an Identity with %v or %#v
	// shows an address rather than the key bytes.
	priv *[ed25519.PrivateKeySize]byte
	key  crypto.PrivKey
	id   peer.ID
	fp   Fingerprint
}

// Generate returns a new random Identity read from crypto/rand.
func Generate() (*Identity, error) {
	var seed [ed25519.SeedSize]byte
	defer clear(seed[:])
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("identity: failed to generate key: %w", err)
	}
	return FromSeed(seed[:])
}

// FromSeed returns the Identity for a 32-byte Ed25519 seed (RFC 8032 private
// key). It copies seed. It returns an error if seed is not 32 bytes long.
func FromSeed(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("identity: seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	full := ed25519.NewKeyFromSeed(seed)
	defer clear(full)
	priv := new([ed25519.PrivateKeySize]byte)
	copy(priv[:], full)

	key, err := crypto.UnmarshalEd25519PrivateKey(priv[:])
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("identity: failed to derive peer ID: %w", err)
	}
	return &Identity{
		priv: priv,
		key:  key,
		id:   id,
		fp:   FingerprintOf(ed25519.PublicKey(priv[ed25519.SeedSize:])),
	}, nil
}

// PrivKey returns the key in libp2p form (an Ed25519 key), for use as the
// host's identity.
func (id *Identity) PrivKey() crypto.PrivKey { return id.key }

// PeerID returns the libp2p peer ID, which embeds the public key.
func (id *Identity) PeerID() peer.ID { return id.id }

// PublicKey returns a copy of the 32-byte Ed25519 public key.
func (id *Identity) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), id.priv[ed25519.SeedSize:]...)
}

// Sign returns the Ed25519 signature of msg. It applies no domain separation:
// msg must already start with a label naming what is being signed.
func (id *Identity) Sign(msg []byte) []byte {
	return ed25519.Sign(id.priv[:], msg)
}

// Fingerprint returns the fingerprint of the public key, see [FingerprintOf].
func (id *Identity) Fingerprint() Fingerprint { return id.fp }

// seed returns the 32-byte seed, aliasing the Identity's memory.
func (id *Identity) seed() []byte { return id.priv[:ed25519.SeedSize] }
