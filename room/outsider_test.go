package room_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/node/roomnet"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/internal/cpace"
	"github.com/p2pchat/p2pchat/room/internal/memnet"
	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// outsider is a libp2p peer that connects to members and subscribes to the
// room's topic (it sees the topic string) but was never admitted: it does
// not know the room name.
type outsider struct {
	id        *identity.Identity
	n         *node.Node       // on real sockets
	ep        *memnet.Endpoint // on memnet
	mem       *memnet.Network
	tr        room.Transport
	topic     room.Topic
	topicName string

	mu       sync.Mutex
	captured [][]byte
}

func newOutsider(t *testing.T, topic string) *outsider {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	o := &outsider{id: id}
	if tn, ok := testNets.Load(t); ok && tn.(*testNet).mem != nil {
		o.mem = tn.(*testNet).mem
		o.ep = o.mem.Endpoint(id.PeerID())
		o.tr = o.ep
	} else {
		n, err := node.New(context.Background(), id.PrivKey(), node.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, NoMDNS: true})
		if err != nil {
			t.Fatal(err)
		}
		o.n, o.tr = n, roomnet.Transport(n)
	}
	accept := func(peer.ID, []byte, any) (room.Verdict, any) { return room.Accept, nil }
	tp, err := o.tr.Join(topic, accept, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.topic, o.topicName = tp, topic
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := tp.Next(ctx)
			if err != nil {
				return
			}
			if m.From == id.PeerID() {
				continue // its own publications
			}
			o.mu.Lock()
			o.captured = append(o.captured, bytes.Clone(m.Data))
			o.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if o.ep != nil {
			o.ep.Close()
		} else {
			o.n.Close()
		}
	})
	return o
}

// peer returns the outsider as a peerNode for connect.
func (o *outsider) peer() *peerNode { return &peerNode{id: o.id, n: o.n, ep: o.ep, mem: o.mem} }

// received returns what the outsider's own subscription received: room
// traffic never reaches it (members' transports keep it out).
func (o *outsider) received() [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([][]byte(nil), o.captured...)
}

// envelopes returns what the outsider would see if room traffic reached it:
// on memnet, everything published on the topic (a wiretap); on real
// sockets, what it received.
func (o *outsider) envelopes() [][]byte {
	if o.mem != nil {
		return o.mem.Published(o.topicName)
	}
	return o.received()
}

func (o *outsider) publish(t *testing.T, data []byte) {
	t.Helper()
	if err := o.topic.Publish(context.Background(), data, struct{}{}); err != nil {
		t.Fatal(err)
	}
}

// tryAdmission runs the joiner side of the admission protocol knowing only
// the room id (from the topic), with a guessed room secret. It returns the
// member's final frame.
func (o *outsider) tryAdmission(t *testing.T, member peer.ID, rid wire.RoomID) wire.Frame {
	_, f := o.tryAdmissionFrames(t, member, rid)
	return f
}

// tryAdmissionFrames is tryAdmission that also returns the member's
// challenge (nil if it refused at once).
func (o *outsider) tryAdmissionFrames(t *testing.T, member peer.ID, rid wire.RoomID) (*wire.Challenge, wire.Frame) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := o.tr.Open(ctx, member, room.ProtocolAdmit)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hello := &wire.Hello{Room: rid}
	rand.Read(hello.Nonce[:])
	if err := node.WriteFrame(s, wire.EncodeFrame(hello)); err != nil {
		t.Fatal(err)
	}
	f := readWireFrame(t, s)
	ch, ok := f.(*wire.Challenge)
	if !ok {
		return nil, f
	}
	guess := wire.OpenRoomSecret("lobby-guess")
	sess, ya, err := cpace.Start(cpace.Initiator, guess[:], wire.ChannelID(rid, []byte(o.id.PeerID()), []byte(member)), wire.SessionID(hello.Nonce, ch.Nonce), wire.JoinerAD)
	if err != nil {
		t.Fatal(err)
	}
	isk, err := sess.Finish(ch.Y[:], wire.MemberAD)
	if err != nil {
		t.Fatal(err)
	}
	keys := wire.DeriveAdmissionKeys(isk)
	share := &wire.Share{Y: [32]byte(ya)}
	share.Confirm = keys.JoinerConfirm(share.Y, ch.Y)
	if err := node.WriteFrame(s, wire.EncodeFrame(share)); err != nil {
		t.Fatal(err)
	}
	return ch, readWireFrame(t, s)
}

func readWireFrame(t *testing.T, s room.Stream) wire.Frame {
	t.Helper()
	b, err := node.ReadFrame(s, wire.MaxFrame)
	if err != nil {
		t.Fatal(err)
	}
	f, err := wire.DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOutsider attacks a room from a peer that sees the topic but does not
// know the room name: it must read nothing, inject nothing, be handed no key
// and never be listed as a member.
func TestOutsider(t *testing.T) {
	t.Run("memnet", func(t *testing.T) {
		t.Parallel()
		inBubble(t, testOutsider)
	})
	t.Run("libp2p", func(t *testing.T) {
		t.Parallel()
		newTestNet(t, true)
		testOutsider(t)
	})
}

func testOutsider(t *testing.T) {
	a, b := newPair(t, "lobby")

	o := newOutsider(t, room.TopicFor("lobby"))
	connect(t, a, o.peer())
	connect(t, b, o.peer())
	waitFor(t, "outsider in topic", func() bool { return len(o.topic.Peers()) == 2 })
	quiet(t, 200*time.Millisecond) // let the members see its subscription

	marker := "zq-marker-plaintext-4711 " + strings.Repeat("z", 300)
	if _, err := a.m.Send(context.Background(), "lobby", marker); err != nil {
		t.Fatal(err)
	}
	b.waitMessage("lobby", marker)
	if o.mem != nil {
		waitFor(t, "the wiretap captures envelopes", func() bool {
			for _, env := range o.envelopes() {
				if len(env) > wire.HeaderSize+300 {
					return true
				}
			}
			return false
		})
	}

	// Eavesdropping: no plaintext, no nick, no author peer ID in anything
	// published on the topic (and nothing published reaches the outsider:
	// checked at the end).
	aPub := a.id.PublicKey()
	for _, env := range o.envelopes() {
		for _, secret := range [][]byte{[]byte(marker), []byte("alice"), []byte(a.id.PeerID()), aPub} {
			if bytes.Contains(env, secret) {
				t.Fatalf("outsider saw %q in an envelope", secret)
			}
		}
	}

	// Injection.
	var real []byte
	for _, env := range o.envelopes() {
		if len(env) > len(real) {
			real = env
		}
	}
	if real == nil {
		// Real sockets: nothing reached the outsider. A genuine envelope of
		// alice's that she never published stands in (if it got through,
		// bob would show it).
		var err error
		real, err = mustRoom(t, a, "lobby").SealForTest(&wire.Body{Kind: wire.KindText, Author: aPub, Seq: uint64(time.Now().UnixMicro()) + 1e9,
			Time: time.Now().UnixNano(), Nick: "alice", Text: "smuggled " + strings.Repeat("s", 300)}, a.id.Sign)
		if err != nil {
			t.Fatal(err)
		}
	}
	rid := wire.DeriveRoomID("lobby")
	before := a.m.Status().Rooms[0]
	var attacks [][]byte
	garbage := make([]byte, 300)
	rand.Read(garbage)
	oversized := append(bytes.Clone(real), make([]byte, 2*wire.MaxText)...)
	attacks = append(attacks, garbage, []byte{wire.Version}, append([]byte{9}, real[1:]...),
		real[:len(real)/2], real[:wire.HeaderSize], real[:len(real)-1], oversized)
	for _, i := range []int{0, 5, 20, 40, 56, 60, wire.HeaderSize + 3, len(real) - 1} {
		alt := bytes.Clone(real)
		alt[i] ^= 0x40
		attacks = append(attacks, alt)
	}
	// A well-formed envelope under a key the outsider made up, claiming to be
	// alice and claiming a winning epoch so that members try to fetch it.
	var fake [32]byte
	rand.Read(fake[:])
	_, forger, _ := ed25519.GenerateKey(rand.Reader)
	for _, number := range []uint32{0, 7} {
		e, err := wire.NewEpoch(rid, number, [32]byte{}, &fake, []ed25519.PublicKey{aPub})
		if err != nil {
			t.Fatal(err)
		}
		env, err := wire.Seal(e, &wire.Body{Kind: wire.KindText, Author: aPub, Seq: 1 << 62, Time: time.Now().UnixNano(), Nick: "alice", Text: "forged"}, func(m []byte) []byte { return ed25519.Sign(forger, m) })
		if err != nil {
			t.Fatal(err)
		}
		attacks = append(attacks, env)
	}
	for _, env := range attacks {
		o.publish(t, env)
	}
	o.publish(t, real) // a replay: gossipsub's duplicate filter or ours

	// The outsider tries to get the key without knowing the name.
	for i := range 6 {
		f := o.tryAdmission(t, a.id.PeerID(), rid)
		r, ok := f.(*wire.Refuse)
		if !ok {
			t.Fatalf("attempt %d: got %T, want a refusal", i, f)
		}
		want := wire.RefuseBadProof
		if i >= 5 {
			want = wire.RefuseRateLimited
		}
		if r.Reason != want {
			t.Fatalf("attempt %d: refused with %v, want %v", i, r.Reason, want)
		}
	}
	a.waitEvent("rate-limit notice", func(ev room.Event) bool {
		return ev.Type == room.EventError && ev.Peer == o.id.PeerID()
	})

	// A final real message proves the room still works and that everything
	// the outsider sent was processed before it.
	if _, err := a.m.Send(context.Background(), "lobby", "still fine"); err != nil {
		t.Fatal(err)
	}
	b.waitMessage("lobby", "still fine")
	quiet(t, 300*time.Millisecond)

	for _, p := range []*peerNode{a, b} {
		msgs := p.messages("lobby")
		for _, m := range msgs {
			if m == "forged" {
				t.Errorf("%s shows a forged message", p.nick)
			}
		}
		for _, mb := range mustRoom(t, p, "lobby").Members() {
			if mb.Peer == o.id.PeerID() {
				t.Errorf("%s lists the outsider as a member", p.nick)
			}
		}
	}
	if got := b.messages("lobby"); len(got) != 2 || got[0] != marker || got[1] != "still fine" {
		t.Errorf("bob shows %q, want exactly the two real messages", got)
	}
	after := a.m.Status().Rooms[0]
	if after.KeyID != before.KeyID || after.Epoch != before.Epoch {
		t.Errorf("outsider moved alice's key from %s/%d to %s/%d", before.KeyID, before.Epoch, after.KeyID, after.Epoch)
	}
	// Outsiders receive no room traffic, and what they publish never
	// reaches a member's validator.
	if n := len(o.received()); n != 0 {
		t.Errorf("the outsider received %d room envelopes", n)
	}
	for _, p := range []*peerNode{a, b} {
		drops := p.m.Status().Rooms[0].Drops
		t.Logf("%s's drop counters after the outsider's publications: %v", p.nick, drops)
		for _, reason := range []string{room.DropMalformed, room.DropHeader, room.DropStranger, room.DropAuth, room.DropOldVersion} {
			if drops[reason] != 0 {
				t.Errorf("%s validated the outsider's publications: %v", p.nick, drops)
				break
			}
		}
		if p.ep != nil && p.ep.Refused() == 0 {
			t.Errorf("%s's transport refused nothing from the outsider", p.nick)
		}
	}
	if o.mem == nil {
		return
	}
	// Had they reached it, the validator would have dropped them all.
	br := mustRoom(t, b, "lobby")
	for _, env := range append(attacks, real) {
		if br.DeliverForTest(env, o.id.PeerID()) == room.Accept {
			t.Errorf("bob's validator accepted an outsider's %d bytes", len(env))
		}
	}
	drops := b.m.Status().Rooms[0].Drops
	t.Logf("bob's drop counters: %v", drops)
	if drops[room.DropMalformed] == 0 || drops[room.DropHeader] == 0 || drops[room.DropStranger] == 0 || drops[room.DropReplay] == 0 {
		t.Errorf("drops not counted: %v", drops)
	}
}

// TestReplayAndCrossRoom hands members byte-identical and re-targeted copies
// of real envelopes through the full receive path (past gossipsub's own
// duplicate filter): none may be shown again.
func TestReplayAndCrossRoom(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, b := newPair(t, "lobby", "other")
		o := newOutsider(t, room.TopicFor("lobby"))
		connect(t, a, o.peer())
		waitFor(t, "outsider in topic", func() bool { return len(o.topic.Peers()) >= 1 })
		quiet(t, 200*time.Millisecond)
		once := "once " + strings.Repeat("y", 300) // the largest envelope the outsider sees
		if _, err := a.m.Send(context.Background(), "lobby", once); err != nil {
			t.Fatal(err)
		}
		b.waitMessage("lobby", once)
		var env []byte
		waitFor(t, "captured", func() bool {
			for _, e := range o.envelopes() {
				if len(e) > len(env) {
					env = e
				}
			}
			return len(env) > wire.HeaderSize+300
		})
		lobby, other := mustRoom(t, b, "lobby"), mustRoom(t, b, "other")
		for i := range 3 {
			if res := lobby.DeliverForTest(env, a.id.PeerID()); res == room.Accept {
				t.Fatalf("replay %d accepted", i)
			}
		}
		if res := other.DeliverForTest(env, a.id.PeerID()); res == room.Accept {
			t.Fatal("envelope of lobby accepted in another room")
		}
		// Our own envelope coming back from the network is a replay too.
		if res := mustRoom(t, a, "lobby").DeliverForTest(env, b.id.PeerID()); res == room.Accept {
			t.Fatal("own envelope accepted from the network")
		}
		if got := b.messages("lobby"); len(got) != 1 {
			t.Errorf("bob shows %q, want the message once", got)
		}
		if got := b.messages("other"); len(got) != 0 {
			t.Errorf("bob shows %q in the other room", got)
		}
		if d := lobby.Status().Drops[room.DropReplay]; d != 3 {
			t.Errorf("replay drops %d, want 3", d)
		}
		if d := other.Status().Drops[room.DropWrongRoom]; d != 1 {
			t.Errorf("wrong-room drops %d, want 1", d)
		}
	})
}

// TestFakeMember makes a joiner's only topic peer an impostor that knows the
// topic but not the room name and offers its own key: the joiner must refuse
// that key and later converge with the real members.
func TestFakeMember(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		rid := wire.DeriveRoomID("lobby")
		o := newOutsider(t, room.TopicFor("lobby"))
		served := make(chan struct{}, 16)
		o.tr.Handle(room.ProtocolAdmit, func(s room.Stream) {
			defer s.Close()
			b, err := node.ReadFrame(s, wire.MaxFrame)
			if err != nil {
				return
			}
			f, err := wire.DecodeFrame(b)
			if err != nil {
				return
			}
			hello := f.(*wire.Hello)
			ch := &wire.Challenge{}
			rand.Read(ch.Nonce[:])
			guess := wire.OpenRoomSecret("not the name")
			_, yb, _ := cpace.Start(cpace.Responder, guess[:], wire.ChannelID(rid, []byte(s.RemotePeer()), []byte(o.id.PeerID())), wire.SessionID(hello.Nonce, ch.Nonce), wire.MemberAD)
			ch.Y = [32]byte(yb)
			node.WriteFrame(s, wire.EncodeFrame(ch))
			if _, err := node.ReadFrame(s, wire.MaxFrame); err != nil {
				return
			}
			w := &wire.Welcome{Sealed: make([]byte, 100)}
			rand.Read(w.Confirm[:])
			rand.Read(w.Sealed)
			node.WriteFrame(s, wire.EncodeFrame(w))
			served <- struct{}{}
		})
		c := newPeer(t, "carol")
		connect(t, c, o.peer())
		c.join("lobby")
		<-mustRoom(t, c, "lobby").Ready()
		select {
		case <-served:
		default:
			t.Fatal("the impostor was never asked for the key")
		}
		if st := c.m.Status().Rooms[0]; st.Epoch != 0 || st.Roster != 1 {
			t.Fatalf("carol did not create the room alone after refusing the impostor: %+v", st)
		}
		for _, mb := range mustRoom(t, c, "lobby").Members() {
			if mb.Peer == o.id.PeerID() {
				t.Fatal("impostor listed as a member")
			}
		}
	})
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		quiet(t, 20*time.Millisecond) // a poll: virtual time on memnet
	}
}
