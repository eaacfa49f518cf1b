package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	AuthorSeed string `json:"author_seed"`
	Kind       Kind   `json:"kind"`
	Seq        uint64 `json:"seq"`
	Time       int64  `json:"time"`
	Nick       string `json:"nick"`
	Text       string `json:"text"`
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

func (v *vector) build(t testing.TB) (*Epoch, ed25519.PrivateKey, []byte) {
	var secret [32]byte
	copy(secret[:], unhex(t, v.Secret))
	e := NewEpoch(DeriveRoomID(v.RoomName), v.Epoch, &secret)
	priv := ed25519.NewKeyFromSeed(unhex(t, v.AuthorSeed))
	b := &Body{Kind: v.Kind, Author: priv.Public().(ed25519.PublicKey), Seq: v.Seq, Time: v.Time, Nick: v.Nick, Text: v.Text}
	if err := b.check(); err != nil {
		t.Fatal(err)
	}
	h := Header{Version: Version, Room: e.room, Epoch: e.ref, Sender: e.SenderTag(b.Author)}
	copy(h.Nonce[:], unhex(t, v.Nonce))
	return e, priv, seal(e, &h, b, func(m []byte) []byte { return ed25519.Sign(priv, m) })
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
			e, _, env := v.build(t)
			rid := DeriveRoomID(v.RoomName)
			if *update {
				v.RoomID = hex.EncodeToString(rid[:])
				v.KeyID = hex.EncodeToString(e.ref.KeyID[:])
				v.Envelope = hex.EncodeToString(env)
				return
			}
			if got := hex.EncodeToString(rid[:]); got != v.RoomID {
				t.Errorf("room id %s, want %s", got, v.RoomID)
			}
			if got := hex.EncodeToString(e.ref.KeyID[:]); got != v.KeyID {
				t.Errorf("key id %s, want %s", got, v.KeyID)
			}
			if got := hex.EncodeToString(env); got != v.Envelope {
				t.Fatalf("envelope\n got %s\nwant %s", got, v.Envelope)
			}
			_, b, err := Open(e, unhex(t, v.Envelope))
			if err != nil {
				t.Fatal(err)
			}
			if b.Text != v.Text || b.Nick != v.Nick || b.Seq != v.Seq || b.Time != v.Time || b.Kind != v.Kind {
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

func testEpoch(room string, n uint32, fill byte) *Epoch {
	var s [32]byte
	for i := range s {
		s[i] = fill + byte(i)
	}
	return NewEpoch(DeriveRoomID(room), n, &s)
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
// turn: no modified envelope may open.
func TestTamperEveryByte(t *testing.T) {
	e := testEpoch("lobby", 0, 1)
	env := sealText(t, e, testAuthor(2), "hello")
	if _, _, err := Open(e, env); err != nil {
		t.Fatal(err)
	}
	for i := range env {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			m := bytes.Clone(env)
			m[i] ^= mask
			if _, b, err := Open(e, m); err == nil || b != nil {
				t.Fatalf("byte %d ^ %#x: opened (err %v)", i, mask, err)
			}
		}
	}
	for n := range env {
		if _, _, err := Open(e, env[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: opened", n)
		}
	}
	if _, _, err := Open(e, append(bytes.Clone(env), 0)); err == nil {
		t.Fatal("extended envelope opened")
	}
}

func TestOpenRejects(t *testing.T) {
	alice, mallory := testAuthor(2), testAuthor(3)
	e := testEpoch("lobby", 0, 1)
	env := sealText(t, e, alice, "hi")

	// A body signed by mallory but claiming to be alice.
	forged := func() []byte {
		b := &Body{Kind: KindText, Author: alice.Public().(ed25519.PublicKey), Seq: 8, Time: 1, Nick: "alice", Text: "forged"}
		env, err := Seal(e, b, func(m []byte) []byte { return ed25519.Sign(mallory, m) })
		if err != nil {
			t.Fatal(err)
		}
		return env
	}()
	// A header whose sender tag names mallory while the body is alice's.
	wrongTag := func() []byte {
		b := &Body{Kind: KindText, Author: alice.Public().(ed25519.PublicKey), Seq: 9, Time: 1, Nick: "alice", Text: "x"}
		h := Header{Version: Version, Room: e.room, Epoch: e.ref, Sender: e.SenderTag(mallory.Public().(ed25519.PublicKey))}
		return seal(e, &h, b, func(m []byte) []byte { return ed25519.Sign(alice, m) })
	}()
	version2 := bytes.Clone(env)
	version2[0] = 2

	tests := []struct {
		name  string
		epoch *Epoch
		env   []byte
		want  error
	}{
		{"wrong room", testEpoch("other", 0, 1), env, ErrRoom},
		{"wrong epoch number", testEpoch("lobby", 1, 1), env, ErrEpoch},
		{"wrong key same number", testEpoch("lobby", 0, 9), env, ErrEpoch},
		{"forged signature", e, forged, ErrSignature},
		{"sender tag of another member", e, wrongTag, ErrSender},
		{"unknown version", e, version2, ErrVersion},
		{"empty", e, nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, b, err := Open(tt.epoch, tt.env)
			if !errors.Is(err, tt.want) || b != nil {
				t.Fatalf("Open = %v, %v; want %v", b, err, tt.want)
			}
		})
	}
}

func TestSealLimits(t *testing.T) {
	e := testEpoch("lobby", 0, 1)
	priv := testAuthor(2)
	sign := func(m []byte) []byte { return ed25519.Sign(priv, m) }
	pub := priv.Public().(ed25519.PublicKey)
	max := &Body{Kind: KindText, Author: pub, Seq: 1, Nick: strings.Repeat("n", MaxNick), Text: strings.Repeat("x", MaxText)}
	env, err := Seal(e, max, sign)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != MaxEnvelope {
		t.Errorf("largest envelope %d bytes, MaxEnvelope %d", len(env), MaxEnvelope)
	}
	if _, _, err := Open(e, env); err != nil {
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
		&Hello{Room: RoomID{1}, Nonce: [32]byte{2}, Have: &EpochRef{Number: 3, KeyID: [16]byte{4}}},
		&Challenge{Nonce: [32]byte{5}},
		&Proof{MAC: [32]byte{6}},
		&Welcome{MAC: [32]byte{7}, Epoch: 8, Secret: [32]byte{9}, Nick: "bob"},
		&Refuse{Reason: RefuseBadProof},
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
				t.Errorf("%T truncated to %d decoded", f, n)
			}
		}
		v := bytes.Clone(b)
		v[0] = 9
		if _, err := DecodeFrame(v); !errors.Is(err, ErrVersion) {
			t.Errorf("%T version 9: %v", f, err)
		}
	}
}

func TestAdmissionMACs(t *testing.T) {
	k := DeriveAdmissionKey("lobby")
	tr := Transcript{Room: DeriveRoomID("lobby"), Joiner: []byte("joiner"), Member: []byte("member"), JoinerNonce: [32]byte{1}, MemberNonce: [32]byte{2}}
	j, m := JoinerMAC(&k, &tr), MemberMAC(&k, &tr, EpochRef{})
	if j == m {
		t.Fatal("joiner and member MACs must differ (labels)")
	}
	swapped := tr
	swapped.Joiner, swapped.Member = tr.Member, tr.Joiner
	if JoinerMAC(&k, &swapped) == j {
		t.Error("MAC does not bind peer roles")
	}
	other := DeriveAdmissionKey("lobby2")
	if JoinerMAC(&other, &tr) == j {
		t.Error("MAC does not depend on the room name")
	}
	if MemberMAC(&k, &tr, EpochRef{Number: 1}) == m {
		t.Error("member MAC does not bind the epoch")
	}
}

func FuzzOpen(f *testing.F) {
	e := testEpoch("lobby", 0, 1)
	// Fixed nonce: fuzz workers run this setup in other processes and must
	// agree on the one valid envelope.
	priv := testAuthor(2)
	b := &Body{Kind: KindText, Author: priv.Public().(ed25519.PublicKey), Seq: 1, Nick: "a", Text: "hello"}
	h := Header{Version: Version, Room: e.room, Epoch: e.ref, Sender: e.SenderTag(b.Author)}
	valid := seal(e, &h, b, func(m []byte) []byte { return ed25519.Sign(priv, m) })
	f.Add(valid)
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, env []byte) {
		h, b, err := Open(e, env)
		if err != nil {
			if b != nil {
				t.Fatal("body returned with error")
			}
			return
		}
		// Only the one envelope sealed with the key opens: anything else the
		// fuzzer builds is a forgery.
		if bytes.Equal(env, valid) && h.Version == Version {
			return
		}
		t.Fatalf("fuzzer forged an envelope: %x", env)
	})
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(EncodeFrame(&Hello{Have: &EpochRef{}}))
	f.Add(EncodeFrame(&Welcome{Nick: "a"}))
	f.Add(EncodeFrame(&Refuse{}))
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
