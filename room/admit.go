package room

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// ProtocolAdmit is the stream protocol on which a member hands the room key
// to a joiner that proves it knows the room name. It only runs over Noise
// (node refuses anything else).
const ProtocolAdmit protocol.ID = "/p2pchat/admit/1.0.0"

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
// not prove it knows the room name: it is not a member, and its key is
// discarded.
var ErrMemberProof = errors.New("peer failed to prove it knows the room name")

func readFrame(s network.Stream) (wire.Frame, error) {
	b, err := node.ReadFrame(s, wire.MaxFrame)
	if err != nil {
		return nil, err
	}
	return wire.DecodeFrame(b)
}

func writeFrame(s network.Stream, f wire.Frame) error {
	return node.WriteFrame(s, wire.EncodeFrame(f))
}

// admitFrom runs the joiner side of the admission protocol with member p and
// returns the epoch it hands over (the caller adopts or erases it) and p's
// nick.
func (r *Room) admitFrom(ctx context.Context, p peer.ID) (*wire.Epoch, string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.m.timing.AdmitTimeout)
	defer cancel()
	s, err := r.m.node.Open(ctx, p, ProtocolAdmit)
	if err != nil {
		return nil, "", err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()

	tr := wire.Transcript{Room: r.id, Joiner: []byte(r.m.node.ID()), Member: []byte(p)}
	if _, err := rand.Read(tr.JoinerNonce[:]); err != nil {
		return nil, "", err
	}
	hello := &wire.Hello{Room: r.id, Nonce: tr.JoinerNonce}
	r.mu.Lock()
	if r.cur != nil {
		ref := r.cur.Ref()
		hello.Have = &ref
		tr.JoinerHasKey, tr.JoinerHaveRef = true, ref
	}
	r.mu.Unlock()
	if err := writeFrame(s, hello); err != nil {
		return nil, "", err
	}
	f, err := readFrame(s)
	if err != nil {
		return nil, "", err
	}
	switch f := f.(type) {
	case *wire.Challenge:
		tr.MemberNonce = f.Nonce
	case *wire.Refuse:
		return nil, "", &RefusedError{Reason: f.Reason}
	default:
		return nil, "", fmt.Errorf("unexpected %T: %w", f, wire.ErrMalformed)
	}
	if err := writeFrame(s, &wire.Proof{MAC: wire.JoinerMAC(&r.admKey, &tr)}); err != nil {
		return nil, "", err
	}
	f, err = readFrame(s)
	if err != nil {
		return nil, "", err
	}
	switch f := f.(type) {
	case *wire.Welcome:
		e := wire.NewEpoch(r.id, f.Epoch, &f.Secret)
		clear(f.Secret[:])
		want := wire.MemberMAC(&r.admKey, &tr, e.Ref())
		if !hmac.Equal(want[:], f.MAC[:]) {
			e.Erase()
			return nil, "", ErrMemberProof
		}
		return e, f.Nick, nil
	case *wire.Refuse:
		return nil, "", &RefusedError{Reason: f.Reason}
	default:
		return nil, "", fmt.Errorf("unexpected %T: %w", f, wire.ErrMalformed)
	}
}

// handleAdmit runs the member side of the admission protocol. A joiner gets
// the key only after its MAC proves it knows the room name; the member's own
// MAC is only sent after that.
func (m *Manager) handleAdmit(s network.Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(m.timing.AdmitTimeout))
	remote := s.Conn().RemotePeer()
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
	tr := wire.Transcript{Room: r.id, Joiner: []byte(remote), Member: []byte(m.node.ID()), JoinerNonce: hello.Nonce}
	if hello.Have != nil {
		tr.JoinerHasKey, tr.JoinerHaveRef = true, *hello.Have
	}
	if _, err := rand.Read(tr.MemberNonce[:]); err != nil {
		s.Reset()
		return
	}
	if err := writeFrame(s, &wire.Challenge{Nonce: tr.MemberNonce}); err != nil {
		return
	}
	f, err = readFrame(s)
	if err != nil {
		return
	}
	proof, ok := f.(*wire.Proof)
	if !ok {
		s.Reset()
		return
	}
	want := wire.JoinerMAC(&r.admKey, &tr)
	if !hmac.Equal(want[:], proof.MAC[:]) {
		r.failed(remote)
		writeFrame(s, &wire.Refuse{Reason: wire.RefuseBadProof})
		return
	}
	r.mu.Lock()
	e := r.cur
	r.mu.Unlock()
	if e == nil {
		writeFrame(s, &wire.Refuse{Reason: wire.RefuseNoKey})
		return
	}
	w := &wire.Welcome{MAC: wire.MemberMAC(&r.admKey, &tr, e.Ref()), Epoch: e.Ref().Number, Secret: e.Secret(), Nick: m.Nick()}
	err = writeFrame(s, w)
	clear(w.Secret[:])
	if err != nil {
		return
	}
	// The joiner may hold a winning epoch (two groups meeting): fetch it.
	if hello.Have != nil && hello.Have.Better(e.Ref()) {
		r.mu.Lock()
		r.convergeLocked(*hello.Have, remote)
		r.mu.Unlock()
	}
}

// admissible reports whether remote may attempt an admission now.
func (r *Room) admissible(remote peer.ID) (wire.RefuseReason, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		return wire.RefuseNoKey, false
	}
	recent := r.failures[remote][:0]
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

// failed records a failed proof by remote and tells the user once the peer
// hits the limit.
func (r *Room) failed(remote peer.ID) {
	r.mu.Lock()
	r.failures[remote] = append(r.failures[remote], time.Now())
	n := len(r.failures[remote])
	r.mu.Unlock()
	r.m.log.Debug("admission: bad proof", "room", r.name, "peer", remote)
	if n == maxFailures {
		fp, _ := identity.PeerFingerprint(remote)
		r.m.emit(Event{Type: EventError, Room: r.name, Peer: remote, Short: fp.Short(),
			Err: fmt.Errorf("room %q: peer %s failed to prove it knows the room name %d times; refusing it for %v", r.name, remote, n, failureWindow)})
	}
}

// convergeLocked fetches the epoch ref, which wins over ours, from the peer
// that sent it (or any topic peer). One fetch runs at a time and each epoch
// is tried at most once a second, so forged headers cannot make us spin.
// r.mu must be held.
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
	r.wg.Go(func() {
		defer func() {
			r.mu.Lock()
			r.converging = false
			r.mu.Unlock()
		}()
		peers := append([]peer.ID{hint}, r.topic.Peers()...)
		done := map[peer.ID]bool{}
		for _, p := range peers {
			if done[p] || p == "" || p == r.m.node.ID() {
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
			}
			if got == ref || got.Better(ref) {
				return
			}
		}
	})
}
