package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/localsock"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/sdnotify"
	"github.com/p2pchat/p2pchat/room"
)

const daemonLong = `Run a headless node that stays in the rooms remembered in the state
directory (those joined and not left), keeps their history flowing, and
serves the local API (docs/API.md) on a Unix socket that only this user
can use. p2pchat status, rooms, join, leave, send, tail, peers, and plain
p2pchat (the UI) talk to it.

Logs go to stderr (--log-format text or json; --log-level, default info).
SIGINT, SIGTERM or SIGHUP stops it cleanly: the rooms hear a goodbye. Under
systemd (Type=notify) it reports readiness; see contrib/systemd.

Only one daemon runs per state directory (a lock file in it); a socket
left by a crash is removed when the next daemon starts.`

func daemonCmd(o *options, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "run a headless node with the local API, for scripts and the UI",
		Long:  daemonLong,
		Args:  args(0, 0, "[flags]"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("log-level") {
				o.logLevel = "info"
			}
			return daemon(cmd.Context(), o, stderr)
		},
	}
	nodeFlags(cmd, o)
	cmd.Flags().StringVar(&o.logFormat, "log-format", "text", "`FORMAT` of the logs on stderr: text or json")
	return cmd
}

// daemon runs the node and the API server until ctx ends.
func daemon(ctx context.Context, o *options, stderr io.Writer) (err error) {
	if err := checkNodeFlags(o, nil); err != nil {
		return err
	}
	// A closed terminal (SIGHUP to `p2pchat daemon &`) stops it cleanly too.
	ctx, stopHUP := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stopHUP()
	log, err := newLogger(o.logLevel, o.logFormat, stderr)
	if err != nil {
		return err
	}
	home, err := resolveHome(o.home)
	if err != nil {
		return err
	}
	sock, err := socketPath(o, home)
	if err != nil {
		return err
	}
	id, _, err := loadIdentity(o)
	if err != nil {
		return err
	}
	var (
		svc    *apiService
		pumped chan struct{}
	)
	e, err := startNode(ctx, o, home, id, log, func(ev room.Event) {
		log.Warn("node", "err", ev.Err)
	})
	if err != nil {
		return err
	}
	defer func() {
		sdnotify.Stopping()
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if svc != nil {
			svc.shutdown(closeCtx)
		}
		if cerr := e.close(closeCtx); cerr != nil && err == nil {
			err = cerr
		}
		if pumped != nil {
			<-pumped
		}
		log.Info("stopped")
	}()
	pumped = make(chan struct{})
	go func() {
		defer close(pumped)
		// The server streams the node's own event log; the daemon only logs
		// the errors.
		_ = e.Follow(context.Background(), api.EventsOptions{FromStart: true}, func(ev api.Event) error {
			if ev.Type == room.EventError {
				log.Info("room", "room", ev.Room, "reason", ev.Reason, "err", ev.Err)
			}
			return nil
		})
	}()
	if svc, err = serveAPI(e, sock, log); err != nil {
		return err
	}
	rooms, err := e.M.StoredRooms(ctx)
	if err != nil {
		return err
	}
	for _, name := range rooms {
		if _, err := e.M.Join(ctx, name, room.JoinOptions{}); err != nil {
			log.Warn("rejoining a remembered room", "room", name, "err", err)
		}
	}
	self, _ := e.Self(ctx)
	log.Info("ready", "peer_id", self.PeerID, "fp", self.Fingerprint.Short(), "nick", self.Nick,
		"socket", sock, "home", home, "rooms", len(rooms), "addrs", self.Addrs)
	if err := sdnotify.Ready(fmt.Sprintf("%s#%s in %d room(s)", self.Nick, self.Fingerprint.Short(), len(rooms))); err != nil {
		log.Warn("telling systemd we are ready", "err", err)
	}
	select {
	case <-ctx.Done():
		log.Info("stopping", "why", context.Cause(ctx))
		return nil
	case err := <-svc.served:
		return fmt.Errorf("API server: %w", err)
	}
}

// socketEnv names the environment variable that sets the API socket.
const socketEnv = "P2PCHAT_SOCKET"

// socketPath returns the daemon's API socket for the state directory home:
// --socket, else $P2PCHAT_SOCKET, else one per home in the runtime dir.
func socketPath(o *options, home string) (string, error) {
	if o.socket != "" {
		return o.socket, nil
	}
	if s := os.Getenv(socketEnv); s != "" {
		return s, nil
	}
	dir, err := localsock.RuntimeDir()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", fmt.Errorf("state directory %s: %w", home, err)
	}
	return localsock.SocketPath(dir, abs)
}

// daemonClient returns a client of the daemon for home, or an error
// wrapping api.ErrNoDaemon (with a hint) if none answers.
func daemonClient(ctx context.Context, o *options, home string) (*api.Client, error) {
	sock, err := socketPath(o, home)
	if err != nil {
		return nil, err
	}
	c := api.NewClient(sock)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		if errors.Is(err, api.ErrNoDaemon) {
			return nil, fmt.Errorf("%w for state directory %s; start one with `p2pchat daemon` (or as a service, see README)", err, home)
		}
		return nil, err
	}
	return c, nil
}
