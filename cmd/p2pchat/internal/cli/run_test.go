package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown flag", []string{"--bogus"}, "unknown flag"},
		{"plain and json", []string{"--plain", "--json"}, "exclude"},
		{"bad nick", []string{"--nick", "a b", "--no-mdns"}, "nick"},
		{"bad peer", []string{"--peer", "/ip4/1.2.3.4/tcp/1", "--no-mdns"}, "--peer"},
		{"garbage peer", []string{"--peer", "nonsense", "--no-mdns"}, "--peer"},
		{"host:port peer", []string{"--peer", "10.79.0.1:35337", "--no-mdns"}, "it looks like /ip4/10.79.0.1/tcp/35337/p2p/"},
		{"peer says where to copy from", []string{"--peer", "nonsense", "--no-mdns"}, "listening on"},
		{"join wait not a duration", []string{"join", "lobby", "--wait", "soon"}, "not a number of seconds"},
		{"send wait negative", []string{"send", "lobby", "hi", "--wait", "-1"}, "cannot be negative"},
		{"bad listen", []string{"--listen", "nonsense", "--no-mdns"}, "--listen"},
		{"bad log level", []string{"--log-level", "loud"}, "log-level"},
		{"bad room", []string{"--no-mdns", "/oops"}, "room"},
		{"id with args", []string{"id", "extra"}, "no arguments"},
		{"send without room", []string{"send"}, "usage: p2pchat send ROOM"},
		{"daemon log format", []string{"daemon", "--log-format", "xml"}, "--log-format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"--home", t.TempDir()}, tt.args...)
			code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty: %q", stdout.String())
			}
		})
	}
}

func TestID(t *testing.T) {
	home := t.TempDir()
	ids := make([]map[string]any, 2)
	for i := range ids {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"id", "--json", "--home", home}, nil, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		if err := json.Unmarshal(stdout.Bytes(), &ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0]["peer_id"] == nil || ids[0]["peer_id"] != ids[1]["peer_id"] || ids[0]["fingerprint"] != ids[1]["fingerprint"] {
		t.Errorf("identity not stable across runs: %v, %v", ids[0], ids[1])
	}
	fi, err := os.Stat(filepath.Join(home, "identity.key"))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	var stdout bytes.Buffer
	run(context.Background(), []string{"version"}, nil, &stdout, io.Discard)
	if !strings.HasPrefix(stdout.String(), "p2pchat ") {
		t.Errorf("version: %q", stdout.String())
	}
}

func TestCorruptKeyRefused(t *testing.T) {
	home := t.TempDir()
	key := filepath.Join(home, "identity.key")
	if err := os.WriteFile(key, []byte("p2pchat identity v1\nseed AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--home", home, "--no-mdns", "lobby"}, strings.NewReader(""), io.Discard, &stderr)
	if code != exitRuntime {
		t.Fatalf("exit %d, want %d", code, exitRuntime)
	}
	msg := stderr.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "corrupted") || !strings.Contains(msg, key) {
		t.Errorf("want one line naming the file and the problem, got %q", msg)
	}
	if b, _ := os.ReadFile(key); string(b) != "p2pchat identity v1\nseed AAAA\n" {
		t.Error("corrupted key file was modified")
	}
}

// chatProc is run() in-process with piped stdin/stdout.
type chatProc struct {
	t     *testing.T
	stdin *io.PipeWriter
	code  chan int

	mu     sync.Mutex
	events []map[string]any
	wake   chan struct{}
}

func startChat(t *testing.T, ctx context.Context, args ...string) *chatProc {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &chatProc{t: t, stdin: inW, code: make(chan int, 1), wake: make(chan struct{}, 1)}
	go func() {
		code := run(ctx, args, inR, outW, io.Discard)
		outW.Close()
		inR.Close()
		c.code <- code
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("stdout line is not JSON: %q", sc.Text())
				continue
			}
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
	}()
	return c
}

func (c *chatProc) wait(what string, f func(map[string]any) bool) map[string]any {
	c.t.Helper()
	return c.waitFrom(what, 0, f)
}

// waitFrom waits for an event after the first n that satisfies f.
func (c *chatProc) waitFrom(what string, n int, f func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		for _, ev := range c.events[n:] {
			if f(ev) {
				c.mu.Unlock()
				return ev
			}
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t.Fatalf("timed out waiting for %s; events: %v", what, c.events)
		}
	}
}

func (c *chatProc) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *chatProc) exit() int {
	select {
	case code := <-c.code:
		return code
	case <-time.After(15 * time.Second):
		c.t.Fatal("did not exit")
		return -1
	}
}

func isEvent(typ string, kv ...string) func(map[string]any) bool {
	return func(ev map[string]any) bool {
		if ev["type"] != typ {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if ev[kv[i]] != kv[i+1] {
				return false
			}
		}
		return true
	}
}

// TestChatInProcess runs two whole programs in this process over loopback:
// they chat, answer commands, and shut down cleanly on stdin EOF and on
// cancellation (what SIGINT/SIGTERM do), leaving no goroutine behind.
func TestChatInProcess(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := startChat(t, context.Background(), "--json", "--no-mdns", "--home", t.TempDir(), "--nick", "alice", "--listen", "/ip4/127.0.0.1/tcp/0", "Lobby")
	ready := a.wait("ready", isEvent("ready"))
	addrs := ready["addrs"].([]any)
	aID := ready["peer_id"].(string)
	b := startChat(t, ctx, "--json", "--no-mdns", "--home", t.TempDir(), "--nick", "bob", "--listen", "/ip4/127.0.0.1/tcp/0", "--peer", addrs[0].(string), "lobby")
	bID := b.wait("ready", isEvent("ready"))["peer_id"].(string)

	a.wait("joined", isEvent("joined", "room", "lobby"))
	a.wait("bob joins", isEvent("member_joined", "peer_id", bID, "nick", "bob"))
	b.wait("alice joins", isEvent("member_joined", "peer_id", aID, "nick", "alice"))
	a.send("hello bob")
	b.send("/me waves")
	b.send("//slash")
	msg := b.wait("alice's message", isEvent("message", "text", "hello bob"))
	if msg["from"] != aID || msg["self"] != false || msg["room"] != "lobby" || msg["nick"] != "alice" {
		t.Errorf("message event %v", msg)
	}
	if _, err := time.Parse(time.RFC3339, msg["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
	a.wait("own message", isEvent("message", "text", "hello bob", "from", aID))
	if ev := a.wait("action", isEvent("message", "text", "waves")); ev["action"] != true {
		t.Errorf("action not marked: %v", ev)
	}
	a.wait("slash line", isEvent("message", "text", "/slash"))
	a.send("/who")
	who := a.wait("who", isEvent("who"))
	if ms := who["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["peer_id"] != bID {
		t.Errorf("who: %v", who)
	}
	a.send("/nosuchcommand")
	a.wait("error", func(ev map[string]any) bool {
		return ev["type"] == "error" && strings.Contains(ev["error"].(string), "/help")
	})
	a.send(strings.Repeat("x", 16<<10+1))
	a.wait("too long", func(ev map[string]any) bool {
		return ev["type"] == "error" && strings.Contains(ev["error"].(string), "not sent")
	})
	a.send("/status")
	st := a.wait("status", isEvent("status"))
	if rooms := st["rooms"].([]any); len(rooms) != 1 || rooms[0].(map[string]any)["kind"] != "open" {
		t.Errorf("status: %v", st)
	}

	// bob is stopped the way a signal stops it; alice sees him leave.
	cancel()
	if code := b.exit(); code != exitOK {
		t.Errorf("bob exit %d", code)
	}
	a.wait("bob leaves", isEvent("member_left", "peer_id", bID, "reason", "left"))
	// alice's stdin ends.
	a.stdin.Close()
	if code := a.exit(); code != exitOK {
		t.Errorf("alice exit %d", code)
	}
	var now int
	for range 100 {
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("goroutines: %d before, %d after both exited\n%s", before, now, buf[:runtime.Stack(buf, true)])
}

func TestReadPassphraseFile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"newline", "correct horse\n", "correct horse", false},
		{"crlf", "correct horse\r\n", "correct horse", false},
		{"no newline", "correct horse", "correct horse", false},
		{"only one newline removed", "a\n\n", "a\n", false},
		{"spaces kept", " a b ", " a b ", false},
		{"longest", strings.Repeat("p", 1024) + "\r\n", strings.Repeat("p", 1024), false},
		{"empty", "", "", true},
		{"just a newline", "\n", "", true},
		{"too long", strings.Repeat("p", 1025), "", true},
		{"much too long", strings.Repeat("p", 1<<20), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeTemp(t, tt.in)
			got, err := readPassphraseFile(f)
			if tt.wantErr {
				var u usageError
				if !errors.As(err, &u) {
					t.Fatalf("got %q, %v; want a usage error", got, err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPassphraseFileErrors: an empty passphrase is a usage error, an
// unreadable file a runtime error, and neither starts a node.
func TestPassphraseFileErrors(t *testing.T) {
	t.Setenv(passphraseEnv, "")
	tests := []struct {
		name string
		file string
		code int
		want string
	}{
		{"empty", writeTemp(t, ""), exitUsage, "empty"},
		{"newline only", writeTemp(t, "\r\n"), exitUsage, "empty"},
		{"missing", filepath.Join(t.TempDir(), "nope"), exitRuntime, "nope"},
		{"directory", t.TempDir(), exitRuntime, "--passphrase-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"--home", t.TempDir(), "--no-mdns", "--json", "--passphrase-file", tt.file, "vault"}, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q: want one line mentioning %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty: %q", stdout.String())
			}
		})
	}
}

func TestCorruptStoreRefused(t *testing.T) {
	home := t.TempDir()
	db := filepath.Join(home, "p2pchat.db")
	junk := []byte("this is not a database, and it must stay as it is\n")
	if err := os.WriteFile(db, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--home", home, "--no-mdns", "lobby"}, strings.NewReader(""), io.Discard, &stderr)
	if code != exitRuntime {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitRuntime, stderr.String())
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, db) {
		t.Errorf("want one line naming the file, got %q", msg)
	}
	if b, _ := os.ReadFile(db); !bytes.Equal(b, junk) {
		t.Error("corrupt database was modified")
	}
}

func TestPrinterEvents(t *testing.T) {
	const (
		bob = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
		old = "12D3KooWSoJ5VB5TVFsZHmzEeaJjHczZZxzzkDJ7Gz6n9ZmJ8uKA"
	)
	bobID, err := peer.Decode(bob)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		ev    room.Event
		plain string
		json  map[string]any
	}{
		{"key changed verified",
			room.Event{Type: room.EventKeyChanged, Room: "lobby", Peer: bobID, Nick: "bob", Short: "ab12c", OldPeer: old, OldVerified: true},
			"!!! [lobby] bob#ab12c uses the nick of a different key than before (was bob#c2m3s, verified) — verify before trusting\n",
			map[string]any{"type": "key_changed", "room": "lobby", "peer_id": bob, "nick": "bob", "fp": "ab12c", "old_peer_id": old, "old_verified": true}},
		{"key changed unverified",
			room.Event{Type: room.EventKeyChanged, Room: "lobby", Peer: bobID, Nick: "bob\x1b[2J", Short: "ab12c", OldPeer: old},
			"!!! [lobby] bob\\x1b[2J#ab12c uses the nick of a different key than before (was bob\\x1b[2J#c2m3s) — verify before trusting\n",
			map[string]any{"type": "key_changed", "room": "lobby", "peer_id": bob, "nick": "bob\x1b[2J", "fp": "ab12c", "old_peer_id": old, "old_verified": false}},
		{"error with reason",
			room.Event{Type: room.EventError, Room: "vault", Peer: bobID, Reason: "wrong_passphrase", Err: errors.New("refused")},
			"! [vault] refused\n",
			map[string]any{"type": "error", "room": "vault", "peer_id": bob, "reason": "wrong_passphrase", "error": "refused"}},
		{"error without reason",
			room.Event{Type: room.EventError, Err: errors.New("oops")},
			"! oops\n",
			map[string]any{"type": "error", "error": "oops"}},
		{"member joined without manager",
			room.Event{Type: room.EventMemberJoined, Room: "lobby", Peer: bobID, Nick: "bob", Short: "ab12c"},
			"* [lobby] bob#ab12c joined\n",
			map[string]any{"type": "member_joined", "room": "lobby", "peer_id": bob, "nick": "bob", "fp": "ab12c", "verified": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var plain, js bytes.Buffer
			newPrinter(&plain, false).event(tt.ev)
			newPrinter(&js, true).event(tt.ev)
			if plain.String() != tt.plain {
				t.Errorf("plain:\n got %q\nwant %q", plain.String(), tt.plain)
			}
			var got map[string]any
			if err := json.Unmarshal(js.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.json) {
				t.Errorf("json:\n got %v\nwant %v", got, tt.json)
			}
		})
	}
}

// notSeen fails if any event so far matches f.
func (c *chatProc) notSeen(what string, f func(map[string]any) bool) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.events {
		if f(ev) {
			c.t.Errorf("unexpected %s: %v", what, ev)
		}
	}
}

// command sends line and waits for the first answer of type typ that
// arrives after it and satisfies f.
func (c *chatProc) command(line, typ string, f func(map[string]any) bool) map[string]any {
	c.t.Helper()
	c.mu.Lock()
	n := len(c.events)
	c.mu.Unlock()
	c.send(line)
	return c.waitFrom(line, n, func(ev map[string]any) bool {
		return ev["type"] == typ && (f == nil || f(ev))
	})
}

func anyEvent(typ string, f func(map[string]any) bool) func(map[string]any) bool {
	return func(ev map[string]any) bool { return ev["type"] == typ && f(ev) }
}

// unreadable asks c for its status and returns the envelopes its only room
// buffered or dropped.
func unreadable(c *chatProc) float64 {
	c.t.Helper()
	r := c.command("/status", "status", nil)["rooms"].([]any)[0].(map[string]any)
	n := r["buffered"].(float64)
	for _, v := range r["dropped"].(map[string]any) {
		n += v.(float64)
	}
	return n
}

func loopback(args ...string) []string {
	return append([]string{"--json", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0"}, args...)
}

// TestPassphraseRoom: two nodes with the same passphrase file meet in a
// passphrase room; a third with another passphrase is kept out of it; a
// restarted node rejoins with the secret it stored.
func TestPassphraseRoom(t *testing.T) {
	t.Setenv(passphraseEnv, "")
	pass := writeTemp(t, "correct horse battery staple\n")
	wrong := writeTemp(t, "correct horse battery stapler\n")
	homeA := t.TempDir()

	a := startChat(t, context.Background(), loopback("--home", homeA, "--nick", "alice", "--passphrase-file", pass, "Vault")...)
	ready := a.wait("ready", isEvent("ready"))
	aAddr, aID := ready["addrs"].([]any)[0].(string), ready["peer_id"].(string)
	b := startChat(t, context.Background(), loopback("--home", t.TempDir(), "--nick", "bob", "--passphrase-file", pass, "--peer", aAddr, "vault")...)
	ready = b.wait("ready", isEvent("ready"))
	bAddr, bID := ready["addrs"].([]any)[0].(string), ready["peer_id"].(string)

	// (a) they meet, and say it is a passphrase room.
	if ev := a.wait("joined", isEvent("joined", "room", "vault")); ev["kind"] != "passphrase" {
		t.Errorf("joined: %v", ev)
	}
	a.wait("bob joins", isEvent("member_joined", "peer_id", bID, "nick", "bob"))
	b.wait("alice joins", isEvent("member_joined", "peer_id", aID, "nick", "alice"))
	a.send("behind the door")
	b.wait("alice's message", isEvent("message", "text", "behind the door", "from", aID))
	st := b.command("/status", "status", nil)
	rooms := st["rooms"].([]any)
	if len(rooms) != 1 {
		t.Fatalf("status: %v", st)
	}
	r := rooms[0].(map[string]any)
	if r["room"] != "vault" || r["kind"] != "passphrase" || r["ready"] != true || r["roster"] != 2.0 || r["buffered"] == nil {
		t.Errorf("status room: %v", r)
	}

	// (b) carol has another passphrase: alice refuses her.
	c := startChat(t, context.Background(), loopback("--home", t.TempDir(), "--nick", "carol", "--passphrase-file", wrong, "--peer", aAddr, "vault")...)
	cID := c.wait("ready", isEvent("ready"))["peer_id"].(string)
	c.wait("wrong passphrase", isEvent("error", "room", "vault", "reason", "wrong_passphrase"))
	// Let carol keep trying for a while (she ends up alone with a key of
	// her own), then talk in front of her.
	time.Sleep(2 * time.Second)
	before := unreadable(c)
	a.send("marker for members only")
	b.wait("marker", isEvent("message", "text", "marker for members only"))
	// Wait (bounded) until alice's envelope has reached carol's node, where
	// it can only be buffered or dropped.
	for i := 0; i < 50 && unreadable(c) == before; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	c.notSeen("member for carol", isEvent("member_joined"))
	c.notSeen("message for carol", isEvent("message", "text", "marker for members only"))
	c.notSeen("message for carol", isEvent("message", "text", "behind the door"))
	a.notSeen("carol in alice's room", isEvent("member_joined", "peer_id", cID))
	b.notSeen("carol in bob's room", isEvent("member_joined", "peer_id", cID))
	c.stdin.Close()
	if code := c.exit(); code != exitOK {
		t.Errorf("carol exit %d", code)
	}

	// (c) alice quits and comes back without a passphrase: the stored
	// secret lets her in again.
	a.stdin.Close()
	if code := a.exit(); code != exitOK {
		t.Errorf("alice exit %d", code)
	}
	b.wait("alice leaves", isEvent("member_left", "peer_id", aID))
	a2 := startChat(t, context.Background(), loopback("--home", homeA, "--nick", "alice", "--peer", bAddr, "vault")...)
	if ev := a2.wait("joined", isEvent("joined", "room", "vault")); ev["kind"] != "passphrase" {
		t.Errorf("rejoined: %v", ev)
	}
	a2.wait("bob again", isEvent("member_joined", "peer_id", bID))
	a2.send("back again")
	b.wait("alice's message after the restart", isEvent("message", "text", "back again", "from", aID))

	a2.stdin.Close()
	b.stdin.Close()
	for _, p := range []*chatProc{a2, b} {
		if code := p.exit(); code != exitOK {
			t.Errorf("exit %d", code)
		}
	}
}

// TestVerify: /verify checks fingerprints and /who shows the result; a new
// key under a verified nick is flagged. The passphrase comes from
// $P2PCHAT_PASSPHRASE and from a /join -p line.
func TestVerify(t *testing.T) {
	t.Setenv(passphraseEnv, "s3cret words")
	a := startChat(t, context.Background(), loopback("--home", t.TempDir(), "--nick", "alice", "keys")...)
	ready := a.wait("ready", isEvent("ready"))
	aAddr, aID, aFP := ready["addrs"].([]any)[0].(string), ready["peer_id"].(string), ready["fingerprint"].(string)
	b := startChat(t, context.Background(), loopback("--home", t.TempDir(), "--nick", "bob", "--peer", aAddr, "other")...)
	ready = b.wait("ready", isEvent("ready"))
	bID, bFP := ready["peer_id"].(string), ready["fingerprint"].(string)
	if ev := b.wait("other", isEvent("joined", "room", "other")); ev["kind"] != "passphrase" {
		t.Errorf("$%s not applied: %v", passphraseEnv, ev)
	}
	b.send("/join -p keys")
	b.send("s3cret words")
	if ev := b.wait("keys", isEvent("joined", "room", "keys")); ev["kind"] != "passphrase" {
		t.Errorf("joined: %v", ev)
	}
	if ev := a.wait("bob", isEvent("member_joined", "peer_id", bID)); ev["verified"] != false {
		t.Errorf("member_joined: %v", ev)
	}
	b.wait("alice", isEvent("member_joined", "peer_id", aID))

	fp := a.command("/verify bob", "fingerprint", nil)
	if fp["peer_id"] != bID || fp["fingerprint"] != bFP || fp["verified"] != false || fp["room"] != "keys" {
		t.Errorf("fingerprint: %v", fp)
	}
	// alice's own fingerprint is well-formed but not bob's.
	mismatch := a.command("/verify bob "+aFP, "error", nil)
	if mismatch["reason"] != "fingerprint_mismatch" || mismatch["peer_id"] != bID || !strings.Contains(mismatch["error"].(string), "differ") {
		t.Errorf("mismatch: %v", mismatch)
	}
	if who := a.command("/who", "who", nil); who["members"].([]any)[0].(map[string]any)["verified"] != false ||
		who["members"].([]any)[0].(map[string]any)["mismatch"] != true {
		t.Errorf("verified, or not marked a mismatch, after a mismatch: %v", who)
	}
	v := a.command("/verify bob#"+strings.ToUpper(fp["fp"].(string))+" "+strings.ToLower(bFP), "verified", nil)
	if v["peer_id"] != bID || v["nick"] != "bob" || v["fp"] != fp["fp"] || v["fingerprint"] != bFP || v["room"] != "keys" {
		t.Errorf("verified: %v", v)
	}
	who := a.command("/who", "who", nil)
	if ms := who["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["verified"] != true || ms[0].(map[string]any)["mismatch"] != false {
		t.Errorf("who after /verify: %v", who)
	}
	// A typo in the last character names bob and the group to look at.
	typo := bFP[:len(bFP)-1] + map[bool]string{true: "B", false: "A"}[bFP[len(bFP)-1] == 'A']
	bad := a.command("/verify bob "+typo, "error", nil)
	if msg := bad["error"].(string); !strings.Contains(msg, "verify bob#"+fp["fp"].(string)+": ") ||
		!strings.Contains(msg, "group 8 (characters 50–56) does not match: typo?") || strings.Contains(msg, "identity:") || strings.Contains(msg, bID) {
		t.Errorf("typo: %v", bad)
	}
	// Another key's fingerprint clears the verification.
	a.command("/verify bob "+aFP, "error", nil)
	if who := a.command("/who", "who", nil); who["members"].([]any)[0].(map[string]any)["verified"] != false {
		t.Errorf("still verified after a mismatch: %v", who)
	}
	// The safety number is the same on both sides and verifies too.
	sn, _ := fp["safety_number"].(string)
	if other := b.command("/verify alice", "fingerprint", nil)["safety_number"]; sn == "" || other != sn {
		t.Errorf("safety numbers: alice sees %q, bob %v", sn, other)
	}
	// A wrong safety number (every group off by one) verifies nothing.
	var wrongSN []string
	for _, g := range strings.Fields(sn) {
		wrongSN = append(wrongSN, fmt.Sprintf("%05d", (atoi(t, g)+1)%100000))
	}
	if e := a.command("/verify bob "+strings.Join(wrongSN, " "), "error", nil); e["reason"] != "fingerprint_mismatch" {
		t.Errorf("a wrong safety number: %v", e)
	}
	if who := a.command("/who", "who", nil); who["members"].([]any)[0].(map[string]any)["verified"] != false {
		t.Errorf("verified by a wrong safety number: %v", who)
	}
	if v := a.command("/verify bob "+sn, "verified", nil); v["peer_id"] != bID {
		t.Errorf("verify by safety number: %v", v)
	}

	// Another key calls itself bob.
	b2 := startChat(t, context.Background(), loopback("--home", t.TempDir(), "--nick", "bob", "--peer", aAddr, "keys")...)
	b2ID := b2.wait("ready", isEvent("ready"))["peer_id"].(string)
	kc := a.wait("key change", isEvent("key_changed", "peer_id", b2ID))
	if kc["room"] != "keys" || kc["nick"] != "bob" || kc["old_peer_id"] != bID || kc["old_verified"] != true {
		t.Errorf("key_changed: %v", kc)
	}
	if ev := a.wait("second bob", isEvent("member_joined", "peer_id", b2ID)); ev["verified"] != false {
		t.Errorf("member_joined: %v", ev)
	}
	amb := a.command("/verify bob", "error", nil)
	if msg := amb["error"].(string); !strings.Contains(msg, bID) || !strings.Contains(msg, b2ID) {
		t.Errorf("ambiguous: %v", amb)
	}
	if v := a.command("/verify "+bID, "fingerprint", nil); v["verified"] != true {
		t.Errorf("by peer id: %v", v)
	}

	for _, p := range []*chatProc{a, b, b2} {
		p.notSeen("passphrase sent as a message", anyEvent("message", func(ev map[string]any) bool {
			return strings.Contains(ev["text"].(string), "s3cret")
		}))
		p.stdin.Close()
		if code := p.exit(); code != exitOK {
			t.Errorf("exit %d", code)
		}
	}
}

// TestSingleDashFlags: the single-dash long flags that v0.1–v0.4 accepted
// (the standard flag package's syntax) still work.
func TestSingleDashFlags(t *testing.T) {
	home := t.TempDir()
	var a, b bytes.Buffer
	if code := run(context.Background(), []string{"-home", home, "id", "-json"}, strings.NewReader(""), &a, io.Discard); code != exitOK {
		t.Fatalf("-home … id -json: exit %d", code)
	}
	if code := run(context.Background(), []string{"--home=" + home, "id", "--json"}, strings.NewReader(""), &b, io.Discard); code != exitOK {
		t.Fatalf("--home=… id --json: exit %d", code)
	}
	if a.String() != b.String() || !strings.Contains(a.String(), `"type":"id"`) {
		t.Errorf("single dash %q, double dash %q", a.String(), b.String())
	}
	// After --, nothing is a flag: a room may be called -json. Unknown
	// names and shorthands are left to the parser.
	root := newRootCmd(&options{}, strings.NewReader(""), io.Discard, io.Discard)
	got := compatArgs(root, []string{"-nick", "a", "-n", "5", "-bogus", "-listen=/ip4/1.2.3.4/tcp/1", "--", "-json"})
	want := []string{"--nick", "a", "-n", "5", "-bogus", "--listen=/ip4/1.2.3.4/tcp/1", "--", "-json"}
	if !slices.Equal(got, want) {
		t.Errorf("compatArgs = %q, want %q", got, want)
	}
}

// TestManAndCompletion: the man pages and the shell completion scripts are
// generated from the commands.
func TestManAndCompletion(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"man", "--dir", dir}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("man: exit %d: %s", code, stderr.String())
	}
	for page, want := range map[string]string{"p2pchat.1": "daemon", "p2pchat-daemon.1": "SIGTERM", "p2pchat-send.1": "stdin"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("man page %s: %v", page, err)
			continue
		}
		if !bytes.Contains(b, []byte(".TH")) || !bytes.Contains(b, []byte(want)) {
			t.Errorf("man page %s lacks .TH or %q", page, want)
		}
	}
	for shell, want := range map[string]string{"bash": "__start_p2pchat", "zsh": "#compdef p2pchat", "fish": "complete -c p2pchat"} {
		stdout.Reset()
		if code := run(context.Background(), []string{"completion", shell}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
			t.Errorf("completion %s: exit %d", shell, code)
		}
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("completion %s lacks %q", shell, want)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
