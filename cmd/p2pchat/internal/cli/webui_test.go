package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/web"
)

func TestWebAddr(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		remote bool
		want   string // "" for an error
	}{
		{"127.0.0.1:8384", false, "127.0.0.1:8384"},
		{"localhost:0", false, "127.0.0.1:0"},
		{":8384", false, "127.0.0.1:8384"},
		{"[::1]:8384", false, "[::1]:8384"},
		{"0.0.0.0:8384", false, ""},
		{"0.0.0.0:8384", true, "0.0.0.0:8384"},
		{"192.168.1.20:8384", false, ""},
		{"192.168.1.20:8384", true, "192.168.1.20:8384"},
		{"chat.example:8384", true, ""},
		{"8384", false, ""},
		{"[fe80::1%eth0]:8384", true, ""},
	} {
		got, err := webAddr(tc.addr, tc.remote)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("webAddr(%q, %v) = %q, %v; want %q", tc.addr, tc.remote, got, err, tc.want)
		}
	}
	if _, err := webAddr("0.0.0.0:8384", false); err == nil || !strings.Contains(err.Error(), "--web-allow-remote") {
		t.Errorf("a remote address without --web-allow-remote: %v", err)
	}
}

// browserLogin follows a login URL as a browser would and returns a client
// with the session, and the CSRF token.
func browserLogin(t *testing.T, loginURL string) (*http.Client, string, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var location string
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		location = req.URL.Fragment
		return nil
	}}
	base := loginURL[:strings.Index(loginURL, web.LoginPath)]
	resp, err := c.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte(`<script src="app.js"`)) {
		t.Fatalf("login %s: %d %q", loginURL, resp.StatusCode, page)
	}
	tok, ok := strings.CutPrefix(location, "login=")
	if !ok || tok == "" {
		t.Fatalf("login redirected to the fragment %q, want login=TOKEN", location)
	}
	return c, base, tok
}

// webStatus is GET /v1/status through the web UI.
func webStatus(t *testing.T, c *http.Client, base, csrf string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/status", nil)
	req.Header.Set(web.HeaderCSRF, csrf)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var obj map[string]any
	json.NewDecoder(resp.Body).Decode(&obj)
	return resp.StatusCode, obj
}

// TestWebOnDaemon: p2pchat web --url asks the running node for a login
// link; the link logs a browser in to the node's API; without --url the
// link goes to $BROWSER inside a file only this user can read.
func TestWebOnDaemon(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	home := filepath.Join(t.TempDir(), "home")
	d := startDaemon(t, home)
	self, err := d.Self(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--home", home, "web", "--url", "--json"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("web --url: exit %d, %s", code, stderr.String())
	}
	var l struct {
		Type, URL, Addr string
		Opened          bool
	}
	if err := json.Unmarshal(stdout.Bytes(), &l); err != nil || l.Type != "web" || l.Opened || !strings.HasPrefix(l.URL, "http://127.0.0.1:") || !strings.Contains(l.URL, l.Addr) {
		t.Fatalf("web --url --json: %q (%v)", stdout.String(), err)
	}
	c, base, csrf := browserLogin(t, l.URL)
	code, st := webStatus(t, c, base, csrf)
	if code != 200 || st["peer_id"] != self.PeerID.String() {
		t.Errorf("status through the web UI: %d %v", code, st)
	}
	// The plain text form is the URL alone, for scripts.
	stdout.Reset()
	if code := run(context.Background(), []string{"--home", home, "web", "--url"}, strings.NewReader(""), &stdout, &stderr); code != exitOK ||
		!regexp.MustCompile(`^http://127\.0\.0\.1:\d+/login\?token=[A-Z0-9]+\n$`).Match(stdout.Bytes()) {
		t.Errorf("web --url: exit %d, %q", code, stdout.String())
	}

	if runtime.GOOS != "windows" {
		// $BROWSER gets a file, not the link (which other users could read
		// on its command line).
		got := filepath.Join(t.TempDir(), "opened")
		script := filepath.Join(t.TempDir(), "browser")
		if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf %s \"$1\" > "+got+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("BROWSER", script)
		stdout.Reset()
		if code := run(context.Background(), []string{"--home", home, "web"}, strings.NewReader(""), &stdout, &stderr); code != exitOK ||
			!strings.HasPrefix(stdout.String(), "Opened p2pchat in your browser") {
			t.Fatalf("web: exit %d, %q, %s", code, stdout.String(), stderr.String())
		}
		var path []byte
		deadline := time.Now().Add(10 * time.Second)
		for len(path) == 0 && time.Now().Before(deadline) {
			path, _ = os.ReadFile(got)
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.HasPrefix(string(path), home+string(filepath.Separator)+"web-login-") {
			t.Fatalf("$BROWSER was given %q, want a login page in %s", path, home)
		}
		fi, err := os.Stat(string(path))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("login page %s: %v, mode %v", path, err, fi.Mode())
		}
		page, _ := os.ReadFile(string(path))
		m := regexp.MustCompile(`url=(http://[^"]+)"`).FindSubmatch(page)
		if m == nil {
			t.Fatalf("login page %q has no link", page)
		}
		c, base, csrf := browserLogin(t, string(m[1]))
		if code, _ := webStatus(t, c, base, csrf); code != 200 {
			t.Errorf("status through the opened link: %d", code)
		}
	}

	// No browser to start: the link is printed instead.
	t.Setenv("BROWSER", filepath.Join(t.TempDir(), "no-such-browser"))
	stdout.Reset()
	if code := run(context.Background(), []string{"--home", home, "web"}, strings.NewReader(""), &stdout, &stderr); code != exitOK ||
		!regexp.MustCompile(`^Could not open a browser \(.*\)\.\nOpen this one-time link in your browser: http://127\.0\.0\.1:\d+/login\?token=[A-Z0-9]+\n$`).Match(stdout.Bytes()) {
		t.Errorf("web without a browser: exit %d, %q", code, stdout.String())
	}

	// Node flags belong to the node, which runs already.
	stderr.Reset()
	if code := run(context.Background(), []string{"--home", home, "web", "--url", "--web", "127.0.0.1:0"}, strings.NewReader(""), &stdout, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "--web configures a node") {
		t.Errorf("web --web with a node running: exit %d, %q", code, stderr.String())
	}
}

// TestWebForeground: without a running node, p2pchat web runs one in the
// foreground with the web UI on, until its context ends.
func TestWebForeground(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	home := filepath.Join(t.TempDir(), "home")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := startChat(t, ctx, "--home", home, "web", "--url", "--json", "--nick", "webby", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0")
	ev := p.wait("the web login", isEvent("web"))
	u, _ := ev["url"].(string)
	c, base, csrf := browserLogin(t, u)
	code, st := webStatus(t, c, base, csrf)
	if code != 200 || st["nick"] != "webby" {
		t.Errorf("status through the web UI: %d %v", code, st)
	}
	// The node also serves the CLI meanwhile.
	o := &options{home: home}
	if _, err := daemonClient(ctx, o, home); err != nil {
		t.Errorf("the foreground node does not answer the CLI: %v", err)
	}
	cancel()
	if code := p.exit(); code != exitOK {
		t.Errorf("exit %d", code)
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Errorf("the web UI still answers after the node stopped")
	}
}

// TestLoginFile: the login page forwards to the link, is readable by this
// user only, and those of links that have expired are removed.
func TestLoginFile(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "web-login-old.html")
	young := filepath.Join(dir, "web-login-young.html")
	other := filepath.Join(dir, "notes.html")
	for _, f := range []string{old, young, other} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-web.TokenTTL - time.Minute)
	for _, f := range []string{old, other} {
		if err := os.Chtimes(f, past, past); err != nil {
			t.Fatal(err)
		}
	}
	const link = "http://127.0.0.1:8384/login?token=ABC"
	path, err := loginFile(dir, link)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(page), `content="0;url=`+link+`"`) {
		t.Errorf("login page %q, %v", page, err)
	}
	if fi, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("login page mode %v, %v", fi.Mode(), err)
	}
	for f, want := range map[string]bool{old: false, young: true, other: true} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(f), err == nil, want)
		}
	}
	if _, err := loginFile(filepath.Join(dir, "missing"), link); err == nil || !strings.Contains(err.Error(), "writing the login page") {
		t.Errorf("login page in a missing directory: %v", err)
	}
}
