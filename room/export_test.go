package room

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"time"

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

// AdoptForTest makes this node adopt an epoch built from secret and roster
// (parent hash zero) if its number and key id win over the current one, as
// if a member had handed it over: a back door past the chain's
// verification, for tests of what happens around epochs. Its commit is
// unsigned, by the roster's first key.
func (r *Room) AdoptForTest(number uint32, secret [32]byte, roster []ed25519.PublicKey) bool {
	e, err := wire.NewEpoch(r.id, number, [32]byte{}, &secret, roster)
	if err != nil {
		panic(err)
	}
	c := &wire.Commit{Room: r.id, Number: number, Author: e.Roster()[0], Change: wire.ChangeJoin, Roster: e.Roster(), KeyID: e.Ref().KeyID}
	return r.install(e, []*wire.Commit{c}, &secret, func() error {
		if r.cur != nil && !e.Ref().Better(r.cur.Ref()) {
			return errLoses
		}
		return nil
	}) == nil
}

// JoinerRunsForTest returns how many CPace runs this node started as a
// joiner in the room.
func (r *Room) JoinerRunsForTest() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.joinerRuns
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

// RekeyBackForTest is a departed member's attack: a join commit (of a fresh
// key) on its own tip, the epoch it last held, with its secret pushed to
// every member of that epoch.
func (r *Room) RekeyBackForTest() error {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	_, s, err := r.commit(wire.ChangeJoin, []ed25519.PublicKey{pub}, "", "test: departed member commits back")
	clear(s[:])
	return err
}

// PushNumberForTest is a member's attack on epoch numbers: a commit on our
// tip numbered number (signed, otherwise valid), pushed with its secret to
// every other member.
func (r *Room) PushNumberForTest(number uint32) error {
	secret, err := newSecret()
	if err != nil {
		return err
	}
	r.mu.Lock()
	tip := r.tipLocked()
	r.mu.Unlock()
	c, err := wire.NewCommit(r.id, tip, r.m.id.PublicKey(), wire.ChangeRemove, []ed25519.PublicKey{otherThan(tip.Roster, r.m.id.PublicKey())}, [16]byte{})
	if err != nil {
		return err
	}
	c.Number = number
	c.KeyID = wire.EpochKeyID(r.id, number, c.Parent, &secret)
	c.Sign(r.m.id.Sign)
	r.pushAll(append([]*wire.Commit{tip}, c), &secret, "")
	return nil
}

func otherThan(keys []ed25519.PublicKey, self ed25519.PublicKey) ed25519.PublicKey {
	for _, k := range keys {
		if !k.Equal(self) {
			return k
		}
	}
	return nil
}

// NoAutoRejoinForTest stops this node's automatic re-admission (section 5
// of docs/PROTOCOL.md): a departed member that attacks with its old keys
// rather than being admitted again, which members would see.
func (r *Room) NoAutoRejoinForTest() {
	r.mu.Lock()
	r.lastRejoin = time.Now().Add(24 * time.Hour)
	r.mu.Unlock()
}

// RemoveBackForTest is a departed member's attack on fork choice: on its
// own tip (the epoch it last held) it removes victim — who removed it on
// the others' branch — and makes its branch longer with extra joins of
// fresh keys, pushing each epoch to its roster.
func (r *Room) RemoveBackForTest(victim ed25519.PublicKey, extra int) error {
	_, s, err := r.commit(wire.ChangeRemove, []ed25519.PublicKey{victim}, "", "test: remove a remover")
	clear(s[:])
	for range extra {
		if err != nil {
			return err
		}
		pub, _, _ := ed25519.GenerateKey(nil)
		_, s, err = r.commit(wire.ChangeJoin, []ed25519.PublicKey{pub}, "", "test: longer branch")
		clear(s[:])
	}
	return err
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

// SetClockForTest makes the node claim (and compare members' times with)
// the time now returns instead of time.Now. Call it before joining.
func (m *Manager) SetClockForTest(now func() time.Time) { m.now = now }

// LoseForTest makes this node take p for lost (silent past the member
// timeout), as the tick loop would: p is marked departed and a removal is
// scheduled.
func (r *Room) LoseForTest(p peer.ID) { r.removeMember(p, ReasonTimedOut) }

// DepartedForTest returns why this node holds p as departed ("" if it
// does not).
func (r *Room) DepartedForTest(p peer.ID) Reason {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.departed[p]
}

// OnResendForTest makes f run in every re-send (see resend) that has
// messages to send again, after they are chosen and before they are
// published, with no lock held.
func (r *Room) OnResendForTest(f func()) {
	r.mu.Lock()
	r.testHookResend = f
	r.mu.Unlock()
}

// SendKindForTest sends a message of any kind (one that names another by
// refSeq or ref, or one this version does not know, with ext), skipping
// the checks Edit, Delete and React make: what a modified client can send.
func (r *Room) SendKindForTest(ctx context.Context, kind byte, text string, ref [16]byte, refSeq uint64, ext []byte) (*Message, error) {
	if err := r.waitSendable(ctx); err != nil {
		return nil, err
	}
	b := r.body(wire.Kind(kind), text)
	b.Ref, b.RefSeq, b.Ext = ref, refSeq, ext
	return r.sendMessage(ctx, b)
}
