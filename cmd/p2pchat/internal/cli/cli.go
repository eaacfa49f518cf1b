package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// Exit codes.
const (
	exitOK       = 0
	exitRuntime  = 1
	exitUsage    = 2
	exitNoDaemon = 3 // a subcommand needs a running daemon and none is
)

// options holds the flags of every command; each command registers those
// it takes.
type options struct {
	home      string
	socket    string
	passFile  string
	nick      string
	listen    []string
	peers     []string
	noMDNS    bool
	plain     bool
	json      bool
	notify    bool
	awayAfter time.Duration
	logLevel  string
	logFormat string
	args      []string
	// web is --web, the web UI's address ("": not at start, and
	// defaultWebAddr when asked for); webRemote is --web-allow-remote.
	web       string
	webRemote bool
	// daemonReady, if set, is called by daemon once the node serves its
	// API (p2pchat web, when it starts the node).
	daemonReady func(*apiService) error
}

// usageError marks an error as the user's (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// Main runs the process's command line (os.Args) and exits with its code.
// SIGINT and SIGTERM cancel the command's context.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(&options{}, stdin, stdout, stderr)
	root.SetArgs(compatArgs(root, args))
	return exitCode(stderr, root.ExecuteContext(ctx))
}

func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "p2pchat: %v\n", err)
	var u usageError
	switch {
	case errors.As(err, &u):
		return exitUsage
	case errors.Is(err, api.ErrNoDaemon):
		return exitNoDaemon
	}
	return exitRuntime
}

// compatArgs rewrites single-dash long flags, which the standard flag
// package accepted until v0.4 (-nick alice), into the double-dash form.
func compatArgs(root *cobra.Command, args []string) []string {
	long := map[string]bool{}
	var collect func(c *cobra.Command)
	collect = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { long[f.Name] = true }
		c.Flags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			collect(sub)
		}
	}
	collect(root)
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			if name, _, _ := strings.Cut(a[1:], "="); len(name) > 1 && long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// args checks the number of positional arguments: between lo and hi (-1:
// no limit), with use as the reminder.
func args(lo, hi int, use string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) < lo || (hi >= 0 && len(a) > hi) {
			return usageError{fmt.Errorf("usage: %s", cmd.CommandPath()+" "+use)}
		}
		return nil
	}
}

const rootLong = `p2pchat is a peer-to-peer, end-to-end encrypted chat for the LAN: no
server, no accounts. Run it on two machines, join a room by name, and the
peers find each other by mDNS.

Without a subcommand it joins ROOMs (default: the rooms it was in last
time, or lobby on a first run) and chats, in a
full-screen UI on a terminal or in line mode (--plain, --json). When a
daemon (p2pchat daemon) runs for the state directory, the UI attaches to
it; otherwise it runs a node of its own until it exits.

docs/CLI.md describes the command line and the --json events, docs/API.md
the daemon's local API.`

func newRootCmd(o *options, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "p2pchat [flags] [ROOM ...]",
		Short: "peer-to-peer end-to-end encrypted LAN chat",
		Long:  rootLong,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, a []string) error {
			o.args = a
			return chat(cmd.Context(), o, stdin, stdout, stderr)
		},
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&o.home, "home", "", "state directory `DIR` (default $P2PCHAT_HOME, else the per-user state dir)")
	pf.StringVar(&o.socket, "socket", "", "the daemon's API socket `PATH` (default $P2PCHAT_SOCKET, else one per state directory, see p2pchat paths)")
	pf.BoolVar(&o.json, "json", false, "one JSON object per line (see docs/CLI.md)")
	pf.StringVar(&o.logLevel, "log-level", "warn", "`LEVEL` of the logs on stderr: debug, info, warn or error")

	f := root.Flags()
	nodeFlags(root, o)
	f.StringVar(&o.passFile, "passphrase-file", "", "join the ROOMs as passphrase rooms, with the passphrase in `FILE` (default $P2PCHAT_PASSPHRASE)")
	f.BoolVar(&o.plain, "plain", false, "line mode with one human-readable line per event")
	f.BoolVar(&o.notify, "notify", false, "in the full-screen UI, show a desktop notification when someone mentions your nick")
	f.DurationVar(&o.awayAfter, "away-after", 10*time.Minute, "in the full-screen UI, tell the members you are away after `D` without a key press (0: never)")

	root.AddCommand(
		newIDCmd(o, stdout),
		newVersionCmd(o, stdout),
		newServiceCmd(o, stdout, stderr),
		newDaemonCmd(o, stderr),
		newWebCmd(o, stdout, stderr),
		newManCmd(root, stdout),
		newHistoryCmd(o, stdout, stderr),
		newSearchCmd(o, stdout, stderr),
		newExportCmd(o, stdout, stderr),
	)
	root.AddCommand(clientCmds(o, stdin, stdout, stderr)...)
	return root
}

// nodeFlags adds the flags that configure a node: the root command's
// embedded node and the daemon.
func nodeFlags(cmd *cobra.Command, o *options) {
	f := cmd.Flags()
	f.StringVar(&o.nick, "nick", "", "nickname `NAME` shown to others (default: the last one used, else $USER)")
	f.StringArrayVar(&o.listen, "listen", nil, "`MULTIADDR` to listen on (repeatable; default all interfaces, TCP, IPv4 and IPv6)")
	f.StringArrayVar(&o.peers, "peer", nil, "`MULTIADDR` with /p2p/ID of a peer to dial directly (repeatable)")
	f.BoolVar(&o.noMDNS, "no-mdns", false, "do not discover peers with mDNS")
}
