package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/internal/syncbuf"
	"github.com/p2pchat/p2pchat/room"
)

// fullDir is the state directory on the full disk of room "full".
const fullDir = "/home/u/.local/state/p2pchat"

// fake is a Backend with canned data, for the contract tests. Room
// "slow" never gets its key (Send waits for ctx); room "boom" fails with an
// internal error; a send to room "full" (not listed) finds the disk full.
type fake struct {
	mu       sync.Mutex
	self     Self
	peers    []PeerInfo
	rooms    map[string]RoomInfo
	stored   map[string]room.Kind
	history  map[string][]*room.Message
	verified map[peer.ID]bool
	noStore  bool
	closed   bool
	seq      uint64
	away     string

	joinPass    []byte // the passphrase slice Join was given (not a copy)
	joinPassStr string // what it held then
}

var _ Backend = (*fake)(nil)

// testPeer is a peer with a nick.
type testPeer struct {
	id   peer.ID
	fp   identity.Fingerprint
	nick string
}

func newTestPeer(t testing.TB, nick string) testPeer {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return testPeer{id: id.PeerID(), fp: id.Fingerprint(), nick: nick}
}

// world is the fake's cast: we are alice; bob (unverified) and carol
// (verified) are in lobby; dave is only connected.
type world struct {
	alice, bob, carol, dave testPeer
}

var (
	worldOnce sync.Once
	theWorld  world
)

func testWorld(t testing.TB) world {
	worldOnce.Do(func() {
		theWorld = world{newTestPeer(t, "alice"), newTestPeer(t, "bob"), newTestPeer(t, "carol"), newTestPeer(t, "dave")}
	})
	return theWorld
}

var t0 = time.Date(2026, 11, 3, 12, 0, 0, 123456789, time.UTC)

func newFake(t testing.TB) *fake {
	w := testWorld(t)
	f := &fake{
		self: Self{PeerID: w.alice.id, Fingerprint: w.alice.fp, Nick: "alice",
			Addrs: []string{"/ip4/127.0.0.1/tcp/4001/p2p/" + w.alice.id.String()}},
		peers: []PeerInfo{
			{PeerID: w.bob.id, Fingerprint: w.bob.fp, Nick: "bob", Addrs: []string{"/ip4/10.0.0.2/tcp/4001"}},
			{PeerID: w.carol.id, Fingerprint: w.carol.fp, Nick: "carol", Verified: true, Addrs: []string{"/ip4/10.0.0.3/tcp/4001"}},
			{PeerID: w.dave.id, Fingerprint: w.dave.fp, Nick: "dave", Addrs: []string{"/ip4/10.0.0.4/tcp/4001"}},
		},
		rooms:    map[string]RoomInfo{},
		stored:   map[string]room.Kind{"lobby": room.KindOpen, "old": room.KindPassphrase},
		history:  map[string][]*room.Message{},
		verified: map[peer.ID]bool{w.carol.id: true},
	}
	f.rooms["lobby"] = RoomInfo{
		RoomStatus: room.RoomStatus{Name: "lobby", Topic: room.TopicFor("lobby"), Kind: room.KindOpen, Ready: true, Epoch: 3,
			KeyID: "00112233445566778899aabbccddeeff", Roster: 3, Members: 2, Buffered: 1, Drops: map[string]uint64{room.DropReplay: 2}},
		Members: []room.Member{
			{Peer: w.bob.id, Nick: "bob", Fingerprint: w.bob.fp, Mismatch: true},
			{Peer: w.carol.id, Nick: "carol", Fingerprint: w.carol.fp, Verified: true},
		},
	}
	f.rooms["slow"] = RoomInfo{RoomStatus: room.RoomStatus{Name: "slow", Topic: room.TopicFor("slow"), Kind: room.KindOpen, Drops: map[string]uint64{}}}
	for i, text := range []string{"hello world", "<b>bold</b> & co", "hello again"} {
		from := []testPeer{w.bob, w.alice, w.carol}[i]
		f.history["lobby"] = append(f.history["lobby"], &room.Message{
			ID: fmt.Sprintf("%032x", i+1), From: from.id, Short: from.fp.Short(), Nick: from.nick, Text: text,
			Time: t0.Add(time.Duration(i) * time.Minute), Seq: uint64(i + 1), Clock: uint64(10 + i), Self: from.id == w.alice.id,
			Action: i == 2,
		})
	}
	f.history["old"] = f.history["lobby"][:1]
	return f
}

func (f *fake) room(name string) (RoomInfo, string, error) {
	norm, err := room.Normalize(name)
	if err != nil {
		return RoomInfo{}, "", err
	}
	if norm == "boom" {
		return RoomInfo{}, "", errors.New("disk on fire: sector 7")
	}
	ri, ok := f.rooms[norm]
	if !ok {
		return RoomInfo{}, "", fmt.Errorf("room %q: %w", norm, room.ErrNotJoined)
	}
	return ri, norm, nil
}

func (f *fake) Self(context.Context) (Self, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.self, nil
}

func (f *fake) Status(ctx context.Context) (Status, error) {
	self, _ := f.Self(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	st := Status{Self: self, Peers: len(f.peers)}
	for _, name := range sortedKeys(f.rooms) {
		st.Rooms = append(st.Rooms, f.rooms[name].RoomStatus)
	}
	return st, nil
}

func (f *fake) Rooms(context.Context) ([]RoomInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RoomInfo
	for _, name := range sortedKeys(f.rooms) {
		out = append(out, f.rooms[name])
	}
	return out, nil
}

func (f *fake) Room(_ context.Context, name string) (RoomInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ri, _, err := f.room(name)
	return ri, err
}

func (f *fake) StoredKind(_ context.Context, name string) (room.Kind, error) {
	norm, err := room.Normalize(name)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stored[norm], nil
}

func (f *fake) Join(_ context.Context, name string, passphrase []byte) (RoomInfo, error) {
	norm, err := room.Normalize(name)
	if err != nil {
		return RoomInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joinPass, f.joinPassStr = passphrase, string(passphrase)
	if f.closed {
		return RoomInfo{}, room.ErrClosed
	}
	if passphrase != nil && (len(passphrase) == 0 || len(passphrase) > room.MaxPassphrase) {
		return RoomInfo{}, fmt.Errorf("room %q: %w", norm, room.ErrPassphrase)
	}
	if ri, ok := f.rooms[norm]; ok {
		return ri, nil
	}
	kind := room.KindOpen
	if passphrase != nil {
		kind = room.KindPassphrase
	}
	ri := RoomInfo{RoomStatus: room.RoomStatus{Name: norm, Topic: room.TopicFor(norm), Kind: kind, Drops: map[string]uint64{}}}
	f.rooms[norm], f.stored[norm] = ri, kind
	return ri, nil
}

func (f *fake) Leave(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, norm, err := f.room(name)
	if err != nil {
		return err
	}
	delete(f.rooms, norm)
	delete(f.stored, norm)
	return nil
}

func (f *fake) SetNick(_ context.Context, nick string) error {
	if !room.ValidNick(nick) {
		return fmt.Errorf("nick %q: %w", nick, room.ErrNick)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.self.Nick = nick
	return nil
}

func (f *fake) SetAway(_ context.Context, text string) error {
	if strings.ContainsAny(text, "\n\x00") || len(text) > 128 {
		return fmt.Errorf("away text %q: %w", text, room.ErrAway)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.away = text
	return nil
}

func (f *fake) Send(ctx context.Context, name, text string, action bool) (*room.Message, error) {
	if name == "full" { // not listed among the rooms
		return nil, fmt.Errorf("room %q: message not sent, it could not be stored: store: add message: %w", name,
			&room.DiskFullError{Dir: fullDir, Err: errors.New("database or disk is full (13)")})
	}
	f.mu.Lock()
	_, norm, err := f.room(name)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if len(text) > room.MaxText {
		return nil, fmt.Errorf("room %q: message of %d bytes: %w", norm, len(text), room.ErrTooLong)
	}
	if norm == "slow" {
		<-ctx.Done()
		return nil, fmt.Errorf("room %q: waiting for the room key: %w", norm, ctx.Err())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	m := &room.Message{ID: fmt.Sprintf("%032x", 100+f.seq), From: f.self.PeerID, Short: f.self.Fingerprint.Short(), Nick: f.self.Nick,
		Text: text, Action: action, Time: t0.Add(time.Hour), Seq: f.seq, Clock: 100 + f.seq, Self: true, State: room.StateSent}
	f.history[norm] = append(f.history[norm], m)
	return m, nil
}

// Annotate answers for the messages of the fake's history: the message
// named, with a reply's, reaction's or edit's text and a delete's mark.
func (f *fake) Annotate(ctx context.Context, name string, a room.Annotation) (*room.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, norm, err := f.room(name)
	if err != nil {
		return nil, err
	}
	for _, m := range f.history[norm] {
		if m.ID != a.Target {
			continue
		}
		out := *m
		switch a.Kind {
		case room.AnnotateReply:
			out = room.Message{ID: fmt.Sprintf("%032x", 900), From: f.self.PeerID, Nick: f.self.Nick, Text: a.Text, Time: t0, Seq: 9, Clock: 900,
				Self: true, State: room.StateSent, ReplyTo: m.ID, ReplyNick: m.Nick, ReplyText: m.Text}
		case room.AnnotateReact:
			out.Reactions = map[string][]peer.ID{a.Text: {f.self.PeerID}}
		case room.AnnotateEdit:
			out.Text, out.Edited = a.Text, true
		case room.AnnotateDelete:
			out.Text, out.Deleted = "", true
		default:
			return nil, room.ErrAnnotationKind
		}
		return &out, nil
	}
	return nil, fmt.Errorf("room %q: message %s: %w", norm, a.Target, room.ErrUnknownMessage)
}

func (f *fake) History(_ context.Context, name string, n int) ([]*room.Message, error) {
	norm, err := room.Normalize(name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noStore {
		return nil, room.ErrNoStore
	}
	h := f.history[norm]
	if n > 0 && len(h) > n {
		h = h[len(h)-n:]
	}
	return slices.Clone(h), nil
}

func (f *fake) Search(_ context.Context, query, roomName string, n int) ([]room.SearchHit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noStore {
		return nil, room.ErrNoStore
	}
	var hits []room.SearchHit
	for _, name := range sortedKeys(f.history) {
		if roomName != "" && name != roomName {
			continue
		}
		for _, m := range f.history[name] {
			if strings.Contains(m.Text, query) && len(hits) < n {
				hits = append(hits, room.SearchHit{Room: name, Message: m, Snippet: strings.ReplaceAll(m.Text, query, "["+query+"]")})
			}
		}
	}
	return hits, nil
}

func (f *fake) Verified(_ context.Context, p peer.ID) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verified[p], nil
}

func (f *fake) Verify(_ context.Context, p peer.ID, fingerprint string) error {
	want, err := identity.PeerFingerprint(p)
	if err != nil {
		return err
	}
	got, err := identity.ParseFingerprint(fingerprint)
	if err != nil {
		return fmt.Errorf("verify %s: %w", p, err)
	}
	if got != want {
		return fmt.Errorf("verify %s: %w (it is %s)", p, room.ErrFingerprint, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verified[p] = true
	return nil
}

// Follow implements [Backend]: the fake has no events of its own (tests
// publish them to the server), so it waits for ctx.
func (f *fake) Follow(ctx context.Context, _ EventsOptions, _ func(Event) error) error {
	<-ctx.Done()
	return nil
}

func (f *fake) Peers(context.Context) ([]PeerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.peers), nil
}

// logBuffer collects a Server's log.
type logBuffer struct{ syncbuf.Buffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// socketPath returns a path for a Unix socket short enough for every
// platform's limit (t.TempDir embeds the test's name).
func socketPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// serve runs a Server for cfg on a new Unix socket and returns it, the
// socket's path and a Client for it. It is shut down when the test ends.
func serve(t testing.TB, cfg ServerConfig) (*Server, string, *Client) {
	t.Helper()
	path := socketPath(t)
	s := serveAt(t, cfg, path)
	c := NewClient(path)
	t.Cleanup(func() { c.Close() })
	return s, path, c
}

// serveAt runs a Server for cfg on a Unix socket at path.
func serveAt(t testing.TB, cfg ServerConfig, path string) *Server {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}
