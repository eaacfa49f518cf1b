package api

import (
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
func (c *Client) StoredKind(ctx context.Context, name string) (room.Kind, error) {
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

// SetAway implements [Backend].
func (c *Client) SetAway(ctx context.Context, text string) error {
	return c.do(ctx, http.MethodPut, "/v1/away", nil, mustJSON(awayRequest{Text: text}), nil)
}

// WebLogin asks the daemon for a one-time login URL of its web UI,
// starting the web UI if it does not run (POST /v1/web).
func (c *Client) WebLogin(ctx context.Context) (WebLogin, error) {
	var out WebLogin
	err := c.do(ctx, http.MethodPost, "/v1/web", nil, nil, &out)
	return out, err
}

// Send implements [Backend]. The daemon waits for the room key until ctx's
// deadline, or [MaxWait] if that is sooner or ctx has none; when the wait
// runs out the error wraps context.DeadlineExceeded.
func (c *Client) Send(ctx context.Context, name, text string, action bool) (*room.Message, error) {
	return c.sendTo(ctx, name, http.MethodPost, "/messages", sendRequest{Text: text, Action: action})
}

// Annotate implements [Backend], waiting as Send does.
func (c *Client) Annotate(ctx context.Context, name string, a room.Annotation) (*room.Message, error) {
	id := "/messages/" + url.PathEscape(a.Target)
	switch a.Kind {
	case room.AnnotateReply:
		return c.sendTo(ctx, name, http.MethodPost, "/messages", sendRequest{Text: a.Text, ReplyTo: a.Target})
	case room.AnnotateReact:
		return c.sendTo(ctx, name, http.MethodPost, id+"/reactions", reactRequest{Reaction: a.Text})
	case room.AnnotateEdit:
		return c.sendTo(ctx, name, http.MethodPatch, id, editRequest{Text: a.Text})
	case room.AnnotateDelete:
		return c.sendTo(ctx, name, http.MethodDelete, id, nil)
	}
	return nil, fmt.Errorf("%q: %w", a.Kind, room.ErrAnnotationKind)
}

// sendTo makes a request that sends a message to room name (path under
// the room's), with body req (none if nil), and decodes the message
// answered.
func (c *Client) sendTo(ctx context.Context, name, method, path string, req any) (*room.Message, error) {
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
	var body []byte
	if req != nil {
		body = mustJSON(req)
	}
	var raw json.RawMessage
	if err := c.do(ctx, method, p+path, q, body, &raw); err != nil {
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
		out = append(out, PeerInfo{PeerID: p, Fingerprint: fp, Nick: pj.Nick, Verified: pj.Verified, Mismatch: pj.Mismatch, Addrs: pj.Addrs})
	}
	return out, nil
}

func (r RoomJSON) status() room.RoomStatus {
	return room.RoomStatus{Name: r.Room, Topic: r.Topic, Kind: r.Kind, Ready: r.Ready, Epoch: r.Epoch, KeyID: r.KeyID,
		Roster: r.Roster, Members: r.Members, Buffered: r.Buffered, Drops: r.Dropped}
}

func (r roomInfoJSON) info() (RoomInfo, error) {
	ri := RoomInfo{RoomStatus: r.status()}
	var err error
	if ri.Members, err = decodeMembers(r.MemberList); err != nil {
		return RoomInfo{}, err
	}
	if ri.Absent, err = decodeMembers(r.AbsentList); err != nil {
		return RoomInfo{}, err
	}
	return ri, nil
}

// decodeMembers decodes member objects (nil for none).
func decodeMembers(ms []MemberJSON) ([]room.Member, error) {
	var out []room.Member
	for _, m := range ms {
		p, fp, err := decodePeer(m.PeerID)
		if err != nil {
			return nil, err
		}
		mb := room.Member{Peer: p, Nick: m.Nick, Fingerprint: fp, Verified: m.Verified, Mismatch: m.Mismatch, Away: m.Away}
		if m.LastSeen != "" {
			if mb.LastSeen, err = time.Parse(time.RFC3339, m.LastSeen); err != nil {
				return nil, fmt.Errorf("%w: last_seen %q: %v", ErrBadObject, m.LastSeen, err)
			}
		}
		out = append(out, mb)
	}
	return out, nil
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
