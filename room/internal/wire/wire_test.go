package wire

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

var update = flag.Bool("update", false, "rewrite testdata vectors")

// vector is one known-answer envelope: everything needed to rebuild it with
// a fixed nonce, and the expected bytes.
type vector struct {
	Name       string `json:"name"`
	RoomName   string `json:"room_name"`
	RoomID     string `json:"room_id"`
	Epoch      uint32 `json:"epoch"`
	Secret     string `json:"secret"`
	KeyID      string `json:"key_id"`
	HeaderKey  string `json:"header_key"`
	AuthorSeed string `json:"author_seed"`
	OtherSeed  string `json:"other_seed"` // a second roster member
	Index      uint32 `json:"index"`      // messages the author sends before this one
	Kind       Kind   `json:"kind"`
	Seq        uint64 `json:"seq"`
	Time       int64  `json:"time"`
	Clock      uint64 `json:"clock"`
	Nick       string `json:"nick"`
	Text       string `json:"text"`
	Ref        string `json:"ref,omitempty"`     // reply, reaction: the message id, hex
	RefSeq     uint64 `json:"ref_seq,omitempty"` // edit, delete
	Ext        string `json:"ext,omitempty"`     // a kind this version does not know: its extension, hex
	Nonce      string `json:"nonce"`
	Envelope   string `json:"envelope"`
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// build seals the vector with a fixed nonce and returns the receiving
// side's epoch (fresh, as a member that has read nothing yet) too.
func (v *vector) build(t testing.TB) (send, recv *Epoch, env []byte) {
	var secret [32]byte
	copy(secret[:], unhex(t, v.Secret))
	priv := ed25519.NewKeyFromSeed(unhex(t, v.AuthorSeed))
	other := ed25519.NewKeyFromSeed(unhex(t, v.OtherSeed))
	roster := []ed25519.PublicKey{priv.Public().(ed25519.PublicKey), other.Public().(ed25519.PublicKey)}
	send = mustEpoch(t, DeriveRoomID(v.RoomName), v.Epoch, &secret, roster)
	recv = mustEpoch(t, DeriveRoomID(v.RoomName), v.Epoch, &secret, roster)
	b := &Body{Kind: v.Kind, Author: priv.Public().(ed25519.PublicKey), Seq: v.Seq, Time: v.Time, Clock: v.Clock, Nick: v.Nick, Text: v.Text,
		RefSeq: v.RefSeq, Ext: unhex(t, v.Ext)}
	if len(b.Ext) == 0 {
		b.Ext = nil
	}
	copy(b.Ref[:], unhex(t, v.Ref))
	if err := b.check(); err != nil {
		t.Fatal(err)
	}
	var idx uint32
	var mk [32]byte
	for range v.Index + 1 {
		var err error
		if idx, mk, err = send.nextSendKey(b.Author); err != nil {
			t.Fatal(err)
		}
	}
	h := Header{Version: Version, Room: send.room, Epoch: send.ref, Sender: send.SenderTag(b.Author), Index: idx}
	copy(h.Nonce[:], unhex(t, v.Nonce))
	return send, recv, seal(send, &mk, &h, b, func(m []byte) []byte { return ed25519.Sign(priv, m) })
}

func mustEpoch(t testing.TB, room RoomID, n uint32, secret *[32]byte, roster []ed25519.PublicKey) *Epoch {
	t.Helper()
	e, err := NewEpoch(room, n, [32]byte{}, secret, roster)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func loadVectors(t *testing.T) []vector {
	b, err := os.ReadFile(filepath.Join("testdata", "envelopes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	if len(vs) < 3 {
		t.Fatalf("only %d vectors", len(vs))
	}
	for i := range vs {
		v := &vs[i]
		t.Run(v.Name, func(t *testing.T) {
			e, recv, env := v.build(t)
			rid := DeriveRoomID(v.RoomName)
			if *update {
				v.RoomID = hex.EncodeToString(rid[:])
				v.KeyID = hex.EncodeToString(e.ref.KeyID[:])
				v.HeaderKey = hex.EncodeToString(e.hdrKey[:])
				v.Envelope = hex.EncodeToString(env)
				return
			}
			if got := hex.EncodeToString(rid[:]); got != v.RoomID {
				t.Errorf("room id %s, want %s", got, v.RoomID)
			}
			if got := hex.EncodeToString(e.ref.KeyID[:]); got != v.KeyID {
				t.Errorf("key id %s, want %s", got, v.KeyID)
			}
			if got := hex.EncodeToString(e.hdrKey[:]); got != v.HeaderKey {
				t.Errorf("header key %s, want %s", got, v.HeaderKey)
			}
			if got := hex.EncodeToString(env); got != v.Envelope {
				t.Fatalf("envelope\n got %s\nwant %s", got, v.Envelope)
			}
			_, b, err := Open(recv, unhex(t, v.Envelope))
			if err != nil {
				t.Fatal(err)
			}
			if b.Text != v.Text || b.Nick != v.Nick || b.Seq != v.Seq || b.Time != v.Time || b.Clock != v.Clock || b.Kind != v.Kind ||
				hex.EncodeToString(b.Ref[:]) != cmp.Or(v.Ref, strings.Repeat("0", 32)) || b.RefSeq != v.RefSeq || hex.EncodeToString(b.Ext) != v.Ext {
				t.Errorf("opened body %+v does not match vector", b)
			}
		})
	}
	if *update {
		out, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.WriteFile(filepath.Join("testdata", "envelopes.json"), append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	alicePriv  = testAuthor(2)
	bobPriv    = testAuthor(3)
	testRoster = []ed25519.PublicKey{alicePriv.Public().(ed25519.PublicKey), bobPriv.Public().(ed25519.PublicKey)}
)

// testEpochs returns a sender's and a receiver's copy of one epoch whose
// roster is alice and bob.
func testEpochs(t testing.TB, room string, n uint32, fill byte) (send, recv *Epoch) {
	var s [32]byte
	for i := range s {
		s[i] = fill + byte(i)
	}
	return mustEpoch(t, DeriveRoomID(room), n, &s, testRoster), mustEpoch(t, DeriveRoomID(room), n, &s, testRoster)
}

func testAuthor(fill byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{fill}, 32))
}

func sealText(t testing.TB, e *Epoch, priv ed25519.PrivateKey, text string) []byte {
	t.Helper()
	b := &Body{Kind: KindText, Author: priv.Public().(ed25519.PublicKey), Seq: 7, Time: 1, Nick: "alice", Text: text}
	env, err := Seal(e, b, func(m []byte) []byte { return ed25519.Sign(priv, m) })
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestTamperEveryByte flips each bit position of every byte of an envelope in
// turn: no modified envelope may open, and none may burn the message key, so
// the genuine envelope still opens afterwards.
func TestTamperEveryByte(t *testing.T) {
	send, recv := testEpochs(t, "lobby", 0, 1)
	env := sealText(t, send, alicePriv, "hello")
	for i := range env {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			m := bytes.Clone(env)
			m[i] ^= mask
			if _, b, err := Open(recv, m); err == nil || b != nil {
				t.Fatalf("byte %d ^ %#x: opened (err %v)", i, mask, err)
			}
		}
	}
	for n := range env {
		if _, _, err := Open(recv, env[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: opened", n)
		}
	}
	if _, _, err := Open(recv, append(bytes.Clone(env), 0)); err == nil {
		t.Fatal("extended envelope opened")
	}
	if _, _, err := Open(recv, env); err != nil {
		t.Fatalf("genuine envelope after the forgeries: %v", err)
	}
	if _, _, err := Open(recv, env); !errors.Is(err, ErrOldIndex) {
		t.Fatalf("second opening: %v, want ErrOldIndex", err)
	}
}

func TestOpenRejects(t *testing.T) {
	mallory := testAuthor(4)
	send, _ := testEpochs(t, "lobby", 0, 1)
	env := sealText(t, send, alicePriv, "hi")
	fresh := func() *Epoch { _, r := testEpochs(t, "lobby", 0, 1); return r }

	// Bob's chain, alice's name on the body, bob's signature: bob
	// impersonating alice.
	impersonation := func() []byte {
		b := &Body{Kind: KindText, Author: alicePriv.Public().(ed25519.PublicKey), Seq: 8, Time: 1, Nick: "alice", Text: "forged"}
		h := Header{Version: Version, Room: send.room, Epoch: send.ref, Sender: send.SenderTag(bobPriv.Public().(ed25519.PublicKey))}
		_, mk, _ := send.nextSendKey(bobPriv.Public().(ed25519.PublicKey))
		return seal(send, &mk, &h, b, func(m []byte) []byte { return ed25519.Sign(bobPriv, m) })
	}()
	// Alice's chain and name, signed by mallory.
	badSig := func() []byte {
		b := &Body{Kind: KindText, Author: alicePriv.Public().(ed25519.PublicKey), Seq: 9, Time: 1, Nick: "alice", Text: "forged"}
		env, err := Seal(send, b, func(m []byte) []byte { return ed25519.Sign(mallory, m) })
		if err != nil {
			t.Fatal(err)
		}
		return env
	}()
	version1 := bytes.Clone(env)
	version1[0] = 1

	tests := []struct {
		name  string
		epoch *Epoch
		env   []byte
		want  error
	}{
		{"wrong room", func() *Epoch { _, r := testEpochs(t, "other", 0, 1); return r }(), env, ErrRoom},
		{"wrong epoch number", func() *Epoch { _, r := testEpochs(t, "lobby", 1, 1); return r }(), env, ErrEpoch},
		{"wrong key same number", func() *Epoch { _, r := testEpochs(t, "lobby", 0, 9); return r }(), env, ErrEpoch},
		{"member impersonating another", fresh(), impersonation, ErrSender},
		{"forged signature", fresh(), badSig, ErrSignature},
		{"version 1", fresh(), version1, ErrVersion},
		{"empty", fresh(), nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, b, err := Open(tt.epoch, tt.env)
			if !errors.Is(err, tt.want) || b != nil {
				t.Fatalf("Open = %v, %v; want %v", b, err, tt.want)
			}
		})
	}
	// A sender outside the roster cannot even seal.
	if _, err := Seal(send, &Body{Kind: KindText, Author: mallory.Public().(ed25519.PublicKey), Seq: 1, Nick: "m"}, func(m []byte) []byte { return ed25519.Sign(mallory, m) }); !errors.Is(err, ErrNotInRoster) {
		t.Errorf("seal by a non-member: %v", err)
	}
}

// TestRatchet covers out-of-order delivery, the bounds on skipping, and
// forward secrecy: once read, a message cannot be opened again with
// anything the receiver still holds.
func TestRatchet(t *testing.T) {
	send, recv := testEpochs(t, "lobby", 0, 1)
	var envs [][]byte
	for i := range 5 {
		envs = append(envs, sealText(t, send, alicePriv, fmt.Sprint(i)))
	}
	for _, i := range []int{2, 0, 4, 1, 3} {
		_, b, err := Open(recv, envs[i])
		if err != nil || b.Text != fmt.Sprint(i) {
			t.Fatalf("message %d out of order: %v", i, err)
		}
	}
	for i := range envs {
		if _, _, err := Open(recv, envs[i]); !errors.Is(err, ErrOldIndex) {
			t.Fatalf("replay of %d: %v", i, err)
		}
	}
	// Skip more than MaxSkip ahead: refused, and nothing consumed.
	for range MaxSkip + 1 {
		send.nextSendKey(alicePriv.Public().(ed25519.PublicKey))
	}
	far := sealText(t, send, alicePriv, "far")
	if _, _, err := Open(recv, far); !errors.Is(err, ErrFarIndex) {
		t.Fatalf("far message: %v", err)
	}
	// Skipped keys are bounded.
	send2, recv2 := testEpochs(t, "lobby", 0, 7)
	var skippedEnvs [][]byte
	for range MaxSkipped + 10 {
		skippedEnvs = append(skippedEnvs, sealText(t, send2, alicePriv, "s"))
	}
	last := sealText(t, send2, alicePriv, "last")
	if _, _, err := Open(recv2, last); err != nil {
		t.Fatal(err)
	}
	opened := 0
	for _, env := range skippedEnvs {
		if _, _, err := Open(recv2, env); err == nil {
			opened++
		}
	}
	if opened != MaxSkipped {
		t.Errorf("%d skipped messages readable, want the newest %d", opened, MaxSkipped)
	}

	// Forward secrecy: a compromised receiver's keys open nothing it read.
	send3, recv3 := testEpochs(t, "lobby", 0, 11)
	read := sealText(t, send3, alicePriv, "read and erased")
	if _, _, err := Open(recv3, read); err != nil {
		t.Fatal(err)
	}
	_ = sealText(t, send3, alicePriv, "skipped") // leaves index 1 pending
	if _, _, err := Open(recv3, sealText(t, send3, alicePriv, "later")); err != nil {
		t.Fatal(err)
	}
	h, _ := ParseHeader(read)
	for _, k := range recv3.keysForTest() {
		// Try the key as a message key, and ratcheted forward as a chain key.
		for range 5 {
			aead, _ := chacha20poly1305.NewX(k[:])
			if _, err := aead.Open(nil, h.Nonce[:], read[HeaderSize:], associatedData(read[:HeaderSize])); err == nil {
				t.Fatal("a key the receiver still holds opens a message it already read")
			}
			c := chain{ck: k}
			mk := c.advance()
			aead, _ = chacha20poly1305.NewX(mk[:])
			if _, err := aead.Open(nil, h.Nonce[:], read[HeaderSize:], associatedData(read[:HeaderSize])); err == nil {
				t.Fatal("a chain key the receiver still holds derives the key of a message it already read")
			}
			k = c.ck
		}
	}
}

func TestNewEpochRoster(t *testing.T) {
	var s [32]byte
	a, b := testRoster[0], testRoster[1]
	e1 := mustEpoch(t, RoomID{}, 0, &s, []ed25519.PublicKey{a, b})
	e2 := mustEpoch(t, RoomID{}, 0, &s, []ed25519.PublicKey{b, a})
	if e1.Ref() != e2.Ref() || e1.SenderTag(a) != e2.SenderTag(a) {
		t.Error("roster order changes the epoch")
	}
	if !e1.InRoster(a) || e1.InRoster(testAuthor(9).Public().(ed25519.PublicKey)) {
		t.Error("InRoster")
	}
	for _, bad := range [][]ed25519.PublicKey{nil, {a, a}, {a[:31]}} {
		if _, err := NewEpoch(RoomID{}, 0, [32]byte{}, &s, bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("roster %v: %v", bad, err)
		}
	}
}

func TestSealLimits(t *testing.T) {
	e, recv := testEpochs(t, "lobby", 0, 1)
	priv := alicePriv
	sign := func(m []byte) []byte { return ed25519.Sign(priv, m) }
	pub := priv.Public().(ed25519.PublicKey)
	// The largest body is of a kind a later version defines, with the
	// largest extension.
	max := &Body{Kind: 255, Author: pub, Seq: 1, Nick: strings.Repeat("n", MaxNick), Text: strings.Repeat("x", MaxText), Ext: make([]byte, MaxExt)}
	env, err := Seal(e, max, sign)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != MaxEnvelope {
		t.Errorf("largest envelope %d bytes, MaxEnvelope %d", len(env), MaxEnvelope)
	}
	if _, _, err := Open(recv, env); err != nil {
		t.Fatal(err)
	}
	tooLong := *max
	tooLong.Text += "x"
	if _, err := Seal(e, &tooLong, sign); !errors.Is(err, ErrTooLong) {
		t.Errorf("oversized text: %v", err)
	}
	for _, nick := range []string{"", "a b", "a#b", "\x1b[31m", strings.Repeat("n", MaxNick+1), "\xff"} {
		b := &Body{Kind: KindText, Author: pub, Seq: 1, Nick: nick}
		if _, err := Seal(e, b, sign); !errors.Is(err, ErrNick) {
			t.Errorf("nick %q: %v", nick, err)
		}
	}
}

func TestEpochRefBetter(t *testing.T) {
	a := EpochRef{Number: 1, KeyID: [16]byte{5}}
	b := EpochRef{Number: 1, KeyID: [16]byte{6}}
	c := EpochRef{Number: 2, KeyID: [16]byte{9}}
	if !a.Better(b) || b.Better(a) || a.Better(a) {
		t.Error("lower key id must win within an epoch number")
	}
	if !c.Better(a) || a.Better(c) {
		t.Error("higher epoch number must win")
	}
}

func TestFrames(t *testing.T) {
	frames := []Frame{
		&Hello{Room: RoomID{1}, Nonce: [32]byte{2}},
		&Challenge{Nonce: [32]byte{5}, Y: [32]byte{6}},
		&Share{Y: [32]byte{7}, Confirm: [32]byte{8}},
		&Welcome{Confirm: [32]byte{9}, Sealed: bytes.Repeat([]byte{1}, 60)},
		&Refuse{Reason: RefuseBadProof},
		&Refuse{Reason: RefuseRateLimited, RetryAfter: 580},
		&Transfer{Room: RoomID{1}, Commits: testChain(t, 3)},
		&Transfer{Room: RoomID{1}, Commits: testChain(t, 2)[1:], Secret: &[32]byte{3}},
		&EpochRequest{Room: RoomID{1}, Wanted: EpochRef{Number: 7, KeyID: [16]byte{8}}},
	}
	for _, f := range frames {
		b := EncodeFrame(f)
		if len(b) > MaxFrame {
			t.Errorf("%T: %d bytes > MaxFrame", f, len(b))
		}
		g, err := DecodeFrame(b)
		if err != nil {
			t.Fatalf("%T: %v", f, err)
		}
		if !bytes.Equal(EncodeFrame(g), b) {
			t.Errorf("%T does not round-trip", f)
		}
		for n := range b {
			if _, err := DecodeFrame(b[:n]); err == nil {
				if _, ok := f.(*Welcome); ok && n >= 2+32+24+16 {
					continue // a shorter sealed blob still parses; opening it fails
				}
				t.Errorf("%T truncated to %d decoded", f, n)
			}
		}
		v := bytes.Clone(b)
		v[0] = 1
		if _, err := DecodeFrame(v); !errors.Is(err, ErrVersion) {
			t.Errorf("%T version 1: %v", f, err)
		}
	}
	keys := make([]ed25519.PublicKey, MaxRoster)
	for i := range keys {
		keys[i] = make(ed25519.PublicKey, 32)
	}
	c := &Commit{Author: keys[0], Subjects: keys, Roster: keys}
	full := &Transfer{Secret: &[32]byte{}}
	for range MaxChain {
		full.Commits = append(full.Commits, c)
	}
	if n := len(EncodeFrame(full)); n > MaxFrame {
		t.Errorf("largest transfer frame %d bytes > MaxFrame", n)
	}
	if n := len(EncodeFrame(&Hello{})); n > MaxHelloFrame {
		t.Errorf("hello of %d bytes > MaxHelloFrame", n)
	}
}

func TestWelcomeSealing(t *testing.T) {
	k := DeriveAdmissionKeys(bytes.Repeat([]byte{1}, 64))
	g := &Grant{Commits: testChain(t, 2), Secret: [32]byte{9}, Nick: "bob", Clock: 41}
	sealed, err := k.SealWelcome(g)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.OpenWelcome(sealed)
	if err != nil || got.Clock != 41 || got.Secret != g.Secret || got.Nick != "bob" || len(got.Commits) != 2 || got.Commits[1].Hash() != g.Commits[1].Hash() {
		t.Fatalf("OpenWelcome = %+v, %v", got, err)
	}
	other := DeriveAdmissionKeys(bytes.Repeat([]byte{2}, 64))
	if _, err := other.OpenWelcome(sealed); !errors.Is(err, ErrAuth) {
		t.Errorf("welcome opened under another ISK: %v", err)
	}
	if k.JoinerConfirm([32]byte{1}, [32]byte{2}) == k.MemberConfirm([32]byte{1}, [32]byte{2}) {
		t.Error("joiner and member confirmations must differ")
	}
	if k.JoinerConfirm([32]byte{1}, [32]byte{2}) == other.JoinerConfirm([32]byte{1}, [32]byte{2}) {
		t.Error("confirmation does not depend on the ISK")
	}
}

func TestPassphraseSecret(t *testing.T) {
	a := PassphraseRoomSecret("lobby", []byte("correct horse"))
	if a != PassphraseRoomSecret("lobby", []byte("correct horse")) {
		t.Fatal("not deterministic")
	}
	if a == PassphraseRoomSecret("lobby", []byte("correct horsf")) || a == PassphraseRoomSecret("lobby2", []byte("correct horse")) || a == OpenRoomSecret("lobby") {
		t.Fatal("secret does not depend on both name and passphrase")
	}
}

func FuzzOpen(f *testing.F) {
	// Fixed nonce: fuzz workers run this setup in other processes and must
	// agree on the one valid envelope.
	var secret [32]byte
	roster := testRoster
	send := mustEpoch(f, DeriveRoomID("lobby"), 0, &secret, roster)
	b := &Body{Kind: KindText, Author: alicePriv.Public().(ed25519.PublicKey), Seq: 1, Nick: "a", Text: "hello"}
	idx, mk, _ := send.nextSendKey(b.Author)
	h := Header{Version: Version, Room: send.room, Epoch: send.ref, Sender: send.SenderTag(b.Author), Index: idx}
	valid := seal(send, &mk, &h, b, func(m []byte) []byte { return ed25519.Sign(alicePriv, m) })
	f.Add(valid)
	f.Add([]byte{Version})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, env []byte) {
		recv := mustEpoch(t, DeriveRoomID("lobby"), 0, &secret, roster)
		_, b, err := Open(recv, env)
		if err != nil {
			if b != nil {
				t.Fatal("body returned with error")
			}
			return
		}
		// Only the one envelope sealed with the key opens: anything else the
		// fuzzer builds is a forgery.
		if !bytes.Equal(env, valid) {
			t.Fatalf("fuzzer forged an envelope: %x", env)
		}
	})
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(EncodeFrame(&Hello{}))
	f.Add(EncodeFrame(&Welcome{Sealed: make([]byte, 40)}))
	f.Add(EncodeFrame(&Refuse{Reason: RefuseRateLimited, RetryAfter: 9}))
	f.Add(EncodeFrame(&Transfer{Commits: testChain(f, 3), Secret: &[32]byte{}}))
	f.Add(EncodeFrame(&EpochRequest{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeFrame(fr), b) {
			t.Fatalf("decode/encode round trip differs for %x", b)
		}
	})
}

func FuzzOpenWelcome(f *testing.F) {
	k := DeriveAdmissionKeys(make([]byte, 64))
	sealed, _ := k.SealWelcome(&Grant{Commits: testChain(f, 2), Nick: "a"})
	f.Add(sealed)
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := k.OpenWelcome(b)
		if err == nil && (len(g.Commits) != 2 || !ValidNick(g.Nick) || g.Clock >= 1<<62) {
			t.Fatalf("accepted an invalid grant %+v", g)
		}
	})
}

// TestVerifyRecord: the record kept in history re-verifies without any room
// key, and any change to it is caught.
func TestVerifyRecord(t *testing.T) {
	send, recv := testEpochs(t, "lobby", 0, 1)
	b := &Body{Kind: KindText, Author: alicePriv.Public().(ed25519.PublicKey), Seq: 3, Time: 5, Clock: 7, Nick: "alice", Text: "keep me"}
	env, err := Seal(send, b, func(m []byte) []byte { return ed25519.Sign(alicePriv, m) })
	if err != nil {
		t.Fatal(err)
	}
	_, opened, err := Open(recv, env)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(opened.Record, b.Record) {
		t.Fatal("sender's and receiver's records differ")
	}
	h, got, err := VerifyRecord(opened.Record)
	if err != nil || got.Text != "keep me" || got.Clock != 7 || h.Room != DeriveRoomID("lobby") {
		t.Fatalf("VerifyRecord = %+v, %v", got, err)
	}
	for i := range opened.Record {
		m := bytes.Clone(opened.Record)
		m[i] ^= 0x01
		if _, _, err := VerifyRecord(m); err == nil {
			t.Fatalf("record with byte %d changed still verifies", i)
		}
	}
	// A member re-signing another member's message under its own key is not
	// the author.
	forged := bytes.Clone(opened.Record)
	sig := ed25519.Sign(bobPriv, signedBytes(forged[:HeaderSize], forged[HeaderSize:len(forged)-64]))
	copy(forged[len(forged)-64:], sig)
	if _, _, err := VerifyRecord(forged); !errors.Is(err, ErrSignature) {
		t.Fatalf("re-signed record: %v", err)
	}
}

func FuzzVerifyRecord(f *testing.F) {
	send, _ := testEpochs(f, "lobby", 0, 1)
	b := &Body{Kind: KindText, Author: alicePriv.Public().(ed25519.PublicKey), Seq: 1, Nick: "a", Text: "x"}
	if _, err := Seal(send, b, func(m []byte) []byte { return ed25519.Sign(alicePriv, m) }); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Record)
	for _, x := range []*Body{
		{Kind: KindReply, Seq: 2, Nick: "a", Text: "y", Ref: MessageRef{1}},
		{Kind: KindReact, Seq: 3, Nick: "a", Text: "👍", Ref: MessageRef{1}},
		{Kind: KindEdit, Seq: 4, Nick: "a", Text: "z", RefSeq: 1},
		{Kind: KindDelete, Seq: 5, Nick: "a", RefSeq: 1},
		{Kind: 77, Seq: 6, Nick: "a", Ext: []byte{9, 9}},
	} {
		x.Author = b.Author
		if _, err := Seal(send, x, func(m []byte) []byte { return ed25519.Sign(alicePriv, m) }); err != nil {
			f.Fatal(err)
		}
		f.Add(x.Record)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		_, got, err := VerifyRecord(rec)
		if err == nil && !ed25519.Verify(got.Author, signedBytes(rec[:HeaderSize], rec[HeaderSize:len(rec)-64]), rec[len(rec)-64:]) {
			t.Fatal("accepted a record whose signature does not verify")
		}
	})
}

func TestSyncFrames(t *testing.T) {
	frames := []Frame{
		&SyncRequest{Room: RoomID{1}},
		&SyncRequest{Room: RoomID{1}, Have: []AuthorRanges{{Author: testRoster[0], Ranges: []SeqRange{{1, 5}, {7, 9}}}, {Author: testRoster[1]}}},
		&SyncBatch{},
		&SyncBatch{Records: [][]byte{{1, 2, 3}, make([]byte, 300)}, YourSeqs: []SeqRange{{1, 2}}, More: true},
	}
	for _, f := range frames {
		b := EncodeSync(f)
		g, err := DecodeSync(b)
		if err != nil {
			t.Fatalf("%T: %v", f, err)
		}
		if !bytes.Equal(EncodeSync(g), b) {
			t.Errorf("%T does not round-trip", f)
		}
		for n := range b {
			if _, err := DecodeSync(b[:n]); err == nil {
				t.Errorf("%T truncated to %d decoded", f, n)
			}
		}
	}
	bad := EncodeSync(&SyncRequest{Have: []AuthorRanges{{Author: testRoster[0], Ranges: []SeqRange{{5, 1}}}}})
	if _, err := DecodeSync(bad); err == nil {
		t.Error("inverted range accepted")
	}
}

func FuzzDecodeSync(f *testing.F) {
	f.Add(EncodeSync(&SyncRequest{Have: []AuthorRanges{{Author: testRoster[0], Ranges: []SeqRange{{1, 2}}}}}))
	f.Add(EncodeSync(&SyncBatch{Records: [][]byte{{1}}, More: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeSync(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeSync(fr), b) {
			t.Fatalf("decode/encode round trip differs for %x", b)
		}
	})
}
