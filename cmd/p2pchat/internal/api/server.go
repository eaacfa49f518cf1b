package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
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
	ReasonEventsMissed = "events_missed"
	// ReasonDaemonRestarted: [Client.Follow] found another daemon (another
	// boot id) when it reconnected; it goes on with the new one's events.
	ReasonDaemonRestarted = "daemon_restarted"
	// ReasonBadEvent: [Client.Follow] read an event it could not decode.
	ReasonBadEvent = "bad_event"
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
// http.ErrServerClosed. It closes l.
func (s *Server) Serve(l net.Listener) error { return s.srv.Serve(l) }

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
	s.route("GET /v1", s.getRoot)
	s.route("GET /v1/status", s.getStatus)
	s.route("GET /v1/rooms", s.getRooms)
	s.route("POST /v1/rooms", s.postRoom)
	s.route("GET /v1/rooms/{room}", s.getRoom)
	s.route("DELETE /v1/rooms/{room}", s.deleteRoom)
	s.route("GET /v1/rooms/{room}/members", s.getMembers)
	s.route("GET /v1/rooms/{room}/stored", s.getStored)
	s.route("GET /v1/rooms/{room}/messages", s.getMessages)
	s.route("POST /v1/rooms/{room}/messages", s.postMessage)
	s.route("GET /v1/search", s.getSearch)
	s.route("GET /v1/peers", s.getPeers)
	s.route("GET /v1/peers/{peer}", s.getPeer)
	s.route("POST /v1/verify", s.postVerify)
	s.route("PUT /v1/nick", s.putNick)
	s.mux.HandleFunc("GET /v1/events", s.getEvents)
}

// route registers h, whose result is answered as JSON with status 200 and
// whose error as an error response.
func (s *Server) route(pattern string, h func(http.ResponseWriter, *http.Request) (any, error)) {
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
	var body errorJSON
	body.Error.Code, body.Error.Message = code, err.Error()
	if code == codeInternal {
		if r.Context().Err() == nil {
			s.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		body.Error.Message = "internal error; the daemon's log has the details"
	}
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

// The JSON objects of the API, shared by the server and the client. The
// objects that line mode also prints (status, who, fingerprint, verified,
// nick, history, search_hit, message) have its fields (docs/CLI.md).
type (
	rootJSON struct {
		API     string `json:"api"`
		Version int    `json:"version"`
	}
	statusJSON struct {
		Type        string     `json:"type"`
		PeerID      string     `json:"peer_id"`
		Fingerprint string     `json:"fingerprint"`
		FP          string     `json:"fp"`
		Nick        string     `json:"nick"`
		Addrs       []string   `json:"addrs"`
		Peers       int        `json:"peers"`
		Rooms       []roomJSON `json:"rooms"`
	}
	roomJSON struct {
		Room     string            `json:"room"`
		Kind     string            `json:"kind"`
		Ready    bool              `json:"ready"`
		Members  int               `json:"members"`
		Roster   int               `json:"roster"`
		Buffered int               `json:"buffered"`
		Epoch    uint32            `json:"epoch"`
		KeyID    string            `json:"key_id"`
		Topic    string            `json:"topic"`
		Dropped  map[string]uint64 `json:"dropped"`
	}
	roomInfoJSON struct {
		roomJSON
		MemberList []memberJSON `json:"member_list"`
	}
	roomsJSON struct {
		Rooms []roomInfoJSON `json:"rooms"`
	}
	memberJSON struct {
		PeerID      string `json:"peer_id"`
		Nick        string `json:"nick"`
		FP          string `json:"fp"`
		Fingerprint string `json:"fingerprint"`
		Verified    bool   `json:"verified"`
	}
	whoJSON struct {
		Type    string       `json:"type"`
		Room    string       `json:"room"`
		Members []memberJSON `json:"members"`
	}
	storedJSON struct {
		Room string `json:"room"`
		Kind string `json:"kind"`
	}
	leftJSON struct {
		Room string `json:"room"`
	}
	peerJSON struct {
		PeerID      string   `json:"peer_id"`
		FP          string   `json:"fp"`
		Fingerprint string   `json:"fingerprint"`
		Nick        string   `json:"nick"`
		Verified    bool     `json:"verified"`
		Addrs       []string `json:"addrs"`
	}
	peersJSON struct {
		Peers []peerJSON `json:"peers"`
	}
	// fingerprintJSON is the fingerprint object, and without Verified the
	// verified one.
	fingerprintJSON struct {
		Type        string `json:"type"`
		PeerID      string `json:"peer_id"`
		Nick        string `json:"nick"`
		FP          string `json:"fp"`
		Fingerprint string `json:"fingerprint"`
		Verified    *bool  `json:"verified,omitempty"`
	}
	nickJSON struct {
		Type string `json:"type"`
		Nick string `json:"nick"`
	}
	historyJSON struct {
		Room     string           `json:"room"`
		Messages []map[string]any `json:"messages"`
	}
	searchJSON struct {
		Query string           `json:"query"`
		Hits  []map[string]any `json:"hits"`
	}
)

// Request bodies. Members tagged api:"required" must be present; no member
// may be null or unknown.
type (
	joinRequest struct {
		Room       string `json:"room" api:"required"`
		Passphrase secret `json:"passphrase"`
	}
	sendRequest struct {
		Text   string `json:"text" api:"required"`
		Action bool   `json:"action"`
	}
	verifyRequest struct {
		PeerID      string `json:"peer_id" api:"required"`
		Fingerprint string `json:"fingerprint" api:"required"`
	}
	nickRequest struct {
		Nick string `json:"nick" api:"required"`
	}
)

func roomStatusJSON(rs room.RoomStatus) roomJSON {
	drops := rs.Drops
	if drops == nil {
		drops = map[string]uint64{}
	}
	return roomJSON{Room: rs.Name, Kind: rs.Kind, Ready: rs.Ready, Members: rs.Members, Roster: rs.Roster,
		Buffered: rs.Buffered, Epoch: rs.Epoch, KeyID: rs.KeyID, Topic: rs.Topic, Dropped: drops}
}

func roomInfoToJSON(ri RoomInfo) roomInfoJSON {
	return roomInfoJSON{roomJSON: roomStatusJSON(ri.RoomStatus), MemberList: membersJSON(ri.Members)}
}

func membersJSON(ms []room.Member) []memberJSON {
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberJSON{PeerID: m.Peer.String(), Nick: m.Nick, FP: m.Fingerprint.Short(),
			Fingerprint: m.Fingerprint.String(), Verified: m.Verified})
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) getRoot(_ http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := queryParams(r); err != nil {
		return nil, err
	}
	return rootJSON{API: "p2pchat", Version: Version}, nil
}

func (s *Server) getStatus(_ http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := queryParams(r); err != nil {
		return nil, err
	}
	st, err := s.backend.Status(r.Context())
	if err != nil {
		return nil, err
	}
	out := statusJSON{Type: "status", PeerID: st.PeerID.String(), Fingerprint: st.Fingerprint.String(), FP: st.Fingerprint.Short(),
		Nick: st.Nick, Addrs: nonNil(st.Addrs), Peers: st.Peers, Rooms: []roomJSON{}}
	for _, rs := range st.Rooms {
		out.Rooms = append(out.Rooms, roomStatusJSON(rs))
	}
	return out, nil
}

func (s *Server) getRooms(_ http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := queryParams(r); err != nil {
		return nil, err
	}
	rooms, err := s.backend.Rooms(r.Context())
	if err != nil {
		return nil, err
	}
	out := roomsJSON{Rooms: []roomInfoJSON{}}
	for _, ri := range rooms {
		out.Rooms = append(out.Rooms, roomInfoToJSON(ri))
	}
	return out, nil
}

func (s *Server) postRoom(w http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := queryParams(r); err != nil {
		return nil, err
	}
	var req joinRequest
	defer func() { clear(req.Passphrase) }()
	if err := readBody(w, r, &req); err != nil {
		return nil, err
	}
	name, err := normalize(req.Room)
	if err != nil {
		return nil, err
	}
	var pass []byte
	if req.Passphrase != nil {
		pass = req.Passphrase
	}
	ri, err := s.backend.Join(r.Context(), name, pass)
	if err != nil {
		return nil, err
	}
	return roomInfoToJSON(ri), nil
}

func (s *Server) getRoom(_ http.ResponseWriter, r *http.Request) (any, error) {
	name, _, err := pathRoom(r)
	if err != nil {
		return nil, err
	}
	ri, err := s.backend.Room(r.Context(), name)
	if err != nil {
		return nil, err
	}
	return roomInfoToJSON(ri), nil
}

func (s *Server) deleteRoom(_ http.ResponseWriter, r *http.Request) (any, error) {
	name, _, err := pathRoom(r)
	if err != nil {
		return nil, err
	}
	if err := s.backend.Leave(r.Context(), name); err != nil {
		return nil, err
	}
	return leftJSON{Room: name}, nil
}

func (s *Server) getMembers(_ http.ResponseWriter, r *http.Request) (any, error) {
	name, _, err := pathRoom(r)
	if err != nil {
		return nil, err
	}
	ri, err := s.backend.Room(r.Context(), name)
	if err != nil {
		return nil, err
	}
	return whoJSON{Type: "who", Room: ri.Name, Members: membersJSON(ri.Members)}, nil
}

func (s *Server) getStored(_ http.ResponseWriter, r *http.Request) (any, error) {
	name, _, err := pathRoom(r)
	if err != nil {
		return nil, err
	}
	kind, err := s.backend.StoredKind(r.Context(), name)
	if err != nil {
		return nil, err
	}
	return storedJSON{Room: name, Kind: kind}, nil
}

func (s *Server) getMessages(_ http.ResponseWriter, r *http.Request) (any, error) {
	name, q, err := pathRoom(r, "n")
	if err != nil {
		return nil, err
	}
	n, err := intParam(q, "n", defaultHistory, 0, MaxHistory)
	if err != nil {
		return nil, err
	}
	msgs, err := s.backend.History(r.Context(), name, n)
	if err != nil {
		return nil, err
	}
	out := historyJSON{Room: name, Messages: make([]map[string]any, 0, len(msgs))}
	for _, m := range msgs {
		obj := map[string]any{"type": "history", "room": name}
		AddMessage(obj, m)
		out.Messages = append(out.Messages, obj)
	}
	return out, nil
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) (any, error) {
	name, q, err := pathRoom(r, "wait")
	if err != nil {
		return nil, err
	}
	wait := DefaultWait
	if v, ok := q["wait"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxWait {
			return nil, fmt.Errorf("%w: wait=%q: want a duration such as 10s, at most %v", ErrBadRequest, v, MaxWait)
		}
		wait = d
	}
	var req sendRequest
	if err := readBody(w, r, &req); err != nil {
		return nil, err
	}
	if req.Text == "" {
		return nil, fmt.Errorf("%w: text is empty", ErrBadRequest)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	m, err := s.backend.Send(ctx, name, req.Text, req.Action)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{"type": "message", "room": name}
	AddMessage(obj, m)
	return obj, nil
}

func (s *Server) getSearch(_ http.ResponseWriter, r *http.Request) (any, error) {
	q, err := queryParams(r, "q", "room", "n")
	if err != nil {
		return nil, err
	}
	if q["q"] == "" {
		return nil, fmt.Errorf("%w: missing q (the text to search for)", ErrBadRequest)
	}
	var roomName string
	if v, ok := q["room"]; ok {
		if roomName, err = normalize(v); err != nil {
			return nil, err
		}
	}
	n, err := intParam(q, "n", DefaultSearch, 1, MaxSearch)
	if err != nil {
		return nil, err
	}
	hits, err := s.backend.Search(r.Context(), q["q"], roomName, n)
	if err != nil {
		return nil, err
	}
	out := searchJSON{Query: q["q"], Hits: make([]map[string]any, 0, len(hits))}
	for _, h := range hits {
		obj := map[string]any{"type": "search_hit", "room": h.Room, "snippet": h.Snippet}
		AddMessage(obj, h.Message)
		out.Hits = append(out.Hits, obj)
	}
	return out, nil
}

func (s *Server) getPeers(_ http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := queryParams(r); err != nil {
		return nil, err
	}
	peers, err := s.backend.Peers(r.Context())
	if err != nil {
		return nil, err
	}
	out := peersJSON{Peers: make([]peerJSON, 0, len(peers))}
	for _, p := range peers {
		out.Peers = append(out.Peers, peerJSON{PeerID: p.PeerID.String(), FP: p.Fingerprint.Short(), Fingerprint: p.Fingerprint.String(),
			Nick: p.Nick, Verified: p.Verified, Addrs: nonNil(p.Addrs)})
	}
	return out, nil
}

func (s *Server) getPeer(_ http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := queryParams(r); err != nil {
		return nil, err
	}
	p, fp, err := parsePeer(r.PathValue("peer"))
	if err != nil {
		return nil, err
	}
	verified, err := s.backend.Verified(r.Context(), p)
	if err != nil {
		return nil, err
	}
	return fingerprintJSON{Type: "fingerprint", PeerID: p.String(), Nick: s.nickOf(r.Context(), p), FP: fp.Short(),
		Fingerprint: fp.String(), Verified: &verified}, nil
}

func (s *Server) postVerify(w http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := queryParams(r); err != nil {
		return nil, err
	}
	var req verifyRequest
	if err := readBody(w, r, &req); err != nil {
		return nil, err
	}
	p, fp, err := parsePeer(req.PeerID)
	if err != nil {
		return nil, err
	}
	if err := s.backend.Verify(r.Context(), p, req.Fingerprint); err != nil {
		if errors.Is(err, room.ErrFingerprint) {
			// Not err: an answer that spelled out the real fingerprint would
			// invite pasting it back.
			return nil, fmt.Errorf("the fingerprint given is not the one of %s's key; do not trust it until you know why: %w", p, room.ErrFingerprint)
		}
		return nil, err
	}
	return fingerprintJSON{Type: "verified", PeerID: p.String(), Nick: s.nickOf(r.Context(), p), FP: fp.Short(), Fingerprint: fp.String()}, nil
}

func (s *Server) putNick(w http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := queryParams(r); err != nil {
		return nil, err
	}
	var req nickRequest
	if err := readBody(w, r, &req); err != nil {
		return nil, err
	}
	if err := s.backend.SetNick(r.Context(), req.Nick); err != nil {
		return nil, err
	}
	return nickJSON{Type: "nick", Nick: req.Nick}, nil
}

// nickOf returns the nick p uses in a joined room, else the last one seen
// for it, else "".
func (s *Server) nickOf(ctx context.Context, p peer.ID) string {
	if rooms, err := s.backend.Rooms(ctx); err == nil {
		for _, ri := range rooms {
			for _, m := range ri.Members {
				if m.Peer == p && m.Nick != "" {
					return m.Nick
				}
			}
		}
	}
	if peers, err := s.backend.Peers(ctx); err == nil {
		for _, pi := range peers {
			if pi.PeerID == p {
				return pi.Nick
			}
		}
	}
	return ""
}

func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, "since", "room")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var since uint64
	v, hasSince := q["since"]
	if hasSince {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			s.writeError(w, r, fmt.Errorf("%w: since=%q: want an event id (0, 1, 2, …)", ErrBadRequest, v))
			return
		}
	}
	var filter string
	if v, ok := q["room"]; ok {
		if filter, err = normalize(v); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.mu.Lock()
	closing, k := s.closing, s.kick
	s.mu.Unlock()
	if closing {
		s.writeError(w, r, fmt.Errorf("the daemon is stopping: %w", room.ErrClosed))
		return
	}
	s.streams.Add(1)
	head := s.events.last()
	cursor := head
	if hasSince {
		// A since beyond the head (from an earlier daemon) means "from now".
		cursor = min(since, head)
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set(HeaderBoot, s.boot)
	h.Set(HeaderEventHead, strconv.FormatUint(head, 10))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil || r.Method == http.MethodHead {
		return
	}
	// A kick unblocks a write to a client that does not read.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-k.ch:
			rc.SetWriteDeadline(time.Now())
		case <-done:
		}
	}()
	var buf bytes.Buffer
	for {
		select {
		case <-k.ch:
			panic(http.ErrAbortHandler) // drop the connection: it is not reused
		default:
		}
		batch, missed, wake := s.events.after(cursor, streamBatch)
		buf.Reset()
		if missed > 0 {
			line, _ := marshalLine(map[string]any{"type": string(room.EventError), "reason": ReasonEventsMissed, "missed": missed,
				"error": fmt.Sprintf("%d events (of every room) after event %d were dropped from the daemon's event log before this stream could send them", missed, cursor)})
			buf.Write(line)
		}
		for _, e := range batch {
			cursor = e.id
			if filter == "" || e.room == filter {
				buf.Write(e.line)
			}
		}
		if buf.Len() > 0 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-k.ch:
			panic(http.ErrAbortHandler)
		}
	}
}

// normalize normalises a room name given by a client.
func normalize(name string) (string, error) {
	norm, err := room.Normalize(name)
	if err != nil {
		return "", fmt.Errorf("room %q: %w", name, err)
	}
	return norm, nil
}

// pathRoom returns the normalised room name of r's path and its query
// parameters, refusing any but the ones allowed.
func pathRoom(r *http.Request, allowed ...string) (string, map[string]string, error) {
	q, err := queryParams(r, allowed...)
	if err != nil {
		return "", nil, err
	}
	name, err := normalize(r.PathValue("room"))
	return name, q, err
}

// parsePeer parses a p2pchat peer ID: one that embeds an Ed25519 key.
func parsePeer(s string) (peer.ID, identity.Fingerprint, error) {
	p, err := peer.Decode(s)
	if err != nil {
		return "", identity.Fingerprint{}, fmt.Errorf("%w: %q: %v", ErrBadPeerID, s, err)
	}
	fp, err := identity.PeerFingerprint(p)
	if err != nil {
		return "", identity.Fingerprint{}, fmt.Errorf("%w: %q does not embed an Ed25519 key", ErrBadPeerID, s)
	}
	return p, fp, nil
}

// queryParams returns r's query parameters, refusing malformed ones,
// repeated ones and ones not in allowed: a misspelt parameter is an error,
// not silently ignored.
func queryParams(r *http.Request, allowed ...string) (map[string]string, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed query: %v", ErrBadRequest, err)
	}
	out := make(map[string]string, len(vals))
	for _, k := range sortedKeys(vals) {
		switch {
		case !slices.Contains(allowed, k):
			return nil, fmt.Errorf("%w: unknown query parameter %q", ErrBadRequest, k)
		case len(vals[k]) > 1:
			return nil, fmt.Errorf("%w: query parameter %q given %d times", ErrBadRequest, k, len(vals[k]))
		}
		out[k] = vals[k][0]
	}
	return out, nil
}

// intParam returns the integer query parameter name, def if absent.
func intParam(q map[string]string, name string, def, lo, hi int) (int, error) {
	v, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s=%q: want an integer from %d to %d", ErrBadRequest, name, v, lo, hi)
	}
	return n, nil
}

// readBody decodes r's body, a JSON object, into v, a pointer to a request
// struct. It refuses bodies over MaxBody, invalid JSON, trailing data,
// unknown, null, missing required and wrongly typed members. The body is
// cleared once decoded: it may hold a passphrase.
func readBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := readAll(http.MaxBytesReader(w, r.Body, MaxBody), r.ContentLength)
	defer clear(b)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return fmt.Errorf("%w: the body is larger than %d bytes", ErrBodyTooLarge, MaxBody)
		}
		return fmt.Errorf("%w: reading the body: %v", ErrBadRequest, err)
	}
	return decodeObject(b, v)
}

// readAll reads r to its end, clearing every buffer it outgrows.
func readAll(r io.Reader, size int64) ([]byte, error) {
	n := 512
	if size > 0 && size <= MaxBody {
		n = int(size) + 1
	}
	b := make([]byte, 0, n)
	for {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), 2*cap(b))
			copy(nb, b)
			clear(b)
			b = nb
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// present records a member of a JSON object without decoding it.
type present struct{ null bool }

func (p *present) UnmarshalJSON(b []byte) error {
	p.null = string(b) == "null"
	return nil
}

func decodeObject(b []byte, v any) error {
	// First the member names, then the values: encoding/json would match
	// names case-insensitively and ignore unknown ones.
	var members map[string]present
	if err := json.Unmarshal(b, &members); err != nil {
		return jsonError(b, err)
	}
	if members == nil {
		return fmt.Errorf("%w: the body must be a JSON object", ErrBadRequest)
	}
	fields := requestFields(v)
	for _, name := range sortedKeys(members) {
		if _, ok := fields[name]; !ok {
			return fmt.Errorf("%w: unknown field %q", ErrBadRequest, name)
		}
		if members[name].null {
			return fmt.Errorf("%w: field %q is null", ErrBadRequest, name)
		}
	}
	for _, name := range sortedKeys(fields) {
		if _, ok := members[name]; !ok && fields[name] {
			return fmt.Errorf("%w: missing field %q", ErrBadRequest, name)
		}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return jsonError(b, err)
	}
	return nil
}

// requestFields returns the member names of the request struct *v, each
// with whether it is required.
func requestFields(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	out := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = f.Tag.Get("api") == "required"
	}
	return out
}

// jsonError describes a decoding error without quoting the body, which may
// hold a passphrase.
func jsonError(b []byte, err error) error {
	if errors.Is(err, ErrBadRequest) {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return fmt.Errorf("%w: the body is empty; want a JSON object", ErrBadRequest)
	}
	if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		if i := int(e.Offset) - 1; i > 0 && i <= len(b) && json.Valid(b[:i]) {
			return fmt.Errorf("%w: trailing data after the JSON object (byte %d)", ErrBadRequest, e.Offset)
		}
		return fmt.Errorf("%w: the body is not valid JSON (at byte %d)", ErrBadRequest, e.Offset)
	}
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if e.Field == "" {
			return fmt.Errorf("%w: the body must be a JSON object, not a %s", ErrBadRequest, e.Value)
		}
		return fmt.Errorf("%w: field %q must be a %s, not a %s", ErrBadRequest, e.Field, jsonKind(e.Type), e.Value)
	}
	return fmt.Errorf("%w: the body is not valid JSON", ErrBadRequest)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.String, reflect.Slice:
		return "string"
	case reflect.Int, reflect.Int64, reflect.Uint32, reflect.Uint64:
		return "number"
	}
	return t.String()
}

// secret is a JSON string decoded into bytes that the caller clears: a
// passphrase never becomes a Go string, which could not be cleared. It must
// be valid UTF-8 (JSON cannot carry other bytes).
type secret []byte

// UnmarshalJSON decodes a JSON string. b has been validated by
// encoding/json.
func (s *secret) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' {
		kind := "number"
		switch string(b[:min(len(b), 1)]) {
		case "":
			kind = "nothing"
		case "{":
			kind = "object"
		case "[":
			kind = "array"
		case "t", "f":
			kind = "bool"
		case "n":
			kind = "null"
		}
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[string]()}
	}
	in := b[1 : len(b)-1]
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch in[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(in[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 < len(in) && in[i+1] == '\\' && in[i+2] == 'u' {
					r2 = hex4(in[i+3 : i+7])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r, i = d, i+6
				} else {
					r = utf8.RuneError // as encoding/json does
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, in[i])
		}
	}
	if !utf8.Valid(out) {
		clear(out)
		return fmt.Errorf("%w: the passphrase is not valid UTF-8", ErrBadRequest)
	}
	*s = out
	return nil
}

// hex4 decodes 4 hex digits, already validated.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
