package wire

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Opening is an envelope checked against an epoch's public state, holding
// copies of the keys needed to read it. [Epoch.Prepare] makes it (cheap: no
// cryptography), [Opening.Read] does the cryptography without touching the
// epoch, so the caller can run it outside its lock, and [Epoch.Commit]
// consumes the message key once the envelope has been read.
type Opening struct {
	env    []byte
	h      Header
	member int
	author ed25519.PublicKey
	hdrKey [32]byte

	// The ratchet: either a skipped key (fromSkipped), or a copy of the
	// chain at first, which Read walks to the envelope's index.
	fromSkipped bool
	mk          [32]byte
	walk        chain
	first       uint32
	skipped     [][32]byte // keys first .. Index-1, filled by Read
	read        bool
}

// Prepare checks env's version and size, room, epoch and sender tag, and
// that its chain index is neither used nor more than [MaxSkip] ahead, and
// copies what [Opening.Read] needs. It fails with an error wrapping one of
// the package's errors.
func (e *Epoch) Prepare(env []byte) (*Opening, error) {
	h, err := ParseHeader(env)
	if err != nil {
		return nil, err
	}
	if h.Room != e.room {
		return nil, ErrRoom
	}
	if h.Epoch != e.ref || e.erased {
		return nil, ErrEpoch
	}
	i, ok := e.tags[h.Sender]
	if !ok {
		return nil, ErrSender
	}
	o := &Opening{env: env, h: h, member: i, author: e.roster[i], hdrKey: e.hdrKey}
	c := &e.chains[i]
	switch {
	case h.Index < c.next:
		k, ok := c.skipped[h.Index]
		if !ok {
			return nil, ErrOldIndex
		}
		o.fromSkipped, o.mk = true, k
	case h.Index-c.next > MaxSkip:
		return nil, ErrFarIndex
	default:
		o.walk = chain{ck: c.ck, next: c.next}
		o.first = c.next
	}
	return o, nil
}

// Header returns the envelope's header as parsed by Prepare (not yet
// authenticated).
func (o *Opening) Header() Header { return o.h }

// Read authenticates, decrypts and verifies the envelope: in order the
// header MAC (before any ratchet step, so a forged header costs one HMAC),
// the ratchet walk to its index, the AEAD tag, the body encoding, that the
// body's author is the member the sender tag names, and the author's
// signature over header and body. It does not change the epoch.
func (o *Opening) Read() (Header, *Body, error) {
	want := headerMAC(&o.hdrKey, o.env[:macOffset])
	if !hmac.Equal(want[:], o.h.MAC[:]) {
		return o.h, nil, ErrHeader
	}
	if !o.fromSkipped {
		o.skipped = o.skipped[:0]
		for o.walk.next < o.h.Index {
			o.skipped = append(o.skipped, o.walk.advance())
		}
		o.mk = o.walk.advance()
	}
	aead, err := chacha20poly1305.NewX(o.mk[:])
	if err != nil {
		panic("wire: " + err.Error())
	}
	hdr := o.env[:HeaderSize]
	pt, err := aead.Open(nil, o.h.Nonce[:], o.env[HeaderSize:], associatedData(hdr))
	if err != nil {
		return o.h, nil, ErrAuth
	}
	b, signed, sig, err := parseBody(pt, Version)
	if err != nil {
		return o.h, nil, err
	}
	if !b.Author.Equal(o.author) {
		return o.h, nil, ErrSender
	}
	if !ed25519.Verify(b.Author, signedBytes(hdr, signed), sig) {
		return o.h, nil, ErrSignature
	}
	b.Record = append(append([]byte(nil), hdr...), pt...)
	o.read = true
	return o.h, b, nil
}

// Commit consumes the message key of an envelope that [Opening.Read]
// accepted, keeping the keys skipped on the way (the newest [MaxSkipped]).
// Another envelope may have moved the chain since Prepare: Commit then
// fails with [ErrOldIndex] if the key was consumed meanwhile (a replay
// racing its original), and otherwise applies only what is still ahead.
func (e *Epoch) Commit(o *Opening) error {
	if !o.read {
		return fmt.Errorf("commit of an unread envelope: %w", ErrAuth)
	}
	if e.erased || o.h.Epoch != e.ref || o.member >= len(e.chains) {
		return ErrEpoch
	}
	c := &e.chains[o.member]
	idx := o.h.Index
	if o.fromSkipped || idx < c.next {
		k, ok := c.skipped[idx]
		if !ok {
			return ErrOldIndex
		}
		clear(k[:])
		delete(c.skipped, idx)
		return nil
	}
	// c.next <= idx: the keys from c.next on are the ones Read computed.
	for j := c.next; j < idx; j++ {
		if c.skipped == nil {
			c.skipped = map[uint32][32]byte{}
		}
		c.skipped[j] = o.skipped[j-o.first]
	}
	c.trimSkipped()
	clear(c.ck[:])
	c.ck, c.next = o.walk.ck, o.walk.next
	return nil
}

// Erase overwrites the opening's key copies.
func (o *Opening) Erase() {
	clear(o.mk[:])
	clear(o.hdrKey[:])
	clear(o.walk.ck[:])
	for i := range o.skipped {
		clear(o.skipped[i][:])
	}
}

// Open authenticates, decrypts and verifies env under epoch e and consumes
// its message key: [Epoch.Prepare], [Opening.Read] and [Epoch.Commit] in
// one call, for callers that hold e exclusively. Any failure returns an
// error wrapping one of the package's errors and no body; a forged copy
// never burns the key of a real message.
func Open(e *Epoch, env []byte) (Header, *Body, error) {
	o, err := e.Prepare(env)
	if err != nil {
		if len(env) >= HeaderSize && env[0] == Version {
			return decodeHeader(env), nil, err
		}
		return Header{}, nil, err
	}
	defer o.Erase()
	h, b, err := o.Read()
	if err != nil {
		return h, nil, err
	}
	if err := e.Commit(o); err != nil {
		return h, nil, err
	}
	return h, b, nil
}

// headerMAC is HMAC-SHA256(header key, LabelHeader || hdr) truncated to
// [HeaderMAC] bytes, where hdr is the header up to its MAC.
func headerMAC(key *[32]byte, hdr []byte) [HeaderMAC]byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(LabelHeader))
	m.Write(hdr)
	var out [HeaderMAC]byte
	copy(out[:], m.Sum(nil))
	return out
}

func (e *Epoch) headerMAC(hdr []byte) [HeaderMAC]byte { return headerMAC(&e.hdrKey, hdr) }
