package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// TestForgedFarIndexCostsNoWalk: an outsider copies a real header (epoch,
// key id, sender tag) and sets the chain index far ahead. Opening it must
// not walk the receiver's ratchet (issue 12 item 4): the header check
// rejects it first.
func TestForgedFarIndexCostsNoWalk(t *testing.T) {
	send, recv := testEpochs(t, "lobby", 0, 1)
	env := sealText(t, send, alicePriv, "real")
	for _, idx := range []uint32{MaxSkip, MaxSkip / 2, 5} {
		forged := bytes.Clone(env)
		binary.BigEndian.PutUint32(forged[53:57], idx)
		before := ratchetSteps.Load()
		_, b, err := Open(recv, forged)
		if err == nil || b != nil {
			t.Fatalf("index %d: forged envelope opened", idx)
		}
		if steps := ratchetSteps.Load() - before; steps != 0 {
			t.Errorf("index %d: forged header cost %d ratchet steps, want 0 (err %v)", idx, steps, err)
		}
	}
	before := ratchetSteps.Load()
	if _, _, err := Open(recv, env); err != nil {
		t.Fatalf("genuine envelope: %v", err)
	}
	if steps := ratchetSteps.Load() - before; steps != 1 {
		t.Errorf("genuine envelope at index 0 cost %d steps, want 1", steps)
	}
}

// TestHeaderMAC: the MAC is HMAC-SHA256(header key, LabelHeader || the 81
// header bytes before it) truncated to 16, checked before anything else
// that costs; any change to a header byte, a v2 envelope, or a MAC made
// with another epoch's header key is refused with ErrHeader / ErrVersion.
func TestHeaderMAC(t *testing.T) {
	send, recv := testEpochs(t, "lobby", 0, 1)
	env := sealText(t, send, alicePriv, "real")
	m := hmac.New(sha256.New, recv.hdrKey[:])
	m.Write([]byte("p2pchat/v3/header"))
	m.Write(env[:81])
	if !bytes.Equal(m.Sum(nil)[:16], env[81:97]) {
		t.Fatal("header MAC is not HMAC(header key, label || header)")
	}
	for i := range HeaderSize {
		if i >= 1 && i < 37 {
			continue // room and epoch: refused before the MAC (ErrRoom, ErrEpoch)
		}
		forged := bytes.Clone(env)
		forged[i] ^= 0x01
		before := ratchetSteps.Load()
		_, _, err := Open(recv, forged)
		if i == 0 && !errors.Is(err, ErrVersion) || i >= 37 && i < 53 && !errors.Is(err, ErrSender) ||
			i >= 53 && !errors.Is(err, ErrHeader) && !(i < 57 && errors.Is(err, ErrFarIndex)) {
			t.Errorf("header byte %d flipped: %v", i, err)
		}
		if steps := ratchetSteps.Load() - before; steps != 0 {
			t.Errorf("header byte %d flipped: %d ratchet steps", i, steps)
		}
	}
	// Another epoch's holder (same room, number and roster, other secret)
	// cannot make a header for this one.
	other, _ := testEpochs(t, "lobby", 0, 9)
	forged := bytes.Clone(env)
	mac := other.headerMAC(forged[:macOffset])
	copy(forged[macOffset:], mac[:])
	if _, _, err := Open(recv, forged); !errors.Is(err, ErrHeader) {
		t.Errorf("MAC under another key: %v", err)
	}
	v2 := bytes.Clone(env)
	v2[0] = 2
	if _, _, err := Open(recv, v2); !errors.Is(err, ErrVersion) {
		t.Errorf("version 2: %v", err)
	}
	if _, _, err := Open(recv, env); err != nil {
		t.Fatalf("genuine envelope after the forgeries: %v", err)
	}
}

// TestCommitRace: two envelopes prepared against the same chain state and
// committed in either order both open, and a replay prepared alongside its
// original fails to commit.
func TestCommitRace(t *testing.T) {
	send, recv := testEpochs(t, "lobby", 0, 1)
	e0 := sealText(t, send, alicePriv, "zero")
	e1 := sealText(t, send, alicePriv, "one")
	e2 := sealText(t, send, alicePriv, "two")
	o2, err := recv.Prepare(e2)
	if err != nil {
		t.Fatal(err)
	}
	o0, err := recv.Prepare(e0)
	if err != nil {
		t.Fatal(err)
	}
	replay, err := recv.Prepare(e0)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*Opening{o2, o0, replay} {
		if _, _, err := o.Read(); err != nil {
			t.Fatal(err)
		}
	}
	if err := recv.Commit(o2); err != nil {
		t.Fatal(err)
	}
	if err := recv.Commit(o0); err != nil {
		t.Fatalf("index 0 after index 2: %v", err)
	}
	if err := recv.Commit(replay); !errors.Is(err, ErrOldIndex) {
		t.Fatalf("replay committed: %v", err)
	}
	if _, b, err := Open(recv, e1); err != nil || b.Text != "one" {
		t.Fatalf("skipped index 1: %v", err)
	}
	for _, env := range [][]byte{e0, e1, e2} {
		if _, _, err := Open(recv, env); !errors.Is(err, ErrOldIndex) {
			t.Fatalf("second opening: %v", err)
		}
	}
	recv.Erase()
	if _, err := recv.Prepare(e0); !errors.Is(err, ErrEpoch) {
		t.Fatalf("erased epoch: %v", err)
	}
}

// FuzzParseHeader: the header decoder accepts only v3 envelopes of a
// plausible size and round-trips the header it decodes.
func FuzzParseHeader(f *testing.F) {
	send, _ := testEpochs(f, "lobby", 0, 1)
	f.Add(sealText(f, send, alicePriv, "x"))
	f.Add([]byte{Version})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, env []byte) {
		h, err := ParseHeader(env)
		if err != nil {
			return
		}
		if env[0] != Version || len(env) < minEnvelope || len(env) > MaxEnvelope {
			t.Fatalf("accepted %d bytes of version %d", len(env), env[0])
		}
		if !bytes.Equal(h.marshal(), env[:HeaderSize]) {
			t.Fatalf("header does not round-trip: %x", env[:HeaderSize])
		}
	})
}

// TestClockLimit: no body with a Lamport clock at or above 2^62 is sealed
// or opened, so that no clock can wrap (issue 12 item 6).
func TestClockLimit(t *testing.T) {
	send, recv := testEpochs(t, "lobby", 0, 1)
	pub := alicePriv.Public().(ed25519.PublicKey)
	sign := func(m []byte) []byte { return ed25519.Sign(alicePriv, m) }
	if _, err := Seal(send, &Body{Kind: KindText, Author: pub, Seq: 1, Nick: "a", Clock: ClockLimit}, sign); !errors.Is(err, ErrClock) {
		t.Errorf("sealed clock 2^62: %v", err)
	}
	for _, clock := range []uint64{ClockLimit, math.MaxUint64} {
		b := &Body{Kind: KindText, Author: pub, Seq: 1, Nick: "a", Clock: clock}
		idx, mk, _ := send.nextSendKey(pub)
		h := Header{Version: Version, Room: send.room, Epoch: send.ref, Sender: send.SenderTag(pub), Index: idx}
		env := seal(send, &mk, &h, b, sign) // bypasses Body.check, as a malicious member could
		if _, _, err := Open(recv, env); !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrClock) {
			t.Errorf("opened clock %d: %v", clock, err)
		}
		if _, _, err := VerifyRecord(b.Record); !errors.Is(err, ErrClock) {
			t.Errorf("record with clock %d verified: %v", clock, err)
		}
	}
	b := &Body{Kind: KindText, Author: pub, Seq: 1, Nick: "a", Clock: ClockLimit - 1}
	env, err := Seal(send, b, sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := Open(recv, env); err != nil || got.Clock != ClockLimit-1 {
		t.Errorf("clock 2^62-1: %v", err)
	}
}
