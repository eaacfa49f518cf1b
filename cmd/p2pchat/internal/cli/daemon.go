package cli

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/sdnotify"
	"github.com/p2pchat/p2pchat/room"
)

// daemon runs the node and the API server until ctx ends.
func daemon(ctx context.Context, o *options, stderr io.Writer) (err error) {
	if err := checkNodeFlags(o, nil); err != nil {
		return err
	}
	if o.web != "" {
		wa, err := webAddr(o.web, o.webRemote)
		if err != nil {
			return usageError{err}
		}
		o.web = wa
	}
	// A closed terminal (SIGHUP to `p2pchat daemon &`) stops it cleanly too.
	ctx, stopHUP := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stopHUP()
	log, err := newLogger(o.logLevel, o.logFormat, stderr)
	if err != nil {
		return err
	}
	home, sock, err := homeAndSocket(o)
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
	wa := defaultWebAddr
	if o.web != "" {
		wa = o.web
	}
	if svc, err = serveAPI(e, sock, wa, log); err != nil {
		return err
	}
	if o.web != "" {
		if _, _, err := svc.web.start(); err != nil {
			return err
		}
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
	if o.daemonReady != nil {
		if err := o.daemonReady(svc); err != nil {
			return err
		}
	}
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
