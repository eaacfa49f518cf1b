package cli

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/store"
)

func runLines(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
	}
	var out []map[string]any
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%v: not JSON: %q", args, sc.Text())
		}
		out = append(out, ev)
	}
	return out
}

// TestHistoryCommands: after a chat, history, search and export read the
// database back, in order, with verifiable records.
func TestHistoryCommands(t *testing.T) {
	dir := t.TempDir()
	ha, hb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a := startChat(t, context.Background(), "--json", "--no-mdns", "--home", ha, "--nick", "alice", "--listen", "/ip4/127.0.0.1/tcp/0", "lobby")
	addr := a.wait("ready", isEvent("ready"))["addrs"].([]any)[0].(string)
	b := startChat(t, context.Background(), "--json", "--no-mdns", "--home", hb, "--nick", "bob", "--listen", "/ip4/127.0.0.1/tcp/0", "--peer", addr, "lobby")
	bID := b.wait("ready", isEvent("ready"))["peer_id"].(string)
	a.wait("bob", isEvent("member_joined", "peer_id", bID))
	for _, text := range []string{"the first zebra", "a second message", "zebra crossing"} {
		a.send(text)
		b.wait(text, isEvent("message", "text", text))
	}
	ev := b.wait("seq", isEvent("message", "text", "a second message"))
	if ev["seq"] != float64(2) {
		t.Errorf("seq %v, want 2", ev["seq"])
	}
	own := a.wait("own", isEvent("message", "text", "zebra crossing"))
	if own["state"] != string(room.StateSent) {
		t.Errorf("own message state %v, want sent", own["state"])
	}
	a.stdin.Close()
	b.stdin.Close()
	a.exit()
	b.exit()

	h := runLines(t, "history", "LOBBY", "--json", "--home", hb)
	if len(h) != 3 || h[0]["text"] != "the first zebra" || h[2]["text"] != "zebra crossing" {
		t.Fatalf("history: %v", h)
	}
	if last := runLines(t, "history", "lobby", "--json", "-n", "1", "--home", hb); len(last) != 1 || last[0]["text"] != "zebra crossing" {
		t.Errorf("history -n 1: %v", last)
	}
	hits := runLines(t, "search", "zebra", "--json", "--home", hb)
	if len(hits) != 2 || !strings.Contains(hits[0]["snippet"].(string), "[zebra]") {
		t.Errorf("search: %v", hits)
	}
	for _, e := range runLines(t, "export", "lobby", "--json", "--home", ha) {
		rec, err := base64.StdEncoding.DecodeString(e["record"].(string))
		if err != nil {
			t.Fatal(err)
		}
		m, err := room.VerifyRecord(rec)
		if err != nil || m.Text != e["text"] || m.ID != e["id"] {
			t.Errorf("exported record does not verify as %v: %v", e["text"], err)
		}
		rec[len(rec)-70] ^= 1
		if _, err := room.VerifyRecord(rec); err == nil {
			t.Error("altered exported record verifies")
		}
	}
	// One altered record: the others are still shown, with one warning.
	alterRecord(t, hb, "a second message")
	for _, args := range [][]string{{"history", "lobby"}, {"export", "lobby"}, {"search", "zebra"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append(args, "--json", "--home", hb), nil, &stdout, &stderr); code != exitOK {
			t.Errorf("%v with an altered record: exit %d: %s", args, code, stderr.String())
		}
		if n := strings.Count(stdout.String(), "\n"); n != 2 {
			t.Errorf("%v with an altered record: %d messages, want 2", args, n)
		}
		if args[0] != "search" && strings.Count(stderr.String(), "warning: 1 stored messages were left out") != 1 {
			t.Errorf("%v with an altered record: stderr %q", args, stderr.String())
		}
	}
	for _, args := range [][]string{{"history"}, {"export", "lobby"}, {"search", "--room", "/bad", "x"}} {
		if code := run(context.Background(), append(args, "--home", ha), nil, io.Discard, io.Discard); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestHistoryInChat(t *testing.T) {
	dir := t.TempDir()
	a := startChat(t, context.Background(), "--json", "--no-mdns", "--home", filepath.Join(dir, "a"), "--nick", "alice", "--listen", "/ip4/127.0.0.1/tcp/0", "lobby")
	a.wait("joined", isEvent("joined"))
	for _, text := range []string{"one fish", "two fish", "red fish"} {
		a.send(text)
		a.wait(text, isEvent("message", "text", text))
	}
	a.send("/history 2")
	end := a.wait("history end", isEvent("history_end"))
	if end["count"] != float64(2) {
		t.Errorf("history count %v", end["count"])
	}
	h := a.wait("history", isEvent("history", "text", "two fish"))
	if h["seq"] != float64(2) {
		t.Errorf("history seq %v", h["seq"])
	}
	a.send("/search red")
	hit := a.wait("hit", isEvent("search_hit", "text", "red fish"))
	if !strings.Contains(hit["snippet"].(string), "[red]") {
		t.Errorf("snippet %v", hit["snippet"])
	}
	a.stdin.Close()
	if code := a.exit(); code != exitOK {
		t.Errorf("exit %d", code)
	}
}

func TestNickRemembered(t *testing.T) {
	home := t.TempDir()
	a := startChat(t, context.Background(), "--json", "--no-mdns", "--home", home, "--nick", "alice", "--listen", "/ip4/127.0.0.1/tcp/0", "lobby")
	a.wait("joined", isEvent("joined"))
	a.send("/nick alicia")
	a.wait("nick", isEvent("nick", "nick", "alicia"))
	a.stdin.Close()
	a.exit()
	b := startChat(t, context.Background(), "--json", "--no-mdns", "--home", home, "--listen", "/ip4/127.0.0.1/tcp/0", "lobby")
	b.wait("joined", isEvent("joined"))
	b.send("remembered?")
	if m := b.wait("own message", isEvent("message", "text", "remembered?")); m["nick"] != "alicia" {
		t.Errorf("nick after restart without --nick: %v, want alicia", m["nick"])
	}
	b.stdin.Close()
	b.exit()
}

// alterRecord flips a byte of the signed text of the message text in the
// database of home.
func alterRecord(t *testing.T, home, text string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(home, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE messages SET record = CAST(replace(CAST(record AS BLOB), CAST(? AS BLOB), CAST(? AS BLOB)) AS BLOB) WHERE text = ?`,
		text, strings.ToUpper(text[:1])+text[1:], text)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("altering %q: %d rows, %v", text, n, err)
	}
}
