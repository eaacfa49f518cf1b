package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"time"

	"github.com/multiformats/go-multiaddr"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/localsock"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/node/roomnet"
	"github.com/p2pchat/p2pchat/room"
)

// loadIdentity loads (or creates) the identity in the state directory and
// returns it with the directory.
func loadIdentity(o *options) (*identity.Identity, string, error) {
	home, err := resolveHome(o.home)
	if err != nil {
		return nil, "", err
	}
	id, _, err := identity.LoadOrCreate(home)
	return id, home, err
}

// newLogger returns the logger for stderr: level as --log-level, format
// "text" or "json" as --log-format.
func newLogger(level, format string, stderr io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(stderr, opts)
	case "json":
		h = slog.NewJSONHandler(stderr, opts)
	default:
		return nil, usageError{fmt.Errorf("--log-format %q: want text or json", format)}
	}
	log := slog.New(h)
	// The mDNS library writes warnings through the standard log package;
	// keep them out of the chat and behind --log-level.
	stdlog.SetOutput(slog.NewLogLogger(h, slog.LevelDebug).Writer())
	stdlog.SetFlags(0)
	return log, nil
}

func defaultNick() string {
	for _, v := range []string{"USER", "USERNAME", "LOGNAME"} {
		if n := os.Getenv(v); room.ValidNick(n) {
			return n
		}
	}
	return "anon"
}

// checkNodeFlags checks the flags that configure a node (and the rooms
// named): every mistake is a usage error, found before anything starts.
func checkNodeFlags(o *options, rooms []string) error {
	if o.nick != "" && !room.ValidNick(o.nick) {
		return usageError{fmt.Errorf("--nick %q: %v", o.nick, room.ErrNick)}
	}
	for _, name := range rooms {
		if _, err := room.Normalize(name); err != nil {
			return usageError{fmt.Errorf("room %q: %v", name, err)}
		}
	}
	for _, a := range o.listen {
		if _, err := multiaddr.NewMultiaddr(a); err != nil {
			return usageError{fmt.Errorf("--listen %q: %v", a, err)}
		}
	}
	for _, a := range o.peers {
		if err := peerAddrError(a); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// embedded is a node in this process: the store, the libp2p node and the
// room manager, with the home lock held.
type embedded struct {
	*api.Local
	node  *node.Node
	store *room.Store
	lock  *localsock.Lock
}

// startNode starts a node for the state directory home, for chat and
// daemon alike. notify gets the node's notices as error events.
func startNode(ctx context.Context, o *options, home string, id *identity.Identity, log *slog.Logger, notify func(room.Event)) (_ *embedded, err error) {
	lock, err := localsock.LockHome(home)
	if err != nil {
		return nil, err
	}
	e := &embedded{Local: &api.Local{}, lock: lock}
	defer func() {
		if err != nil {
			e.close(context.Background())
		}
	}()
	if e.store, err = room.OpenStore(ctx, home); err != nil {
		return nil, err
	}
	nick := o.nick
	if nick == "" {
		nick = defaultNick()
		// Without --nick, the nick of the last run (kept in the database).
		if last, ok := room.LastNick(ctx, e.store); ok {
			nick = last
		}
	}
	e.node, err = node.New(ctx, id.PrivKey(), node.Config{
		ListenAddrs: o.listen,
		Peers:       o.peers,
		NoMDNS:      o.noMDNS,
		Logger:      log,
		Notify: func(nt node.Notice) {
			if nt.Kind == node.NoticePeerUnreachable {
				notify(unreachable(nt))
			}
		},
	})
	if err != nil {
		return nil, err
	}
	m, err := room.New(room.Config{Identity: id, Transport: roomnet.Transport(e.node), Nick: nick, Store: e.store, Logger: log})
	if err != nil {
		return nil, err
	}
	e.Local = api.NewLocal(m)
	return e, nil
}

// unreachable is the one line a user sees for a --peer that cannot be
// reached: the address as given and the reason in words; libp2p's
// per-address errors are in the debug log.
func unreachable(nt node.Notice) room.Event {
	return room.Event{Type: room.EventError, Peer: nt.Peer,
		Err: fmt.Errorf("cannot reach --peer %s: %s; still trying in the background", nt.Addr, node.DialReason(nt.Err))}
}

// close leaves every room (saying goodbye) and closes the node, the store
// and the lock, in that order. The manager's event stream ends.
func (e *embedded) close(ctx context.Context) error {
	var errs []error
	if e.M != nil {
		errs = append(errs, e.M.Close(ctx))
	}
	if e.node != nil {
		errs = append(errs, e.node.Close())
	}
	if e.store != nil {
		errs = append(errs, e.store.Close())
	}
	errs = append(errs, e.lock.Close())
	return errors.Join(errs...)
}

// chat runs the full-screen UI (when stdin and stdout are terminals and
// neither --plain nor --json is given) or line mode until stdin ends,
// /quit, or ctx is cancelled (SIGINT/SIGTERM): attached to the daemon of
// the state directory if one runs, else on a node of its own.
func chat(ctx context.Context, o *options, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	if o.plain && o.json {
		return usageError{errors.New("--plain and --json exclude each other")}
	}
	if err := checkNodeFlags(o, o.args); err != nil {
		return err
	}
	ui := newTUIFace(o, stdin, stdout, stderr)
	if ui != nil {
		// Logs must not scribble over the screen: they are held while the
		// UI runs and written out when it is gone.
		stderr = ui.log
		defer ui.log.release()
	}
	log, err := newLogger(o.logLevel, "text", stderr)
	if err != nil {
		return err
	}
	pass, err := startPassphrase(o.passFile)
	if err != nil {
		return err
	}
	defer clear(pass)
	home, err := resolveHome(o.home)
	if err != nil {
		return err
	}
	out := newPrinter(stdout, o.json)
	show := out.show
	if ui != nil {
		show = func(e api.Event) { ui.event(e.Event) }
	}
	if c, err := daemonClient(ctx, o, home); err == nil {
		if len(o.listen) > 0 || len(o.peers) > 0 || o.noMDNS {
			return usageError{fmt.Errorf("a p2pchat node (a daemon, or another p2pchat's own) runs for %s and this one attaches to it: --listen, --peer and --no-mdns configure a node, so they go to the command that starts it (or stop it, or pass another --home)", home)}
		}
		if o.nick != "" {
			// The daemon's node is this user's: --nick renames it, as /nick does.
			if err := c.SetNick(ctx, o.nick); err != nil {
				return err
			}
		}
		return attach(ctx, c, o.args, pass, ui, out, show, stdin, stderr)
	}
	id, _, err := loadIdentity(o)
	if err != nil {
		return err
	}
	e, err := startNode(ctx, o, home, id, log, out.event)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Every event from the first, until the manager is closed; the
		// in-process output has never carried event ids.
		_ = e.Follow(context.Background(), api.EventsOptions{FromStart: true}, func(ev api.Event) error {
			ev.EventID = 0
			show(ev)
			return nil
		})
	}()
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if cerr := e.close(closeCtx); cerr != nil && err == nil {
			err = cerr
		}
		<-done
	}()
	// As the daemon does, this node answers p2pchat send, tail, status, …
	// on its socket while it runs (shut down before the node closes).
	// Without a socket it still chats.
	if sock, serr := socketPath(o, home); serr != nil {
		log.Warn("not serving the local API", "err", serr)
	} else if svc, serr := serveAPI(e, sock, defaultWebAddr, log); serr != nil {
		log.Warn("not serving the local API", "socket", sock, "err", serr)
	} else {
		defer func() {
			closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			svc.shutdown(closeCtx)
		}()
	}
	rooms, remembered, err := startRooms(ctx, e.M, o.args)
	if err != nil {
		return err
	}
	if remembered {
		// Remembered rooms come back with what was stored for them: a
		// passphrase given now would turn open rooms into others.
		pass = nil
	}
	return runFace(ctx, e.Local, rooms, pass, ui, out, stdin, stderr)
}

// startRooms returns the rooms a node joins as it starts: those named, in
// their order; with none, every room remembered in the state directory in
// the order they were joined; lobby in a state directory where no room was
// ever joined; none when every room was left on purpose. remembered says
// the rooms are the stored ones.
func startRooms(ctx context.Context, m *room.Manager, named []string) (rooms []string, remembered bool, err error) {
	if len(named) > 0 {
		return named, false, nil
	}
	stored, err := m.StoredRooms(ctx)
	if err != nil || len(stored) > 0 {
		return stored, true, err
	}
	before, err := m.JoinedBefore(ctx)
	if err != nil || before {
		return nil, true, err
	}
	return []string{"lobby"}, false, nil
}

// runFace runs the full-screen UI or line mode on b until the user quits,
// after joining rooms with pass (and making the last current).
func runFace(ctx context.Context, b api.Backend, rooms []string, pass []byte, ui *tuiFace, out *printer, stdin io.Reader, stderr io.Writer) error {
	if ui != nil {
		return ui.run(ctx, b, rooms, pass)
	}
	self, err := b.Self(ctx)
	if err != nil {
		return err
	}
	out.ready(self)
	lines := newLineReader(stdin)
	defer lines.close()
	s := &session{&commands{b: b, out: out, lines: lines}}
	if t := stdinTerminal(stdin, stderr); t != nil {
		s.tty = t
	}
	for _, name := range rooms {
		s.join(ctx, name, pass)
	}
	clear(pass)
	return s.loop(ctx)
}
