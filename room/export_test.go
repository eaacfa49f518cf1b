package room

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// DeliverForTest runs env through the same validator and handler as an
// envelope that the transport delivered from via, bypassing only the
// transport's own duplicate filter. It returns the validation result.
func (r *Room) DeliverForTest(env []byte, via peer.ID) Verdict {
	res, v := r.validate(via, env, nil)
	if res == Accept {
		r.handle(v.(*received))
	}
	return res
}

// AdoptForTest makes this node adopt an epoch built from secret and roster,
// as if a member had handed it over.
func (r *Room) AdoptForTest(number uint32, secret [32]byte, roster []ed25519.PublicKey) bool {
	e, err := wire.NewEpoch(r.id, number, &secret, roster)
	if err != nil {
		panic(err)
	}
	return r.adopt(e)
}

// SealForTest seals b under the current epoch, as a member that holds it
// can (a member can derive every other member's chain).
func (r *Room) SealForTest(b *wire.Body, sign wire.Signer) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return wire.Seal(r.cur, b, sign)
}

// SayByeForTest publishes a goodbye but keeps every key: a departed member
// that does not erase what it had.
func (r *Room) SayByeForTest(ctx context.Context) error {
	_, err := r.publish(ctx, wire.KindBye, "")
	return err
}

// Argon2id costs tens of milliseconds of CPU per passphrase join; room's
// tests only need a secret that depends on the name and passphrase (wire's
// tests check the real derivation).
func init() {
	testOnlyPassphraseSecret = func(name string, passphrase []byte) [32]byte {
		return sha256.Sum256(append([]byte("room test passphrase\x00"+name+"\x00"), passphrase...))
	}
}

// OnReadForTest makes f run, with whether the room's lock was free, just
// before each envelope's cryptography (nil: no more).
func OnReadForTest(f func(lockFree bool)) {
	if f == nil {
		testHookRead.Store(nil)
		return
	}
	h := func(r *Room) {
		free := r.mu.TryLock()
		if free {
			r.mu.Unlock()
		}
		f(free)
	}
	testHookRead.Store(&h)
}
