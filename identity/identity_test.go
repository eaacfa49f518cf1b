package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestGenerate(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if a.PeerID() == b.PeerID() || a.Fingerprint() == b.Fingerprint() {
		t.Error("two generated identities are equal")
	}
	if a.PrivKey().Type() != crypto.Ed25519 {
		t.Errorf("PrivKey type = %v, want Ed25519", a.PrivKey().Type())
	}
	if !a.PeerID().MatchesPrivateKey(a.PrivKey()) {
		t.Error("PeerID does not match PrivKey")
	}
	if pid, _ := peer.IDFromPrivateKey(a.PrivKey()); pid != a.PeerID() {
		t.Errorf("PeerID = %s, want %s", a.PeerID(), pid)
	}
	if a.Fingerprint() != FingerprintOf(a.PublicKey()) {
		t.Error("Fingerprint != FingerprintOf(PublicKey)")
	}
	if fp, err := PeerFingerprint(a.PeerID()); err != nil || fp != a.Fingerprint() {
		t.Errorf("PeerFingerprint(PeerID) = %v, %v; want %v", fp, err, a.Fingerprint())
	}
}

func TestFromSeed(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	a, err := FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	want := a.PeerID()
	clear(seed) // FromSeed must have copied it
	seed = bytes.Repeat([]byte{7}, ed25519.SeedSize)
	b, err := FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if a.PeerID() != want || b.PeerID() != want {
		t.Errorf("same seed gave peer IDs %s and %s", a.PeerID(), b.PeerID())
	}
	if !bytes.Equal(a.PublicKey(), ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)) {
		t.Error("PublicKey does not match ed25519.NewKeyFromSeed")
	}

	for _, n := range []int{0, 31, 33, 64} {
		if id, err := FromSeed(make([]byte, n)); err == nil {
			t.Errorf("FromSeed(%d bytes) = %v, want error", n, id.PeerID())
		}
	}
}

func TestSign(t *testing.T) {
	id, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("p2pchat/v1/test\x00hello")
	sig := id.Sign(msg)
	if !ed25519.Verify(id.PublicKey(), msg, sig) {
		t.Fatal("signature does not verify")
	}
	if ed25519.Verify(id.PublicKey(), []byte("p2pchat/v1/test\x00hellO"), sig) {
		t.Error("signature verifies for another message")
	}
	pub, err := PublicKeyOf(id.PeerID())
	if err != nil || !ed25519.Verify(pub, msg, sig) {
		t.Errorf("signature does not verify with the key from the peer ID (%v)", err)
	}
	if ok, err := id.PrivKey().GetPublic().Verify(msg, sig); !ok || err != nil {
		t.Errorf("libp2p key does not verify the signature (%v)", err)
	}
}

func TestPublicKeyIsCopy(t *testing.T) {
	id, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	pub := id.PublicKey()
	want := bytes.Clone(pub)
	clear(pub)
	if !bytes.Equal(id.PublicKey(), want) {
		t.Error("modifying PublicKey's result changed the Identity")
	}
}

// TestPrintDoesNotLeak checks that formatting an Identity by accident does
// not print the private key.
func TestPrintDoesNotLeak(t *testing.T) {
	seed := bytes.Repeat([]byte{0xab}, ed25519.SeedSize)
	id, err := FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v %v %+v %#v", id, id, id, *id, *id, *id) + fmt.Sprint(id, *id)
	secrets := []string{
		fmt.Sprint(seed[:4])[1:12], // "171 171 171"
		hex.EncodeToString(seed[:4]),
		base64.StdEncoding.EncodeToString(seed[:6]),
		"0xab, 0xab",
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("formatted Identity contains %q:\n%s", s, out)
		}
	}
}
