package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/gen2brain/beeep"
	"golang.org/x/term"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/tui"
	"github.com/p2pchat/p2pchat/room"
)

// tuiFace is the full-screen UI (package tui) on the terminal that stdin
// and stdout are, wired to the core: room.Manager behind [tuiCore], its
// events through a queue into the program.
type tuiFace struct {
	in, out *os.File
	notify  bool
	away    time.Duration // --away-after
	log     *heldLog      // stderr while the screen is taken
	queue   *msgQueue
	core    atomic.Pointer[tuiCore] // set while run runs; told of events
}

// newTUIFace returns the full-screen UI if it is the face to use: stdin
// and stdout are terminals, the terminal is not dumb, and neither --plain
// nor --json asks for line mode. Otherwise it returns nil.
func newTUIFace(o *options, stdin io.Reader, stdout, stderr io.Writer) *tuiFace {
	if o.plain || o.json || os.Getenv("TERM") == "dumb" {
		return nil
	}
	in, out := isTerminal(stdin), isTerminal(stdout)
	if in == nil || out == nil {
		return nil
	}
	return &tuiFace{in: in, out: out, notify: o.notify, away: o.awayAfter, log: newHeldLog(stderr, isTerminal(stderr) != nil), queue: &msgQueue{}}
}

// isTerminal returns v as a file if it is a terminal, else nil.
func isTerminal(v any) *os.File {
	f, ok := v.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// event shows ev in the UI and tells the core, which may need a fresh
// snapshot; it may be called from any goroutine, before the program runs
// too. The caller's one event stream feeds it: the UI opens none of its
// own.
func (f *tuiFace) event(ev room.Event) {
	if c := f.core.Load(); c != nil {
		c.event(ev)
	}
	f.queue.push(tui.EventMsg{Event: ev})
}

// run joins rooms (with pass, as line mode does) and runs the UI on b
// until /quit, Ctrl-C or ctx ends (SIGINT, SIGTERM, SIGHUP: also a clean
// exit). The caller feeds b's events to f.event and closes b afterwards.
// The terminal is restored on every way out, a panic in the UI included
// (Bubble Tea recovers it and run returns an error).
func (f *tuiFace) run(ctx context.Context, b api.Backend, rooms []string, pass []byte) error {
	// A closed terminal (SIGHUP) ends the UI like SIGTERM does, so that the
	// rooms still hear our goodbye.
	ctx, stopHUP := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stopHUP()
	self, err := b.Self(ctx)
	if err != nil {
		return err
	}
	core := newTUICore(ctx, b, self, func() { f.queue.push(tui.SnapshotMsg{}) })
	// From here events poke the core; the refresh after the joins covers
	// what happened before.
	f.core.Store(core)
	defer f.core.Store(nil)
	current := core.joinAll(ctx, rooms, pass, f)
	clear(pass)
	core.refresh(ctx)

	fp := self.Fingerprint
	var order []string
	for _, r := range rooms {
		if n, err := room.Normalize(r); err == nil {
			order = append(order, n)
		}
	}
	cfg := tui.Config{
		Core:      core,
		Current:   current,
		Order:     order,
		AwayAfter: f.away,
		Intro: []string{
			fmt.Sprintf("you are %s#%s, fingerprint %s", self.Nick, fp.Short(), fp),
			"listening on " + strings.Join(self.Addrs, " "),
		},
	}
	if f.notify {
		beeep.AppName = "p2pchat"
		cfg.Notify = func(title, body string) error { return beeep.Notify(title, body, "") }
	}
	opts := []tea.ProgramOption{
		tea.WithContext(ctx),
		tea.WithInput(f.in),
		tea.WithOutput(f.out),
		// main's signal.NotifyContext turns SIGINT and SIGTERM into ctx.
		tea.WithoutSignalHandler(),
	}
	if os.Getenv("NO_COLOR") != "" {
		// no-color.org: any non-empty value. Bold and reverse stay.
		opts = append(opts, tea.WithColorProfile(colorprofile.Ascii))
	}
	p := tea.NewProgram(tui.New(ctx, cfg), opts...)
	stop, pumped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(pumped)
		defer guard(p)
		f.queue.pump(p, stop)
	}()
	_, err = p.Run()
	close(stop)
	<-pumped
	core.stop()
	if err != nil && ctx.Err() != nil && !errors.Is(err, tea.ErrProgramPanic) {
		err = nil // SIGINT or SIGTERM: the program was stopped, as asked
	}
	return err
}

// guard restores the terminal before a panic in a goroutine of ours ends
// the process: Bubble Tea recovers panics only in its own goroutines.
func guard(p *tea.Program) {
	if r := recover(); r != nil {
		p.Kill()
		p.Wait()
		panic(r)
	}
}

// tuiCore adapts an [api.Backend] to [tui.Core] and [tui.Historian].
// Commands run through the line-mode code (commands), one at a time, with
// the UI's current room and a masked prompt for passphrases.
//
// The snapshot is kept, so that Snapshot never blocks, and fetched again
// (in the background) when an event given to [tuiCore.event] changes
// something it shows, and after every command: no timer, the same for a
// node in this process and a daemon. It opens no event stream: the face's
// one stream feeds it.
type tuiCore struct {
	mu sync.Mutex // guards c's out, tty and current while a command runs
	c  *commands

	poke     chan struct{} // a token asks for a fresh snapshot
	cached   atomic.Pointer[tui.Snapshot]
	onChange func() // called after a background fetch; may be nil
	done     chan struct{}
	cancel   context.CancelFunc
}

var (
	_ tui.Core      = (*tuiCore)(nil)
	_ tui.Historian = (*tuiCore)(nil)
)

// newTUICore returns the core for b (whose node is self), with a first
// snapshot taken. onChange, if not nil, is called whenever a fresher one
// was taken in the background: it tells the program (tui.SnapshotMsg).
func newTUICore(ctx context.Context, b api.Backend, self api.Self, onChange func()) *tuiCore {
	t := &tuiCore{c: &commands{b: b}, poke: make(chan struct{}, 1), onChange: onChange, done: make(chan struct{})}
	t.cached.Store(&tui.Snapshot{ID: self.PeerID, Nick: self.Nick, Short: self.Fingerprint.Short()})
	ctx, t.cancel = context.WithCancel(ctx)
	t.refresh(ctx)
	go func() {
		defer close(t.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.poke:
			}
			if t.refresh(ctx) && t.onChange != nil {
				t.onChange()
			}
		}
	}()
	return t
}

// event takes a fresh snapshot in the background if ev changes what one
// shows. It never blocks: pokes coalesce.
func (t *tuiCore) event(ev room.Event) {
	if changesSnapshot(ev.Type) {
		t.changed()
	}
}

// changesSnapshot reports whether events of type typ change what a
// snapshot shows (rooms, their readiness and members, nicks, verification).
func changesSnapshot(typ room.EventType) bool {
	switch typ {
	case room.EventMessage, room.EventState, room.EventReaction, room.EventEdit, room.EventDelete:
		return false
	}
	return true
}

// changed asks for a fresh snapshot in the background.
func (t *tuiCore) changed() {
	select {
	case t.poke <- struct{}{}:
	default:
	}
}

// refresh fetches a snapshot now and keeps it; it reports whether it got
// one.
func (t *tuiCore) refresh(ctx context.Context) bool {
	s, err := t.fetch(ctx)
	if err != nil {
		return false
	}
	t.cached.Store(&s)
	return true
}

// stop ends the background snapshots.
func (t *tuiCore) stop() {
	t.cancel()
	<-t.done
}

// fetch asks the backend for a snapshot.
func (t *tuiCore) fetch(ctx context.Context) (tui.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := t.c.b.Status(ctx)
	if err != nil {
		return tui.Snapshot{}, err
	}
	rooms, err := t.c.b.Rooms(ctx)
	if err != nil {
		return tui.Snapshot{}, err
	}
	s := tui.Snapshot{ID: st.PeerID, Nick: st.Nick, Short: st.Fingerprint.Short(), Peers: st.Peers}
	for _, r := range rooms {
		s.Rooms = append(s.Rooms, tui.RoomState{Name: r.Name, Kind: r.Kind, Ready: r.Ready, Members: r.Members, Absent: r.Absent})
	}
	return s, nil
}

// Snapshot implements [tui.Core]: the last snapshot taken.
func (t *tuiCore) Snapshot() tui.Snapshot { return *t.cached.Load() }

func (t *tuiCore) Send(ctx context.Context, name, text string, action bool) (*room.Message, error) {
	return t.c.b.Send(ctx, name, text, action)
}

func (t *tuiCore) History(ctx context.Context, name string, n int) ([]*room.Message, error) {
	return t.c.b.History(ctx, name, n)
}

func (t *tuiCore) Search(ctx context.Context, query string, limit int) ([]room.SearchHit, error) {
	return t.c.b.Search(ctx, query, "", limit)
}

func (t *tuiCore) Command(ctx context.Context, current, line string, ask tui.AskFunc) tui.CommandResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	col := &collector{}
	t.c.out, t.c.tty, t.c.current = col, askReader(ask), current
	quit := t.c.handle(ctx, line)
	res := tui.CommandResult{Current: t.c.current, Output: col.out, Quit: quit}
	t.c.out, t.c.tty = nil, nil
	t.refresh(ctx) // what the command changed, before the program looks
	return res
}

// joinAll joins the rooms named on the command line with pass and returns
// the last one joined; what goes wrong is shown in f.
func (t *tuiCore) joinAll(ctx context.Context, rooms []string, pass []byte, f *tuiFace) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	col := &collector{}
	t.c.out = col
	for _, name := range rooms {
		t.c.join(ctx, name, pass)
	}
	t.c.out = nil
	for _, o := range col.out {
		if o.Event != nil {
			f.event(*o.Event)
		}
	}
	return t.c.current
}

// askReader asks for passphrases with the UI's masked prompt.
type askReader tui.AskFunc

func (a askReader) readHidden(ctx context.Context, prompt string) ([]byte, error) {
	return a(ctx, prompt)
}

// collector keeps what one command answers, for the UI to show.
type collector struct{ out []tui.Output }

func (c *collector) info(typ string, _ map[string]any, line string) {
	c.out = append(c.out, tui.Output{Kind: typ, Text: line})
}

func (c *collector) event(ev room.Event) { c.out = append(c.out, tui.Output{Event: &ev}) }

func (c *collector) errorf(format string, args ...any) {
	c.event(room.Event{Type: room.EventError, Err: fmt.Errorf(format, args...)})
}

// msgQueue holds messages for the program, without bound and in order, so
// that the core's event stream never waits for the screen (nor for the
// program to start).
type msgQueue struct {
	mu    sync.Mutex
	items []tea.Msg
	wake  chan struct{} // made on first use; a token means "items changed"
}

func (q *msgQueue) wakeCh() chan struct{} {
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	return q.wake
}

func (q *msgQueue) push(msg tea.Msg) {
	q.mu.Lock()
	q.items = append(q.items, msg)
	wake := q.wakeCh()
	q.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
}

// pump sends the queued messages to p in order until stop is closed.
func (q *msgQueue) pump(p interface{ Send(tea.Msg) }, stop <-chan struct{}) {
	q.mu.Lock()
	wake := q.wakeCh()
	q.mu.Unlock()
	for {
		q.mu.Lock()
		items := q.items
		q.items = nil
		q.mu.Unlock()
		for _, msg := range items {
			select {
			case <-stop:
				return
			default:
			}
			p.Send(msg)
		}
		select {
		case <-wake:
		case <-stop:
			return
		}
	}
}

// heldLog is stderr while the full-screen UI runs: when stderr is the
// terminal, log lines would scribble over the screen, so they are held
// (the last maxHeldLog bytes of them) and written out by release, once the
// screen is restored. When stderr is not a terminal, writes go through.
type heldLog struct {
	mu      sync.Mutex
	w       io.Writer
	holding bool
	buf     bytes.Buffer
	dropped int // lines dropped from the front of buf
}

const maxHeldLog = 256 << 10

func newHeldLog(w io.Writer, hold bool) *heldLog { return &heldLog{w: w, holding: hold} }

func (h *heldLog) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return h.w.Write(p)
	}
	h.buf.Write(p)
	for h.buf.Len() > maxHeldLog {
		if _, err := h.buf.ReadBytes('\n'); err != nil {
			break
		}
		h.dropped++
	}
	return len(p), nil
}

// release writes what was held and lets later writes through.
func (h *heldLog) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return
	}
	h.holding = false
	if h.dropped > 0 {
		fmt.Fprintf(h.w, "(%d earlier log lines dropped)\n", h.dropped)
	}
	h.w.Write(h.buf.Bytes())
	h.buf.Reset()
}
