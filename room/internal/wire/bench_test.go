package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
)

// benchRoom builds an epoch of n members from one secret twice: the
// sender's copy and a receiver's. The first member's private key signs.
func benchRoom(b *testing.B, n int) (send, recv *Epoch, author ed25519.PrivateKey) {
	b.Helper()
	var secret [32]byte
	rand.Read(secret[:])
	roster := make([]ed25519.PublicKey, n)
	for i := range roster {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			author = priv
		}
		roster[i] = pub
	}
	room := DeriveRoomID("bench")
	var err error
	if send, err = NewEpoch(room, 1, [32]byte{}, &secret, roster); err != nil {
		b.Fatal(err)
	}
	if recv, err = NewEpoch(room, 1, [32]byte{}, &secret, roster); err != nil {
		b.Fatal(err)
	}
	return send, recv, author
}

// benchBody is a 256-byte chat message, the size p2pchat-bench sends.
func benchBody(author ed25519.PrivateKey, seq uint64) *Body {
	return &Body{
		Kind:   KindText,
		Author: author.Public().(ed25519.PublicKey),
		Seq:    seq,
		Time:   1_700_000_000_000_000_000,
		Nick:   "bench",
		Text:   strings.Repeat("x", 256),
	}
}

// BenchmarkSealSign is the sender's cost of one message: ratchet step,
// sender tag, Ed25519 signature and XChaCha20-Poly1305 encryption.
func BenchmarkSealSign(b *testing.B) {
	send, _, author := benchRoom(b, 10)
	sign := func(m []byte) []byte { return ed25519.Sign(author, m) }
	body := benchBody(author, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(send, body, sign); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyOpen is a receiver's cost of one message: ratchet step,
// decryption, body decoding and signature verification. Envelopes are
// sealed beforehand, in chain order.
func BenchmarkVerifyOpen(b *testing.B) {
	send, recv, author := benchRoom(b, 10)
	sign := func(m []byte) []byte { return ed25519.Sign(author, m) }
	envs := make([][]byte, b.N)
	for i := range envs {
		env, err := Seal(send, benchBody(author, uint64(i)), sign)
		if err != nil {
			b.Fatal(err)
		}
		envs[i] = env
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := Open(recv, envs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRatchetStep is one step of a sender's hash ratchet: the next
// message key and chain key.
func BenchmarkRatchetStep(b *testing.B) {
	send, _, author := benchRoom(b, 2)
	pub := author.Public().(ed25519.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := send.nextSendKey(pub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewEpoch is the key derivation every member does on a rekey:
// tag, rekey and one chain key per member.
func BenchmarkNewEpoch(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			send, _, _ := benchRoom(b, n)
			roster := send.Roster()
			var secret [32]byte
			rand.Read(secret[:])
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewEpoch(send.Room(), 2, [32]byte{}, &secret, roster); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
