package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// TestKinds: each kind seals and opens with its reference, and bodies no
// receiver may accept are refused by Seal and, hand-built, by Open.
func TestKinds(t *testing.T) {
	pub := alicePriv.Public().(ed25519.PublicKey)
	ref := MessageRef{1, 2, 3}
	ok := []*Body{
		{Kind: KindReply, Seq: 2, Text: "yes", Ref: ref},
		{Kind: KindReact, Seq: 2, Text: "👍", Ref: ref},
		{Kind: KindReact, Seq: 2, Text: "+1", Ref: ref},
		{Kind: KindEdit, Seq: 2, Text: "fixed", RefSeq: 1},
		{Kind: KindDelete, Seq: 9, RefSeq: 8},
		{Kind: 10, Seq: 2, Text: "from a later version", Ext: []byte{1, 2}},
		{Kind: 255, Seq: 2},
		{Kind: KindHere, Text: "in a meeting until 3"},
	}
	for _, b := range ok {
		b.Author, b.Nick = pub, "alice"
		send, recv := testEpochs(t, "lobby", 0, 1)
		env, err := Seal(send, b, func(m []byte) []byte { return ed25519.Sign(alicePriv, m) })
		if err != nil {
			t.Fatalf("kind %d: %v", b.Kind, err)
		}
		_, got, err := Open(recv, env)
		if err != nil {
			t.Fatalf("kind %d: %v", b.Kind, err)
		}
		if got.Kind != b.Kind || got.Ref != b.Ref || got.RefSeq != b.RefSeq || !bytes.Equal(got.Ext, b.Ext) || got.Text != b.Text ||
			got.Kind.Known() != (b.Kind <= KindDelete) {
			t.Errorf("kind %d: opened %+v", b.Kind, got)
		}
		if _, rec, err := VerifyRecord(got.Record); err != nil || rec.Ref != b.Ref || rec.RefSeq != b.RefSeq {
			t.Errorf("kind %d: record %+v, %v", b.Kind, rec, err)
		}
	}
	bad := []struct {
		name string
		b    Body
		want error
	}{
		{"kind 0", Body{Kind: 0, Seq: 1}, ErrMalformed},
		{"empty reaction", Body{Kind: KindReact, Seq: 1, Ref: ref}, ErrReaction},
		{"reaction with a space", Body{Kind: KindReact, Seq: 1, Text: "a b", Ref: ref}, ErrReaction},
		{"reaction with a control", Body{Kind: KindReact, Seq: 1, Text: "\x1b[2J", Ref: ref}, ErrReaction},
		{"reaction with a bidi override", Body{Kind: KindReact, Seq: 1, Text: "\u202eok", Ref: ref}, ErrReaction},
		{"long reaction", Body{Kind: KindReact, Seq: 1, Text: strings.Repeat("x", MaxReaction+1), Ref: ref}, ErrReaction},
		{"edit of itself", Body{Kind: KindEdit, Seq: 3, Text: "x", RefSeq: 3}, ErrRef},
		{"edit of a later one", Body{Kind: KindEdit, Seq: 3, Text: "x", RefSeq: 4}, ErrRef},
		{"edit of nothing", Body{Kind: KindEdit, Seq: 3, Text: "x"}, ErrRef},
		{"empty edit", Body{Kind: KindEdit, Seq: 3, RefSeq: 1}, ErrMalformed},
		{"delete with text", Body{Kind: KindDelete, Seq: 3, Text: "x", RefSeq: 1}, ErrMalformed},
		{"known kind with an extension", Body{Kind: KindText, Seq: 1, Ext: []byte{1}}, ErrMalformed},
		{"long extension", Body{Kind: 20, Seq: 1, Ext: make([]byte, MaxExt+1)}, ErrMalformed},
		{"long status", Body{Kind: KindHere, Text: strings.Repeat("x", MaxStatus+1)}, ErrStatus},
		{"status with a newline", Body{Kind: KindHello, Text: "away\nreally"}, ErrStatus},
	}
	for _, c := range bad {
		b := c.b
		b.Author, b.Nick = pub, "alice"
		send, _ := testEpochs(t, "lobby", 0, 1)
		if _, err := Seal(send, &b, func(m []byte) []byte { return ed25519.Sign(alicePriv, m) }); !errors.Is(err, c.want) {
			t.Errorf("%s: Seal: %v, want %v", c.name, err, c.want)
		}
	}
	// Hand-built: a reply whose extension is not 16 bytes, signed, opens
	// as malformed (so does an edit of sequence 0 with a valid layout).
	for _, c := range []struct {
		name string
		kind Kind
		seq  uint64
		text string
		ext  []byte
	}{
		{"short reply reference", KindReply, 2, "x", make([]byte, 15)},
		{"long edit reference", KindEdit, 2, "x", make([]byte, 9)},
		{"edit of sequence 0", KindEdit, 2, "x", binary.BigEndian.AppendUint64(nil, 0)},
	} {
		send, recv := testEpochs(t, "lobby", 0, 1)
		b := &Body{Kind: 200, Author: pub, Seq: c.seq, Nick: "alice", Text: c.text, Ext: c.ext}
		env, err := Seal(send, b, func(m []byte) []byte { return ed25519.Sign(alicePriv, m) })
		if err != nil {
			t.Fatal(err)
		}
		// Re-seal the same plaintext with the kind byte changed.
		forged := resealKind(t, send, recv, env, c.kind)
		if _, _, err := Open(recv, forged); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Open: %v, want malformed", c.name, err)
		}
	}
}

// resealKind builds, from env (opened with a copy of recv's keys), an
// envelope at the next chain index whose body has kind k and is signed
// again by alice: the encoding check, not the signature, must refuse it.
func resealKind(t *testing.T, send, recv *Epoch, env []byte, k Kind) []byte {
	t.Helper()
	_, b, err := Open(recv, env)
	if err != nil {
		t.Fatal(err)
	}
	pt := bytes.Clone(b.Record[HeaderSize : len(b.Record)-ed25519.SignatureSize])
	pt[0] = byte(k)
	idx, mk, err := send.nextSendKey(b.Author)
	if err != nil {
		t.Fatal(err)
	}
	h := Header{Version: Version, Room: send.room, Epoch: send.ref, Sender: send.SenderTag(b.Author), Index: idx}
	h.MAC = send.headerMAC(h.marshal()[:macOffset])
	hdr := h.marshal()
	pt = append(pt, ed25519.Sign(alicePriv, signedBytes(hdr, pt))...)
	return sealRaw(t, &mk, hdr, h.Nonce[:], pt)
}

// TestVerifyRecordV3: a record stored by protocol v3 (no extension) still
// verifies; one claiming a kind v3 did not have does not.
func TestVerifyRecordV3(t *testing.T) {
	pub := alicePriv.Public().(ed25519.PublicKey)
	v3 := func(k Kind) []byte {
		h := Header{Version: recordV3, Room: DeriveRoomID("lobby")}
		hdr := h.marshal()
		b := &Body{Kind: k, Author: pub, Seq: 1, Nick: "alice", Text: "from v3"}
		body := b.marshal()
		body = body[:len(body)-1] // v3 bodies end with the text
		sig := ed25519.Sign(alicePriv, signedBytes(hdr, body))
		return append(append(hdr, body...), sig...)
	}
	_, b, err := VerifyRecord(v3(KindText))
	if err != nil || b.Text != "from v3" || b.Kind != KindText {
		t.Fatalf("v3 record: %+v, %v", b, err)
	}
	if _, _, err := VerifyRecord(v3(KindReply)); !errors.Is(err, ErrMalformed) {
		t.Errorf("v3 record of kind 6: %v, want malformed", err)
	}
	rec := v3(KindText)
	rec[0] = 2
	if _, _, err := VerifyRecord(rec); !errors.Is(err, ErrVersion) {
		t.Errorf("v2 record: %v, want a version error", err)
	}
}

// sealRaw encrypts the plaintext pt (body and signature) under message key
// mk after header hdr, as seal does, without checking the body.
func sealRaw(t *testing.T, mk *[32]byte, hdr, nonce, pt []byte) []byte {
	t.Helper()
	aead, err := chacha20poly1305.NewX(mk[:])
	if err != nil {
		t.Fatal(err)
	}
	return aead.Seal(bytes.Clone(hdr), nonce, pt, associatedData(hdr))
}
