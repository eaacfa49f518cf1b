package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// Bounds of what the client reads.
const (
	maxResponse   = 1 << 30 // a history of every message of a big room
	maxErrorBody  = 64 << 10
	maxEventLine  = 1 << 20 // an event holds at most one 16 KiB message, escaped
	followBackoff = 100 * time.Millisecond
	followMaxWait = 2 * time.Second
)

// Client is a [Backend] for the node of a daemon, reached through the API
// on its Unix socket. Errors of error responses are [*Error]s wrapping the
// same sentinels as [Local]'s; when nothing listens on the socket they wrap
// [ErrNoDaemon]. Its methods are safe for concurrent use.
type Client struct {
	path string
	hc   *http.Client
}

var _ Backend = (*Client)(nil)

// NewClient returns a Client for the daemon listening on the Unix socket
// at socketPath. It connects on the first request.
func NewClient(socketPath string) *Client {
	t := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		// No Proxy: the daemon is local whatever the environment says.
		DisableCompression:  true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
	}
	return &Client{path: socketPath, hc: &http.Client{Transport: t}}
}

// Close closes the client's idle connections. The Client remains usable.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Ping checks that a daemon with a compatible API answers.
func (c *Client) Ping(ctx context.Context) error {
	var v rootJSON
	if err := c.do(ctx, http.MethodGet, "/v1", nil, nil, &v); err != nil {
		return err
	}
	if v.API != "p2pchat" || v.Version != Version {
		return fmt.Errorf("the daemon at %s speaks API %q version %d, want p2pchat version %d", c.path, v.API, v.Version, Version)
	}
	return nil
}

// Self implements [Backend].
func (c *Client) Self(ctx context.Context) (Self, error) {
	st, err := c.Status(ctx)
	return st.Self, err
}

// Status implements [Backend].
func (c *Client) Status(ctx context.Context) (Status, error) {
	var v statusJSON
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, nil, &v); err != nil {
		return Status{}, err
	}
	p, fp, err := decodePeer(v.PeerID)
	if err != nil {
		return Status{}, err
	}
	st := Status{Self: Self{PeerID: p, Fingerprint: fp, Nick: v.Nick, Addrs: v.Addrs}, Peers: v.Peers}
	for _, r := range v.Rooms {
		st.Rooms = append(st.Rooms, r.status())
	}
	return st, nil
}

// Rooms implements [Backend].
func (c *Client) Rooms(ctx context.Context) ([]RoomInfo, error) {
	var v roomsJSON
	if err := c.do(ctx, http.MethodGet, "/v1/rooms", nil, nil, &v); err != nil {
		return nil, err
	}
	var out []RoomInfo
	for _, r := range v.Rooms {
		ri, err := r.info()
		if err != nil {
			return nil, err
		}
		out = append(out, ri)
	}
	return out, nil
}

// Room implements [Backend].
func (c *Client) Room(ctx context.Context, name string) (RoomInfo, error) {
	p, err := roomPath(name)
	if err != nil {
		return RoomInfo{}, err
	}
	var v roomInfoJSON
	if err := c.do(ctx, http.MethodGet, p, nil, nil, &v); err != nil {
		return RoomInfo{}, err
	}
	return v.info()
}

// StoredKind implements [Backend].
func (c *Client) StoredKind(ctx context.Context, name string) (string, error) {
	p, err := roomPath(name)
	if err != nil {
		return "", err
	}
	var v storedJSON
	if err := c.do(ctx, http.MethodGet, p+"/stored", nil, nil, &v); err != nil {
		return "", err
	}
	return v.Kind, nil
}

// Join implements [Backend]. The passphrase travels as a JSON string: it
// must be valid UTF-8, else the error wraps room.ErrPassphrase.
func (c *Client) Join(ctx context.Context, name string, passphrase []byte) (RoomInfo, error) {
	if _, err := roomPath(name); err != nil {
		return RoomInfo{}, err
	}
	if passphrase != nil && !utf8.Valid(passphrase) {
		return RoomInfo{}, fmt.Errorf("room %q: %w, and valid UTF-8 to reach a daemon", name, room.ErrPassphrase)
	}
	// Built by hand so that the passphrase is never in a Go string, and
	// the buffer that holds it can be cleared.
	body := []byte(`{"room":`)
	body = appendJSONString(body, []byte(name))
	if passphrase != nil {
		body = append(body, `,"passphrase":`...)
		body = appendJSONString(body, passphrase)
	}
	body = append(body, '}')
	defer clear(body)
	var v roomInfoJSON
	if err := c.do(ctx, http.MethodPost, "/v1/rooms", nil, body, &v); err != nil {
		return RoomInfo{}, err
	}
	return v.info()
}

// Leave implements [Backend].
func (c *Client) Leave(ctx context.Context, name string) error {
	p, err := roomPath(name)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil, nil)
}

// SetNick implements [Backend].
func (c *Client) SetNick(ctx context.Context, nick string) error {
	return c.do(ctx, http.MethodPut, "/v1/nick", nil, mustJSON(nickRequest{Nick: nick}), nil)
}

// Send implements [Backend]. The daemon waits for the room key until ctx's
// deadline, or [MaxWait] if that is sooner or ctx has none; when the wait
// runs out the error wraps context.DeadlineExceeded.
func (c *Client) Send(ctx context.Context, name, text string, action bool) (*room.Message, error) {
	p, err := roomPath(name)
	if err != nil {
		return nil, err
	}
	wait := MaxWait
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d))
	}
	if wait <= 0 {
		return nil, fmt.Errorf("room %q: waiting for the room key: %w", name, context.DeadlineExceeded)
	}
	q := url.Values{"wait": {wait.String()}}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodPost, p+"/messages", q, mustJSON(sendRequest{Text: text, Action: action}), &raw); err != nil {
		return nil, err
	}
	return DecodeMessage(raw)
}

// History implements [Backend].
func (c *Client) History(ctx context.Context, name string, n int) ([]*room.Message, error) {
	p, err := roomPath(name)
	if err != nil {
		return nil, err
	}
	ask := n
	if n <= 0 || n > MaxHistory {
		ask = 0 // all; trimmed below
	}
	var v struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := c.do(ctx, http.MethodGet, p+"/messages", url.Values{"n": {strconv.Itoa(ask)}}, nil, &v); err != nil {
		return nil, err
	}
	if n > 0 && len(v.Messages) > n {
		v.Messages = v.Messages[len(v.Messages)-n:]
	}
	out := make([]*room.Message, 0, len(v.Messages))
	for _, raw := range v.Messages {
		m, err := DecodeMessage(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Search implements [Backend]. n <= 0 asks for the daemon's default
// ([DefaultSearch]); n is at most [MaxSearch].
func (c *Client) Search(ctx context.Context, query, roomName string, n int) ([]room.SearchHit, error) {
	q := url.Values{"q": {query}}
	if roomName != "" {
		q.Set("room", roomName)
	}
	if n > 0 {
		q.Set("n", strconv.Itoa(min(n, MaxSearch)))
	}
	var v struct {
		Hits []json.RawMessage `json:"hits"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/search", q, nil, &v); err != nil {
		return nil, err
	}
	out := make([]room.SearchHit, 0, len(v.Hits))
	for _, raw := range v.Hits {
		var h struct {
			Room    string `json:"room"`
			Snippet string `json:"snippet"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadObject, err)
		}
		m, err := DecodeMessage(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, room.SearchHit{Room: h.Room, Message: m, Snippet: h.Snippet})
	}
	return out, nil
}

// Verified implements [Backend].
func (c *Client) Verified(ctx context.Context, p peer.ID) (bool, error) {
	var v fingerprintJSON
	if err := c.do(ctx, http.MethodGet, "/v1/peers/"+url.PathEscape(p.String()), nil, nil, &v); err != nil {
		return false, err
	}
	return v.Verified != nil && *v.Verified, nil
}

// Verify implements [Backend].
func (c *Client) Verify(ctx context.Context, p peer.ID, fingerprint string) error {
	return c.do(ctx, http.MethodPost, "/v1/verify", nil, mustJSON(verifyRequest{PeerID: p.String(), Fingerprint: fingerprint}), nil)
}

// Peers implements [Backend].
func (c *Client) Peers(ctx context.Context) ([]PeerInfo, error) {
	var v peersJSON
	if err := c.do(ctx, http.MethodGet, "/v1/peers", nil, nil, &v); err != nil {
		return nil, err
	}
	var out []PeerInfo
	for _, pj := range v.Peers {
		p, fp, err := decodePeer(pj.PeerID)
		if err != nil {
			return nil, err
		}
		out = append(out, PeerInfo{PeerID: p, Fingerprint: fp, Nick: pj.Nick, Verified: pj.Verified, Addrs: pj.Addrs})
	}
	return out, nil
}

func (r roomJSON) status() room.RoomStatus {
	return room.RoomStatus{Name: r.Room, Topic: r.Topic, Kind: r.Kind, Ready: r.Ready, Epoch: r.Epoch, KeyID: r.KeyID,
		Roster: r.Roster, Members: r.Members, Buffered: r.Buffered, Drops: r.Dropped}
}

func (r roomInfoJSON) info() (RoomInfo, error) {
	ri := RoomInfo{RoomStatus: r.status()}
	for _, m := range r.MemberList {
		p, fp, err := decodePeer(m.PeerID)
		if err != nil {
			return RoomInfo{}, err
		}
		ri.Members = append(ri.Members, room.Member{Peer: p, Nick: m.Nick, Fingerprint: fp, Verified: m.Verified})
	}
	return ri, nil
}

// decodePeer decodes a peer ID from the daemon and computes its
// fingerprint from the key it embeds rather than trusting the daemon's.
func decodePeer(s string) (peer.ID, identity.Fingerprint, error) {
	p, err := peer.Decode(s)
	if err != nil {
		return "", identity.Fingerprint{}, fmt.Errorf("%w: peer_id %q: %v", ErrBadObject, s, err)
	}
	fp, err := identity.PeerFingerprint(p)
	if err != nil {
		return "", identity.Fingerprint{}, fmt.Errorf("%w: peer_id %q: %v", ErrBadObject, s, err)
	}
	return p, fp, nil
}

// roomPath returns the path of a room, its name normalised and escaped.
func roomPath(name string) (string, error) {
	norm, err := normalize(name)
	if err != nil {
		return "", err
	}
	seg := url.PathEscape(norm)
	if seg == "." || seg == ".." {
		seg = strings.ReplaceAll(seg, ".", "%2E") // not a path step
	}
	return "/v1/rooms/" + seg, nil
}

func mustJSON(v any) []byte {
	b, err := marshalLine(v)
	if err != nil {
		panic(err) // request structs of strings and bools always encode
	}
	return b
}

// appendJSONString appends b, valid UTF-8, as a JSON string.
func appendJSONString(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// do sends a request with body (JSON, or nil) and decodes a 2xx answer
// into out, if not nil.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s %s: reading the answer of the daemon at %s: %w", method, path, c.path, err)
	}
	return nil
}

// send sends a request and returns the response if its status is 2xx.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	u := "http://p2pchat" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/x-ndjson")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// readError returns the error of an error response.
func readError(resp *http.Response) error {
	var v errorJSON
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err := json.Unmarshal(b, &v); err != nil || v.Error.Code == "" {
		return &Error{Status: resp.StatusCode, Code: "", Message: fmt.Sprintf("unexpected answer from the daemon: %s", resp.Status)}
	}
	return errorFor(resp.StatusCode, v.Error.Code, v.Error.Message)
}

// wsaECONNREFUSED is Windows' "connection refused", which syscall does not
// map to ECONNREFUSED.
const wsaECONNREFUSED = 10061

func (c *Client) transportError(err error) error {
	if errno, ok := errors.AsType[syscall.Errno](err); ok {
		if errno == syscall.ENOENT || errno == syscall.ECONNREFUSED || (runtime.GOOS == "windows" && errno == wsaECONNREFUSED) {
			return fmt.Errorf("%w (socket %s: %v)", ErrNoDaemon, c.path, errno)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (socket %s: %v)", ErrNoDaemon, c.path, err)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err // the URL is made up; the socket path says more
	}
	return fmt.Errorf("the daemon at %s: %w", c.path, err)
}

// EventsOptions says which events to stream.
type EventsOptions struct {
	// Room, if set, keeps only the events of this room.
	Room string
	// Since, if not 0, streams every retained event after this event id,
	// then new ones. Event ids are those of the daemon that issued them.
	Since uint64
	// FromStart streams every retained event (since=0), then new ones.
	// Without it or Since only events published from now on are streamed.
	FromStart bool
	// GiveUp, for [Client.Follow]: how long the daemon may be unreachable
	// before Follow fails; 0 keeps trying.
	GiveUp time.Duration
}

// EventStream is an open event stream: [Event]s in event id order, with
// error events of reason [ReasonEventsMissed] where events were lost. It is
// for one goroutine at a time.
type EventStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
	head uint64
	boot string
}

// Events opens an event stream. The stream ends when ctx ends, on
// [EventStream.Close], or when the daemon ends it.
func (c *Client) Events(ctx context.Context, opts EventsOptions) (*EventStream, error) {
	q := url.Values{}
	switch {
	case opts.Since > 0:
		q.Set("since", strconv.FormatUint(opts.Since, 10))
	case opts.FromStart:
		q.Set("since", "0")
	}
	if opts.Room != "" {
		q.Set("room", opts.Room)
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/events", q, nil)
	if err != nil {
		return nil, err
	}
	head, err := strconv.ParseUint(resp.Header.Get(HeaderEventHead), 10, 64)
	if err != nil || resp.Header.Get(HeaderBoot) == "" {
		resp.Body.Close()
		return nil, fmt.Errorf("the daemon at %s: event stream without %s and %s headers", c.path, HeaderBoot, HeaderEventHead)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	return &EventStream{body: resp.Body, sc: sc, head: head, boot: resp.Header.Get(HeaderBoot)}, nil
}

// Head returns the id of the newest event when the stream began (0: none).
func (s *EventStream) Head() uint64 { return s.head }

// Boot returns the daemon's boot id: it changes when the daemon restarts.
func (s *EventStream) Boot() string { return s.boot }

// Next returns the next event, waiting for it. At the end of the stream
// the error is io.EOF, or the reason it broke. A line that is not a valid
// event gives an error wrapping [ErrBadObject]; the stream goes on after it.
func (s *EventStream) Next() (Event, error) {
	for s.sc.Scan() {
		line := s.sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return DecodeEvent(line)
	}
	if err := s.sc.Err(); err != nil {
		return Event{}, err
	}
	return Event{}, io.EOF
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }

// Follow calls fn with every event that opts selects, in order, until ctx
// ends (it then returns nil) or fn returns an error (returned as is). When
// the stream breaks it reconnects, waiting 100ms, then longer up to 2s, and
// resumes after the last event fn saw, so fn sees every event once. Events
// the daemon dropped meanwhile are reported by an error event of reason
// [ReasonEventsMissed]. When it finds another daemon (it restarted), fn gets
// an error event of reason [ReasonDaemonRestarted], then the new daemon's
// events from its first. If the daemon stays unreachable longer than
// opts.GiveUp (if not 0), Follow returns an error wrapping [ErrNoDaemon].
func (c *Client) Follow(ctx context.Context, opts EventsOptions, fn func(Event) error) error {
	var (
		boot      string
		cursor    uint64 // the last event id fn saw, or where to resume
		resume    bool   // cursor is set
		backoff   = followBackoff
		downSince time.Time
	)
	for {
		o := EventsOptions{Room: opts.Room, Since: opts.Since, FromStart: opts.FromStart}
		if resume {
			o.Since, o.FromStart = cursor, cursor == 0
		}
		stream, err := c.Events(ctx, o)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if e, ok := errors.AsType[*Error](err); ok && e.Status < 500 {
				return err // a request the daemon will never accept
			}
			if downSince.IsZero() {
				downSince = time.Now()
			}
			if opts.GiveUp > 0 && time.Since(downSince) >= opts.GiveUp {
				if !errors.Is(err, ErrNoDaemon) {
					err = fmt.Errorf("%w: %w", ErrNoDaemon, err)
				}
				return fmt.Errorf("unreachable for %v: %w", opts.GiveUp, err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, followMaxWait)
			continue
		}
		downSince, backoff = time.Time{}, followBackoff
		if boot != "" && stream.Boot() != boot {
			stream.Close()
			boot, cursor, resume = stream.Boot(), 0, true
			ev := Event{Event: room.Event{Type: room.EventError, Reason: ReasonDaemonRestarted,
				Err: errors.New("the daemon restarted: events of the old one that were not streamed yet are lost")}}
			if err := fn(ev); err != nil {
				return err
			}
			continue
		}
		if !resume {
			boot, resume = stream.Boot(), true
			switch {
			case o.Since > 0:
				cursor = min(o.Since, stream.Head())
			case o.FromStart:
				cursor = 0
			default:
				cursor = stream.Head()
			}
		}
		if err := c.drain(stream, &cursor, fn); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}

// drain passes the events of stream to fn until the stream ends (nil) or
// fn fails (its error), advancing cursor.
func (c *Client) drain(stream *EventStream, cursor *uint64, fn func(Event) error) error {
	defer stream.Close()
	for {
		ev, err := stream.Next()
		if errors.Is(err, ErrBadObject) {
			ev = Event{Event: room.Event{Type: room.EventError, Reason: ReasonBadEvent, Err: err}}
		} else if err != nil {
			return nil
		}
		if ev.EventID != 0 {
			if ev.EventID <= *cursor {
				continue // seen before the stream broke
			}
			*cursor = ev.EventID
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}
