package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/tui"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/node/roomnet"
	"github.com/p2pchat/p2pchat/room"
)

// TestTUIFaceChoice: the full-screen UI only ever runs on terminals, and
// never with --plain or --json; tests and scripts get line mode.
func TestTUIFaceChoice(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "notatty")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tt := range []struct {
		name   string
		o      options
		stdin  io.Reader
		stdout io.Writer
	}{
		{"pipes", options{}, strings.NewReader(""), &bytes.Buffer{}},
		{"files", options{}, f, f},
		{"plain", options{plain: true}, f, f},
		{"json", options{json: true}, f, f},
	} {
		if ui := newTUIFace(&tt.o, tt.stdin, tt.stdout, &bytes.Buffer{}); ui != nil {
			t.Errorf("%s: full-screen UI chosen", tt.name)
		}
	}
}

func TestHeldLog(t *testing.T) {
	var out bytes.Buffer
	h := newHeldLog(&out, true)
	h.Write([]byte("first\n"))
	if out.Len() != 0 {
		t.Fatalf("written while held: %q", out.String())
	}
	for range maxHeldLog/7 + 100 {
		h.Write([]byte("filler\n"))
	}
	h.Write([]byte("last\n"))
	h.release()
	s := out.String()
	if !strings.HasPrefix(s, "(") || !strings.Contains(s, "earlier log lines dropped") || !strings.HasSuffix(s, "filler\nlast\n") || strings.Contains(s, "first") {
		t.Errorf("released %d bytes: %.80q … %q", len(s), s, s[max(0, len(s)-20):])
	}
	if len(s) > maxHeldLog+100 {
		t.Errorf("released %d bytes, more than the bound", len(s))
	}
	out.Reset()
	h.Write([]byte("after\n"))
	if out.String() != "after\n" {
		t.Errorf("after release: %q", out.String())
	}
	var through bytes.Buffer
	newHeldLog(&through, false).Write([]byte("now\n"))
	if through.String() != "now\n" {
		t.Errorf("not holding, yet %q", through.String())
	}
}

type sendRecorder struct {
	mu   sync.Mutex
	msgs []tea.Msg
}

func (r *sendRecorder) Send(msg tea.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

func (r *sendRecorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// TestMsgQueue: events queued before the program runs and while it runs
// arrive in order; pump stops when told.
func TestMsgQueue(t *testing.T) {
	q := &msgQueue{}
	for i := range 100 {
		q.push(i)
	}
	r := &sendRecorder{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		q.pump(r, stop)
	}()
	for i := 100; i < 1000; i++ {
		q.push(i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.len() < 1000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-done
	for i, m := range r.msgs {
		if m != i {
			t.Fatalf("message %d is %v", i, m)
		}
	}
	if len(r.msgs) != 1000 {
		t.Errorf("%d of 1000 messages arrived", len(r.msgs))
	}
}

// TestTUICore drives a real room.Manager through the UI's adapter: the
// shared /join asks through the UI's prompt, answers come back as notes
// and events, and sends reach the room.
func TestTUICore(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	id, _, err := identity.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	st, err := room.OpenStore(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := node.New(ctx, id.PrivKey(), node.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, NoMDNS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	m, err := room.New(room.Config{Identity: id, Transport: roomnet.Transport(n), Nick: "alice", Store: st, Timing: room.Timing{FoundWait: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	b := api.NewLocal(m) // reads m's events
	self, err := b.Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan struct{}, 1)
	counted := &followCounter{Backend: b}
	core := newTUICore(ctx, counted, self, func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer core.stop()
	// Events reach the core as in the UI: through the face.
	face := &tuiFace{queue: &msgQueue{}}
	face.core.Store(core)
	defer feedCore(b, face.event)()
	defer func() {
		// The face's one stream feeds the core: it opens none of its own.
		if n := counted.follows.Load(); n != 0 {
			t.Errorf("the core opened %d event stream(s) of its own", n)
		}
	}()

	var prompts []string
	ask := func(pass string, err error) tui.AskFunc {
		return func(_ context.Context, prompt string) ([]byte, error) {
			prompts = append(prompts, prompt)
			return []byte(pass), err
		}
	}
	res := core.Command(ctx, "", "/join -p Vault", ask("pw-1", nil))
	if res.Current != "vault" || len(res.Output) != 0 {
		t.Fatalf("/join: %+v", res)
	}
	if !slices.Equal(prompts, []string{"passphrase for vault: "}) {
		t.Errorf("prompts %q", prompts)
	}
	// An open room is joined without a prompt.
	res = core.Command(ctx, "vault", "/join lobby", ask("", nil))
	if res.Current != "lobby" {
		t.Fatalf("/join lobby: %+v", res)
	}
	if len(prompts) != 1 {
		t.Errorf("/join lobby asked: %q", prompts)
	}
	// Lobby gets its key in the background: its joined event, not a timer,
	// makes the core take a fresh snapshot and say so.
	timeout := time.After(20 * time.Second)
	for !readyIn(core.Snapshot(), "lobby") {
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no snapshot with lobby ready: %+v", core.Snapshot())
		}
	}
	snap := core.Snapshot()
	if snap.Nick != "alice" || snap.ID != id.PeerID() || snap.Short != id.Fingerprint().Short() || len(snap.Rooms) != 2 ||
		snap.Rooms[0].Name != "lobby" || snap.Rooms[0].Kind != room.KindOpen || snap.Rooms[1].Kind != room.KindPassphrase {
		t.Errorf("snapshot %+v", snap)
	}
	// A cancelled prompt: an error, no room.
	res = core.Command(ctx, "lobby", "/join -p other", ask("", errors.New("passphrase entry cancelled; not joined")))
	if res.Current != "lobby" || len(res.Output) != 1 || res.Output[0].Event == nil || !strings.Contains(res.Output[0].Event.Err.Error(), "cancelled") {
		t.Errorf("cancelled /join: %+v", res)
	}
	// Answers are notes with line mode's text; unknown commands, errors.
	res = core.Command(ctx, "lobby", "/who", nil)
	if len(res.Output) != 1 || res.Output[0].Kind != "who" || res.Output[0].Text != "[lobby] 0 other member(s)" {
		t.Errorf("/who: %+v", res.Output)
	}
	res = core.Command(ctx, "lobby", "/frobnicate", nil)
	if len(res.Output) != 1 || res.Output[0].Event == nil || res.Output[0].Event.Err.Error() != "unknown command /frobnicate; /help lists the commands" {
		t.Errorf("/frobnicate: %+v", res.Output)
	}
	if res := core.Command(ctx, "lobby", "/quit", nil); !res.Quit {
		t.Errorf("/quit: %+v", res)
	}
	// Sends go to the room named, once it has its key.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msg, err := core.Send(sctx, "vault", "hello", false)
	if err != nil || !msg.Self || msg.Text != "hello" {
		t.Errorf("send: %+v, %v", msg, err)
	}
	if _, err := core.Send(sctx, "nowhere", "hello", false); !errors.Is(err, room.ErrNotJoined) {
		t.Errorf("send to a room not joined: %v", err)
	}
	// The stored history is there to load and search.
	hist, err := core.History(ctx, "vault", 10)
	if err != nil || len(hist) != 1 || hist[0].Text != "hello" || !hist[0].Self {
		t.Errorf("history: %v, %v", hist, err)
	}
	hits, err := core.Search(ctx, "hello", 10)
	if err != nil || len(hits) != 1 || hits[0].Room != "vault" {
		t.Errorf("search: %v, %v", hits, err)
	}
	// /leave moves to the last room left, as line mode does.
	res = core.Command(ctx, "lobby", "/leave", nil)
	if res.Current != "vault" {
		t.Errorf("/leave: %+v", res)
	}
}

// followCounter is a Backend that counts the event streams opened on it.
type followCounter struct {
	api.Backend
	follows atomic.Int32
}

func (f *followCounter) Follow(ctx context.Context, opts api.EventsOptions, fn func(api.Event) error) error {
	f.follows.Add(1)
	return f.Backend.Follow(ctx, opts, fn)
}

// feedCore gives b's events to show (the face's or a core's event), as
// the face's event stream does, until the returned stop is called.
func feedCore(b api.Backend, show func(room.Event)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Follow(ctx, api.EventsOptions{FromStart: true}, func(ev api.Event) error {
			show(ev.Event)
			return nil
		})
	}()
	return func() {
		cancel()
		<-done
	}
}

// readyIn reports whether the snapshot shows the room ready.
func readyIn(s tui.Snapshot, name string) bool {
	for _, r := range s.Rooms {
		if r.Name == name {
			return r.Ready
		}
	}
	return false
}
