package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/internal/syncbuf"
	"github.com/p2pchat/p2pchat/room"
)

// TestNoDaemon: the commands that need a daemon exit with their own code
// when none runs, and say how to start one.
func TestNoDaemon(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	for _, args := range [][]string{{"status"}, {"rooms"}, {"peers"}, {"join", "lobby"}, {"leave", "lobby"}, {"send", "lobby", "hi"}, {"tail", "lobby"}} {
		t.Run(args[0], func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"--home", t.TempDir()}, args...), strings.NewReader(""), &stdout, &stderr)
			if code != exitNoDaemon {
				t.Errorf("exit %d, want %d; stderr %q", code, exitNoDaemon, stderr.String())
			}
			if !strings.Contains(stderr.String(), "p2pchat daemon") || stdout.Len() != 0 {
				t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
			}
		})
	}
}

// startDaemon runs p2pchat daemon for home in this process until the test
// ends, and returns a client of it.
func startDaemon(t *testing.T, home string, extra ...string) *api.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr syncbuf.Buffer
	go func() {
		args := append([]string{"--home", home, "daemon", "--nick", "alice", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0"}, extra...)
		done <- run(ctx, args, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("daemon exit %d; stderr:\n%s", code, stderr.String())
		}
	})
	o := &options{home: home}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := daemonClient(ctx, o, home)
		if err == nil {
			return c
		}
		if !errors.Is(err, api.ErrNoDaemon) || time.Now().After(deadline) {
			t.Fatalf("daemon not answering: %v; stderr:\n%s", err, stderr.String())
		}
		select {
		case code := <-done:
			t.Fatalf("daemon exited %d; stderr:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestAttach: plain p2pchat attaches line mode to a running daemon; its
// joins and messages go through the daemon, and quitting leaves the daemon
// in its rooms.
func TestAttach(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	home := filepath.Join(t.TempDir(), "home")
	c := startDaemon(t, home)

	ctx := context.Background()
	chat := startChat(t, ctx, "--home", home, "--json", "lobby")
	ready := chat.wait("ready", isEvent("ready"))
	self, err := c.Self(ctx)
	if err != nil || ready["peer_id"] != self.PeerID.String() {
		t.Errorf("ready %v is not the daemon's node %v (%v)", ready, self.PeerID, err)
	}
	chat.wait("joined", isEvent("joined", "room", "lobby", "kind", "open"))
	chat.send("hello via the daemon")
	chat.wait("own message", isEvent("message", "room", "lobby", "text", "hello via the daemon"))
	chat.send("/rooms")
	chat.wait("rooms", isEvent("rooms"))
	chat.stdin.Close()
	if code := chat.exit(); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	// The daemon is still in the room, and stored the message.
	if _, err := c.Room(ctx, "lobby"); err != nil {
		t.Errorf("daemon left lobby when the UI detached: %v", err)
	}
	msgs, err := c.History(ctx, "lobby", 0)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "hello via the daemon" {
		t.Errorf("daemon history %v, %v", msgs, err)
	}
	// --nick renames the daemon's node (as /nick would).
	chat2 := startChat(t, ctx, "--home", home, "--json", "--nick", "alicia")
	chat2.wait("ready", isEvent("ready"))
	chat2.stdin.Close()
	if code := chat2.exit(); code != exitOK {
		t.Fatalf("attach with --nick: exit %d", code)
	}
	if self, err := c.Self(ctx); err != nil || self.Nick != "alicia" {
		t.Errorf("daemon's nick after attaching with --nick alicia: %q, %v", self.Nick, err)
	}
	// Node flags belong to the daemon: refused when attaching.
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"--home", home, "--json", "--no-mdns", "lobby"}, strings.NewReader(""), &stdout, &stderr); code != exitUsage {
		t.Errorf("--no-mdns while a daemon runs: exit %d, stderr %q", code, stderr.String())
	}
	if _, err := c.Send(ctx, "nowhere", "x", false); !errors.Is(err, room.ErrNotJoined) {
		t.Errorf("send to a room not joined: %v", err)
	}
}

// TestTUICoreOnDaemon: the full-screen UI's core works on a daemon as on
// a node of its own: commands, snapshots (fetched in the background, so
// that Snapshot never blocks), sends and stored history.
func TestTUICoreOnDaemon(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	home := filepath.Join(t.TempDir(), "home")
	c := startDaemon(t, home)
	ctx := context.Background()
	self, err := c.Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	core := newTUICore(ctx, c, self, nil)
	defer core.stop()
	defer feedCore(c, core.event)()
	noPass := func(context.Context, string) ([]byte, error) { return nil, nil }
	if res := core.Command(ctx, "", "/join Lobby", noPass); res.Current != "lobby" || len(res.Output) != 0 {
		t.Fatalf("/join: %+v", res)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := core.Snapshot()
		if len(s.Rooms) == 1 && s.Rooms[0].Name == "lobby" && s.Rooms[0].Ready && s.Nick == "alice" && s.ID == self.PeerID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot never showed lobby ready: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	msg, err := core.Send(ctx, "lobby", "from the UI", false)
	if err != nil || !msg.Self || msg.Text != "from the UI" {
		t.Fatalf("send: %+v, %v", msg, err)
	}
	if _, err := core.Send(ctx, "nowhere", "x", false); !errors.Is(err, room.ErrNotJoined) {
		t.Errorf("send to a room not joined: %v", err)
	}
	hist, err := core.History(ctx, "lobby", 10)
	if err != nil || len(hist) != 1 || hist[0].ID != msg.ID {
		t.Errorf("history %v, %v", hist, err)
	}
	res := core.Command(ctx, "lobby", "/who", nil)
	if len(res.Output) != 1 || res.Output[0].Text != "[lobby] 0 other member(s)" {
		t.Errorf("/who: %+v", res.Output)
	}
}

// TestOneNodePerHome: a second node for a state directory that a chat (not
// a daemon) already uses is refused, instead of running with the same
// identity and database.
func TestOneNodePerHome(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	home := filepath.Join(t.TempDir(), "home")
	ctx := context.Background()
	first := startChat(t, ctx, "--home", home, "--json", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", "lobby")
	firstID := first.wait("ready", isEvent("ready"))["peer_id"].(string)
	// A second node for the home is refused; a plain p2pchat attaches to
	// the first one's API instead of starting a node.
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--home", home, "daemon", "--no-mdns"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitRuntime || !strings.Contains(stderr.String(), fmt.Sprintf("another p2pchat (pid %d) is running with state directory", os.Getpid())) {
		t.Errorf("daemon: exit %d, stderr %q", code, stderr.String())
	}
	stdout.Reset()
	if code := run(ctx, []string{"--home", home, "--json", "lobby"}, strings.NewReader(""), &stdout, io.Discard); code != exitOK || !strings.Contains(stdout.String(), `"peer_id":"`+firstID+`"`) {
		t.Errorf("plain p2pchat beside a running UI: exit %d, stdout %q; want it attached to that node", code, stdout.String())
	}
	first.stdin.Close()
	if code := first.exit(); code != exitOK {
		t.Errorf("first chat exit %d", code)
	}
}

// TestEmbeddedNodeServesAPI: while line mode (or the UI) runs a node of
// its own, p2pchat send, status and rooms work against it, and a message
// sent that way shows in the open session as our own.
func TestEmbeddedNodeServesAPI(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv(passphraseEnv, "")
	home := filepath.Join(t.TempDir(), "home")
	ctx := context.Background()
	chat := startChat(t, ctx, loopback("--home", home, "--nick", "alice", "lobby")...)
	id := chat.wait("ready", isEvent("ready"))["peer_id"].(string)
	chat.wait("joined lobby", isEvent("joined", "room", "lobby"))

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"--home", home, "status", "--json"}, strings.NewReader(""), &stdout, &stderr); code != exitOK ||
		!strings.Contains(stdout.String(), `"peer_id":"`+id+`"`) {
		t.Fatalf("status: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"--home", home, "send", "--wait", "20", "lobby", "hello from the CLI"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("send: exit %d, stderr %q", code, stderr.String())
	}
	ev := chat.wait("the CLI's message", isEvent("message", "text", "hello from the CLI"))
	if ev["self"] != true || ev["from"] != id || ev["room"] != "lobby" {
		t.Errorf("the CLI's message in the session: %v; want it as our own", ev)
	}
	chat.stdin.Close()
	if code := chat.exit(); code != exitOK {
		t.Errorf("exit %d", code)
	}
	// Quitting stops the node and its socket.
	if code := run(ctx, []string{"--home", home, "status"}, strings.NewReader(""), io.Discard, io.Discard); code != exitNoDaemon {
		t.Errorf("status after the session ended: exit %d, want %d", code, exitNoDaemon)
	}
}
