package room

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node/frame"
	"github.com/p2pchat/p2pchat/room/internal/cpace"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// Stream protocols. Both run only over Noise (node refuses anything else).
const (
	// ProtocolAdmit: a joiner proves with CPace that it holds the room
	// secret and receives a fresh epoch that includes it.
	ProtocolAdmit = "/p2pchat/admit/2.0.0"
	// ProtocolRekey: a member hands a new epoch to another member.
	ProtocolRekey = "/p2pchat/rekey/2.0.0"
)

// Admission failure limits: a peer that fails this many proofs within the
// window is refused without trying.
const (
	maxFailures   = 5
	failureWindow = 10 * time.Minute
)

// maxTried bounds the epochs remembered as recently fetched.
const maxTried = 64

// ErrRefused is returned when a member refuses to admit us; the error is a
// *RefusedError that says why.
var ErrRefused = errors.New("admission refused")

// RefusedError reports the reason a peer gave for refusing an admission.
type RefusedError struct{ Reason wire.RefuseReason }

func (e *RefusedError) Error() string { return "admission refused: " + e.Reason.String() }

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// ErrMemberProof is returned when the peer that answered an admission could
// not confirm the PAKE key: it does not hold the room secret, and nothing it
// sent is used.
var ErrMemberProof = errors.New("peer failed to prove it holds the room secret")

func readFrame(s Stream) (wire.Frame, error) {
	b, err := frame.ReadFrame(s, wire.MaxFrame)
	if err != nil {
		return nil, err
	}
	return wire.DecodeFrame(b)
}

func writeFrame(s Stream, f wire.Frame) error {
	return frame.WriteFrame(s, wire.EncodeFrame(f))
}

// admitFrom runs the joiner side of the admission protocol with member p and
// returns the epoch it hands over (the caller adopts or erases it) and p's
// nick.
func (r *Room) admitFrom(ctx context.Context, p peer.ID) (*wire.Epoch, string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.m.timing.AdmitTimeout)
	defer cancel()
	s, err := r.m.net.Open(ctx, p, ProtocolAdmit)
	if err != nil {
		return nil, "", err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()

	hello := &wire.Hello{Room: r.id}
	if _, err := rand.Read(hello.Nonce[:]); err != nil {
		return nil, "", err
	}
	r.mu.Lock()
	if r.cur != nil {
		ref := r.cur.Ref()
		hello.Have = &ref
	}
	r.mu.Unlock()
	if err := writeFrame(s, hello); err != nil {
		return nil, "", err
	}
	f, err := readFrame(s)
	if err != nil {
		return nil, "", err
	}
	var ch *wire.Challenge
	switch f := f.(type) {
	case *wire.Challenge:
		ch = f
	case *wire.Refuse:
		return nil, "", &RefusedError{Reason: f.Reason}
	default:
		return nil, "", fmt.Errorf("unexpected %T: %w", f, wire.ErrMalformed)
	}
	self := r.m.net.ID()
	sess, ya, err := cpace.Start(cpace.Initiator, r.secret[:], wire.ChannelID(r.id, []byte(self), []byte(p)), wire.SessionID(hello.Nonce, ch.Nonce), wire.JoinerAD)
	if err != nil {
		return nil, "", err
	}
	isk, err := sess.Finish(ch.Y[:], wire.MemberAD)
	if err != nil {
		return nil, "", fmt.Errorf("member's share: %w", err)
	}
	keys := wire.DeriveAdmissionKeys(isk)
	clear(isk)
	defer keys.Erase()
	share := &wire.Share{Y: [32]byte(ya)}
	share.Confirm = keys.JoinerConfirm(share.Y, ch.Y)
	if err := writeFrame(s, share); err != nil {
		return nil, "", err
	}
	if f, err = readFrame(s); err != nil {
		return nil, "", err
	}
	switch f := f.(type) {
	case *wire.Welcome:
		want := keys.MemberConfirm(share.Y, ch.Y)
		if !hmac.Equal(want[:], f.Confirm[:]) {
			return nil, "", ErrMemberProof
		}
		g, err := keys.OpenWelcome(f.Sealed)
		if err != nil {
			return nil, "", fmt.Errorf("welcome: %w", err)
		}
		e, err := wire.NewEpoch(r.id, g.Epoch, &g.Secret, g.Roster)
		clear(g.Secret[:])
		if err != nil {
			return nil, "", fmt.Errorf("welcome: %w", err)
		}
		if !e.InRoster(r.m.id.PublicKey()) {
			e.Erase()
			return nil, "", fmt.Errorf("welcome: epoch does not include us: %w", wire.ErrMalformed)
		}
		return e, g.Nick, nil
	case *wire.Refuse:
		return nil, "", &RefusedError{Reason: f.Reason}
	default:
		return nil, "", fmt.Errorf("unexpected %T: %w", f, wire.ErrMalformed)
	}
}

// handleAdmit runs the member side of the admission protocol. The joiner
// gets a key only after its CPace key confirmation verifies, and then a new
// epoch that includes it, sealed under the PAKE-derived key.
func (m *Manager) handleAdmit(s Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(m.timing.AdmitTimeout))
	remote := s.RemotePeer()
	f, err := readFrame(s)
	if err != nil {
		m.log.Debug("admission: bad hello", "peer", remote, "err", err)
		s.Reset()
		return
	}
	hello, ok := f.(*wire.Hello)
	if !ok {
		s.Reset()
		return
	}
	r := m.roomByID(hello.Room)
	if r == nil {
		writeFrame(s, &wire.Refuse{Reason: wire.RefuseUnknownRoom})
		return
	}
	if reason, ok := r.admissible(remote); !ok {
		writeFrame(s, &wire.Refuse{Reason: reason})
		return
	}
	ch := &wire.Challenge{}
	if _, err := rand.Read(ch.Nonce[:]); err != nil {
		s.Reset()
		return
	}
	sess, yb, err := cpace.Start(cpace.Responder, r.secret[:], wire.ChannelID(r.id, []byte(remote), []byte(m.net.ID())), wire.SessionID(hello.Nonce, ch.Nonce), wire.MemberAD)
	if err != nil {
		s.Reset()
		return
	}
	ch.Y = [32]byte(yb)
	if err := writeFrame(s, ch); err != nil {
		return
	}
	if f, err = readFrame(s); err != nil {
		return // the joiner vanished mid-handshake: nothing was handed out
	}
	share, ok := f.(*wire.Share)
	if !ok {
		s.Reset()
		return
	}
	isk, err := sess.Finish(share.Y[:], wire.JoinerAD)
	if err != nil {
		r.failed(remote, hello.Have != nil)
		writeFrame(s, &wire.Refuse{Reason: wire.RefuseBadProof})
		return
	}
	keys := wire.DeriveAdmissionKeys(isk)
	clear(isk)
	defer keys.Erase()
	want := keys.JoinerConfirm(share.Y, ch.Y)
	if !hmac.Equal(want[:], share.Confirm[:]) {
		r.failed(remote, hello.Have != nil)
		writeFrame(s, &wire.Refuse{Reason: wire.RefuseBadProof})
		return
	}
	// Admitted: a new epoch with the joiner in it, numbered past anything
	// the joiner holds so that its old group converges on it too.
	min := uint32(0)
	if hello.Have != nil {
		min = hello.Have.Number + 1
	}
	g, err := r.rekey(remote, min, "admission")
	if err != nil {
		m.log.Debug("admission: rekey failed", "room", r.name, "peer", remote, "err", err)
		writeFrame(s, &wire.Refuse{Reason: wire.RefuseFull})
		return
	}
	g.Nick = m.Nick()
	sealed, err := keys.SealWelcome(g)
	clear(g.Secret[:])
	if err != nil {
		s.Reset()
		return
	}
	writeFrame(s, &wire.Welcome{Confirm: keys.MemberConfirm(share.Y, ch.Y), Sealed: sealed})
}

// admissible reports whether remote may attempt an admission now.
func (r *Room) admissible(remote peer.ID) (wire.RefuseReason, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		return wire.RefuseNoKey, false
	}
	var recent []time.Time
	for _, t := range r.failures[remote] {
		if time.Since(t) < failureWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(r.failures, remote)
	} else {
		r.failures[remote] = recent
	}
	if len(recent) >= maxFailures {
		return wire.RefuseRateLimited, false
	}
	return 0, true
}

// failed records a failed proof by remote and tells the user once, when the
// peer reaches the limit. hasKey says the peer holds an epoch of its own: a
// group using the same room name with another secret, rather than a guesser.
func (r *Room) failed(remote peer.ID, hasKey bool) {
	r.mu.Lock()
	r.failures[remote] = append(r.failures[remote], time.Now())
	n := len(r.failures[remote])
	r.mu.Unlock()
	r.m.log.Debug("admission: key confirmation failed", "room", r.name, "peer", remote)
	if n != maxFailures {
		return
	}
	fp, _ := identity.PeerFingerprint(remote)
	what := "failed to prove it knows the room's passphrase"
	if r.kind == KindOpen {
		what = "failed to prove it knows the room name"
	}
	if hasKey {
		what += " (it is in a room of this name with a different passphrase, or is guessing)"
	}
	r.m.emit(Event{Type: EventError, Room: r.name, Peer: remote, Short: fp.Short(),
		Err: fmt.Errorf("room %q: peer %s#%s %s %d times; refusing it for %v", r.name, remote, fp.Short(), what, n, failureWindow)})
}

// handleRekey accepts a new epoch from a current member: the stream's Noise
// peer must be in the roster of the epoch the MAC is made with and must not
// have left, this node must be in the new roster, and the new epoch must win.
func (m *Manager) handleRekey(s Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(m.timing.AdmitTimeout))
	remote := s.RemotePeer()
	f, err := readFrame(s)
	if err != nil {
		s.Reset()
		return
	}
	k, ok := f.(*wire.Rekey)
	if !ok {
		s.Reset()
		return
	}
	defer clear(k.Secret[:])
	r := m.roomByID(k.Room)
	if r == nil {
		return
	}
	if err := r.acceptRekey(remote, k); err != nil {
		r.m.log.Debug("rekey refused", "room", r.name, "peer", remote, "err", err)
		r.count(DropRekey)
	}
}

func (r *Room) acceptRekey(remote peer.ID, k *wire.Rekey) error {
	pub, err := identity.PublicKeyOf(remote)
	if err != nil {
		return err
	}
	e, err := wire.NewEpoch(r.id, k.Epoch, &k.Secret, k.Roster)
	if err != nil {
		return err
	}
	r.mu.Lock()
	from := r.epochLocked(k.From)
	var bad error
	switch {
	case from == nil:
		bad = errors.New("MAC epoch not held")
	case !from.InRoster(pub):
		bad = errors.New("sender is not in the MAC epoch")
	case r.departed[remote]:
		bad = errors.New("sender has left")
	case !e.InRoster(r.m.id.PublicKey()):
		bad = errors.New("new roster does not include us")
	default:
		mac := from.RekeyMAC([]byte(remote), []byte(r.m.net.ID()), e.Ref(), k.Roster)
		if !hmac.Equal(mac[:], k.MAC[:]) {
			bad = errors.New("bad MAC")
		}
	}
	r.mu.Unlock()
	if bad != nil {
		e.Erase()
		return bad
	}
	r.adopt(e)
	return nil
}

// convergeLocked fetches the epoch ref, which wins over ours, by asking the
// peer that sent it (or any topic peer) to admit us. One fetch runs at a
// time and each epoch is tried at most once a second, so forged headers
// cannot make us spin. r.mu must be held.
func (r *Room) convergeLocked(ref wire.EpochRef, hint peer.ID) {
	if r.converging || r.ctx.Err() != nil || time.Since(r.tried[ref]) < time.Second {
		return
	}
	if len(r.tried) >= maxTried {
		// Forged headers can name any number of epochs; keep the memory
		// of attempts bounded.
		for k, t := range r.tried {
			if time.Since(t) >= time.Second {
				delete(r.tried, k)
			}
		}
		if len(r.tried) >= maxTried {
			return
		}
	}
	r.converging = true
	r.tried[ref] = time.Now()
	// A member of our own epoch that moved on pushes the new epoch to us
	// (ProtocolRekey); fetching it through admission instead would make the
	// member mint yet another epoch, and in a large room those fetches feed
	// each other. So give the push a moment first.
	waitPush := false
	if pub, err := identity.PublicKeyOf(hint); err == nil && r.cur != nil && r.cur.InRoster(pub) {
		waitPush = true
	}
	r.spawn(func() {
		defer func() {
			r.mu.Lock()
			r.converging = false
			r.mu.Unlock()
		}()
		if waitPush {
			select {
			case <-time.After(r.m.timing.PushWait):
			case <-r.ctx.Done():
				return
			}
			r.mu.Lock()
			behind := r.cur == nil || ref.Better(r.cur.Ref())
			r.mu.Unlock()
			if !behind {
				return
			}
		}
		// Ask the peer that sent the envelope (with flood publishing, its
		// author), then topic peers outside our epoch (a relay from the
		// other group). Members of our own epoch would push a newer epoch
		// to us themselves; asking them would let anyone who forges a
		// header make members rekey.
		r.mu.Lock()
		ours := r.cur
		r.mu.Unlock()
		peers := append([]peer.ID{hint}, r.topic.Peers()...)
		done := map[peer.ID]bool{}
		for i, p := range peers {
			if done[p] || p == "" || p == r.m.net.ID() {
				continue
			}
			if pub, err := identity.PublicKeyOf(p); i > 0 && (err != nil || ours.InRoster(pub)) {
				continue
			}
			done[p] = true
			e, nick, err := r.admitFrom(r.ctx, p)
			if err != nil {
				r.m.log.Debug("converge: fetch failed", "room", r.name, "peer", p, "err", err)
				continue
			}
			got := e.Ref()
			if r.adopt(e) {
				fp, _ := identity.PeerFingerprint(p)
				r.seen(p, nick, fp.Short())
				// Our epoch lost: what we sent under it recently never
				// reached the other side.
				r.resend(true)
			}
			if got == ref || got.Better(ref) {
				return
			}
		}
	})
}
