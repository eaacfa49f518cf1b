package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/store"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

const usage = `usage:
  p2pchat [flags] [ROOM ...]     join ROOMs (default: lobby) and chat
  p2pchat id [--json]            print this node's peer ID and fingerprint
  p2pchat version

flags:
`

type options struct {
	home     string
	passFile string
	nick     string
	listen   listFlag
	peers    listFlag
	noMDNS   bool
	plain    bool
	json     bool
	notify   bool
	logLevel string
	args     []string
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type usageError struct{ error }

// parseArgs parses flags and positional arguments in any order ("--" ends
// flags).
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("p2pchat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.home, "home", "", "state directory (default $P2PCHAT_HOME, else the per-user state dir)")
	fs.StringVar(&o.nick, "nick", "", "nickname shown to others (default: the last one used, else $USER)")
	fs.Var(&o.listen, "listen", "multiaddr to listen on (repeatable; default all interfaces, TCP, IPv4 and IPv6)")
	fs.StringVar(&o.passFile, "passphrase-file", "", "join the ROOMs as passphrase rooms, with the passphrase in `FILE` (default $P2PCHAT_PASSPHRASE)")
	fs.Var(&o.peers, "peer", "multiaddr with /p2p/ID of a peer to dial directly (repeatable)")
	fs.BoolVar(&o.noMDNS, "no-mdns", false, "do not discover peers with mDNS")
	fs.BoolVar(&o.plain, "plain", false, "line mode with one human-readable line per event")
	fs.BoolVar(&o.json, "json", false, "line mode with one JSON object per event (see docs/CLI.md)")
	fs.BoolVar(&o.notify, "notify", false, "in the full-screen UI, show a desktop notification when someone mentions your nick")
	fs.StringVar(&o.logLevel, "log-level", "warn", "log level for stderr: debug, info, warn or error")
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			o.args = append(o.args, args[1:]...)
			break
		}
		o.args = append(o.args, args[0])
		args = args[1:]
	}
	if o.plain && o.json {
		return nil, usageError{errors.New("--plain and --json exclude each other")}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if code, ok := runHistory(ctx, args, stdout, stderr); ok {
		return code
	}
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "p2pchat: %v\n", err)
		return exitUsage
	}
	if len(o.args) > 0 {
		switch o.args[0] {
		case "version":
			fmt.Fprintln(stdout, versionString())
			return exitOK
		case "id":
			return exitCode(stderr, cmdID(o, stdout))
		}
	}
	return exitCode(stderr, chat(ctx, o, stdin, stdout, stderr))
}

func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "p2pchat: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitRuntime
}

func versionString() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("p2pchat %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

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

func cmdID(o *options, stdout io.Writer) error {
	if len(o.args) > 1 {
		return usageError{fmt.Errorf("id takes no arguments, got %q", o.args[1:])}
	}
	id, _, err := loadIdentity(o)
	if err != nil {
		return err
	}
	fp := id.Fingerprint()
	if o.json {
		return writeJSON(stdout, map[string]any{"type": "id", "peer_id": id.PeerID().String(), "fingerprint": fp.String(), "short": fp.Short()})
	}
	fmt.Fprintf(stdout, "peer id:     %s\nfingerprint: %s\nshort:       %s\n", id.PeerID(), fp, fp.Short())
	return nil
}

func newLogger(level string, stderr io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l})), nil
}

func defaultNick() string {
	for _, v := range []string{"USER", "USERNAME", "LOGNAME"} {
		if n := os.Getenv(v); room.ValidNick(n) {
			return n
		}
	}
	return "anon"
}

// chat runs a node, joins the rooms and drives the full-screen UI (when
// stdin and stdout are terminals and neither --plain nor --json is given) or
// line mode until stdin ends, /quit, or ctx is cancelled (SIGINT/SIGTERM).
func chat(ctx context.Context, o *options, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	ui := newTUIFace(o, stdin, stdout, stderr)
	if ui != nil {
		// Logs must not scribble over the screen: they are held while the
		// UI runs and written out when it is gone.
		stderr = ui.log
		defer ui.log.release()
	}
	log, err := newLogger(o.logLevel, stderr)
	if err != nil {
		return err
	}
	// The mDNS library writes warnings through the standard log package;
	// keep them out of the chat and behind --log-level.
	stdlog.SetOutput(slog.NewLogLogger(log.Handler(), slog.LevelDebug).Writer())
	stdlog.SetFlags(0)
	explicitNick := o.nick != ""
	if !explicitNick {
		o.nick = defaultNick()
	}
	if !room.ValidNick(o.nick) {
		return usageError{fmt.Errorf("--nick %q: %v", o.nick, room.ErrNick)}
	}
	rooms := o.args
	if len(rooms) == 0 {
		rooms = []string{"lobby"}
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
		if _, err := peer.AddrInfoFromString(a); err != nil {
			return usageError{fmt.Errorf("--peer %q: want a multiaddr ending in /p2p/PEER_ID: %v", a, err)}
		}
	}
	pass, err := startPassphrase(o.passFile)
	if err != nil {
		return err
	}
	defer clear(pass)
	id, home, err := loadIdentity(o)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, home)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: after the manager and the node are
	// closed, nothing writes to the store any more.
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if !explicitNick {
		// Without --nick, the nick of the last run (kept in the database).
		if nick, ok, err := st.Setting(ctx, store.SettingNick); err == nil && ok && room.ValidNick(nick) {
			o.nick = nick
		}
	}
	out := newPrinter(stdout, o.json)
	emit := out.event
	if ui != nil {
		emit = ui.event
	}
	n, err := node.New(ctx, id.PrivKey(), node.Config{
		ListenAddrs: o.listen,
		Peers:       o.peers,
		NoMDNS:      o.noMDNS,
		Logger:      log,
		Notify: func(nt node.Notice) {
			if nt.Kind == node.NoticePeerUnreachable {
				emit(room.Event{Type: room.EventError, Peer: nt.Peer,
					Err: fmt.Errorf("peer %s at %s is unreachable (%v); still trying in the background", nt.Peer, nt.Addr, nt.Err)})
			}
		},
	})
	if err != nil {
		return err
	}
	defer n.Close()
	m, err := room.New(room.Config{Identity: id, Node: n, Nick: o.nick, Store: st, Logger: log})
	if err != nil {
		return err
	}
	if ui != nil {
		return ui.run(ctx, m, n, id, st, rooms, pass)
	}
	out.setManager(m)
	out.ready(id, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range m.Events() {
			out.event(ev)
		}
	}()
	lines := newLineReader(stdin)
	defer lines.close()
	s := &session{&commands{m: m, n: n, id: id, st: st, out: out, lines: lines}}
	if t := stdinTerminal(stdin, stderr); t != nil {
		s.tty = t
	}
	for _, name := range rooms {
		s.join(ctx, name, pass)
	}
	clear(pass)
	err = s.loop(ctx)
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.Close(closeCtx)
	<-done
	return err
}
