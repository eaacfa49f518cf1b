//go:build e2e && linux

package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var updateWebGolden = flag.Bool("update-web-golden", false, "rewrite testdata/web-outline.golden")

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// TestNetnsWeb: the web UI in a real headless Chromium, on alice's
// namespaced host, against her daemon; bob's daemon on another host. The
// page logs in with the one-time link `p2pchat web --url` prints, joins a
// room, sends, shows bob's messages live (HTML in them as text), history
// after a reload, search, verification, a passphrase room whose passphrase
// is nowhere in the page or its storage afterwards, the reconnecting state
// while the network is down and every message exactly once after it.
// Screenshots at 1280×800 and 390×844 are saved; the page's structure is
// checked against testdata/web-outline.golden.
func TestNetnsWeb(t *testing.T) {
	lab := newE2ELab(t)
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the web UI test needs Chromium at %s (apt-get install chromium; .ci/run installs it): %v", chromiumPath, err)
	}
	bin := lab.buildP2PChat()
	lan := lab.newLAN(2)
	const roomName = "webroom"
	type host struct {
		nick, home, ns string
		env            []string
	}
	hosts := []*host{{nick: "alice"}, {nick: "<b>bob</b>"}}
	for i, h := range hosts {
		h.home = filepath.Join(lab.dir, fmt.Sprintf("home-%d", i))
		h.ns = lan.Hosts[i].NS
		run := filepath.Join(lab.dir, fmt.Sprintf("run-%d", i))
		if err := os.Mkdir(run, 0o700); err != nil {
			t.Fatal(err)
		}
		h.env = append(lab.e2eEnv(), "XDG_RUNTIME_DIR="+run)
		lab.start(fmt.Sprintf("daemon-%d", i), h.ns, h.env, bin, "--home", h.home, "daemon", "--nick", h.nick, "--log-format", "json")
	}
	alice, bob := hosts[0], hosts[1]
	cli := func(h *host, args ...string) (string, error) {
		return lab.runCLI(bin, h.ns, h.home, h.env, args...)
	}
	for _, h := range hosts {
		waitFor(t, lab.ctx, 20*time.Second, h.nick+"'s daemon answers", func() bool {
			_, err := cli(h, "status")
			return err == nil
		})
	}
	var bobID struct {
		PeerID      string `json:"peer_id"`
		Fingerprint string `json:"fingerprint"`
	}
	out, err := cli(bob, "id", "--json")
	if err != nil || json.Unmarshal([]byte(out), &bobID) != nil {
		t.Fatalf("bob's id: %q, %v", out, err)
	}
	var login struct {
		URL, Addr string
		Opened    bool
	}
	out, err = cli(alice, "web", "--url", "--json")
	if err != nil || json.Unmarshal([]byte(out), &login) != nil || !strings.HasPrefix(login.URL, "http://127.0.0.1:") || login.Opened {
		t.Fatalf("p2pchat web --url --json: %q, %v", out, err)
	}

	// Chromium on alice's host: the page's 127.0.0.1 is her namespace's.
	wrapper := filepath.Join(lab.dir, "chromium-in-ns")
	script := "#!/bin/sh\nexec ip netns exec " + alice.ns + " " + chromiumPath + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(wrapper),
		chromedp.UserDataDir(filepath.Join(lab.dir, "chromium-profile")),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(lab.ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	var (
		failedMu      sync.Mutex
		consoleErrors []string
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventLoadingFailed); ok && !e.Canceled && e.Type != network.ResourceTypeFetch {
			failedMu.Lock()
			consoleErrors = append(consoleErrors, "loading failed: "+e.ErrorText)
			failedMu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	fail := func(desc string, err error) {
		t.Helper()
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("%s: %v\npage body:\n%s", desc, err, html)
	}
	run := func(desc string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			fail(desc, err)
		}
	}
	// waitJS waits until the JavaScript expression cond is true.
	// A poll that a navigation interrupts (its JavaScript context destroyed
	// as the next document loads) is started again in the new document.
	waitJS := func(desc, cond string) {
		t.Helper()
		run(desc, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			deadline := time.Now().Add(45 * time.Second)
			for {
				_, err := chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(100*time.Millisecond))(ctx, tg)
				if err == nil || time.Now().After(deadline) || !navigated(err) {
					return err
				}
				time.Sleep(50 * time.Millisecond)
			}
		}))
	}
	// eval decodes the value of the JavaScript expression (awaited if a
	// promise) into out.
	eval := func(expr string, out any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
		if err == nil {
			err = json.Unmarshal(raw, out)
		}
		if err != nil {
			fail("evaluate "+expr, err)
		}
	}
	call := func(desc string, f func() error) {
		t.Helper()
		if err := f(); err != nil {
			fail(desc, err)
		}
	}
	// enter presses Enter without the char event that SendKeys adds, which
	// CDP dispatches even when the page cancelled the keydown (a real
	// browser then types nothing): the page sends on keydown.
	enter := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}); err != nil {
				return err
			}
		}
		return nil
	})
	msgTexts := `[...document.querySelectorAll('#messages li.msg:not(.sending) .text')].map(e => e.textContent)`

	// A stranger without the link gets the sign-in page, not the app.
	base := strings.TrimSuffix(login.URL[:strings.Index(login.URL, "/login")], "/")
	run("open the page without logging in", chromedp.Navigate(base+"/"))
	waitJS("the sign-in text", `!document.getElementById('signin').hidden && document.getElementById('app').hidden`)

	// The one-time link logs in, then is spent.
	// As a desktop opens it: p2pchat web hands $BROWSER the login page it
	// wrote (a file), which forwards the browser to the one-time link.
	opened := filepath.Join(lab.dir, "opened")
	recorder := filepath.Join(lab.dir, "record-browser")
	if err := os.WriteFile(recorder, []byte("#!/bin/sh\nprintf %s \"$1\" > "+opened+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.runCLI(bin, alice.ns, alice.home, append(alice.env, "BROWSER="+recorder), "web"); err != nil {
		t.Fatal(err)
	}
	var page []byte
	waitFor(t, lab.ctx, 10*time.Second, "$BROWSER called", func() bool {
		page, _ = os.ReadFile(opened)
		return len(page) > 0
	})
	run("open the login page file", chromedp.Navigate("file://"+string(page)))
	waitJS("the app after login", `location.protocol === 'http:' && document.getElementById('app') !== null && !document.getElementById('app').hidden && location.pathname === '/' && location.search === ''`)
	// The link p2pchat web --url printed still works once, in a second
	// browser (a fresh profile would do; the test uses this one's next
	// navigation), and a used link is refused.
	run("open the printed link", chromedp.Navigate(login.URL))
	waitJS("the app after the printed link", `!document.getElementById('app').hidden && location.search === ''`)
	var status int
	eval(`fetch(`+jsString(login.URL)+`).then(r => r.status)`, &status)
	if status != 401 {
		t.Errorf("the login link used a second time: HTTP %d, want 401", status)
	}

	// Join a room from the page; bob joins it with the CLI.
	run("join "+roomName,
		chromedp.SendKeys(chromedp.ID("join-room"), roomName),
		chromedp.Click(chromedp.CSS(`#join-form button[type=submit]`)))
	waitJS("the room in the list", `document.querySelector('#rooms [data-room="`+roomName+`"]') !== null`)
	if _, err := cli(bob, "join", roomName); err != nil {
		t.Fatal(err)
	}
	waitJS("bob in the member list", `[...document.querySelectorAll('#members .who')].some(e => e.textContent.startsWith('<b>bob</b>#'))`)

	// Enter sends; bob's daemon stores it.
	mine := "hello from the browser " + randHex(3)
	run("type and send", chromedp.SendKeys(chromedp.ID("input"), mine), enter)
	waitFor(t, lab.ctx, 30*time.Second, "bob has the browser's message", func() bool {
		out, err := cli(bob, "history", roomName, "--json")
		return err == nil && strings.Contains(out, mine)
	})
	waitJS("own message shown as sent", `[...document.querySelectorAll('#messages li.msg.own')].some(li => li.querySelector('.text').textContent === `+jsString(mine)+` && /sent|seen/.test(li.querySelector('.state').textContent))`)

	// bob's messages appear live; HTML in them is text.
	attack := `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`
	for _, text := range []string{attack, "hey alice, look"} {
		if _, err := cli(bob, "send", roomName, text); err != nil {
			t.Fatal(err)
		}
	}
	waitJS("bob's messages live", msgTexts+`.includes(`+jsString(attack)+`) && `+msgTexts+`.includes('hey alice, look')`)
	var order struct {
		Joined int `json:"joined"`
		First  int `json:"first"`
	}
	eval(`(() => { const items = [...document.querySelectorAll('#messages li')];
		return {joined: items.findIndex(li => li.classList.contains('system') && li.textContent.startsWith('<b>bob</b>#') && li.textContent.endsWith(' joined')),
			first: items.findIndex(li => li.classList.contains('msg') && li.querySelector('.who').textContent.startsWith('<b>bob</b>#'))}; })()`, &order)
	if order.Joined < 0 || order.First < 0 || order.Joined > order.First {
		t.Errorf("bob's join notice at %d, his first message at %d: want the notice first", order.Joined, order.First)
	}
	var injected struct {
		Pwned   any  `json:"pwned"`
		Imgs    int  `json:"imgs"`
		Scripts int  `json:"scripts"`
		Bold    int  `json:"bold"`
		Mention bool `json:"mention"`
	}
	eval(`({pwned: window.__pwned ?? null, imgs: document.querySelectorAll('#app img').length,
		scripts: document.querySelectorAll('body script').length, bold: document.querySelectorAll('#app b').length,
		mention: [...document.querySelectorAll('#messages li.msg.mention .text')].some(e => e.textContent === 'hey alice, look')})`, &injected)
	if injected.Pwned != nil || injected.Imgs != 0 || injected.Scripts != 0 || injected.Bold != 0 {
		t.Errorf("HTML from the network became markup: %+v", injected)
	}
	if !injected.Mention {
		t.Errorf("a message naming alice is not marked as a mention")
	}

	// Verification: bob's fingerprint, as bob's machine prints it.
	run("open bob's verification",
		chromedp.Click(chromedp.CSS(`#members .member-button`)),
		chromedp.WaitVisible(chromedp.ID("verify-dialog")))
	var shown string
	eval(`document.getElementById('verify-theirs').textContent`, &shown)
	if shown != bobID.Fingerprint {
		t.Errorf("verification dialog shows %q, bob's fingerprint is %q", shown, bobID.Fingerprint)
	}
	run("verify bob", chromedp.SendKeys(chromedp.ID("verify-input"), strings.ToLower(bobID.Fingerprint)),
		chromedp.Click(chromedp.ID("verify-submit")))
	waitJS("bob verified", `document.getElementById('verify-result').textContent.endsWith('is verified.')`)
	run("close the dialog", chromedp.Click(chromedp.ID("verify-cancel")))
	waitJS("✓ after bob's name", `[...document.querySelectorAll('#members .member-button')].some(b => b.textContent.includes('✓'))`)
	if out, err := cli(alice, "peers", "--json"); err != nil || !strings.Contains(out, `"verified":true`) {
		t.Errorf("alice's node does not remember bob as verified: %q, %v", out, err)
	}

	// The event stream breaks (the network is down for the page): the page
	// says so, and after it, every message sent meanwhile shows once.
	offlineRule := func(off bool) func() error {
		return func() error {
			if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
				MatchedNetworkConditions: []*network.Conditions{{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}}})
			if err == nil {
				return nil
			}
			// Chromium 148 (Debian bookworm's, seen here) refuses these
			// parameters (-32602): the older command does the same.
			legacy := cdp.Command[map[string]any, cdp.Empty]{Method: "Network.emulateNetworkConditions"}
			if _, lerr := chromedp.Call(ctx, legacy, map[string]any{
				"offline": off, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}); lerr != nil {
				return fmt.Errorf("%w; Network.emulateNetworkConditions: %w", err, lerr)
			}
			return nil
		}
	}
	call("go offline", offlineRule(true))
	// Offline stops new requests only: cut the stream's connection too.
	port := login.Addr[strings.LastIndex(login.Addr, ":")+1:]
	if out, err := exec.CommandContext(lab.ctx, "ip", "netns", "exec", alice.ns, "ss", "-K", "-t", "sport", "=", ":"+port).CombinedOutput(); err != nil {
		t.Fatalf("ss -K (closing the page's connections): %v: %s", err, out)
	}
	waitJS("reconnecting shown", `document.getElementById('conn').textContent.startsWith('reconnecting')`)
	offline := []string{"while you were away 1 " + randHex(2), "while you were away 2 " + randHex(2)}
	for _, text := range offline {
		if _, err := cli(bob, "send", roomName, text); err != nil {
			t.Fatal(err)
		}
	}
	call("go online", offlineRule(false))
	waitJS("the messages sent meanwhile", `document.getElementById('conn').textContent === '' && `+
		msgTexts+`.filter(t => t === `+jsString(offline[0])+` || t === `+jsString(offline[1])+`).length === 2`)
	time.Sleep(time.Second) // a duplicate would come from the resumed stream right away
	var counts map[string]int
	eval(`(() => { const c = {}; for (const t of `+msgTexts+`) c[t] = (c[t] || 0) + 1; return c; })()`, &counts)
	for text, n := range counts {
		if n != 1 {
			t.Errorf("message %q shown %d times", text, n)
		}
	}

	// A reload keeps the session (the cookie) and shows the stored history.
	run("reload", chromedp.Reload())
	waitJS("history after reload", msgTexts+`.includes(`+jsString(mine)+`) && `+msgTexts+`.includes(`+jsString(offline[1])+`)`)

	// Search finds bob's message, with the match marked.
	run("search", chromedp.SendKeys(chromedp.ID("search"), "alice look\r"))
	waitJS("search hit", `[...document.querySelectorAll('#hits .hit')].some(h => h.textContent.includes('hey alice, look') && h.querySelector('mark') !== null)`)
	run("close results", chromedp.Click(chromedp.ID("results-close")))
	// HTML in a search hit is text too.
	// (Typing into the search box was shown above; this one is set directly.)
	eval(`(() => { document.getElementById('search').value = 'img onerror'; document.getElementById('search-form').requestSubmit(); return true; })()`, new(bool))
	waitJS("attack hit", `!document.getElementById('results').hidden && [...document.querySelectorAll('#hits .hit')].some(h =>
		h.querySelector('.snippet').textContent.includes('<img') && [...h.querySelectorAll('mark')].map(m => m.textContent).join(',') === 'img,onerror')`)
	eval(`({pwned: window.__pwned ?? null, imgs: document.querySelectorAll('#app img').length, scripts: document.querySelectorAll('body script').length})`, &injected)
	if injected.Pwned != nil || injected.Imgs != 0 || injected.Scripts != 0 {
		t.Errorf("HTML in a search hit became markup: %+v", injected)
	}
	run("Esc closes results", chromedp.KeyEvent(kb.Escape))
	waitJS("results closed", `document.getElementById('results').hidden && !document.getElementById('log').hidden`)

	// Keyboard only: Tab walks the join form in order.
	run("focus the room field", chromedp.Focus(chromedp.ID("join-room")), chromedp.KeyEvent("\t"))
	waitJS("Tab to the passphrase", `document.activeElement.id === 'join-pass'`)
	run("Tab", chromedp.KeyEvent("\t"))
	waitJS("Tab to Join", `document.activeElement.matches('#join-form button[type=submit]')`)

	// The system's dark theme.
	background := func() string {
		var bg string
		eval(`getComputedStyle(document.body).backgroundColor`, &bg)
		return bg
	}
	light := background()
	call("dark theme", func() error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	})
	if dark := background(); dark == light {
		t.Errorf("the page's background is %s in the light and the dark theme", dark)
	}
	call("light theme", func() error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}})
		return err
	})

	// Screenshots and the structure, at two sizes.
	// The main view: the search results that Esc closed stay closed.
	waitJS("the messages shown", `document.getElementById('results').hidden && !document.getElementById('log').hidden`)
	shots := os.Getenv("P2PCHAT_E2E_ARTIFACTS")
	if shots == "" {
		shots = t.TempDir()
	}
	shots = filepath.Join(shots, "web")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range []struct{ w, h int64 }{{1280, 800}, {390, 844}, {360, 640}} {
		run(fmt.Sprintf("size %dx%d", size.w, size.h),
			chromedp.EmulateViewport(size.w, size.h),
			chromedp.Sleep(300*time.Millisecond)) // layout
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			fail("screenshot", err)
		}
		f := filepath.Join(shots, fmt.Sprintf("main-%dx%d.png", size.w, size.h))
		if err := os.WriteFile(f, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", f)
		var layout struct {
			Overflow bool `json:"overflow"`
			Input    bool `json:"input"`
		}
		eval(`({overflow: document.documentElement.scrollWidth > window.innerWidth,
			input: (r => r.width > 0 && r.bottom <= window.innerHeight)(document.getElementById('input').getBoundingClientRect())})`, &layout)
		if layout.Overflow || !layout.Input {
			t.Errorf("at %dx%d: horizontal overflow %v, message box visible %v", size.w, size.h, layout.Overflow, layout.Input)
		}
	}
	run("back to desktop size", chromedp.EmulateViewport(1280, 800))
	var outline string
	eval(outlineJS, &outline)
	golden := filepath.Join("testdata", "web-outline.golden")
	if *updateWebGolden {
		if err := os.WriteFile(golden, []byte(outline), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if outline != string(want) {
		t.Errorf("the page's structure differs from %s (rerun with -update-web-golden if intended):\n%s", golden, outline)
	}
	var unnamed []string
	eval(unnamedJS, &unnamed)
	if len(unnamed) > 0 {
		t.Errorf("controls without an accessible name: %q", unnamed)
	}

	// A passphrase room: the passphrase leaves no trace in the page.
	const pass = "correct horse battery staple 7319"
	run("join a passphrase room",
		chromedp.SendKeys(chromedp.ID("join-room"), "vault"),
		chromedp.SendKeys(chromedp.ID("join-pass"), pass),
		chromedp.Click(chromedp.CSS(`#join-form button[type=submit]`)))
	waitJS("vault joined", `document.querySelector('#rooms [data-room="vault"]') !== null && document.getElementById('room-info').textContent.startsWith('passphrase room')`)
	var traces struct {
		HTML    bool `json:"html"`
		Values  bool `json:"values"`
		Storage bool `json:"storage"`
		Cookie  bool `json:"cookie"`
	}
	eval(`({html: document.documentElement.outerHTML.includes(`+jsString(pass)+`),
		values: [...document.querySelectorAll('input, textarea')].some(e => e.value.includes(`+jsString(pass)+`)),
		storage: JSON.stringify(localStorage).includes(`+jsString(pass)+`) || JSON.stringify(sessionStorage).includes(`+jsString(pass)+`),
		cookie: document.cookie.includes(`+jsString(pass)+`)})`, &traces)
	jar, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		fail("cookies", err)
	}
	for _, c := range jar.Cookies {
		if strings.Contains(c.Value, pass) {
			traces.Cookie = true
		}
		if c.Name == "p2pchat_session" && (!c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict) {
			t.Errorf("session cookie %+v: want HttpOnly and SameSite=Strict", c)
		}
	}
	if traces.HTML || traces.Values || traces.Storage || traces.Cookie {
		t.Errorf("the passphrase is still in the page: %+v", traces)
	}
	// Opt-in notifications (the browser's API stubbed to record them) say
	// who and where, never the text; the room with the mention counts it.
	eval(`(() => { window.__notes = [];
		window.Notification = class { constructor(title, o) { window.__notes.push({title, body: o.body}); }
			static get permission() { return 'granted'; } static requestPermission() { return Promise.resolve('granted'); } };
		return true; })()`, new(bool))
	run("notifications on", chromedp.Click(chromedp.ID("notify")))
	waitJS("notifications checked", `document.getElementById('notify').checked`)
	const ping = "alice: ping <u>secret text</u>"
	if _, err := cli(bob, "send", roomName, ping); err != nil {
		t.Fatal(err)
	}
	waitJS("mention badge on "+roomName, `(b => b && b.querySelector('.badge.mention')?.textContent === '1')(document.querySelector('#rooms [data-room="`+roomName+`"]'))`)
	var notes []struct{ Title, Body string }
	eval(`window.__notes`, &notes)
	if len(notes) != 1 || !strings.HasPrefix(notes[0].Title, "p2pchat: <b>bob</b>#") || notes[0].Body != "in "+roomName ||
		strings.Contains(notes[0].Title+notes[0].Body, "secret") {
		t.Errorf("notifications %+v: want one, naming bob and the room, without the text", notes)
	}
	// Alt-2 is the second room (vault, webroom): the badge goes.
	run("Alt-2", chromedp.KeyEvent("2", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	waitJS("Alt-2 switched", `document.getElementById('room-name').textContent === `+jsString(roomName)+` && !document.querySelector('#rooms .badge.mention')`)

	// Shift-Enter is a new line; /me is an action; // sends a slash.
	run("a two-line message", chromedp.SendKeys(chromedp.ID("input"), "line one"),
		chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierShift)),
		chromedp.SendKeys(chromedp.ID("input"), "line two"), enter,
		chromedp.SendKeys(chromedp.ID("input"), "/me waves"), enter,
		chromedp.SendKeys(chromedp.ID("input"), "//slash"), enter)
	var bobHistory string
	defer func() {
		if t.Failed() {
			t.Logf("bob's history:\n%s", bobHistory)
		}
	}()
	waitFor(t, lab.ctx, 30*time.Second, "bob has the typed messages", func() bool {
		out, err := cli(bob, "history", roomName, "--json")
		bobHistory = out
		return err == nil && strings.Contains(out, `"text":"line one\nline two"`) &&
			regexp.MustCompile(`"action":true[^}]*"text":"waves"|"text":"waves"[^}]*"action":true`).MatchString(out) && strings.Contains(out, `"text":"/slash"`)
	})

	// Replies, reactions, edits and deletes (issue 17). bob answers
	// alice's message and reacts to it: the page shows both.
	idOf := func(out, text string) string {
		for _, ln := range strings.Split(out, "\n") {
			var m struct{ ID, Text string }
			if json.Unmarshal([]byte(ln), &m) == nil && m.Text == text {
				return m.ID
			}
		}
		t.Fatalf("no message %q in %s", text, out)
		return ""
	}
	out, err = cli(bob, "history", roomName, "--json")
	if err != nil {
		t.Fatal(err)
	}
	mineID := idOf(out, mine)
	answer := "bob answers " + randHex(3)
	out, err = cli(bob, "send", "--json", "--reply-to", mineID, roomName, answer)
	if err != nil {
		t.Fatal(err)
	}
	answerID := idOf(out, answer)
	if _, err := cli(bob, "react", roomName, mineID, "🎉"); err != nil {
		t.Fatal(err)
	}
	byID := func(id string) string { return `document.querySelector('#messages li.msg[data-id="` + id + `"]')` }
	waitJS("bob's reply quotes alice's message", `(li => li && li.querySelector('.quote')?.textContent === `+jsString("↪ alice: "+mine)+`)(`+byID(answerID)+`)`)
	waitJS("bob's reaction", `(li => li && li.querySelector('.reactions button')?.textContent === '🎉 1')(`+byID(mineID)+`)`)
	// alice adds hers by clicking it; bob's node counts two.
	run("react by clicking the reaction", chromedp.Click(chromedp.CSS(`#messages li.msg[data-id="`+mineID+`"] .reactions button`)))
	waitJS("two reactions, ours pressed", `(b => b && b.textContent === '🎉 2' && b.getAttribute('aria-pressed') === 'true')(`+byID(mineID)+`?.querySelector('.reactions button'))`)
	reactors := regexp.MustCompile(`"reactions":\{"🎉":\["12D3[^"]+","12D3[^"]+"\]\}`)
	waitFor(t, lab.ctx, 20*time.Second, "bob's node has both reactions", func() bool {
		out, err := cli(bob, "history", roomName, "--json")
		return err == nil && reactors.MatchString(out)
	})
	// Reply from the page, edit it, delete it.
	clickAction := func(id, label string) {
		t.Helper()
		var ok bool
		eval(`(li => { const b = li && [...li.querySelectorAll('.actions button')].find(b => b.textContent === `+jsString(label)+`); if (b) b.click(); return !!b; })(`+byID(id)+`)`, &ok)
		if !ok {
			t.Fatalf("no %s button on message %s", label, id)
		}
	}
	clickAction(answerID, "Reply")
	waitJS("replying shown", `!document.getElementById('composing').hidden && document.getElementById('composing-text').textContent.startsWith('Replying to <b>bob</b>#')`)
	ours := "alice answers back " + randHex(3)
	run("type the reply", chromedp.SendKeys(chromedp.ID("input"), ours), enter)
	var oursID string
	waitFor(t, lab.ctx, 20*time.Second, "bob has alice's reply", func() bool {
		out, err := cli(bob, "history", roomName, "--json")
		if err != nil || !strings.Contains(out, `"reply_to":"`+answerID+`"`) || !strings.Contains(out, ours) {
			return false
		}
		oursID = idOf(out, ours)
		return true
	})
	waitJS("our reply shown with its quote", `(li => li && li.querySelector('.quote')?.textContent.startsWith('↪ <b>bob</b>: bob answers'))(`+byID(oursID)+`)`)
	clickAction(oursID, "Edit")
	waitJS("editing shown", `!document.getElementById('composing').hidden && document.getElementById('input').value === `+jsString(ours))
	fixed := "alice answers, fixed " + randHex(3)
	run("type the new text", chromedp.SetValue(chromedp.ID("input"), fixed), enter)
	waitFor(t, lab.ctx, 20*time.Second, "bob has the edit", func() bool {
		out, err := cli(bob, "history", roomName, "--json")
		return err == nil && regexp.MustCompile(`"edited":true[^}]*"id":"`+oursID+`"[^}]*"text":"`+regexp.QuoteMeta(fixed)+`"`).MatchString(out)
	})
	waitJS("the edit shown", `(li => li && li.querySelector('.text').textContent === `+jsString(fixed)+` && li.querySelector('.msg-head').textContent.includes('edited'))(`+byID(oursID)+`)`)
	eval(`(() => { window.confirm = () => true; return true; })()`, new(bool))
	clickAction(oursID, "Delete")
	waitJS("the delete shown", `(li => li && li.querySelector('.text.deleted')?.textContent === 'message deleted')(`+byID(oursID)+`)`)
	waitFor(t, lab.ctx, 20*time.Second, "bob's node deleted it", func() bool {
		out, err := cli(bob, "history", roomName, "--json")
		return err == nil && strings.Contains(out, `"deleted":true`) && !strings.Contains(out, fixed) && !strings.Contains(out, ours)
	})

	// /away in the page: bob's node lists alice away, then back.
	run("away", chromedp.SendKeys(chromedp.ID("input"), "/away in a meeting"), enter)
	waitFor(t, lab.ctx, 20*time.Second, "bob's node lists alice away", func() bool {
		out, err := cli(bob, "who", roomName, "--json")
		return err == nil && strings.Contains(out, `"away":"in a meeting"`)
	})
	waitJS("the page says so", `[...document.querySelectorAll('#messages li.system')].some(li => li.textContent.startsWith('you are away: in a meeting'))`)
	run("back", chromedp.SendKeys(chromedp.ID("input"), "/back"), enter)
	waitFor(t, lab.ctx, 20*time.Second, "bob's node lists alice back", func() bool {
		out, err := cli(bob, "who", roomName, "--json")
		return err == nil && strings.Contains(out, `"nick":"alice"`) && !strings.Contains(out, `"away":"in a meeting"`)
	})

	// Your own fingerprint, to read to others.
	run("own fingerprint", chromedp.Click(chromedp.ID("me-fp-button")), chromedp.WaitVisible(chromedp.ID("verify-dialog")))
	var ownFP string
	eval(`document.getElementById('verify-theirs').textContent`, &ownFP)
	if out, err := cli(alice, "id", "--json"); err != nil || !strings.Contains(out, `"fingerprint":"`+ownFP+`"`) || ownFP == "" {
		t.Errorf("the page shows %q as alice's fingerprint; p2pchat id: %s %v", ownFP, out, err)
	}
	run("close", chromedp.Click(chromedp.ID("verify-cancel")))

	// Older history loads on request.
	for i := range 55 {
		if _, err := cli(bob, "send", roomName, fmt.Sprintf("filler %02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitJS("the fillers", msgTexts+`.includes('filler 54')`)
	run("reload", chromedp.Reload())
	waitJS("50 messages and the older button", `!document.getElementById('older').hidden && `+msgTexts+`.length === 50`)
	run("load older", chromedp.Click(chromedp.ID("older")))
	waitJS("older messages", msgTexts+`.includes(`+jsString(mine)+`) && `+msgTexts+`.length > 50`)

	// An impostor: another key under bob's nick is marked, and said so.
	carolHome := filepath.Join(lab.dir, "home-impostor")
	carolRun := filepath.Join(lab.dir, "run-impostor")
	if err := os.Mkdir(carolRun, 0o700); err != nil {
		t.Fatal(err)
	}
	carolEnv := append(lab.e2eEnv(), "XDG_RUNTIME_DIR="+carolRun)
	lab.start("impostor", bob.ns, carolEnv, bin, "--home", carolHome, "daemon", "--nick", bob.nick, "--log-format", "json")
	waitFor(t, lab.ctx, 20*time.Second, "the impostor's daemon answers", func() bool {
		_, err := lab.runCLI(bin, bob.ns, carolHome, carolEnv, "join", roomName)
		return err == nil
	})
	waitJS("the impostor marked", `[...document.querySelectorAll('#members .member-button')].some(b =>
		b.textContent.startsWith('<b>bob</b>#') && !b.textContent.includes('✓') && b.querySelector('.mark.warn') !== null)`)
	waitJS("the impostor notice", `[...document.querySelectorAll('#messages li.system.error')].some(li => li.textContent.includes('uses a nick another key used before'))`)

	// Alone in a room, an own message is pending.
	run("join a room of one", chromedp.Clear(chromedp.ID("join-room")), chromedp.SendKeys(chromedp.ID("join-room"), "solo"),
		chromedp.Click(chromedp.CSS(`#join-form button[type=submit]`)))
	waitJS("solo ready", `document.getElementById('room-name').textContent === 'solo' && document.getElementById('room-info').textContent.includes('0 other members')`)
	// The message shows as "sending…" until the node answers (a
	// MutationObserver records it, however short the wait).
	eval(`(() => { window.__sending = false;
		new MutationObserver(() => { if (document.querySelector('#messages li.msg.sending .state.sending')) window.__sending = true; })
			.observe(document.getElementById('messages'), {childList: true, subtree: true});
		return true; })()`, new(bool))
	run("send alone", chromedp.SendKeys(chromedp.ID("input"), "anyone here?"), enter)
	// The node's event can reach the page before its answer to the send;
	// the placeholder goes with the answer.
	waitJS("pending shown, the placeholder gone", `[...document.querySelectorAll('#messages li.msg.own')].some(li => li.querySelector('.text').textContent === 'anyone here?' && li.querySelector('.state.pending') !== null) &&
		document.querySelectorAll('#messages li.sending').length === 0`)
	var seen bool
	eval(`window.__sending`, &seen)
	if !seen {
		t.Error("no sending placeholder was shown before the node answered")
	}

	// Leave: the room goes from the page and from the node.
	run("select vault", chromedp.KeyEvent("2", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	waitJS("vault current", `document.getElementById('room-name').textContent === 'vault'`)
	run("leave", chromedp.Click(chromedp.ID("leave-button")))
	waitJS("vault gone", `document.querySelector('#rooms [data-room="vault"]') === null && document.getElementById('room-name').textContent === 'solo'`)
	if out, err := cli(alice, "rooms", "--json"); err != nil || strings.Contains(out, `"vault"`) {
		t.Errorf("alice's node still in vault after Leave: %q, %v", out, err)
	}

	// The session's token lives in the page's origin storage, the cookie is
	// out of the page's reach; Log out ends both.
	var creds struct {
		Token  bool `json:"token"`
		Cookie bool `json:"cookie"`
	}
	eval(`({token: (localStorage.getItem('p2pchat-token') || '').length >= 26, cookie: document.cookie.includes('p2pchat_session')})`, &creds)
	if !creds.Token || creds.Cookie {
		t.Errorf("token in the origin's storage %v, session cookie visible to the page %v", creds.Token, creds.Cookie)
	}
	run("log out", chromedp.Click(chromedp.ID("logout-button")))
	waitJS("signed out", `!document.getElementById('signin').hidden && localStorage.getItem('p2pchat-token') === null`)
	run("reload after logout", chromedp.Reload())
	waitJS("still signed out", `document.getElementById('signin') !== null && !document.getElementById('signin').hidden`)
	out, err = cli(alice, "web", "--url", "--json")
	if err != nil || json.Unmarshal([]byte(out), &login) != nil {
		t.Fatalf("p2pchat web --url --json: %q, %v", out, err)
	}
	run("log in again", chromedp.Navigate(login.URL))
	waitJS("the app again", `document.getElementById('app') !== null && !document.getElementById('app').hidden`)

	// A restarted node knows no session: the page says so.
	daemon := lab.procs[0]
	if err := daemon.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := daemon.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("alice's daemon exited %d", code)
	}
	waitJS("reconnecting while the node is gone", `document.getElementById('conn').textContent.startsWith('reconnecting')`)
	lab.start("daemon-0-again", alice.ns, alice.env, bin, "--home", alice.home, "daemon", "--log-format", "json", "--web", login.Addr)
	waitJS("the sign-in text after the restart", `!document.getElementById('signin').hidden && document.getElementById('app').hidden`)

	failedMu.Lock()
	defer failedMu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("the page failed to load resources: %q", consoleErrors)
	}
}

// navigated reports whether err is DevTools saying that the JavaScript
// context it evaluated in went away with its document.
func navigated(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context with specified id") ||
		strings.Contains(msg, "Execution context was destroyed") ||
		strings.Contains(msg, "Inspected target navigated or closed")
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// outlineJS outlines the page's fixed structure: landmarks, headings,
// forms, controls and dialogs with their roles, labels and ids, one per
// line, indented by depth; the lists filled from the node (rooms,
// messages, members, hits) are left out.
const outlineJS = `(() => {
  const keep = new Set(['HEADER','NAV','MAIN','ASIDE','SECTION','FORM','BUTTON','INPUT','TEXTAREA','DIALOG','H1','H2','H3','LABEL','OL','UL']);
  const skip = new Set(['rooms','messages','members','hits']);
  const lines = [];
  const walk = (el, depth) => {
    for (const c of el.children) {
      let d = depth;
      if (keep.has(c.tagName) || c.getAttribute('role')) {
        let s = c.tagName.toLowerCase();
        if (c.id) s += '#' + c.id;
        for (const a of ['role','type','aria-label','aria-labelledby','aria-controls','aria-live','for','autocomplete']) {
          if (c.hasAttribute(a)) s += ' ' + a + '=' + JSON.stringify(c.getAttribute(a));
        }
        lines.push('  '.repeat(depth) + s);
        d = depth + 1;
      }
      if (!skip.has(c.id)) walk(c, d);
    }
  };
  walk(document.body, 0);
  return lines.join('\n') + '\n';
})()`

// unnamedJS lists the visible controls that have no accessible name.
const unnamedJS = `(() => {
  const out = [];
  for (const e of document.querySelectorAll('button, input, textarea, select')) {
    if (e.closest('[hidden]') || e.type === 'hidden') continue;
    const label = e.getAttribute('aria-label') || (e.id && document.querySelector('label[for="' + e.id + '"]')) || e.closest('label') || e.textContent.trim();
    if (!label) out.push(e.outerHTML.slice(0, 80));
  }
  return out;
})()`
