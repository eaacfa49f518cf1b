package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/localsock"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/store"
)

// giveUp is how long a client waits for a daemon that went away (a restart
// under systemd takes a few seconds) before it reports that none runs.
const giveUp = 15 * time.Second

// attach runs the UI or line mode on the daemon c: rooms named are joined
// (with pass); with none, the daemon's rooms are shown (lobby is joined if
// it has none). Quitting detaches: the daemon stays in its rooms.
func attach(ctx context.Context, c *api.Client, rooms []string, pass []byte, ui *tuiFace, out *printer, show func(api.Event), stdin io.Reader, stderr io.Writer) error {
	// Subscribe before joining, so that the joins' events are not missed:
	// the stream resumes from the head it had then.
	head, err := eventHead(ctx, c, "")
	if err != nil {
		return err
	}
	if len(rooms) == 0 {
		have, err := c.Rooms(ctx)
		if err != nil {
			return err
		}
		for _, r := range have {
			rooms = append(rooms, r.Name) // joining a joined room just makes it current
		}
		if len(rooms) == 0 {
			rooms = []string{"lobby"}
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	followed := make(chan error, 1)
	go func() {
		err := c.Follow(ctx, api.EventsOptions{Since: head, FromStart: head == 0, GiveUp: giveUp}, func(e api.Event) error {
			show(e)
			return nil
		})
		if err != nil {
			err = fmt.Errorf("the daemon went away: %w", err)
		}
		followed <- err
		cancel(err)
	}()
	err = runFace(ctx, c, rooms, pass, ui, out, stdin, stderr)
	cancel(nil)
	if ferr := <-followed; ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// eventHead returns the id of the daemon's newest event.
func eventHead(ctx context.Context, c *api.Client, roomName string) (uint64, error) {
	s, err := c.Events(ctx, api.EventsOptions{Room: roomName})
	if err != nil {
		return 0, err
	}
	head := s.Head()
	s.Close()
	return head, nil
}

// remote runs f with a client of the running daemon.
func remote(o *options, f func(ctx context.Context, c *api.Client) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		home, err := resolveHome(o.home)
		if err != nil {
			return err
		}
		c, err := daemonClient(cmd.Context(), o, home)
		if err != nil {
			return err
		}
		return f(cmd.Context(), c)
	}
}

// clientCmds are the subcommands that drive a running daemon, and paths.
func clientCmds(o *options, stdin io.Reader, stdout, stderr io.Writer) []*cobra.Command {
	out := func() *printer { return newPrinter(stdout, o.json) }
	var (
		joinPass bool
		wait     time.Duration
		action   bool
		tailN    int
		tailMax  int
	)
	status := &cobra.Command{
		Use:   "status",
		Short: "show the daemon's node, peers and rooms",
		Args:  args(0, 0, "[--json]"),
		RunE: remote(o, func(ctx context.Context, c *api.Client) error {
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			out().info(statusAnswer(st))
			return nil
		}),
	}
	rooms := &cobra.Command{
		Use:   "rooms",
		Short: "list the daemon's rooms",
		Args:  args(0, 0, "[--json]"),
		RunE: remote(o, func(ctx context.Context, c *api.Client) error {
			rs, err := c.Rooms(ctx)
			if err != nil {
				return err
			}
			var names, lines []string
			for _, r := range rs {
				names = append(names, r.Name)
				state := "waiting for the room key"
				if r.Ready {
					state = "ready"
				}
				lines = append(lines, fmt.Sprintf("%-20s %-10s %-24s %d other member(s)", r.Name, r.Kind, state, len(r.Members)))
			}
			if len(lines) == 0 {
				lines = []string{"not in any room"}
			}
			out().info("rooms", map[string]any{"rooms": names}, strings.Join(lines, "\n"))
			return nil
		}),
	}
	join := &cobra.Command{
		Use:   "join ROOM",
		Short: "make the daemon join ROOM (and remember it)",
		Long: `Make the daemon join ROOM and remember it across restarts. With -p (or
--passphrase-file, or $P2PCHAT_PASSPHRASE) ROOM is a passphrase room: -p
asks for the passphrase on the terminal, or reads the first line of stdin
when it is not one. Without, ROOM is open, or joined with the passphrase
stored when it was last joined with one. It waits up to --wait for the
room key and prints the joined event; a member refusing the passphrase
is an error (exit 1).`,
		Args: args(1, 1, "ROOM [-p | --passphrase-file FILE]"),
		RunE: func(cmd *cobra.Command, a []string) error {
			name, err := room.Normalize(a[0])
			if err != nil {
				return usageError{fmt.Errorf("room %q: %v", a[0], err)}
			}
			pass, err := startPassphrase(o.passFile)
			if err != nil {
				return err
			}
			defer clear(pass)
			if joinPass && pass == nil {
				if pass, err = askPassphrase(cmd.Context(), name, stdin, stderr); err != nil {
					return err
				}
			}
			return remote(o, func(ctx context.Context, c *api.Client) error {
				return joinRoom(ctx, c, name, pass, wait, out())
			})(cmd, a)
		},
	}
	join.Flags().DurationVar(&wait, "wait", 15*time.Second, "how long to wait for the room key (0: do not wait)")
	join.Flags().BoolVarP(&joinPass, "passphrase", "p", false, "join as a passphrase room: ask for it (or read the first stdin line)")
	join.Flags().StringVar(&o.passFile, "passphrase-file", "", "join as a passphrase room with the passphrase in `FILE`")
	leave := &cobra.Command{
		Use:   "leave ROOM",
		Short: "make the daemon leave ROOM (and forget its passphrase)",
		Args:  args(1, 1, "ROOM"),
		RunE: func(cmd *cobra.Command, a []string) error {
			return remote(o, func(ctx context.Context, c *api.Client) error {
				if err := c.Leave(ctx, a[0]); err != nil {
					return err
				}
				name, _ := room.Normalize(a[0])
				out().info("left", map[string]any{"room": name}, fmt.Sprintf("* [%s] left", name))
				return nil
			})(cmd, a)
		},
	}
	send := &cobra.Command{
		Use:   "send ROOM [TEXT ...]",
		Short: "send a message to ROOM through the daemon (TEXT, else all of stdin)",
		Long: `Send TEXT (the arguments joined by spaces) to ROOM, which the daemon must
have joined. Without TEXT, all of stdin is one message (one trailing
newline removed). It waits up to --wait for the room key. With --json it
prints the message object; otherwise nothing on success.`,
		Args: args(1, -1, "ROOM [TEXT ...]"),
		RunE: func(cmd *cobra.Command, a []string) error {
			text := strings.Join(a[1:], " ")
			if len(a) == 1 {
				b, err := io.ReadAll(io.LimitReader(stdin, room.MaxText+3))
				if err != nil {
					return fmt.Errorf("reading the message from stdin: %w", err)
				}
				text = string(trimLineEnd(b))
			}
			switch {
			case text == "":
				return usageError{errors.New("empty message not sent")}
			case len(text) > room.MaxText:
				return usageError{fmt.Errorf("message longer than %d bytes not sent", room.MaxText)}
			}
			return remote(o, func(ctx context.Context, c *api.Client) error {
				ctx, cancel := context.WithTimeout(ctx, wait)
				defer cancel()
				m, err := c.Send(ctx, a[0], text, action)
				if err != nil {
					return fmt.Errorf("message not sent: %w", err)
				}
				if o.json {
					obj := map[string]any{"type": "message", "room": mustNormalize(a[0])}
					api.AddMessage(obj, m)
					return writeJSON(stdout, obj)
				}
				return nil
			})(cmd, a)
		},
	}
	send.Flags().DurationVar(&wait, "wait", sendTimeout, "how long to wait for the room key")
	send.Flags().BoolVar(&action, "action", false, "send an action, as /me does")
	tail := &cobra.Command{
		Use:   "tail ROOM",
		Short: "print ROOM's events as they happen (Ctrl-C stops)",
		Long: `Print the events of ROOM as the daemon sees them, as line mode does
(--json: the objects of docs/CLI.md, with event_id), until interrupted.
-n N first prints the last N stored messages (type history); --count N
exits after N messages. A dropped connection to the daemon is resumed
without losing or repeating events.`,
		Args: args(1, 1, "ROOM [-n N] [--json]"),
		RunE: func(cmd *cobra.Command, a []string) error {
			name, err := room.Normalize(a[0])
			if err != nil {
				return usageError{fmt.Errorf("room %q: %v", a[0], err)}
			}
			return remote(o, func(ctx context.Context, c *api.Client) error {
				return tailRoom(ctx, c, name, tailN, tailMax, out())
			})(cmd, a)
		},
	}
	tail.Flags().IntVarP(&tailN, "n", "n", 0, "first print the last `N` stored messages")
	tail.Flags().IntVar(&tailMax, "count", 0, "exit after printing `N` messages (stored ones included); 0: never")
	peers := &cobra.Command{
		Use:   "peers",
		Short: "list the daemon's connected peers",
		Args:  args(0, 0, "[--json]"),
		RunE: remote(o, func(ctx context.Context, c *api.Client) error {
			ps, err := c.Peers(ctx)
			if err != nil {
				return err
			}
			var list []map[string]any
			lines := []string{fmt.Sprintf("%d peer(s) connected", len(ps))}
			for _, p := range ps {
				mark := ""
				if p.Verified {
					mark = " ✓"
				}
				list = append(list, map[string]any{"peer_id": p.PeerID.String(), "fp": p.Fingerprint.Short(), "fingerprint": p.Fingerprint.String(),
					"nick": p.Nick, "verified": p.Verified, "addrs": p.Addrs})
				lines = append(lines, fmt.Sprintf("  %s#%s%s  %s  %s", clean(p.Nick), p.Fingerprint.Short(), mark, p.PeerID, strings.Join(p.Addrs, " ")))
			}
			out().info("peers", map[string]any{"peers": list}, strings.Join(lines, "\n"))
			return nil
		}),
	}
	verify := &cobra.Command{
		Use:   "verify PEER_ID [FINGERPRINT]",
		Short: "show a peer's fingerprint, or mark it verified if FINGERPRINT is its",
		Args:  args(1, 2, "PEER_ID [FINGERPRINT]"),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := peer.Decode(a[0])
			if err != nil {
				return usageError{fmt.Errorf("peer ID %q: %v", a[0], err)}
			}
			fp, err := identity.PeerFingerprint(p)
			if err != nil {
				return usageError{fmt.Errorf("peer ID %q: %v", a[0], err)}
			}
			return remote(o, func(ctx context.Context, c *api.Client) error {
				fields := map[string]any{"peer_id": p.String(), "fp": fp.Short(), "fingerprint": fp.String()}
				if len(a) == 1 {
					v, err := c.Verified(ctx, p)
					if err != nil {
						return err
					}
					fields["verified"] = v
					out().info("fingerprint", fields, fmt.Sprintf("%s\n  fingerprint %s (verified: %v)", p, fp, v))
					return nil
				}
				if err := c.Verify(ctx, p, a[1]); err != nil {
					return err
				}
				out().info("verified", fields, fmt.Sprintf("* %s verified ✓: fingerprint %s matches", p, fp))
				return nil
			})(cmd, a)
		},
	}
	paths := &cobra.Command{
		Use:   "paths",
		Short: "print where p2pchat keeps its state, its socket and whether a daemon runs",
		Args:  args(0, 0, "[--json]"),
		RunE: func(*cobra.Command, []string) error {
			home, err := resolveHome(o.home)
			if err != nil {
				return err
			}
			sock, err := socketPath(o, home)
			if err != nil {
				return err
			}
			pid, running := localsock.LockHolder(home)
			state := "not running"
			if running {
				state = fmt.Sprintf("running (pid %d)", pid)
			}
			fields := map[string]any{"home": home, "identity": filepath.Join(home, identity.KeyFileName), "database": filepath.Join(home, store.FileName),
				"socket": sock, "lock": filepath.Join(home, localsock.LockFileName), "daemon_running": running}
			if running {
				fields["daemon_pid"] = pid
			}
			out().info("paths", fields, fmt.Sprintf("state directory: %s\nidentity:        %s\ndatabase:        %s\nAPI socket:      %s\nlock file:       %s\ndaemon:          %s",
				home, fields["identity"], fields["database"], sock, fields["lock"], state))
			return nil
		},
	}
	return []*cobra.Command{status, rooms, join, leave, send, tail, peers, verify, paths}
}

// joinRoom makes the daemon join name and waits up to wait for the room
// key: the joined event is printed; a refused passphrase is an error.
func joinRoom(ctx context.Context, c *api.Client, name string, pass []byte, wait time.Duration, out *printer) error {
	head, err := eventHead(ctx, c, name)
	if err != nil {
		return err
	}
	r, err := c.Join(ctx, name, pass)
	if err != nil {
		return err
	}
	joined := func() error {
		out.show(api.Event{Event: room.Event{Type: room.EventJoined, Room: r.Name}, Kind: r.Kind})
		return nil
	}
	if r.Ready {
		return joined()
	}
	if wait <= 0 {
		out.info("joining", map[string]any{"room": r.Name, "kind": r.Kind}, fmt.Sprintf("* [%s] joining; the daemon gets the room key in the background", r.Name))
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var refused error
	err = c.Follow(wctx, api.EventsOptions{Room: r.Name, Since: head, FromStart: head == 0, GiveUp: giveUp}, func(e api.Event) error {
		switch {
		case e.Type == room.EventJoined:
			out.show(e)
			return errTailDone
		case e.Type == room.EventError && e.Reason == "wrong_passphrase":
			refused = fmt.Errorf("%v; the daemon stays in room %q and keeps trying: `p2pchat leave %s` to give up", e.Err, r.Name, r.Name)
			return errTailDone
		}
		return nil
	})
	switch {
	case refused != nil:
		return refused
	case errors.Is(err, errTailDone):
		return nil
	case wctx.Err() != nil && ctx.Err() == nil:
		return fmt.Errorf("room %q: joined, but no room key after %v; the daemon keeps trying (p2pchat status shows when it has it)", r.Name, wait)
	}
	return err
}

// mustNormalize is name normalised, or name itself if it does not
// normalise (the daemon then said so already).
func mustNormalize(name string) string {
	if n, err := room.Normalize(name); err == nil {
		return n
	}
	return name
}

// errTailDone ends a tail that printed the messages it was asked for.
var errTailDone = errors.New("done")

// tailRoom prints the last n stored messages of name, then its events
// until ctx ends or, if limit > 0, limit messages were printed. A message in
// both is printed once.
func tailRoom(ctx context.Context, c *api.Client, name string, n, limit int, out *printer) error {
	head, err := eventHead(ctx, c, name)
	if err != nil {
		return err
	}
	shown := map[string]bool{}
	if n > 0 {
		msgs, err := c.History(ctx, name, n)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			shown[m.ID] = true
			obj := map[string]any{"room": name}
			api.AddMessage(obj, m)
			out.info("history", obj, fmt.Sprintf("  %s [%s] %s", m.Time.Local().Format("2006-01-02 15:04"), name, messageLine(m)))
			if limit > 0 && len(shown) >= limit {
				return nil
			}
		}
	}
	err = c.Follow(ctx, api.EventsOptions{Room: name, Since: head, FromStart: head == 0, GiveUp: giveUp}, func(e api.Event) error {
		if e.Type == room.EventMessage {
			if shown[e.Message.ID] {
				return nil
			}
			shown[e.Message.ID] = true
		}
		out.show(e)
		if limit > 0 && len(shown) >= limit {
			return errTailDone
		}
		return nil
	})
	if errors.Is(err, errTailDone) || ctx.Err() != nil {
		return nil // interrupted: the way tail ends
	}
	return err
}

// askPassphrase reads a passphrase for name: on the terminal without echo,
// else the first line of stdin.
func askPassphrase(ctx context.Context, name string, stdin io.Reader, stderr io.Writer) ([]byte, error) {
	if t := stdinTerminal(stdin, stderr); t != nil {
		p, err := t.readHidden(ctx, "passphrase for "+name+": ")
		if err != nil {
			return nil, err
		}
		if len(p) == 0 {
			return nil, usageError{errors.New("no passphrase entered; not joined")}
		}
		return p, nil
	}
	br := bufio.NewReaderSize(stdin, room.MaxPassphrase+3)
	line, err := br.ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, usageError{fmt.Errorf("reading the passphrase from stdin: %v", err)}
	}
	p := trimLineEnd(line)
	switch {
	case len(p) == 0:
		return nil, usageError{errors.New("the passphrase line on stdin is empty; not joined")}
	case len(p) > room.MaxPassphrase:
		return nil, usageError{fmt.Errorf("the passphrase is longer than %d bytes; not joined", room.MaxPassphrase)}
	}
	return append([]byte(nil), p...), nil
}
