package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/web"
)

// defaultWebAddr is where a node serves its web UI when asked (POST
// /v1/web) without --web: the loopback interface, a free port.
const defaultWebAddr = "127.0.0.1:0"

// webAddr checks a --web address: host:port with an IP address or
// localhost as host; one other than loopback only with allowRemote.
func webAddr(addr string, allowRemote bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--web %q: want HOST:PORT, e.g. 127.0.0.1:8384: %v", addr, err)
	}
	if strings.EqualFold(host, "localhost") || host == "" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return "", fmt.Errorf("--web %q: the host must be an IP address or localhost, not a name", addr)
	}
	if !ip.IsLoopback() && !allowRemote {
		return "", fmt.Errorf("--web %q is reachable from other machines: the web UI is plain HTTP, so anyone on the way could read its login link and session; give --web-allow-remote to do it anyway", addr)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// webUI is a node's web UI: started on the first login asked for (or at
// start with --web), on its own TCP listener, in front of the API's
// handler.
type webUI struct {
	addr string // where to listen
	api  http.Handler
	log  *slog.Logger

	mu    sync.Mutex
	srv   *web.Server
	hs    *http.Server
	bound string // the listening address, once started
}

// start starts serving if it does not yet, and returns the server and
// its address.
func (w *webUI) start() (*web.Server, string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hs != nil {
		return w.srv, w.bound, nil
	}
	l, err := net.Listen("tcp", w.addr)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", api.ErrNoWeb, err)
	}
	bound := l.Addr().String()
	srv, err := web.New(web.Config{API: w.api, Addr: bound, Logger: w.log})
	if err != nil {
		l.Close()
		return nil, "", err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(w.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.log.Error("web UI stopped", "err", err)
		}
	}()
	w.srv, w.hs, w.bound = srv, hs, bound
	if ap, err := netip.ParseAddrPort(bound); err == nil && !ap.Addr().IsLoopback() { // --web-allow-remote
		w.log.Warn("the web UI is reachable from other machines, over plain HTTP: anyone on the network path can read its login links and sessions", "addr", bound)
	} else {
		w.log.Info("web UI", "addr", bound)
	}
	return srv, bound, nil
}

// login implements POST /v1/web.
func (w *webUI) login(context.Context) (api.WebLogin, error) {
	srv, addr, err := w.start()
	if err != nil {
		return api.WebLogin{}, err
	}
	return api.WebLogin{URL: web.URL(addr, srv.Login()), Addr: addr}, nil
}

// shutdown stops serving, bounded by ctx (after the API server has ended
// the event streams).
func (w *webUI) shutdown(ctx context.Context) {
	w.mu.Lock()
	hs := w.hs
	w.mu.Unlock()
	if hs != nil {
		if hs.Shutdown(ctx) != nil {
			hs.Close()
		}
	}
}

// loginFile writes a page that sends the browser to url into dir, readable
// by this user only, and returns its path: a browser opened on it does not
// carry the one-time token on its command line, where other local users
// could read it. Files of earlier logins older than the token's life are
// removed.
func loginFile(dir, url string) (string, error) {
	if old, err := filepath.Glob(filepath.Join(dir, "web-login-*.html")); err == nil {
		for _, f := range old {
			if fi, err := os.Stat(f); err == nil && time.Since(fi.ModTime()) > web.TokenTTL {
				os.Remove(f)
			}
		}
	}
	f, err := os.CreateTemp(dir, "web-login-*.html") // mode 0600
	if err != nil {
		return "", fmt.Errorf("writing the login page: %w", err)
	}
	page := `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=` + url + `">` +
		`<title>p2pchat</title><p>Opening <a href="` + url + `">p2pchat</a>…</p>` + "\n"
	_, err = f.WriteString(page)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing the login page: %w", err)
	}
	return f.Name(), nil
}
