package cli

import (
	"context"
	"log/slog"
	"net"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/localsock"
)

// apiService is the local API of a node on its Unix socket: every node
// serves it, the daemon and the UI's or line mode's own node alike, so
// that p2pchat send, tail, status, … work against whichever holds the
// state directory.
type apiService struct {
	srv    *api.Server
	web    *webUI
	served chan error // Serve's result
}

// serveAPI serves e's local API on the socket sock to this user's
// processes only (the socket's mode and SO_PEERCRED), and the web UI on
// webAddr (checked by [webAddr]) once asked for.
func serveAPI(e *embedded, sock, webAddr string, log *slog.Logger) (*apiService, error) {
	w := &webUI{addr: webAddr, log: log}
	srv := api.NewServer(api.ServerConfig{Backend: e.Local, Logger: log, WebLogin: w.login, Authorize: func(c net.Conn) error {
		err := localsock.CheckPeer(c)
		if err != nil {
			log.Warn("refused an API caller", "err", err)
		}
		return err
	}})
	w.api = srv.Handler()
	l, err := localsock.Listen(sock)
	if err != nil {
		return nil, err
	}
	s := &apiService{srv: srv, web: w, served: make(chan error, 1)}
	go func() { s.served <- srv.Serve(l) }()
	return s, nil
}

// shutdown stops serving, bounded by ctx.
func (s *apiService) shutdown(ctx context.Context) {
	s.srv.Shutdown(ctx) // ends the event streams of the web UI too
	s.web.shutdown(ctx)
}
