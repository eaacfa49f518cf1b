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

// ProtocolAdmit: a joiner proves with CPace that it holds the room secret
// and receives a join commit and its epoch. It runs only over Noise (node
// refuses anything else).
const ProtocolAdmit = "/p2pchat/admit/4.0.0"

// Admission limits: a peer gets this many CPace runs (counted when the
// Challenge is sent, abandoned ones included, a success given back) per
// window; beyond that it is refused with the time left.
const (
	maxFailures   = 5
	failureWindow = 10 * time.Minute
)

// maxTried bounds the epochs remembered as recently asked for.
const maxTried = 64

// ErrRefused is returned when a member refuses to admit us; the error is a
// *RefusedError that says why.
var ErrRefused = errors.New("admission refused")

// RefusedError reports the reason a peer gave for refusing an admission.
type RefusedError struct {
	Reason     wire.RefuseReason
	RetryAfter time.Duration // for RefuseRateLimited
}

func (e *RefusedError) Error() string { return "admission refused: " + e.Reason.String() }

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// ErrMemberProof is returned when the peer that answered an admission could
// not confirm the PAKE key: it does not hold the room secret, and nothing it
// sent is used.
var ErrMemberProof = errors.New("peer failed to prove it holds the room secret")

// errNoChallenge marks an admission that ended before any CPace run.
var errNoChallenge = errors.New("no challenge")

func readFrame(s Stream, max int) (wire.Frame, error) {
	b, err := frame.ReadFrame(s, max)
	if err != nil {
		return nil, err
	}
	return wire.DecodeFrame(b)
}

func writeFrame(s Stream, f wire.Frame) error {
	return frame.WriteFrame(s, wire.EncodeFrame(f))
}

// admission is what a successful admission hands the joiner, verified.
type admission struct {
	e      *wire.Epoch
	chain  []*wire.Commit
	secret [32]byte
	nick   string
	clock  uint64
}

// admitFrom runs the joiner side of the admission protocol with member p
// and returns what it hands over, verified: the join commit names us,
// follows its parent and is signed by p, and the secret is the one it
// names. The caller adopts or erases it. An error wrapping errNoChallenge
// means no CPace run happened.
func (r *Room) admitFrom(ctx context.Context, p peer.ID) (*admission, error) {
	ctx, cancel := context.WithTimeout(ctx, r.m.timing.AdmitTimeout)
	defer cancel()
	s, err := r.m.net.Open(ctx, p, ProtocolAdmit)
	if err != nil {
		r.m.checkOldPeer(ctx, p)
		return nil, fmt.Errorf("%w: %w", errNoChallenge, err)
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()

	hello := &wire.Hello{Room: r.id}
	if _, err := rand.Read(hello.Nonce[:]); err != nil {
		return nil, err
	}
	if err := writeFrame(s, hello); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoChallenge, err)
	}
	f, err := readFrame(s, wire.MaxFrame)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoChallenge, err)
	}
	var ch *wire.Challenge
	switch f := f.(type) {
	case *wire.Challenge:
		ch = f
	case *wire.Refuse:
		return nil, fmt.Errorf("%w: %w", errNoChallenge, refusal(f))
	default:
		return nil, fmt.Errorf("unexpected %T: %w: %w", f, errNoChallenge, wire.ErrMalformed)
	}
	r.noteJoinerRun()
	self := r.m.net.ID()
	secret := r.admitSecret()
	sess, ya, err := cpace.Start(cpace.Initiator, secret[:], wire.ChannelID(r.id, []byte(self), []byte(p)), wire.SessionID(hello.Nonce, ch.Nonce), wire.JoinerAD)
	clear(secret[:])
	if err != nil {
		return nil, err
	}
	isk, err := sess.Finish(ch.Y[:], wire.MemberAD)
	if err != nil {
		return nil, fmt.Errorf("member's share: %w", err)
	}
	keys := wire.DeriveAdmissionKeys(isk)
	clear(isk)
	defer keys.Erase()
	share := &wire.Share{Y: [32]byte(ya)}
	share.Confirm = keys.JoinerConfirm(share.Y, ch.Y)
	if err := writeFrame(s, share); err != nil {
		return nil, err
	}
	if f, err = readFrame(s, wire.MaxFrame); err != nil {
		return nil, err
	}
	switch f := f.(type) {
	case *wire.Welcome:
		want := keys.MemberConfirm(share.Y, ch.Y)
		if !hmac.Equal(want[:], f.Confirm[:]) {
			return nil, ErrMemberProof
		}
		g, err := keys.OpenWelcome(f.Sealed)
		if err != nil {
			return nil, fmt.Errorf("welcome: %w", err)
		}
		defer clear(g.Secret[:])
		return r.verifyGrant(p, g)
	case *wire.Refuse:
		return nil, refusal(f)
	default:
		return nil, fmt.Errorf("unexpected %T: %w", f, wire.ErrMalformed)
	}
}

func refusal(f *wire.Refuse) *RefusedError {
	return &RefusedError{Reason: f.Reason, RetryAfter: time.Duration(f.RetryAfter) * time.Second}
}

// verifyGrant checks a grant from member p: its commit follows its parent
// and lists us and p (a join of us must be p's), and the secret is the one
// it names.
func (r *Room) verifyGrant(p peer.ID, g *wire.Grant) (*admission, error) {
	parent, join := g.Commits[0], g.Commits[1]
	ppub, err := identity.PublicKeyOf(p)
	if err != nil {
		return nil, err
	}
	// A join of us by p; or, when we were still in its roster (we
	// restarted), p's current epoch, made by any member.
	self := r.m.id.PublicKey()
	joinsUs := join.Change == wire.ChangeJoin && join.Subjects[0].Equal(self) && join.Author.Equal(ppub)
	switch {
	case parent.Room != r.id:
		return nil, fmt.Errorf("welcome: commit of another room: %w", wire.ErrCommit)
	case !join.InRoster(self) || !join.InRoster(ppub):
		return nil, fmt.Errorf("welcome: epoch leaves us or the admitting member out: %w", wire.ErrCommit)
	case !joinsUs && join.Change == wire.ChangeJoin && join.Subjects[0].Equal(self):
		return nil, fmt.Errorf("welcome: our join not made by the admitting member: %w", wire.ErrCommit)
	}
	if err := wire.VerifyCommit(parent, join); err != nil {
		return nil, fmt.Errorf("welcome: %w", err)
	}
	e, err := wire.EpochOf(join, &g.Secret)
	if err != nil {
		return nil, fmt.Errorf("welcome: %w", err)
	}
	return &admission{e: e, chain: []*wire.Commit{parent, join}, secret: g.Secret, nick: g.Nick, clock: g.Clock}, nil
}

// admitAndAdopt is admitted by p and adopts what it hands over: the join
// commit extends our chain where it holds the parent, else (we were
// removed, or another group's chain) it replaces it. Our clock is brought
// up to the admitter's, so our next message is ordered after what we could
// have seen. The caller reports a refusal (see refused).
func (r *Room) admitAndAdopt(p peer.ID) error {
	a, err := r.admitFrom(r.ctx, p)
	if err != nil {
		return err
	}
	defer clear(a.secret[:])
	r.mu.Lock()
	chain := a.chain
	for i, c := range r.chain {
		if c.Hash() == a.chain[1].Parent {
			chain = trimChain(append(append([]*wire.Commit(nil), r.chain[:i+1]...), a.chain[1]))
		}
	}
	r.clock = max(r.clock, a.clock)
	r.mu.Unlock()
	if err := r.install(a.e, chain, &a.secret, nil); err != nil {
		return err
	}
	fp, _ := identity.PeerFingerprint(p)
	r.seen(p, a.nick, fp.Short())
	return nil
}

// refused tells the user what a refusal means, and stops every admission
// attempt after a member refused our secret.
func (r *Room) refused(p peer.ID, err error) {
	var ref *RefusedError
	if !errors.As(err, &ref) {
		return
	}
	switch ref.Reason {
	case wire.RefuseBadProof:
		msg := fmt.Sprintf("wrong passphrase for %s: not joined", r.name)
		if r.kind == KindOpen {
			// An open room's secret is derived from its name, so a member
			// of the same name refuses it only if its room has a
			// passphrase: say how to join it with one.
			msg = fmt.Sprintf("%s needs a passphrase: /join -p %s", r.name, r.name)
		}
		r.block(refusedSecret(msg))
	case wire.RefuseRateLimited:
		r.block(refusedSecret(fmt.Sprintf("too many wrong passphrases from this node: try again in %v", ref.RetryAfter.Round(time.Second))))
	}
}

// refusedSecret is what the user is told when a member refuses our secret;
// it is an ErrWrongPassphrase.
type refusedSecret string

func (e refusedSecret) Error() string        { return string(e) }
func (e refusedSecret) Is(target error) bool { return target == ErrWrongPassphrase }

// block stops all our admission attempts in the room until the user gives
// a secret again, and tells the user at once.
func (r *Room) block(err error) {
	r.mu.Lock()
	if r.blocked != nil || r.cur != nil {
		r.mu.Unlock()
		return
	}
	r.blocked = err
	close(r.blockedCh)
	r.mu.Unlock()
	r.m.emit(Event{Type: EventError, Room: r.name, Reason: ReasonWrongPassphrase, Err: err})
}

// noteJoinerRun counts a CPace run on the joiner side (tests read it).
func (r *Room) noteJoinerRun() {
	r.mu.Lock()
	r.joinerRuns++
	r.mu.Unlock()
}

// admitSecret returns a copy of the admission secret.
func (r *Room) admitSecret() [32]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.secret
}

// handleAdmit runs the member side of the admission protocol. The joiner
// gets a key only after its CPace key confirmation verifies: a join commit
// on our tip, signed by us, and its secret, sealed under the PAKE-derived
// key. Nothing the joiner says before that decides anything.
func (m *Manager) handleAdmit(s Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(m.timing.AdmitTimeout))
	remote := s.RemotePeer()
	f, err := readFrame(s, wire.MaxHelloFrame)
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
	if refuse := r.attempt(remote); refuse != nil {
		writeFrame(s, refuse)
		return
	}
	ch := &wire.Challenge{}
	if _, err := rand.Read(ch.Nonce[:]); err != nil {
		s.Reset()
		return
	}
	secret := r.admitSecret()
	sess, yb, err := cpace.Start(cpace.Responder, secret[:], wire.ChannelID(r.id, []byte(remote), []byte(m.net.ID())), wire.SessionID(hello.Nonce, ch.Nonce), wire.MemberAD)
	clear(secret[:])
	if err != nil {
		s.Reset()
		return
	}
	ch.Y = [32]byte(yb)
	if err := writeFrame(s, ch); err != nil {
		return
	}
	if f, err = readFrame(s, wire.MaxFrame); err != nil {
		return // the joiner vanished mid-handshake: the attempt counts
	}
	share, ok := f.(*wire.Share)
	if !ok {
		s.Reset()
		return
	}
	isk, err := sess.Finish(share.Y[:], wire.JoinerAD)
	if err != nil {
		writeFrame(s, &wire.Refuse{Reason: wire.RefuseBadProof})
		return
	}
	keys := wire.DeriveAdmissionKeys(isk)
	clear(isk)
	defer keys.Erase()
	want := keys.JoinerConfirm(share.Y, ch.Y)
	if !hmac.Equal(want[:], share.Confirm[:]) {
		m.log.Debug("admission: key confirmation failed", "room", r.name, "peer", remote)
		writeFrame(s, &wire.Refuse{Reason: wire.RefuseBadProof})
		return
	}
	r.succeeded(remote)
	suffix, epochSecret, err := r.commitJoin(remote)
	defer clear(epochSecret[:])
	if err != nil {
		m.log.Debug("admission: commit failed", "room", r.name, "peer", remote, "err", err)
		writeFrame(s, &wire.Refuse{Reason: wire.RefuseFull})
		return
	}
	r.mu.Lock()
	clock := r.clock
	r.mu.Unlock()
	g := &wire.Grant{Commits: suffix, Secret: epochSecret, Nick: m.Nick(), Clock: min(clock, 1<<62-1)}
	sealed, err := keys.SealWelcome(g)
	clear(g.Secret[:])
	if err != nil {
		s.Reset()
		return
	}
	writeFrame(s, &wire.Welcome{Confirm: keys.MemberConfirm(share.Y, ch.Y), Sealed: sealed})
}

// attempt counts an admission attempt by remote, or returns the refusal
// if we hold no key or remote used its attempts in the window (with the
// seconds until the oldest expires). The user is told once, when remote
// reaches the limit.
func (r *Room) attempt(remote peer.ID) *wire.Refuse {
	now := time.Now()
	r.mu.Lock()
	if r.cur == nil {
		r.mu.Unlock()
		return &wire.Refuse{Reason: wire.RefuseNoKey}
	}
	var recent []time.Time
	for _, t := range r.failures[remote] {
		if now.Sub(t) < failureWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) >= maxFailures {
		r.failures[remote] = recent
		r.mu.Unlock()
		wait := failureWindow - now.Sub(recent[0])
		return &wire.Refuse{Reason: wire.RefuseRateLimited, RetryAfter: uint32((wait + time.Second - 1) / time.Second)}
	}
	recent = append(recent, now)
	r.failures[remote] = recent
	n := len(recent)
	r.mu.Unlock()
	if n == maxFailures {
		r.m.emit(Event{Type: EventError, Room: r.name, Peer: remote, Short: shortOf(remote), Reason: ReasonWrongPassphrase,
			Err: fmt.Errorf("room %q: %s tried %d admissions without proving the room's secret; refusing it for %v", r.name, r.nameOf(remote), n, failureWindow)})
	}
	return nil
}

// succeeded gives back the attempt of a peer that proved the secret.
func (r *Room) succeeded(remote peer.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.failures[remote]; len(f) > 0 {
		r.failures[remote] = f[:len(f)-1]
	}
}

func shortOf(p peer.ID) string {
	fp, _ := identity.PeerFingerprint(p)
	return fp.Short()
}

// nameOf names p for the user: nick#fp when we know its nick (as a member
// of this room or another, or from the store), else peer#fp.
func (r *Room) nameOf(p peer.ID) string {
	if nick := r.m.nickOf(p); nick != "" {
		return nick + "#" + shortOf(p)
	}
	return "peer#" + shortOf(p)
}

// nickOf returns p's nick as a member of one of our rooms, else the last
// one the store remembers, else "".
func (m *Manager) nickOf(p peer.ID) string {
	for _, r := range m.roomList() {
		r.mu.Lock()
		mb := r.members[p]
		r.mu.Unlock()
		if mb != nil {
			return mb.nick
		}
	}
	if m.store != nil {
		if rec, ok, err := m.store.Peer(context.Background(), p.String()); err == nil && ok {
			return rec.LastNick
		}
	}
	return ""
}

// Earlier protocols' admissions: a v4 node answers them only to tell its
// user that the peer must upgrade.
const (
	ProtocolAdmitV3 = "/p2pchat/admit/3.0.0"
	ProtocolAdmitV2 = "/p2pchat/admit/2.0.0"
)

// oldAdmissions names the protocol version of each earlier admission, the
// newest first.
var oldAdmissions = []struct{ proto, version string }{
	{ProtocolAdmitV3, "v3"},
	{ProtocolAdmitV2, "v2"},
}

// handleOldAdmit returns the handler of an earlier protocol's admission: it
// closes the stream and tells the user once per peer.
func (m *Manager) handleOldAdmit(version string) func(Stream) {
	return func(s Stream) {
		p := s.RemotePeer()
		s.Reset()
		m.tellOld(p, version)
	}
}

// checkOldPeer is called when p does not speak our admission protocol: if
// it speaks an earlier one, the user is told once that p must upgrade.
func (m *Manager) checkOldPeer(ctx context.Context, p peer.ID) {
	for _, old := range oldAdmissions {
		s, err := m.net.Open(ctx, p, old.proto)
		if err != nil {
			continue
		}
		s.Reset()
		m.tellOld(p, old.version)
		return
	}
}

func (m *Manager) tellOld(p peer.ID, version string) {
	m.mu.Lock()
	told := m.toldOld[p]
	m.toldOld[p] = true
	m.mu.Unlock()
	if !told {
		m.emit(Event{Type: EventError, Peer: p, Short: shortOf(p),
			Err: fmt.Errorf("peer#%s runs an older p2pchat (protocol %s) and cannot join: it must upgrade p2pchat", shortOf(p), version)})
	}
}
