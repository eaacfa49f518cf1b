package api

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pchat/p2pchat/room"
)

// Version is the API version, the v1 of every path.
const Version = 1

// Response headers of the event stream (docs/API.md).
const (
	// HeaderBoot is a random id made when the daemon's [Server] starts:
	// when it changes, the daemon restarted and event ids start again at 1.
	HeaderBoot = "P2pchat-Boot"
	// HeaderEventHead is the id of the newest event when the stream began
	// (0: none yet).
	HeaderEventHead = "P2pchat-Event-Head"
)

// Reasons of the error events that the event stream and [Client.Follow]
// add to the node's own.
const (
	// ReasonEventsMissed: events after the requested one were dropped from
	// the daemon's event log before the stream could send them.
	ReasonEventsMissed room.Reason = "events_missed"
	// ReasonDaemonRestarted: [Client.Follow] found another daemon (another
	// boot id) when it reconnected; it goes on with the new one's events.
	ReasonDaemonRestarted room.Reason = "daemon_restarted"
	// ReasonBadEvent: [Client.Follow] read an event it could not decode.
	ReasonBadEvent room.Reason = "bad_event"
)

// Limits of requests.
const (
	// MaxBody is the largest request body in bytes.
	MaxBody = 64 << 10
	// DefaultWait and MaxWait bound how long a sent message waits for its
	// room's key (the wait parameter).
	DefaultWait = 30 * time.Second
	MaxWait     = 5 * time.Minute
	// MaxHistory is the largest n of a history request (0 asks for all).
	MaxHistory = 10000
	// DefaultSearch and MaxSearch bound the hits of a search.
	DefaultSearch = 20
	MaxSearch     = 1000
	// defaultHistory is n of a history request without n.
	defaultHistory = 50
)

// ServerConfig configures a [Server]. Zero fields take the defaults given.
type ServerConfig struct {
	// Backend is the node the API drives. Required.
	Backend Backend
	// Logger receives refused connections and internal errors, never
	// request bodies. Nil: silent.
	Logger *slog.Logger
	// Authorize is called once for each accepted connection, before any
	// request is read, and must be quick. If it returns an error every
	// request on the connection is answered 403 forbidden. Nil allows
	// every connection. [Server.Handler] does not call it.
	Authorize func(net.Conn) error
	// EventLogSize is how many events the event log keeps; default 4096.
	EventLogSize int
	// EventLogBytes bounds the event log's JSON in bytes; default 8 MiB.
	// The newest event is kept whatever its size.
	EventLogBytes int
	// WebLogin starts the node's web UI if it is not running and returns
	// a fresh one-time login URL for it (POST /v1/web). Nil: the endpoint
	// answers 503 no_web. The web UI's own listener refuses that path.
	WebLogin func(ctx context.Context) (WebLogin, error)
	// A [Local] made by [NewLocal] brings its own event log, fed by its
	// manager: the server streams that one (the two bounds above do not
	// apply) and nothing needs to [Server.Publish] the manager's events.
}

// Server is the HTTP/JSON control API of a daemon (docs/API.md) over a
// [Backend], with a log of the events given to [Server.Publish] that
// clients stream from. Its methods are safe for concurrent use.
type Server struct {
	backend   Backend
	log       *slog.Logger
	authorize func(net.Conn) error
	webLogin  func(context.Context) (WebLogin, error)
	boot      string
	events    *eventLog
	mux       *http.ServeMux
	srv       *http.Server

	mu      sync.Mutex
	closing bool
	kick    *kick // closed to end the current event streams

	streams atomic.Int64 // event streams begun, for tests
}

// kick ends the event streams begun before it is closed.
type kick struct{ ch chan struct{} }

// authKey is the context key of the Authorize result of a connection.
type authKey struct{}

type authResult struct{ err error }

// NewServer returns a Server for cfg; it serves once [Server.Serve] is
// called. cfg.Backend must not be nil.
func NewServer(cfg ServerConfig) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	events := newEventLog(cfg.EventLogSize, cfg.EventLogBytes)
	if l, ok := cfg.Backend.(*Local); ok && l.events != nil {
		events = l.events // one log: what Local.Follow reads is what streams send
	}
	s := &Server{
		backend:   cfg.Backend,
		log:       log,
		authorize: cfg.Authorize,
		webLogin:  cfg.WebLogin,
		boot:      rand.Text(),
		events:    events,
		mux:       http.NewServeMux(),
		kick:      &kick{ch: make(chan struct{})},
	}
	s.routes()
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// No ReadTimeout or WriteTimeout: a send waits for its room key and
		// an event stream lasts as long as its client wants it.
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnContext: s.connContext,
	}
	return s
}

func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	if s.authorize == nil {
		return ctx
	}
	err := s.authorize(c)
	if err != nil {
		s.log.Warn("API connection refused", "err", err)
	}
	return context.WithValue(ctx, authKey{}, authResult{err})
}

// Serve serves the API on l until [Server.Shutdown]; it then returns
// http.ErrServerClosed. It closes l. It keeps one file descriptor in
// reserve to answer 503 no_descriptors when the process has none left.
func (s *Server) Serve(l net.Listener) error {
	return s.srv.Serve(newReserveListener(l, s.log, &devNull{}))
}

// Shutdown ends the event streams, stops accepting connections and waits,
// bounded by ctx, for the requests under way; when ctx ends first it closes
// their connections and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.endStreams()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return err
}

// endStreams ends the event streams under way by dropping their
// connections (clients see a broken stream and resume with since).
func (s *Server) endStreams() {
	s.mu.Lock()
	k := s.kick
	s.kick = &kick{ch: make(chan struct{})}
	s.mu.Unlock()
	close(k.ch)
}

// Handler returns the API's handler, without the Authorize check of
// [Server.Serve]: for tests and for callers that run their own http.Server.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Publish adds ev to the event log with the next event id (1, 2, 3, … in
// the order of the calls) and wakes the event streams. It never waits for
// a stream.
func (s *Server) Publish(ev Event) {
	if _, err := s.events.append(ev); err != nil {
		s.log.Error("event not published: it cannot be encoded", "type", ev.Type, "err", err)
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if a, ok := r.Context().Value(authKey{}).(authResult); ok && a.err != nil {
		s.writeError(w, r, ErrForbidden)
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// The mux's own 404 and 405 answers are text: answer in JSON.
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			s.writeError(w, r, fmt.Errorf("%w: %s %s (allowed: %s)", ErrMethodNotAllowed, r.Method, r.URL.Path, rec.header.Get("Allow")))
			return
		}
		s.writeError(w, r, fmt.Errorf("%w: %s", ErrNotFound, r.URL.Path))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// statusRecorder keeps the status and headers of a response and drops its
// body.
type statusRecorder struct {
	header http.Header
	status int
}

func (rec *statusRecorder) Header() http.Header         { return rec.header }
func (rec *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (rec *statusRecorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (s *Server) routes() {
	s.route("GET /v1", noQuery(s.getRoot))
	s.route("GET /v1/status", noQuery(s.getStatus))
	s.route("GET /v1/rooms", noQuery(s.getRooms))
	s.route("POST /v1/rooms", noQuery(s.postRoom))
	s.route("GET /v1/rooms/{room}", s.getRoom)
	s.route("DELETE /v1/rooms/{room}", s.deleteRoom)
	s.route("GET /v1/rooms/{room}/members", s.getMembers)
	s.route("GET /v1/rooms/{room}/stored", s.getStored)
	s.route("GET /v1/rooms/{room}/messages", s.getMessages)
	s.route("POST /v1/rooms/{room}/messages", s.postMessage)
	s.route("POST /v1/rooms/{room}/messages/{id}/reactions", s.postReaction)
	s.route("PATCH /v1/rooms/{room}/messages/{id}", s.patchMessage)
	s.route("DELETE /v1/rooms/{room}/messages/{id}", s.deleteMessage)
	s.route("GET /v1/search", s.getSearch)
	s.route("GET /v1/peers", noQuery(s.getPeers))
	s.route("GET /v1/peers/{peer}", noQuery(s.getPeer))
	s.route("POST /v1/verify", noQuery(s.postVerify))
	s.route("PUT /v1/nick", noQuery(s.putNick))
	s.route("PUT /v1/away", noQuery(s.putAway))
	s.route("POST /v1/web", noQuery(s.postWeb))
	s.mux.HandleFunc("GET /v1/events", s.getEvents)
}

// handlerFunc answers a request with a value to send as JSON, or an error.
type handlerFunc func(http.ResponseWriter, *http.Request) (any, error)

// noQuery is h for a request that must have no query parameters: one that
// has any is refused before h runs.
func noQuery(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		if _, err := queryParams(r); err != nil {
			return nil, err
		}
		return h(w, r)
	}
}

// route registers h, whose result is answered as JSON with status 200 and
// whose error as an error response.
func (s *Server) route(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		v, err := h(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// errorJSON is the body of every error response.
type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, status := codeOf(err)
	msg := messageOf(err)
	if code == codeInternal {
		if r.Context().Err() == nil {
			s.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		msg = "internal error; the daemon's log has the details"
	}
	WriteError(w, status, code, msg)
}

// WriteError answers status with the API's error body (docs/API.md):
// {"error":{"code":CODE,"message":MESSAGE}}. For those who answer in the
// API's name, such as the web UI's own checks.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	var body errorJSON
	body.Error.Code, body.Error.Message = code, message
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalLine(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error: the answer cannot be encoded"}}`+"\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
