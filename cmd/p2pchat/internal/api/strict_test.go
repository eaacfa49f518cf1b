package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestStrictBodies: what encoding/json would alter or resolve silently is
// refused with 400 and the position of the offending byte; the rest of
// JSON's escapes still come through exactly.
func TestStrictBodies(t *testing.T) {
	tests := []struct {
		name, body string
		wantIn     string // "" accepted, with text want
		want       string
	}{
		{"invalid UTF-8", "{\"text\":\"ab\xffcd\"}", "not valid UTF-8 (at byte 12)", ""},
		{"truncated UTF-8", "{\"text\":\"\xe2\x82\"}", "not valid UTF-8 (at byte 10)", ""},
		{"UTF-8 surrogate", "{\"text\":\"\xed\xa0\x80\"}", "not valid UTF-8 (at byte 10)", ""},
		{"overlong UTF-8", "{\"text\":\"\xc0\xaf\"}", "not valid UTF-8 (at byte 10)", ""},
		{"invalid UTF-8 in a name", "{\"te\xffxt\":\"a\"}", "not valid UTF-8 (at byte 5)", ""},
		{"duplicate text", `{"text":"a","text":"b"}`, `member "text" given twice (at byte 13)`, ""},
		{"duplicate by escape", `{"text":"a","t\u0065xt":"b"}`, `member "text" given twice (at byte 13)`, ""},
		{"duplicate action", `{"text":"a","action":true, "action":false}`, `member "action" given twice (at byte 28)`, ""},
		{"NUL", `{"text":"a\u0000b"}`, `\u0000 in a string (at byte 11)`, ""},
		{"NUL in a name", `{"te\u0000xt":"a"}`, `\u0000 in a string (at byte 5)`, ""},
		{"lone high surrogate", `{"text":"\ud83d"}`, `\ud83d is half of a UTF-16 surrogate pair, without the other half (at byte 10)`, ""},
		{"lone low surrogate", `{"text":"\ude00x"}`, `\ude00 is half of a UTF-16 surrogate pair, without the other half (at byte 10)`, ""},
		{"reversed pair", `{"text":"\ude00\ud83d"}`, `\ude00 is half`, ""},
		{"high then other escape", `{"text":"\ud83d\u0041"}`, `\ud83d is half`, ""},
		{"escaped backslash then u", `{"text":"\\u0000"}`, "", `\u0000`},
		{"pair", `{"text":"\ud83d\ude00"}`, "", "😀"},
		{"U+FFFD itself", `{"text":"\ufffd �"}`, "", "� �"},
		{"escapes", `{"text":"\"\\\/\b\f\n\r\t\u00e9"}`, "", "\"\\/\b\f\n\r\té"},
		{"same name in another object is fine", `{"text":"a","action":false}`, "", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			r := call(t, NewServer(ServerConfig{Backend: f}).Handler(), "POST", "/v1/rooms/lobby/messages", tt.body)
			if tt.wantIn == "" {
				if r.status != 200 {
					t.Fatalf("status %d: %v", r.status, r.obj)
				}
				if got := f.history["lobby"][len(f.history["lobby"])-1].Text; got != tt.want {
					t.Errorf("stored %q, want %q", got, tt.want)
				}
				return
			}
			code, msg := errorOf(t, r)
			if r.status != 400 || code != "bad_request" || !strings.Contains(msg, tt.wantIn) {
				t.Errorf("status %d %s %q, want 400 bad_request saying %q", r.status, code, msg, tt.wantIn)
			}
		})
	}
}

// FuzzCheckStrict: checkStrict never panics on valid JSON, refuses only
// with ErrBadRequest, and what it accepts is UTF-8 with no member twice
// in an object and no NUL in any string.
func FuzzCheckStrict(f *testing.F) {
	for _, s := range []string{`{"text":"a"}`, `{"text":"a","text":"b"}`, `{"a":{"a":1},"b":[{"a":1,"a":2}]}`,
		`{"text":"\u0000"}`, `{"text":"\ud83d\ude00"}`, `{"text":"\ud83d"}`, "{\"text\":\"\xff\"}", `["\\u0000"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		err := checkStrict(in)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("%q: %v does not wrap ErrBadRequest", in, err)
			}
			return
		}
		if !utf8.Valid(in) {
			t.Fatalf("%q accepted but not UTF-8", in)
		}
		// UseNumber: a number beyond float64's range is valid JSON that
		// checkStrict rightly passes; only the walk must not parse it.
		d := json.NewDecoder(bytes.NewReader(in))
		d.UseNumber()
		if err := walkStrict(d); err != nil {
			t.Fatalf("%q accepted: %v", in, err)
		}
	})
}

// walkStrict walks one JSON value with encoding/json's tokenizer and
// reports a member given twice or a NUL in a string.
func walkStrict(d *json.Decoder) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	switch tok := tok.(type) {
	case string:
		if strings.ContainsRune(tok, 0) {
			return errors.New("NUL in a string")
		}
	case json.Delim:
		seen := map[string]bool{}
		for d.More() {
			if tok == '{' {
				k, err := d.Token()
				if err != nil {
					return err
				}
				name := k.(string)
				if seen[name] || strings.ContainsRune(name, 0) {
					return errors.New("member " + name + " twice or with NUL")
				}
				seen[name] = true
			}
			if err := walkStrict(d); err != nil {
				return err
			}
		}
		if _, err := d.Token(); err != nil {
			return err
		}
	}
	return nil
}
