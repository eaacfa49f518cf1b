package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// TestClientRoundTrip calls every Backend method through a Client over a
// real socket and compares with what the fake answers directly.
func TestClientRoundTrip(t *testing.T) {
	w := testWorld(t)
	f := newFake(t)
	direct := newFake(t) // the same data, asked without the API
	_, _, c := serve(t, ServerConfig{Backend: f})
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	same := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
		}
	}
	self, err := c.Self(ctx)
	wantSelf, _ := direct.Self(ctx)
	same("Self", self, wantSelf)
	st, err2 := c.Status(ctx)
	wantSt, _ := direct.Status(ctx)
	same("Status", st, wantSt)
	rooms, err3 := c.Rooms(ctx)
	wantRooms, _ := direct.Rooms(ctx)
	same("Rooms", rooms, wantRooms)
	lobby, err4 := c.Room(ctx, "LOBBY")
	wantLobby, _ := direct.Room(ctx, "lobby")
	same("Room", lobby, wantLobby)
	kind, err5 := c.StoredKind(ctx, "Old")
	same("StoredKind", kind, room.KindPassphrase)
	peers, err6 := c.Peers(ctx)
	wantPeers, _ := direct.Peers(ctx)
	same("Peers", peers, wantPeers)
	for _, err := range []error{err, err2, err3, err4, err5, err6} {
		if err != nil {
			t.Fatal(err)
		}
	}

	pass := []byte("pässphrase \"with\" \\ and \x01")
	vault, err := c.Join(ctx, "Vault", pass)
	if err != nil {
		t.Fatal(err)
	}
	same("Join", vault, RoomInfo{RoomStatus: room.RoomStatus{Name: "vault", Topic: room.TopicFor("vault"), Kind: room.KindPassphrase, Drops: map[string]uint64{}}})
	same("passphrase the daemon got", f.joinPassStr, string(pass))
	if string(pass) != "pässphrase \"with\" \\ and \x01" {
		t.Errorf("Join changed the caller's passphrase: %q", pass)
	}
	if _, err := c.Join(ctx, "open", nil); err != nil || f.joinPass != nil {
		t.Errorf("Join without passphrase: %v, daemon got %q", err, f.joinPass)
	}
	if err := c.Leave(ctx, "Vault"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Room(ctx, "vault"); !errors.Is(err, room.ErrNotJoined) {
		t.Errorf("Room after Leave: %v", err)
	}
	if err := c.SetNick(ctx, "zed"); err != nil || f.self.Nick != "zed" {
		t.Errorf("SetNick: %v, nick %q", err, f.self.Nick)
	}

	sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	m, err := c.Send(sendCtx, "lobby", "hi <you> & \"them\"\n", true)
	if err != nil {
		t.Fatal(err)
	}
	wantM, _ := direct.Send(ctx, "lobby", "hi <you> & \"them\"\n", true)
	wantM.Nick = "zed"
	same("Send", m, wantM)

	for _, n := range []int{2, 0, -1, 20000} {
		h, err := c.History(ctx, "lobby", n)
		if err != nil {
			t.Fatal(err)
		}
		wantH, _ := direct.History(ctx, "lobby", n)
		same(fmt.Sprintf("History n=%d", n), h, wantH)
	}
	hits, err := c.Search(ctx, "hello", "", 2)
	wantHits, _ := direct.Search(ctx, "hello", "", 2)
	if err != nil || len(hits) != 2 {
		t.Fatalf("Search: %v, %d hits", err, len(hits))
	}
	same("Search", hits, wantHits)

	for _, p := range []testPeer{w.bob, w.carol, w.alice} {
		v, err := c.Verified(ctx, p.id)
		wantV, _ := direct.Verified(ctx, p.id)
		if err != nil || v != wantV {
			t.Errorf("Verified(%s) = %v, %v; want %v", p.nick, v, err, wantV)
		}
	}
	if err := c.Verify(ctx, w.bob.id, w.bob.fp.String()); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Verified(ctx, w.bob.id); err != nil || !v {
		t.Errorf("Verified after Verify: %v, %v", v, err)
	}
}

// TestClientFingerprintsFromKeys checks that the client computes
// fingerprints from peer IDs rather than trusting the daemon's strings.
func TestClientFingerprintsFromKeys(t *testing.T) {
	w := testWorld(t)
	path := socketPath(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	lying := http.NewServeMux()
	lying.HandleFunc("GET /v1/peers", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, 200, peersJSON{Peers: []peerJSON{{PeerID: w.bob.id.String(), FP: w.carol.fp.Short(), Fingerprint: w.carol.fp.String()}}})
	})
	srv := &http.Server{Handler: lying}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	peers, err := NewClient(path).Peers(context.Background())
	if err != nil || len(peers) != 1 {
		t.Fatalf("Peers: %v, %v", peers, err)
	}
	if peers[0].Fingerprint != w.bob.fp {
		t.Errorf("fingerprint %s taken from the daemon, want bob's %s", peers[0].Fingerprint, w.bob.fp)
	}
}

// TestClientErrors checks that errors cross the API with their sentinels.
func TestClientErrors(t *testing.T) {
	w := testWorld(t)
	f := newFake(t)
	_, _, c := serve(t, ServerConfig{Backend: f})
	ctx := context.Background()
	tests := []struct {
		name   string
		call   func() error
		want   error
		status int // 0: the client refuses before asking
	}{
		{"unknown room", func() error { _, err := c.Room(ctx, "nowhere"); return err }, room.ErrNotJoined, 404},
		{"leave unknown room", func() error { return c.Leave(ctx, "nowhere") }, room.ErrNotJoined, 404},
		{"bad room name", func() error { _, err := c.Join(ctx, "a b", nil); return err }, room.ErrBadName, 0},
		{"bad search room", func() error { _, err := c.Search(ctx, "x", "a b", 1); return err }, room.ErrBadName, 400},
		{"bad nick", func() error { return c.SetNick(ctx, "a b") }, room.ErrNick, 400},
		{"too long", func() error { _, err := c.Send(ctx, "lobby", strings.Repeat("x", room.MaxText+1), false); return err }, room.ErrTooLong, 400},
		{"empty passphrase", func() error { _, err := c.Join(ctx, "v", []byte{}); return err }, room.ErrPassphrase, 400},
		{"passphrase not UTF-8", func() error { _, err := c.Join(ctx, "v", []byte{0xff}); return err }, room.ErrPassphrase, 0},
		{"bad fingerprint", func() error { return c.Verify(ctx, w.bob.id, "nope") }, identity.ErrBadFingerprint, 400},
		{"fingerprint mismatch", func() error { return c.Verify(ctx, w.bob.id, w.carol.fp.String()) }, room.ErrFingerprint, 409},
		{"empty text", func() error { _, err := c.Send(ctx, "lobby", "", false); return err }, ErrBadRequest, 400},
		{"timeout", func() error {
			ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := c.Send(ctx, "slow", "x", false)
			return err
		}, context.DeadlineExceeded, -1},
		{"internal", func() error { _, err := c.Room(ctx, "boom"); return err }, ErrInternal, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v does not wrap %v", err, tt.want)
			}
			e, isAPI := errors.AsType[*Error](err)
			switch {
			case tt.status == 0 && isAPI:
				t.Errorf("expected a client-side error, got the daemon's %v", e)
			case tt.status > 0 && (!isAPI || e.Status != tt.status):
				t.Errorf("error %v (%T), want an *Error with status %d", err, err, tt.status)
			case isAPI && (e.Message == "" || err.Error() != e.Message):
				t.Errorf("error %q does not say the daemon's message %q", err, e.Message)
			}
		})
	}
	f.mu.Lock()
	f.closed, f.noStore = true, true
	f.mu.Unlock()
	if _, err := c.Join(ctx, "x", nil); !errors.Is(err, room.ErrClosed) {
		t.Errorf("closed: %v", err)
	}
	if _, err := c.History(ctx, "lobby", 1); !errors.Is(err, room.ErrNoStore) {
		t.Errorf("no store: %v", err)
	}
}

func TestNoDaemon(t *testing.T) {
	missing := socketPath(t)
	stale := socketPath(t)
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	for _, path := range []string{missing, stale} {
		c := NewClient(path)
		err := c.Ping(context.Background())
		if !errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want ErrNoDaemon naming the socket", path, err)
		}
		if _, err := c.Events(context.Background(), EventsOptions{}); !errors.Is(err, ErrNoDaemon) {
			t.Errorf("Events %s: %v", path, err)
		}
		err = c.Follow(context.Background(), EventsOptions{GiveUp: 300 * time.Millisecond}, func(Event) error { return nil })
		if !errors.Is(err, ErrNoDaemon) {
			t.Errorf("Follow %s: %v, want ErrNoDaemon", path, err)
		}
	}
}

// TestAuthorize refuses every connection: every request gets 403.
func TestAuthorize(t *testing.T) {
	var conns atomic.Int64
	var notUnix atomic.Bool
	_, _, c := serve(t, ServerConfig{Backend: newFake(t), Authorize: func(conn net.Conn) error {
		conns.Add(1)
		if _, ok := conn.(*net.UnixConn); !ok {
			notUnix.Store(true)
		}
		return errors.New("uid 1001 is not 1000")
	}})
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/v1", ""},
		{"GET", "/v1/status", ""},
		{"POST", "/v1/rooms", `{"room":"x"}`},
		{"DELETE", "/v1/rooms/lobby", ""},
		{"GET", "/v1/events", ""},
		{"GET", "/v1/nope", ""},
		{"DELETE", "/v1/status", ""},
	} {
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		req, _ := http.NewRequest(tt.method, "http://p2pchat"+tt.path, body)
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v errorJSON
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 403 || v.Error.Code != "forbidden" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %+v %v", tt.method, tt.path, resp.StatusCode, v, err)
		}
		if strings.Contains(v.Error.Message, "1001") {
			t.Errorf("the refusal's reason is told to the client: %q", v.Error.Message)
		}
	}
	if err := c.Ping(context.Background()); !errors.Is(err, ErrForbidden) {
		t.Errorf("Ping: %v, want ErrForbidden", err)
	}
	err := c.Follow(context.Background(), EventsOptions{}, func(Event) error { return nil })
	if !errors.Is(err, ErrForbidden) {
		t.Errorf("Follow: %v, want ErrForbidden", err)
	}
	if conns.Load() == 0 || notUnix.Load() {
		t.Errorf("Authorize called %d times, with a non-Unix conn: %v", conns.Load(), notUnix.Load())
	}
}
