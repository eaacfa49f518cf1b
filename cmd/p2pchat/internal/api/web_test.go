package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestWebEndpoint: POST /v1/web answers the login that WebLogin makes, a
// node without one answers no_web, and the request is strict.
func TestWebEndpoint(t *testing.T) {
	none := NewServer(ServerConfig{Backend: newFake(t)}).Handler()
	r := call(t, none, "POST", "/v1/web", "")
	if code, _ := errorOf(t, r); code != "no_web" || r.status != 503 {
		t.Errorf("without WebLogin: %d %s", r.status, code)
	}
	calls := 0
	fail := false
	h := NewServer(ServerConfig{Backend: newFake(t), WebLogin: func(context.Context) (WebLogin, error) {
		calls++
		if fail {
			return WebLogin{}, fmt.Errorf("%w: listen tcp 127.0.0.1:80: bind: permission denied", ErrNoWeb)
		}
		return WebLogin{URL: "http://127.0.0.1:8384/login?token=T", Addr: "127.0.0.1:8384"}, nil
	}}).Handler()
	for _, body := range []string{"", "{}"} {
		r := call(t, h, "POST", "/v1/web", body)
		want(t, "POST /v1/web "+body, r.obj, map[string]any{"type": "web", "url": "http://127.0.0.1:8384/login?token=T", "addr": "127.0.0.1:8384"})
	}
	for _, tc := range []struct{ method, target, body, code string }{
		{"POST", "/v1/web", `{"addr":"0.0.0.0:80"}`, "bad_request"},
		{"POST", "/v1/web?x=1", "", "bad_request"},
		{"POST", "/v1/web", "[]", "bad_request"},
		{"GET", "/v1/web", "", "method_not_allowed"},
	} {
		if code, _ := errorOf(t, call(t, h, tc.method, tc.target, tc.body)); code != tc.code {
			t.Errorf("%s %s %s: %s, want %s", tc.method, tc.target, tc.body, code, tc.code)
		}
	}
	if calls != 2 {
		t.Errorf("WebLogin called %d times, want 2 (the refused requests must not mint logins)", calls)
	}
	fail = true
	if code, msg := errorOf(t, call(t, h, "POST", "/v1/web", "")); code != "no_web" || !strings.Contains(msg, "permission denied") {
		t.Errorf("a web UI that cannot start: %s %q", code, msg)
	}
}
