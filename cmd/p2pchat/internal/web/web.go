package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// Names on the wire between the page and the node (docs/API.md).
const (
	// CookieName is the session cookie.
	CookieName = "p2pchat_session"
	// HeaderCSRF carries the session's CSRF token on every API call.
	HeaderCSRF = "X-P2pchat-Csrf"
	// LoginPath takes the one-time token as its token query parameter.
	LoginPath = "/login"
	// SessionPath answers {} to a page whose cookie and token are a
	// session's (else 401 or 403): how a page checks it is logged in.
	SessionPath = "/session"
	// LogoutPath ends the session (POST, with the CSRF header).
	LogoutPath = "/logout"
	// loginFragment starts the fragment of the address a login sends the
	// browser to; the session's token follows it.
	loginFragment = "login="
)

// Limits of logins and sessions.
const (
	// TokenTTL is how long a login token from [Server.Login] is valid.
	TokenTTL = 10 * time.Minute
	// MaxTokens is how many unused login tokens are kept; a new one
	// replaces the oldest.
	MaxTokens = 16
	// MaxSessions is how many sessions are kept; a new one ends the
	// oldest.
	MaxSessions = 32
)

// contentSecurityPolicy allows the page's own files and nothing else: no
// inline script or style, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// Config configures a [Server].
type Config struct {
	// API answers the /v1 requests of logged-in pages (the API server's
	// handler, without its Unix-socket peer check). Required.
	API http.Handler
	// Addr is the address the server listens on, host:port as net.Listener
	// reports it: the Host header of every request must be it, or
	// localhost with its port. When the host is unspecified (0.0.0.0 or
	// ::), any IP address with that port is accepted, never a name.
	Addr string
	// Logger receives refused requests. Nil: silent.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Server is the web UI's HTTP handler. Its methods are safe for
// concurrent use.
type Server struct {
	api   http.Handler
	files http.Handler
	log   *slog.Logger
	now   func() time.Time
	port  string
	host  netip.Addr // the listening host
	anyIP bool       // listening on an unspecified address

	mu       sync.Mutex
	tokens   map[[32]byte]time.Time // SHA-256 of a login token → when it was made
	sessions map[[32]byte]*session  // SHA-256 of a session cookie → the session
}

type session struct {
	token   string // goes with the cookie in [HeaderCSRF]
	created time.Time
	ctx     context.Context // done when the session ends: its requests end too
	end     context.CancelFunc
}

// endLocked ends the session with key k.
func (s *Server) endLocked(k [32]byte) {
	if se := s.sessions[k]; se != nil {
		se.end()
		delete(s.sessions, k)
	}
}

// oldest returns the key of m's entry whose time is the earliest.
func oldest[V any](m map[[32]byte]V, at func(V) time.Time) [32]byte {
	var k [32]byte
	var t time.Time
	for key, v := range m {
		if vt := at(v); t.IsZero() || vt.Before(t) {
			k, t = key, vt
		}
	}
	return k
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.API == nil {
		return nil, errors.New("web: no API handler")
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("web: listening address %q: %w", cfg.Addr, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, fmt.Errorf("web: listening address %q is not an IP address: %w", cfg.Addr, err)
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	s := &Server{
		api:      cfg.API,
		files:    http.FileServerFS(sub),
		log:      cfg.Logger,
		now:      cfg.Now,
		port:     port,
		host:     ip.Unmap(),
		anyIP:    ip.IsUnspecified(),
		tokens:   make(map[[32]byte]time.Time),
		sessions: make(map[[32]byte]*session),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Login returns a fresh login token: the first request to
// LoginPath?token=TOKEN within [TokenTTL] gets a session, later ones are
// refused.
func (s *Server) Login() string {
	tok := rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	if len(s.tokens) >= MaxTokens {
		delete(s.tokens, oldest(s.tokens, func(made time.Time) time.Time { return made }))
	}
	s.tokens[sha256.Sum256([]byte(tok))] = s.now()
	return tok
}

// URL returns the login URL of token for a server listening on addr:
// loopback and unspecified addresses are given as 127.0.0.1 (or [::1]).
func URL(addr, token string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		if ip, perr := netip.ParseAddr(host); perr == nil && ip.IsUnspecified() {
			host = "127.0.0.1"
			if ip.Is6() && !ip.Is4In6() {
				host = "::1"
			}
		}
		addr = net.JoinHostPort(host, port)
	}
	return "http://" + addr + LoginPath + "?token=" + token
}

func (s *Server) expireLocked() {
	now := s.now()
	for k, made := range s.tokens {
		if now.Sub(made) >= TokenTTL || now.Before(made) {
			delete(s.tokens, k)
		}
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if !s.hostAllowed(r.Host) {
		s.refuse(w, r, http.StatusForbidden, "forbidden", "this page is served only as "+s.origins()+" (Host "+strconv.Quote(r.Host)+" refused)")
		return
	}
	// What acts or reads as the user must come from the page itself. The
	// login link and the page's files are reached from outside (a terminal,
	// the login file the CLI wrote, a bookmark: the browser marks such a
	// navigation, and the redirect after it, cross-site) and are exempt:
	// /login only spends a one-time token, and the files are the same for
	// everyone.
	if p := r.URL.Path; (p == SessionPath || p == LogoutPath || apiPath(p)) && !s.sameOrigin(r) {
		s.refuse(w, r, http.StatusForbidden, "forbidden", "cross-origin requests are refused")
		return
	}
	switch p := r.URL.Path; {
	case p == LoginPath:
		s.login(w, r)
	case p == SessionPath:
		s.withSession(w, r, s.getSession)
	case p == LogoutPath:
		s.withSession(w, r, s.logout)
	case p == "/v1/web" || strings.HasPrefix(p, "/v1/web/"):
		// A page must not mint logins for others: only the Unix socket can.
		s.refuse(w, r, http.StatusForbidden, "forbidden", "logins are made over the API's Unix socket only (p2pchat web --url)")
	case apiPath(p):
		s.withSession(w, r, s.api.ServeHTTP)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		s.refuse(w, r, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+p+" (allowed: GET, HEAD)")
	default:
		h.Del("Cache-Control") // the page's files are the same for every session
		s.files.ServeHTTP(w, r)
	}
}

// apiPath reports whether p is a path of the API.
func apiPath(p string) bool { return p == "/v1" || strings.HasPrefix(p, "/v1/") }

// hostAllowed reports whether a request's Host header names this server:
// its IP address or localhost with its port. Any other name could be an
// attacker's, rebound to this address.
func (s *Server) hostAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port != s.port {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return s.host.IsLoopback() || s.anyIP
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return false
	}
	ip = ip.Unmap()
	return ip == s.host || (s.anyIP && (s.host.Is4() == ip.Is4() || s.host.Is6()))
}

func (s *Server) origins() string {
	h := s.host.String()
	if s.anyIP {
		h = "an IP address"
	}
	o := net.JoinHostPort(h, s.port)
	if s.host.IsLoopback() || s.anyIP {
		o += " or localhost:" + s.port
	}
	return o
}

// sameOrigin reports whether r may come from this server's own page: a
// request the browser marks as from another site, or whose Origin is not
// this server, is refused.
func (s *Server) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	rest, ok := strings.CutPrefix(o, "http://")
	return ok && strings.EqualFold(rest, r.Host) && s.hostAllowed(rest)
}

// refuse answers an error in the API's JSON form.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	s.log.Warn("web request refused", "method", r.Method, "path", r.URL.Path, "status", status, "why", msg)
	w.Header().Set("Cache-Control", "no-store")
	api.WriteError(w, status, code, msg)
}

// method reports whether r has the method m, else answers 405.
func (s *Server) method(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m {
		return true
	}
	w.Header().Set("Allow", m)
	s.refuse(w, r, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+r.URL.Path+" (allowed: "+m+")")
	return false
}

// login exchanges a login token for a session cookie and sends the
// browser to the page, the token gone from its address bar and history.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.method(w, r, http.MethodGet) {
		return
	}
	q := r.URL.Query()
	tok := q.Get("token")
	if len(q) != 1 || len(q["token"]) != 1 || !s.useToken(tok) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintln(w, "This login link is not valid: each link works once, for 10 minutes. Run `p2pchat web` again for a new one.")
		s.log.Warn("web login refused: unknown, used or expired token")
		return
	}
	cookie := rand.Text() + rand.Text()
	s.mu.Lock()
	if len(s.sessions) >= MaxSessions {
		s.endLocked(oldest(s.sessions, func(se *session) time.Time { return se.created }))
	}
	se := &session{token: rand.Text(), created: s.now()}
	se.ctx, se.end = context.WithCancel(context.Background())
	s.sessions[sha256.Sum256([]byte(cookie))] = se
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// The session's token goes to the page in the address's fragment (never
	// sent to a server, removed by the page at once), not through anything
	// the cookie alone opens: browsers send cookies to every port of a host,
	// so another local server the user visits would get the cookie, but it
	// cannot get the token, which the page keeps in its origin's storage
	// (origins have ports).
	w.Header().Set("Location", "/#"+loginFragment+se.token)
	w.WriteHeader(http.StatusSeeOther)
}

// useToken reports whether tok is a valid login token, and spends it.
func (s *Server) useToken(tok string) bool {
	if tok == "" || len(tok) > 64 {
		return false
	}
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	// The map is keyed by the token's hash, so a lookup tells nothing about
	// how much of a guess matched.
	if _, ok := s.tokens[k]; !ok {
		return false
	}
	delete(s.tokens, k)
	return true
}

// withSession runs h for a request that carries a session cookie and that
// session's token in [HeaderCSRF]; others get 401 or 403.
func (s *Server) withSession(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	c, err := r.Cookie(CookieName)
	var se *session
	if err == nil {
		k := sha256.Sum256([]byte(c.Value))
		s.mu.Lock()
		se = s.sessions[k]
		s.mu.Unlock()
	}
	if se == nil {
		s.refuse(w, r, http.StatusUnauthorized, "unauthorized", "not logged in: open the link that `p2pchat web` opens or prints")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(HeaderCSRF)), []byte(se.token)) != 1 {
		s.refuse(w, r, http.StatusForbidden, "forbidden", "missing or wrong "+HeaderCSRF+" header")
		return
	}
	// A request under way (an event stream) ends with its session.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(se.ctx, cancel)()
	h(w, r.WithContext(ctx))
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	if !s.method(w, r, http.MethodGet) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{}\n"))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !s.method(w, r, http.MethodPost) {
		return
	}
	c, _ := r.Cookie(CookieName)
	s.mu.Lock()
	s.endLocked(sha256.Sum256([]byte(c.Value)))
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{}\n"))
}
