package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// fakeCore is a Core in memory: rooms and members as the test sets them,
// sends recorded (and failed when sendErr is set), and a few commands.
type fakeCore struct {
	mu      sync.Mutex
	snap    Snapshot
	sent    []string // "room|text" (or "room|* text" for actions)
	sendErr error
	state   room.State // the state sent messages report
	lines   []string   // command lines run
	joined  map[string][]byte
	seq     int
}

func newFakeCore(t testing.TB) *fakeCore {
	self := testPeer(t, 0)
	return &fakeCore{snap: Snapshot{ID: self.Peer, Nick: "alice", Short: self.Fingerprint.Short(), Peers: 2}, joined: map[string][]byte{}}
}

func (f *fakeCore) Snapshot() Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	s.Rooms = append([]RoomState(nil), f.snap.Rooms...)
	return s
}

func (f *fakeCore) Send(ctx context.Context, name, text string, action bool) (*room.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := name + "|" + text
	if action {
		rec = name + "|* " + text
	}
	f.sent = append(f.sent, rec)
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.seq++
	return &room.Message{ID: fmt.Sprintf("id%d", f.seq), From: f.snap.ID, Short: f.snap.Short, Nick: f.snap.Nick,
		Text: text, Action: action, Time: testTime.Add(time.Duration(5+f.seq) * time.Minute), Seq: uint64(f.seq), Self: true, State: f.state}, nil
}

// Command knows /join ROOM (asking for a passphrase), /leave and /who;
// anything else is an unknown command, as in line mode.
func (f *fakeCore) Command(ctx context.Context, current, line string, ask AskFunc) CommandResult {
	f.mu.Lock()
	f.lines = append(f.lines, line)
	f.mu.Unlock()
	fields := strings.Fields(line)
	switch fields[0] {
	case "/join":
		name := fields[len(fields)-1]
		pass, err := ask(ctx, "passphrase for "+name+": ")
		if err != nil {
			ev := room.Event{Type: room.EventError, Err: err}
			return CommandResult{Current: current, Output: []Output{{Event: &ev}}}
		}
		f.mu.Lock()
		f.joined[name] = pass
		kind := room.KindOpen
		if len(pass) > 0 {
			kind = room.KindPassphrase
		}
		f.snap.Rooms = append(f.snap.Rooms, RoomState{Name: name, Kind: kind})
		f.mu.Unlock()
		return CommandResult{Current: name}
	case "/leave":
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, r := range f.snap.Rooms {
			if r.Name == current {
				f.snap.Rooms = append(f.snap.Rooms[:i:i], f.snap.Rooms[i+1:]...)
				break
			}
		}
		next := ""
		if n := len(f.snap.Rooms); n > 0 {
			next = f.snap.Rooms[n-1].Name
		}
		return CommandResult{Current: next}
	case "/who":
		return CommandResult{Current: current, Output: []Output{{Kind: "who", Text: "[" + current + "] 0 other member(s)"}}}
	}
	ev := room.Event{Type: room.EventError, Err: fmt.Errorf("unknown command %s; /help lists the commands", fields[0])}
	return CommandResult{Current: current, Output: []Output{{Event: &ev}}}
}

func (f *fakeCore) setRooms(rs ...RoomState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap.Rooms = rs
}

func (f *fakeCore) sends() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

var errNoRoute = errors.New("no route to the room's members")

var testTime = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// testPeer returns member i: a fixed key, so IDs, fingerprints and colours
// are the same on every run.
func testPeer(t testing.TB, i int) room.Member {
	t.Helper()
	seed := make([]byte, 32)
	seed[0] = byte(i + 1)
	priv, _, err := crypto.GenerateEd25519Key(&seedReader{seed})
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := identity.PeerFingerprint(id)
	if err != nil {
		t.Fatal(err)
	}
	return room.Member{Peer: id, Fingerprint: fp}
}

// seedReader hands out its seed, then zeros.
type seedReader struct{ b []byte }

func (r *seedReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	for i := n; i < len(p); i++ {
		p[i] = 0
	}
	return len(p), nil
}

func member(t testing.TB, i int, nick string, verified bool) room.Member {
	mb := testPeer(t, i)
	mb.Nick, mb.Verified = nick, verified
	return mb
}
