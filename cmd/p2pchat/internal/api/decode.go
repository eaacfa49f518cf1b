package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

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
// unknown, null, missing required, repeated and wrongly typed members, and
// what encoding/json would alter (checkStrict). The body is
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
	if err := checkStrict(b); err != nil {
		return err
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
