package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown flag", []string{"--bogus"}, "flag provided but not defined"},
		{"plain and json", []string{"--plain", "--json"}, "exclude"},
		{"bad nick", []string{"--nick", "a b", "--no-mdns"}, "nick"},
		{"bad peer", []string{"--peer", "/ip4/1.2.3.4/tcp/1", "--no-mdns"}, "--peer"},
		{"garbage peer", []string{"--peer", "nonsense", "--no-mdns"}, "--peer"},
		{"bad listen", []string{"--listen", "nonsense", "--no-mdns"}, "--listen"},
		{"bad log level", []string{"--log-level", "loud"}, "log-level"},
		{"bad room", []string{"--no-mdns", "/oops"}, "room"},
		{"id with args", []string{"id", "extra"}, "no arguments"},
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
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		for _, ev := range c.events {
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
