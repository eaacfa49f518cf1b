package web

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI answers every request 200 and counts them.
type fakeAPI struct {
	mu    sync.Mutex
	paths []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	if r.URL.Path == "/v1/events" { // a stream: until the request ends
		w.WriteHeader(200)
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"api":"p2pchat","version":1}`+"\n")
}

func (f *fakeAPI) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

const testAddr = "127.0.0.1:8384"

// clock is a settable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(t *testing.T, addr string) (*Server, *fakeAPI, *clock) {
	t.Helper()
	api := &fakeAPI{}
	clk := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	s, err := New(Config{API: api, Addr: addr, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return s, api, clk
}

// req makes a request to s as the browser would from its own page.
func req(s *Server, method, target string, hdr map[string]string, cookie *http.Cookie) *httptest.ResponseRecorder {
	own := net.JoinHostPort(s.host.String(), s.port)
	r := httptest.NewRequest(method, "http://"+own+target, nil)
	r.Host = own
	for k, v := range hdr {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// login logs in with a fresh token and returns the session cookie and CSRF
// token.
func login(t *testing.T, s *Server) (*http.Cookie, string) {
	t.Helper()
	w := req(s, "GET", LoginPath+"?token="+s.Login(), nil, nil)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login: %d, Location %q", w.Code, w.Header().Get("Location"))
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies", len(cookies))
	}
	c := cookies[0]
	tok, ok := strings.CutPrefix(w.Header().Get("Location"), "/#login=")
	if !ok || tok == "" {
		t.Fatalf("login sent the browser to %q, want /#login=TOKEN", w.Header().Get("Location"))
	}
	cookie := &http.Cookie{Name: c.Name, Value: c.Value}
	if w := req(s, "GET", SessionPath, map[string]string{HeaderCSRF: tok}, cookie); w.Code != 200 {
		t.Fatalf("session: %d %s", w.Code, w.Body)
	}
	return cookie, tok
}

// TestCookieAloneGetsNothing: browsers send a host's cookies to all its
// ports, so a server on another local port that the user visits gets the
// session cookie. With it alone, nothing answers, and nothing tells the
// session's token: it went to the page once, in the login's address
// fragment.
func TestCookieAloneGetsNothing(t *testing.T) {
	s, api, _ := newTest(t, testAddr)
	cookie, tok := login(t, s)
	for _, target := range []string{SessionPath, "/v1", "/v1/status", "/v1/events", "/", "/app.js", "/index.html"} {
		w := req(s, "GET", target, nil, cookie)
		if strings.HasPrefix(target, "/v1") || target == SessionPath {
			if w.Code != http.StatusForbidden {
				t.Errorf("GET %s with the cookie alone: %d", target, w.Code)
			}
		}
		if strings.Contains(w.Body.String(), tok) || strings.Contains(fmt.Sprint(w.Header()), tok) {
			t.Errorf("GET %s tells the session's token", target)
		}
	}
	if n := len(api.calls()); n != 0 {
		t.Errorf("the API was called %d times with the cookie alone", n)
	}
}

func TestLoginCookie(t *testing.T) {
	s, api, _ := newTest(t, testAddr)
	tok := s.Login()
	w := req(s, "GET", LoginPath+"?token="+tok, nil, nil)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login: %d", w.Code)
	}
	c := w.Result().Cookies()[0]
	if c.Name != CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || len(c.Value) < 40 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, a long random value", c)
	}
	// The token works once.
	if w := req(s, "GET", LoginPath+"?token="+tok, nil, nil); w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
		t.Errorf("the token a second time: %d, cookies %v", w.Code, w.Result().Cookies())
	}
	for _, q := range []string{"", "?token=", "?token=AAAA", "?token=" + strings.ToLower(s.Login()), "?token=" + s.Login() + "&x=1"} {
		if w := req(s, "GET", LoginPath+q, nil, nil); w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
			t.Errorf("login%s: %d, cookies %v", q, w.Code, w.Result().Cookies())
		}
	}
	if n := len(api.calls()); n != 0 {
		t.Errorf("the API was called %d times by logins", n)
	}
}

func TestAPINeedsSessionAndCSRF(t *testing.T) {
	s, api, _ := newTest(t, testAddr)
	cookie, csrf := login(t, s)
	other, _ := login(t, s)
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		cookie *http.Cookie
		want   int
	}{
		{"no cookie", map[string]string{HeaderCSRF: csrf}, nil, http.StatusUnauthorized},
		{"unknown cookie", map[string]string{HeaderCSRF: csrf}, &http.Cookie{Name: CookieName, Value: "X" + cookie.Value}, http.StatusUnauthorized},
		{"no CSRF header", nil, cookie, http.StatusForbidden},
		{"wrong CSRF header", map[string]string{HeaderCSRF: csrf + "A"}, cookie, http.StatusForbidden},
		{"another session's CSRF", map[string]string{HeaderCSRF: csrf}, other, http.StatusForbidden},
		{"ok", map[string]string{HeaderCSRF: csrf}, cookie, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(api.calls())
			w := req(s, "POST", "/v1/rooms", tc.hdr, tc.cookie)
			if w.Code != tc.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.want)
			}
			called := len(api.calls()) > before
			if called != (tc.want == http.StatusOK) {
				t.Errorf("API called: %v", called)
			}
			if tc.want != http.StatusOK && !strings.Contains(w.Body.String(), `"error":{"code":`) {
				t.Errorf("refusal %q is not an API error object", w.Body)
			}
		})
	}
	// Logout ends the session.
	if w := req(s, "POST", LogoutPath, map[string]string{HeaderCSRF: csrf}, cookie); w.Code != 200 {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if w := req(s, "GET", "/v1/status", map[string]string{HeaderCSRF: csrf}, cookie); w.Code != http.StatusUnauthorized {
		t.Errorf("after logout: %d", w.Code)
	}
}

// TestHost: only the listening address and localhost name this server;
// any other Host (a DNS-rebinding attacker's name) is refused before
// anything else, even with a valid session.
func TestHost(t *testing.T) {
	for _, tc := range []struct {
		listen string
		host   string
		ok     bool
	}{
		{testAddr, testAddr, true},
		{testAddr, "localhost:8384", true},
		{testAddr, "LocalHost:8384", true},
		{testAddr, "evil.example:8384", false},
		{testAddr, "127.0.0.1.nip.io:8384", false},
		{testAddr, "127.0.0.1:8385", false},
		{testAddr, "127.0.0.1", false},
		{testAddr, "127.0.0.2:8384", false},
		{testAddr, "[::1]:8384", false},
		{testAddr, "[::ffff:127.0.0.1]:8384", true},
		{testAddr, "", false},
		{"[::1]:8384", "[::1]:8384", true},
		{"[::1]:8384", "localhost:8384", true},
		{"[::1]:8384", "[fe80::1%eth0]:8384", false},
		{"0.0.0.0:8384", "192.168.1.20:8384", true},
		{"0.0.0.0:8384", "localhost:8384", true},
		{"0.0.0.0:8384", "chat.example:8384", false},
		{"192.168.1.20:8384", "192.168.1.20:8384", true},
		{"192.168.1.20:8384", "localhost:8384", false},
		{"192.168.1.20:8384", "192.168.1.21:8384", false},
	} {
		s, api, _ := newTest(t, tc.listen)
		cookie, csrf := login(t, s)
		w := req(s, "GET", "/v1/status", map[string]string{"Host": tc.host, HeaderCSRF: csrf}, cookie)
		if got := w.Code == http.StatusOK; got != tc.ok {
			t.Errorf("listening on %s, Host %q: %d %s", tc.listen, tc.host, w.Code, w.Body)
		}
		if !tc.ok {
			if w.Code != http.StatusForbidden || len(api.calls()) != 0 {
				t.Errorf("listening on %s, Host %q: %d, API calls %v", tc.listen, tc.host, w.Code, api.calls())
			}
			// Nor the page or a login.
			if w := req(s, "GET", LoginPath+"?token="+s.Login(), map[string]string{"Host": tc.host}, nil); w.Code != http.StatusForbidden {
				t.Errorf("login with Host %q: %d", tc.host, w.Code)
			}
			if w := req(s, "GET", "/", map[string]string{"Host": tc.host}, nil); w.Code != http.StatusForbidden {
				t.Errorf("page with Host %q: %d", tc.host, w.Code)
			}
		}
	}
}

// TestCrossOrigin: a request another site's page makes (which carries the
// cookie only if SameSite failed) is refused, whatever it carries.
func TestCrossOrigin(t *testing.T) {
	s, api, _ := newTest(t, testAddr)
	cookie, csrf := login(t, s)
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		ok   bool
	}{
		{"same origin", map[string]string{"Origin": "http://" + testAddr, "Sec-Fetch-Site": "same-origin"}, true},
		{"no Origin (curl)", nil, true},
		{"localhost origin, localhost host", map[string]string{"Host": "localhost:8384", "Origin": "http://localhost:8384"}, true},
		{"another origin", map[string]string{"Origin": "http://evil.example"}, false},
		{"another port", map[string]string{"Origin": "http://127.0.0.1:9999"}, false},
		{"https origin", map[string]string{"Origin": "https://" + testAddr}, false},
		{"null origin", map[string]string{"Origin": "null"}, false},
		{"origin of the other name", map[string]string{"Origin": "http://localhost:8384"}, false},
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same-site fetch (another port)", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{HeaderCSRF: csrf}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			before := len(api.calls())
			w := req(s, "POST", "/v1/rooms/lobby/messages", hdr, cookie)
			if got := w.Code == http.StatusOK; got != tc.ok {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if !tc.ok && (w.Code != http.StatusForbidden || len(api.calls()) != before) {
				t.Errorf("%d, API called %v", w.Code, len(api.calls()) != before)
			}
		})
	}
}

// TestCrossOriginScope: the session, logout and the API refuse another
// site's requests; the page's files and the login link do not, because a
// desktop opens them from outside (the redirect after a login opened from
// a file is marked cross-site).
func TestCrossOriginScope(t *testing.T) {
	s, _, _ := newTest(t, testAddr)
	cookie, csrf := login(t, s)
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", HeaderCSRF: csrf}
	for _, tc := range []struct {
		method, target string
		want           int
	}{
		{"GET", "/", 200},
		{"GET", "/app.js", 200},
		{"GET", LoginPath + "?token=" + s.Login(), http.StatusSeeOther},
		{"GET", SessionPath, http.StatusForbidden},
		{"POST", LogoutPath, http.StatusForbidden},
		{"GET", "/v1/status", http.StatusForbidden},
		{"GET", "/v1", http.StatusForbidden},
	} {
		if w := req(s, tc.method, tc.target, cross, cookie); w.Code != tc.want {
			t.Errorf("cross-site %s %s: %d, want %d", tc.method, tc.target, w.Code, tc.want)
		}
	}
	// The session survived the refused logout.
	if w := req(s, "GET", "/v1/status", map[string]string{HeaderCSRF: csrf}, cookie); w.Code != 200 {
		t.Errorf("after a cross-site logout attempt: %d", w.Code)
	}
}

// TestNoLoginMinting: a page cannot ask for login links (only the Unix
// socket can).
func TestNoLoginMinting(t *testing.T) {
	s, api, _ := newTest(t, testAddr)
	cookie, csrf := login(t, s)
	for _, p := range []string{"/v1/web", "/v1/web/", "/v1/web/login"} {
		if w := req(s, "POST", p, map[string]string{HeaderCSRF: csrf}, cookie); w.Code != http.StatusForbidden {
			t.Errorf("POST %s: %d", p, w.Code)
		}
	}
	if n := len(api.calls()); n != 0 {
		t.Errorf("API called %d times", n)
	}
}

func TestTokenLimits(t *testing.T) {
	s, _, clk := newTest(t, testAddr)
	old := s.Login()
	clk.add(TokenTTL)
	if w := req(s, "GET", LoginPath+"?token="+old, nil, nil); w.Code != http.StatusUnauthorized {
		t.Errorf("a token %v old: %d", TokenTTL, w.Code)
	}
	young := s.Login()
	clk.add(TokenTTL - time.Second)
	if w := req(s, "GET", LoginPath+"?token="+young, nil, nil); w.Code != http.StatusSeeOther {
		t.Errorf("a token %v old: %d", TokenTTL-time.Second, w.Code)
	}
	// Unused tokens are bounded: the oldest goes first.
	first := s.Login()
	var rest []string
	for range MaxTokens {
		clk.add(time.Millisecond)
		rest = append(rest, s.Login())
	}
	if w := req(s, "GET", LoginPath+"?token="+first, nil, nil); w.Code != http.StatusUnauthorized {
		t.Errorf("the oldest of %d tokens: %d", MaxTokens+1, w.Code)
	}
	if w := req(s, "GET", LoginPath+"?token="+rest[0], nil, nil); w.Code != http.StatusSeeOther {
		t.Errorf("the second oldest of %d tokens: %d", MaxTokens+1, w.Code)
	}
	// Sessions too.
	c0, csrf0 := login(t, s)
	for range MaxSessions {
		clk.add(time.Millisecond)
		login(t, s)
	}
	if w := req(s, "GET", "/v1", map[string]string{HeaderCSRF: csrf0}, c0); w.Code != http.StatusUnauthorized {
		t.Errorf("the oldest of %d sessions: %d", MaxSessions+1, w.Code)
	}
}

// TestHeaders: every answer, whatever it is, carries the policy headers.
func TestHeaders(t *testing.T) {
	s, _, _ := newTest(t, testAddr)
	cookie, csrf := login(t, s)
	for _, tc := range []struct {
		method, target string
		hdr            map[string]string
		cookie         *http.Cookie
	}{
		{"GET", "/", nil, nil},
		{"GET", "/app.js", nil, nil},
		{"GET", "/nowhere", nil, nil},
		{"POST", "/", nil, nil},
		{"GET", LoginPath + "?token=x", nil, nil},
		{"GET", "/v1/status", nil, nil},
		{"GET", "/v1/status", map[string]string{HeaderCSRF: csrf}, cookie},
		{"GET", "/", map[string]string{"Host": "evil.example:8384"}, nil},
	} {
		w := req(s, tc.method, tc.target, tc.hdr, tc.cookie)
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s %s: CSP %q lacks %q", tc.method, tc.target, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s %s: CSP %q allows unsafe sources", tc.method, tc.target, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s %s: headers %v", tc.method, tc.target, h)
		}
		if strings.HasPrefix(tc.target, "/v1") && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", tc.method, tc.target, h.Get("Cache-Control"))
		}
	}
}

// TestPageFiles: the page is served, as the right types, with its script in
// a file (the CSP forbids inline ones), and its code puts text from the
// network in the page only as text: no HTML-parsing sink appears in it.
func TestPageFiles(t *testing.T) {
	s, _, _ := newTest(t, testAddr)
	for path, typ := range map[string]string{"/": "text/html", "/app.js": "javascript", "/app.css": "text/css", "/icon.svg": "image/svg+xml"} {
		w := req(s, "GET", path, nil, nil)
		if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Type"), typ) {
			t.Errorf("GET %s: %d, %q", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
	page := req(s, "GET", "/", nil, nil).Body.String()
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(m, ` src="`) {
			t.Errorf("inline script in the page: %s", m)
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(page) || strings.Contains(page, "style=") || strings.Contains(page, "http") {
		t.Errorf("the page has inline handlers, styles or outside links")
	}
	if !strings.Contains(page, `id="join-pass" type="password" autocomplete="off"`) {
		t.Errorf("the passphrase field is not a password field with autocomplete off")
	}
	js, err := static.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "createContextualFragment", "srcdoc", "setAttribute('on", "localStorage.setItem('p2pchat-pass"} {
		if strings.Contains(string(js), sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
	// localStorage holds the notification choice and the session's token
	// only.
	for _, m := range regexp.MustCompile(`localStorage\.setItem\(([^,]+),`).FindAllStringSubmatch(string(js), -1) {
		if m[1] != "'p2pchat-notify'" && m[1] != "tokenKey" {
			t.Errorf("app.js stores %s in localStorage", m[1])
		}
	}
}

func TestURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8384": "http://127.0.0.1:8384/login?token=T",
		"0.0.0.0:8384":   "http://127.0.0.1:8384/login?token=T",
		"[::]:8384":      "http://[::1]:8384/login?token=T",
		"[::1]:8384":     "http://[::1]:8384/login?token=T",
	} {
		if got := URL(addr, "T"); got != want {
			t.Errorf("URL(%s) = %s, want %s", addr, got, want)
		}
		if _, err := url.Parse(URL(addr, "T")); err != nil {
			t.Error(err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, cfg := range []Config{{Addr: testAddr}, {API: &fakeAPI{}, Addr: "localhost:80"}, {API: &fakeAPI{}, Addr: "8384"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}

// TestSessionEndEndsStreams: an event stream under way stops when its
// session ends (logout, or pushed out by newer sessions), so an ended
// session reads nothing more.
func TestSessionEndEndsStreams(t *testing.T) {
	s, _, clk := newTest(t, testAddr)
	stream := func(c *http.Cookie, csrf string) chan int {
		done := make(chan int, 1)
		go func() { done <- req(s, "GET", "/v1/events", map[string]string{HeaderCSRF: csrf}, c).Code }()
		return done
	}
	cookie, csrf := login(t, s)
	done := stream(cookie, csrf)
	select {
	case <-done:
		t.Fatal("the stream ended before the session did")
	case <-time.After(50 * time.Millisecond):
	}
	req(s, "POST", LogoutPath, map[string]string{HeaderCSRF: csrf}, cookie)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream went on after logout")
	}
	// Pushed out by MaxSessions newer ones.
	cookie, csrf = login(t, s)
	done = stream(cookie, csrf)
	for range MaxSessions {
		clk.add(time.Millisecond)
		login(t, s)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream of an evicted session went on")
	}
}
