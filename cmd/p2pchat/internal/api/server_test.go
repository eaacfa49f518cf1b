package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/p2pchat/p2pchat/room"
)

type response struct {
	status int
	header http.Header
	obj    map[string]any
}

// call sends a request to h and decodes its JSON answer, failing the test
// unless it is a JSON object with the JSON content type.
func call(t *testing.T, h http.Handler, method, target, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://p2pchat"+target, rd)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, target, ct)
	}
	var obj map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &obj); err != nil || obj == nil {
		t.Fatalf("%s %s: answer %q is not a JSON object: %v", method, target, rec.Body.String(), err)
	}
	return response{status: rec.Code, header: rec.Header(), obj: obj}
}

// errorOf returns the code and message of an error answer, failing the
// test if it is not one.
func errorOf(t *testing.T, r response) (code, message string) {
	t.Helper()
	e, ok := r.obj["error"].(map[string]any)
	if !ok || len(r.obj) != 1 {
		t.Fatalf("not an error answer: %v", r.obj)
	}
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	if code == "" || message == "" {
		t.Fatalf("error answer without code or message: %v", r.obj)
	}
	return code, message
}

func hasKeys(t *testing.T, what string, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: no %q in %v", what, k, obj)
		}
	}
}

func list(t *testing.T, obj map[string]any, key string) []map[string]any {
	t.Helper()
	raw, ok := obj[key].([]any)
	if !ok {
		t.Fatalf("%q is not a list in %v", key, obj)
	}
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		m, ok := x.(map[string]any)
		if !ok {
			t.Fatalf("%q holds a %T, want objects", key, x)
		}
		out = append(out, m)
	}
	return out
}

func want(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

var (
	roomKeys    = []string{"room", "kind", "ready", "members", "roster", "buffered", "epoch", "key_id", "topic", "dropped"}
	memberKeys  = []string{"peer_id", "nick", "fp", "fingerprint", "verified"}
	messageKeys = []string{"id", "from", "nick", "fp", "text", "time", "self", "seq", "clock"}
)

// checkLobby checks the ROOM object of the fake's lobby.
func checkLobby(t *testing.T, w world, obj map[string]any) {
	t.Helper()
	hasKeys(t, "room", obj, append(roomKeys, "member_list")...)
	want(t, "room", obj["room"], "lobby")
	want(t, "kind", obj["kind"], "open")
	want(t, "ready", obj["ready"], true)
	want(t, "members", obj["members"], 2)
	want(t, "roster", obj["roster"], 3)
	want(t, "buffered", obj["buffered"], 1)
	want(t, "epoch", obj["epoch"], 3)
	want(t, "key_id", obj["key_id"], "00112233445566778899aabbccddeeff")
	want(t, "topic", obj["topic"], room.TopicFor("lobby"))
	want(t, "dropped", obj["dropped"], map[string]any{"replay": 2.0})
	ms := list(t, obj, "member_list")
	if len(ms) != 2 {
		t.Fatalf("member_list has %d members, want 2", len(ms))
	}
	for _, m := range ms {
		hasKeys(t, "member", m, memberKeys...)
	}
	want(t, "member_list[0]", ms[0], map[string]any{"peer_id": w.bob.id.String(), "nick": "bob", "fp": w.bob.fp.Short(), "fingerprint": w.bob.fp.String(), "verified": false, "mismatch": true, "away": ""})
	want(t, "member_list[1].verified", ms[1]["verified"], true)
}

func TestEndpoints(t *testing.T) {
	w := testWorld(t)
	tests := []struct {
		name, method, target, body string
		check                      func(t *testing.T, f *fake, obj map[string]any)
	}{
		{"root", "GET", "/v1", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "root", obj, map[string]any{"api": "p2pchat", "version": 1.0})
		}},
		{"status", "GET", "/v1/status", "", func(t *testing.T, _ *fake, obj map[string]any) {
			hasKeys(t, "status", obj, "type", "peer_id", "fingerprint", "fp", "nick", "peers", "rooms", "addrs")
			want(t, "type", obj["type"], "status")
			want(t, "peer_id", obj["peer_id"], w.alice.id)
			want(t, "fingerprint", obj["fingerprint"], w.alice.fp)
			want(t, "fp", obj["fp"], w.alice.fp.Short())
			want(t, "nick", obj["nick"], "alice")
			want(t, "peers", obj["peers"], 3)
			want(t, "addrs", obj["addrs"], []any{"/ip4/127.0.0.1/tcp/4001/p2p/" + w.alice.id.String()})
			rooms := list(t, obj, "rooms")
			if len(rooms) != 2 {
				t.Fatalf("%d rooms, want 2", len(rooms))
			}
			hasKeys(t, "status room", rooms[0], roomKeys...)
			if _, ok := rooms[0]["member_list"]; ok {
				t.Errorf("status rooms have member_list: %v", rooms[0])
			}
			want(t, "rooms[0].key_id", rooms[0]["key_id"], "00112233445566778899aabbccddeeff")
			want(t, "rooms[1].room", rooms[1]["room"], "slow")
			want(t, "rooms[1].dropped", rooms[1]["dropped"], map[string]any{})
		}},
		{"rooms", "GET", "/v1/rooms", "", func(t *testing.T, _ *fake, obj map[string]any) {
			rooms := list(t, obj, "rooms")
			if len(rooms) != 2 {
				t.Fatalf("%d rooms, want 2", len(rooms))
			}
			checkLobby(t, w, rooms[0])
			want(t, "slow member_list", rooms[1]["member_list"], []any{})
		}},
		{"room, name normalised", "GET", "/v1/rooms/LOBBY", "", func(t *testing.T, _ *fake, obj map[string]any) {
			checkLobby(t, w, obj)
		}},
		{"join with passphrase", "POST", "/v1/rooms", `{"room":" Vault ","passphrase":"h\u00fcnter2 \"q\"\n\ud83d\ude00"}`, func(t *testing.T, f *fake, obj map[string]any) {
			hasKeys(t, "room", obj, append(roomKeys, "member_list")...)
			want(t, "room", obj["room"], "vault")
			want(t, "kind", obj["kind"], "passphrase")
			want(t, "member_list", obj["member_list"], []any{})
			if f.joinPassStr != "hünter2 \"q\"\n😀" {
				t.Errorf("Join got passphrase %q", f.joinPassStr)
			}
			if len(f.joinPass) == 0 || slices.ContainsFunc(f.joinPass, func(b byte) bool { return b != 0 }) {
				t.Errorf("passphrase not cleared after the request: %q", f.joinPass)
			}
		}},
		{"join open", "POST", "/v1/rooms", `{"room":"dev"}`, func(t *testing.T, f *fake, obj map[string]any) {
			want(t, "kind", obj["kind"], "open")
			if f.joinPass != nil {
				t.Errorf("Join got passphrase %q, want nil", f.joinPass)
			}
		}},
		{"join joined room", "POST", "/v1/rooms", `{"room":"Lobby"}`, func(t *testing.T, _ *fake, obj map[string]any) {
			checkLobby(t, w, obj)
		}},
		{"leave", "DELETE", "/v1/rooms/Lobby", "", func(t *testing.T, f *fake, obj map[string]any) {
			want(t, "leave", obj, map[string]any{"room": "lobby"})
			if _, ok := f.rooms["lobby"]; ok {
				t.Error("lobby still joined")
			}
		}},
		{"members", "GET", "/v1/rooms/lobby/members", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "type", obj["type"], "who")
			want(t, "room", obj["room"], "lobby")
			ms := list(t, obj, "members")
			if len(ms) != 2 {
				t.Fatalf("%d members, want 2", len(ms))
			}
			want(t, "members[1]", ms[1], map[string]any{"peer_id": w.carol.id.String(), "nick": "carol", "fp": w.carol.fp.Short(), "fingerprint": w.carol.fp.String(), "verified": true, "mismatch": false, "away": ""})
		}},
		{"stored kind", "GET", "/v1/rooms/OLD/stored", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "stored", obj, map[string]any{"room": "old", "kind": "passphrase"})
		}},
		{"stored kind of an unknown room", "GET", "/v1/rooms/never/stored", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "stored", obj, map[string]any{"room": "never", "kind": ""})
		}},
		{"send", "POST", "/v1/rooms/Lobby/messages", `{"text":"hi <there>","action":true}`, func(t *testing.T, f *fake, obj map[string]any) {
			hasKeys(t, "message", obj, messageKeys...)
			want(t, "type", obj["type"], "message")
			want(t, "room", obj["room"], "lobby")
			want(t, "text", obj["text"], "hi <there>")
			want(t, "action", obj["action"], true)
			want(t, "from", obj["from"], w.alice.id)
			want(t, "self", obj["self"], true)
			want(t, "state", obj["state"], "sent")
			want(t, "time", obj["time"], "2026-11-03T13:00:00.123456789Z")
			if h := f.history["lobby"]; h[len(h)-1].Text != "hi <there>" {
				t.Errorf("fake did not get the message: %v", h[len(h)-1])
			}
		}},
		{"send with wait", "POST", "/v1/rooms/lobby/messages?wait=1m", `{"text":"x"}`, func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "text", obj["text"], "x")
			if _, ok := obj["action"]; ok {
				t.Error("action present for a plain message")
			}
		}},
		{"away", "PUT", "/v1/away", `{"text":"in a meeting"}`, func(t *testing.T, f *fake, obj map[string]any) {
			want(t, "away", obj, map[string]any{"type": "away", "text": "in a meeting"})
			if f.away != "in a meeting" {
				t.Errorf("fake away %q", f.away)
			}
		}},
		{"reply", "POST", "/v1/rooms/lobby/messages", `{"text":"yes","reply_to":"00000000000000000000000000000001"}`, func(t *testing.T, _ *fake, obj map[string]any) {
			hasKeys(t, "reply", obj, append(messageKeys, "reply_to", "reply_nick", "reply_text")...)
			want(t, "reply", []any{obj["text"], obj["reply_to"], obj["reply_nick"], obj["reply_text"]},
				[]any{"yes", "00000000000000000000000000000001", "bob", "hello world"})
		}},
		{"react", "POST", "/v1/rooms/lobby/messages/00000000000000000000000000000001/reactions", `{"reaction":"👍"}`, func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "reactions", obj["reactions"], map[string]any{"👍": []any{w.alice.id.String()}})
			want(t, "text", obj["text"], "hello world")
		}},
		{"edit", "PATCH", "/v1/rooms/lobby/messages/00000000000000000000000000000002", `{"text":"fixed"}`, func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "edit", []any{obj["text"], obj["edited"]}, []any{"fixed", true})
		}},
		{"delete", "DELETE", "/v1/rooms/lobby/messages/00000000000000000000000000000002", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "delete", []any{obj["text"], obj["deleted"]}, []any{"", true})
		}},
		{"history", "GET", "/v1/rooms/lobby/messages?n=2", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "room", obj["room"], "lobby")
			ms := list(t, obj, "messages")
			if len(ms) != 2 {
				t.Fatalf("%d messages, want 2", len(ms))
			}
			for _, m := range ms {
				hasKeys(t, "history", m, append(messageKeys, "type", "room")...)
				want(t, "type", m["type"], "history")
				want(t, "room", m["room"], "lobby")
			}
			want(t, "texts", []any{ms[0]["text"], ms[1]["text"]}, []any{"<b>bold</b> & co", "hello again"})
			want(t, "action", ms[1]["action"], true)
		}},
		{"history default and all", "GET", "/v1/rooms/lobby/messages", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "messages", len(list(t, obj, "messages")), 3)
		}},
		{"history n=0", "GET", "/v1/rooms/lobby/messages?n=0", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "messages", len(list(t, obj, "messages")), 3)
		}},
		{"history of a stored room not joined", "GET", "/v1/rooms/old/messages", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "messages", len(list(t, obj, "messages")), 1)
		}},
		{"history of an unknown room", "GET", "/v1/rooms/never/messages", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "messages", obj["messages"], []any{})
		}},
		{"search", "GET", "/v1/search?q=hello&n=5", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "query", obj["query"], "hello")
			hits := list(t, obj, "hits")
			if len(hits) != 3 { // lobby's two and old's one
				t.Fatalf("%d hits, want 3", len(hits))
			}
			hasKeys(t, "hit", hits[0], append(messageKeys, "type", "room", "snippet")...)
			want(t, "type", hits[0]["type"], "search_hit")
			want(t, "snippet", hits[0]["snippet"], "[hello] world")
		}},
		{"search in a room", "GET", "/v1/search?q=hello&room=OLD", "", func(t *testing.T, _ *fake, obj map[string]any) {
			hits := list(t, obj, "hits")
			if len(hits) != 1 || hits[0]["room"] != "old" {
				t.Errorf("hits %v, want old's one", hits)
			}
		}},
		{"search with no hits", "GET", "/v1/search?q=nothing", "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "hits", obj["hits"], []any{})
		}},
		{"peers", "GET", "/v1/peers", "", func(t *testing.T, _ *fake, obj map[string]any) {
			ps := list(t, obj, "peers")
			if len(ps) != 3 {
				t.Fatalf("%d peers, want 3", len(ps))
			}
			want(t, "peers[1]", ps[1], map[string]any{"peer_id": w.carol.id.String(), "fp": w.carol.fp.Short(), "fingerprint": w.carol.fp.String(),
				"nick": "carol", "verified": true, "mismatch": false, "addrs": []any{"/ip4/10.0.0.3/tcp/4001"}})
		}},
		{"peer", "GET", "/v1/peers/" + w.carol.id.String(), "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "fingerprint", obj, map[string]any{"type": "fingerprint", "peer_id": w.carol.id.String(), "nick": "carol",
				"fp": w.carol.fp.Short(), "fingerprint": w.carol.fp.String(), "verified": true})
		}},
		{"peer only connected", "GET", "/v1/peers/" + w.dave.id.String(), "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "nick", obj["nick"], "dave")
			want(t, "verified", obj["verified"], false)
		}},
		{"peer unknown", "GET", "/v1/peers/" + w.alice.id.String(), "", func(t *testing.T, _ *fake, obj map[string]any) {
			want(t, "nick", obj["nick"], "")
			want(t, "fingerprint", obj["fingerprint"], w.alice.fp)
		}},
		{"verify", "POST", "/v1/verify", fmt.Sprintf(`{"peer_id":%q,"fingerprint":%q}`, w.bob.id, strings.ToLower(strings.ReplaceAll(w.bob.fp.String(), "-", " "))),
			func(t *testing.T, f *fake, obj map[string]any) {
				want(t, "verified", obj, map[string]any{"type": "verified", "peer_id": w.bob.id.String(), "nick": "bob",
					"fp": w.bob.fp.Short(), "fingerprint": w.bob.fp.String()})
				if !f.verified[w.bob.id] {
					t.Error("bob not verified")
				}
			}},
		{"nick", "PUT", "/v1/nick", `{"nick":"zed"}`, func(t *testing.T, f *fake, obj map[string]any) {
			want(t, "nick", obj, map[string]any{"type": "nick", "nick": "zed"})
			want(t, "fake nick", f.self.Nick, "zed")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			r := call(t, NewServer(ServerConfig{Backend: f}).Handler(), tt.method, tt.target, tt.body)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200: %v", r.status, r.obj)
			}
			tt.check(t, f, r.obj)
		})
	}
}

func TestErrors(t *testing.T) {
	w := testWorld(t)
	long := strings.Repeat("a", room.MaxText+1)
	tests := []struct {
		name, method, target, body string
		setup                      func(*fake)
		status                     int
		code                       string
	}{
		{"invalid JSON", "POST", "/v1/rooms", `{"room":`, nil, 400, "bad_request"},
		{"not JSON", "POST", "/v1/rooms", `room=x`, nil, 400, "bad_request"},
		{"empty body", "POST", "/v1/rooms", ``, nil, 400, "bad_request"},
		{"unknown field", "POST", "/v1/rooms", `{"room":"x","pasphrase":"p"}`, nil, 400, "bad_request"},
		{"field in another case", "POST", "/v1/rooms", `{"Room":"x"}`, nil, 400, "bad_request"},
		{"trailing garbage", "POST", "/v1/rooms", `{"room":"x"} x`, nil, 400, "bad_request"},
		{"two objects", "POST", "/v1/rooms", `{"room":"x"}{"room":"y"}`, nil, 400, "bad_request"},
		{"array", "POST", "/v1/rooms", `[{"room":"x"}]`, nil, 400, "bad_request"},
		{"string", "POST", "/v1/rooms", `"x"`, nil, 400, "bad_request"},
		{"null body", "POST", "/v1/rooms", `null`, nil, 400, "bad_request"},
		{"missing field", "POST", "/v1/rooms", `{}`, nil, 400, "bad_request"},
		{"null field", "POST", "/v1/rooms", `{"room":null}`, nil, 400, "bad_request"},
		{"null optional field", "POST", "/v1/rooms", `{"room":"x","passphrase":null}`, nil, 400, "bad_request"},
		{"number for string", "POST", "/v1/rooms", `{"room":5}`, nil, 400, "bad_request"},
		{"number for passphrase", "POST", "/v1/rooms", `{"room":"x","passphrase":5}`, nil, 400, "bad_request"},
		{"string for bool", "POST", "/v1/rooms/lobby/messages", `{"text":"hi","action":"yes"}`, nil, 400, "bad_request"},
		{"empty text", "POST", "/v1/rooms/lobby/messages", `{"text":""}`, nil, 400, "bad_request"},
		{"away with a newline", "PUT", "/v1/away", `{"text":"a\nb"}`, nil, 400, "bad_away"},
		{"away without text", "PUT", "/v1/away", `{}`, nil, 400, "bad_request"},
		{"reply as an action", "POST", "/v1/rooms/lobby/messages", `{"text":"x","action":true,"reply_to":"00000000000000000000000000000001"}`, nil, 400, "bad_request"},
		{"reply to an unknown message", "POST", "/v1/rooms/lobby/messages", `{"text":"x","reply_to":"ff"}`, nil, 404, "unknown_message"},
		{"reaction to an unknown message", "POST", "/v1/rooms/lobby/messages/00000000000000000000000000000009/reactions", `{"reaction":"x"}`, nil, 404, "unknown_message"},
		{"reaction missing", "POST", "/v1/rooms/lobby/messages/00000000000000000000000000000001/reactions", `{}`, nil, 400, "bad_request"},
		{"edit without text", "PATCH", "/v1/rooms/lobby/messages/00000000000000000000000000000001", `{"reaction":"x"}`, nil, 400, "bad_request"},
		{"missing text", "POST", "/v1/rooms/lobby/messages", `{"action":true}`, nil, 400, "bad_request"},
		{"body too large", "POST", "/v1/rooms/lobby/messages", `{"text":"` + strings.Repeat("a", 65<<10) + `"}`, nil, 413, "body_too_large"},
		{"passphrase too large", "POST", "/v1/rooms", `{"room":"x","passphrase":"` + strings.Repeat("a", 70000) + `"}`, nil, 413, "body_too_large"},
		{"unknown query parameter", "GET", "/v1/status?verbose=1", "", nil, 400, "bad_request"},
		{"misspelt query parameter", "GET", "/v1/rooms/lobby/messages?m=3", "", nil, 400, "bad_request"},
		{"repeated query parameter", "GET", "/v1/rooms/lobby/messages?n=1&n=2", "", nil, 400, "bad_request"},
		{"malformed query", "GET", "/v1/rooms/lobby/messages?n=%zz", "", nil, 400, "bad_request"},
		{"n negative", "GET", "/v1/rooms/lobby/messages?n=-1", "", nil, 400, "bad_request"},
		{"n too big", "GET", "/v1/rooms/lobby/messages?n=10001", "", nil, 400, "bad_request"},
		{"n not a number", "GET", "/v1/rooms/lobby/messages?n=ten", "", nil, 400, "bad_request"},
		{"wait not a duration", "POST", "/v1/rooms/lobby/messages?wait=soon", `{"text":"x"}`, nil, 400, "bad_request"},
		{"wait too long", "POST", "/v1/rooms/lobby/messages?wait=6m", `{"text":"x"}`, nil, 400, "bad_request"},
		{"wait zero", "POST", "/v1/rooms/lobby/messages?wait=0s", `{"text":"x"}`, nil, 400, "bad_request"},
		{"search without q", "GET", "/v1/search", "", nil, 400, "bad_request"},
		{"search with empty q", "GET", "/v1/search?q=", "", nil, 400, "bad_request"},
		{"search n=0", "GET", "/v1/search?q=x&n=0", "", nil, 400, "bad_request"},
		{"search in a bad room", "GET", "/v1/search?q=x&room=a%20b", "", nil, 400, "bad_room_name"},
		{"events since not a number", "GET", "/v1/events?since=-1", "", nil, 400, "bad_request"},
		{"events bad room", "GET", "/v1/events?room=%20", "", nil, 400, "bad_room_name"},
		{"events unknown parameter", "GET", "/v1/events?from=3", "", nil, 400, "bad_request"},
		{"unknown room", "GET", "/v1/rooms/nowhere", "", nil, 404, "unknown_room"},
		{"unknown room members", "GET", "/v1/rooms/nowhere/members", "", nil, 404, "unknown_room"},
		{"unknown room leave", "DELETE", "/v1/rooms/nowhere", "", nil, 404, "unknown_room"},
		{"unknown room send", "POST", "/v1/rooms/nowhere/messages", `{"text":"x"}`, nil, 404, "unknown_room"},
		{"bad room name in path", "GET", "/v1/rooms/%20", "", nil, 400, "bad_room_name"},
		{"bad room name with space", "GET", "/v1/rooms/a%20b/members", "", nil, 400, "bad_room_name"},
		{"bad room name to join", "POST", "/v1/rooms", `{"room":"a b"}`, nil, 400, "bad_room_name"},
		{"empty room name to join", "POST", "/v1/rooms", `{"room":""}`, nil, 400, "bad_room_name"},
		{"bad nick", "PUT", "/v1/nick", `{"nick":"a b"}`, nil, 400, "bad_nick"},
		{"too long", "POST", "/v1/rooms/lobby/messages", `{"text":"` + long + `"}`, nil, 400, "too_long"},
		{"empty passphrase", "POST", "/v1/rooms", `{"room":"v","passphrase":""}`, nil, 400, "bad_passphrase"},
		{"bad peer id", "GET", "/v1/peers/notapeer", "", nil, 400, "bad_peer_id"},
		{"bad peer id to verify", "POST", "/v1/verify", `{"peer_id":"12D3KooWnope","fingerprint":"x"}`, nil, 400, "bad_peer_id"},
		{"bad fingerprint", "POST", "/v1/verify", fmt.Sprintf(`{"peer_id":%q,"fingerprint":"ABC"}`, w.bob.id), nil, 400, "bad_fingerprint"},
		{"fingerprint mismatch", "POST", "/v1/verify", fmt.Sprintf(`{"peer_id":%q,"fingerprint":%q}`, w.bob.id, w.dave.fp), nil, 409, "fingerprint_mismatch"},
		{"send timeout", "POST", "/v1/rooms/slow/messages?wait=50ms", `{"text":"x"}`, nil, 504, "timeout"},
		{"closed", "POST", "/v1/rooms", `{"room":"x"}`, func(f *fake) { f.closed = true }, 503, "closed"},
		{"no history", "GET", "/v1/rooms/lobby/messages", "", func(f *fake) { f.noStore = true }, 503, "no_history"},
		{"no search", "GET", "/v1/search?q=x", "", func(f *fake) { f.noStore = true }, 503, "no_history"},
		{"internal", "GET", "/v1/rooms/boom", "", nil, 500, "internal"},
		{"disk full", "POST", "/v1/rooms/full/messages", `{"text":"x"}`, nil, 507, "disk_full"},
		{"unknown path", "GET", "/v1/nope", "", nil, 404, "not_found"},
		{"root path", "GET", "/", "", nil, 404, "not_found"},
		{"other version", "GET", "/v2/status", "", nil, 404, "not_found"},
		{"trailing slash", "GET", "/v1/status/", "", nil, 404, "not_found"},
		{"room subpath", "GET", "/v1/rooms/lobby/nope", "", nil, 404, "not_found"},
		{"wrong method", "DELETE", "/v1/status", "", nil, 405, "method_not_allowed"},
		{"wrong method on rooms", "PATCH", "/v1/rooms", "", nil, 405, "method_not_allowed"},
		{"wrong method on nick", "POST", "/v1/nick", `{"nick":"x"}`, nil, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			var log logBuffer
			r := call(t, NewServer(ServerConfig{Backend: f, Logger: log.logger()}).Handler(), tt.method, tt.target, tt.body)
			code, msg := errorOf(t, r)
			if r.status != tt.status || code != tt.code {
				t.Errorf("status %d code %q (%s), want %d %q", r.status, code, msg, tt.status, tt.code)
			}
			switch code {
			case "method_not_allowed":
				if r.header.Get("Allow") == "" {
					t.Error("405 without Allow")
				}
			case "internal":
				if strings.Contains(msg, "disk on fire") {
					t.Errorf("internal error detail in the answer: %q", msg)
				}
				if !strings.Contains(log.String(), "disk on fire") {
					t.Errorf("internal error not logged: %q", log.String())
				}
			case "disk_full":
				if want := "the disk holding " + fullDir + " is full"; msg != want {
					t.Errorf("message %q, want %q", msg, want)
				}
			case "fingerprint_mismatch":
				if strings.Contains(msg, w.bob.fp.String()) {
					t.Errorf("the answer spells out the real fingerprint: %q", msg)
				}
			}
		})
	}
}

// TestBadRequestMessages checks that bad requests say what is wrong.
func TestBadRequestMessages(t *testing.T) {
	tests := []struct{ body, wantIn string }{
		{`{"room":"x","pasphrase":"p"}`, `unknown field "pasphrase"`},
		{`{"room":"x"} x`, "trailing data"},
		{`{"room":5}`, `field "room" must be a string, not a number`},
		// Numbers beyond float64 (valid JSON) are typed like any other.
		{`{"room":1e999}`, `field "room" must be a string, not a number`},
		{`{"room":-123456789012345678901234567890e400}`, `field "room" must be a string, not a number`},
		{`{"room":"x","n":1e999}`, `unknown field "n"`},
		{`{"room":"x","passphrase":true}`, `field "passphrase" must be a string, not a bool`},
		{`{}`, `missing field "room"`},
		{`{"room":null}`, `field "room" is null`},
		{`[]`, "must be a JSON object"},
		{``, "empty"},
		{`{"room":"x","passphrase":"\udfff\ud800"}`, `\udfff is half of a UTF-16 surrogate pair, without the other half (at byte 27)`},
		{`{"room":"x","passphrase":"\ud83d\ude00"}`, ""}, // a surrogate pair: one character
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			r := call(t, NewServer(ServerConfig{Backend: newFake(t)}).Handler(), "POST", "/v1/rooms", tt.body)
			if tt.wantIn == "" {
				if r.status != 200 {
					t.Fatalf("status %d: %v", r.status, r.obj)
				}
				return
			}
			_, msg := errorOf(t, r)
			if !strings.Contains(msg, tt.wantIn) {
				t.Errorf("message %q does not say %q", msg, tt.wantIn)
			}
		})
	}
}

// TestPassphraseNeverEchoed sends passphrases in requests that fail in
// every way and checks that neither the answer nor the log holds them.
func TestPassphraseNeverEchoed(t *testing.T) {
	const pass = "Zq8-sekrit-pass"
	bodies := []string{
		`{"room":"vault","passphrase":"` + pass + `"}`,                         // success
		`{"room":"a b","passphrase":"` + pass + `"}`,                           // bad room
		`{"room":"vault","passphrase":"` + pass + `","x":1}`,                   // unknown field
		`{"room":"vault","passphrase":"` + pass + `"} trailing`,                // trailing data
		`{"room":"vault","passphrase":"` + pass + `\q"}`,                       // bad escape
		`{"room":"vault","passphrase":"` + pass + "\x01" + `"}`,                // control character
		`{"room":"vault","passphrase":"` + pass + "\xff" + `"}`,                // not UTF-8
		`{"room":"vault","passphrase":"` + pass + `","room":5}`,                // wrong type
		`{"room":"vault","passphrase":"` + pass + strings.Repeat(" ", MaxBody), // too large
	}
	for i, body := range bodies {
		var log logBuffer
		f := newFake(t)
		h := NewServer(ServerConfig{Backend: f, Logger: log.logger()}).Handler()
		r := call(t, h, "POST", "/v1/rooms", body)
		if b, _ := json.Marshal(r.obj); strings.Contains(string(b), "sekrit") || strings.Contains(log.String(), "sekrit") {
			t.Errorf("body %d: passphrase echoed: answer %s, log %q", i, b, log.String())
		}
		if i == 0 && (r.status != 200 || f.joinPassStr != pass) {
			t.Errorf("body 0: status %d, Join got %q", r.status, f.joinPassStr)
		}
		if i > 0 && r.status == 200 {
			t.Errorf("body %d accepted", i)
		}
	}
}

// TestSecretDecoding compares the passphrase decoder with encoding/json.
func TestSecretDecoding(t *testing.T) {
	for _, in := range []string{
		`""`, `"plain"`, `"h\u00fcnter"`, `"\"\\\/\b\f\n\r\t"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00x"`,
		`"\ud800\u0041"`, `"\ud83d\ude00\ud83d"`, `"ünï 😀"`, `"\u0000"`, `"a\u2028b"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var got secret
		if err := got.UnmarshalJSON([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
	var s secret
	if err := s.UnmarshalJSON([]byte("\"\xff\"")); !errors.Is(err, ErrBadRequest) {
		t.Errorf("invalid UTF-8: err %v, want ErrBadRequest", err)
	}
}

func FuzzSecret(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud83d\ude00"`, `"\ud800\u0041"`, `"\\\""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var want string
		if json.Unmarshal(in, &want) != nil || len(in) == 0 || in[0] != '"' {
			return
		}
		// Through encoding/json, as the server decodes it: UnmarshalJSON
		// gets the string alone, without surrounding whitespace.
		var got secret
		err := json.Unmarshal(in, &got)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("%q: %v", in, err)
			}
			return // not UTF-8: refused rather than altered
		}
		if string(got) != want {
			t.Fatalf("%q: got %q, want %q", in, got, want)
		}
		// And back: the client's encoder gives the same bytes.
		var back string
		if err := json.Unmarshal(appendJSONString(nil, got), &back); err != nil || back != want {
			t.Fatalf("%q: round trip gave %q, %v", in, back, err)
		}
	})
}

func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{"room":"x"}`, `{"room":"x","passphrase":"p"}`, `{"room":"x"} x`, `{"Room":"x"}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var req joinRequest
		err := decodeObject(in, &req)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("%q: error %v does not wrap ErrBadRequest", in, err)
			}
			return
		}
		// Accepted: a JSON object with exactly the known members.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(in, &m); err != nil {
			t.Fatalf("%q accepted but is not a JSON object: %v", in, err)
		}
		for k := range m {
			if k != "room" && k != "passphrase" {
				t.Fatalf("%q accepted with member %q", in, k)
			}
		}
		if _, ok := m["room"]; !ok {
			t.Fatalf("%q accepted without room", in)
		}
	})
}

func TestErrorTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range errorCodes {
		if seen[c.code] {
			t.Errorf("code %q twice", c.code)
		}
		seen[c.code] = true
		err := fmt.Errorf("context: %w", c.err)
		code, status := codeOf(err)
		if code != c.code || status != c.status {
			t.Errorf("%v maps to %q %d, want %q %d", c.err, code, status, c.code, c.status)
		}
		back := errorFor(status, code, "message")
		if !errors.Is(back, c.err) || back.Status != c.status || back.Error() != "message" {
			t.Errorf("code %q: client error %v (%d) does not wrap %v", code, back, back.Status, c.err)
		}
	}
	for _, code := range []string{"bad_request", "body_too_large", "not_found", "method_not_allowed", "unknown_room", "bad_room_name",
		"bad_nick", "too_long", "bad_passphrase", "bad_peer_id", "bad_fingerprint", "fingerprint_mismatch", "timeout", "closed",
		"no_history", "disk_full", "forbidden", "no_web", "internal"} {
		if !seen[code] {
			t.Errorf("code %q missing from the table", code)
		}
	}
	if code, status := codeOf(errors.New("other")); code != "internal" || status != 500 {
		t.Errorf("unknown error maps to %q %d", code, status)
	}
	if e := errorFor(418, "teapot", "short and stout"); e.Unwrap() != nil || e.Code != "teapot" {
		t.Errorf("unknown code: %#v", e)
	}
}

// pipeWriter is a ResponseWriter whose first Write blocks until released:
// a client that does not read.
type pipeWriter struct {
	header  http.Header
	entered chan struct{}
	release chan struct{}
	first   sync.Once
	w       *io.PipeWriter
}

func (p *pipeWriter) Header() http.Header { return p.header }
func (p *pipeWriter) WriteHeader(int)     {}
func (p *pipeWriter) Flush()              {}
func (p *pipeWriter) Write(b []byte) (int, error) {
	p.first.Do(func() {
		close(p.entered)
		<-p.release
	})
	return p.w.Write(b)
}

// TestSlowStream holds a stream's first write while more events than the
// log holds are published: Publish does not wait for it, and the stream
// then says how many events it missed and goes on with the log's tail.
func TestSlowStream(t *testing.T) {
	s := NewServer(ServerConfig{Backend: newFake(t), EventLogSize: 16})
	s.Publish(testEvent(1, "lobby"))
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, entered: make(chan struct{}), release: make(chan struct{}), w: pw}
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "GET", "http://p2pchat/v1/events?since=0", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Handler().ServeHTTP(w, req)
	}()
	<-w.entered // the stream is stuck writing event 1
	for i := 2; i <= 1000; i++ {
		s.Publish(testEvent(i, "lobby"))
	}
	close(w.release)
	var got []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		ev, err := DecodeEvent(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == room.EventError {
			got = append(got, string(ev.Reason)+":"+ev.Err.Error())
		} else {
			got = append(got, fmt.Sprint(ev.EventID))
		}
		if ev.EventID == 1000 {
			break
		}
	}
	cancel()
	pr.Close()
	<-done
	want := []string{"1", "events_missed:983 events (of every room) after event 1 were dropped from the daemon's event log before this stream could send them"}
	for i := 985; i <= 1000; i++ {
		want = append(want, fmt.Sprint(i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("stream:\n got %q\nwant %q", got, want)
	}
}

// testEvent returns the i-th test message event in a room.
func testEvent(i int, roomName string) Event {
	w := theWorld
	return Event{Event: room.Event{Type: room.EventMessage, Room: roomName, Message: &room.Message{
		ID: fmt.Sprintf("%032x", i), From: w.bob.id, Short: w.bob.fp.Short(), Nick: "bob", Text: fmt.Sprintf("m%d", i),
		Time: t0, Seq: uint64(i), Clock: uint64(i)}}}
}

func TestRoomPathEscaping(t *testing.T) {
	f := newFake(t)
	for _, name := range []string{"a/b", "a?b", "a#b", "%41", ".", "..", "ünï"} {
		if _, err := f.Join(context.Background(), name, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := NewServer(ServerConfig{Backend: f}).Handler()
	for _, name := range []string{"a/b", "a?b", "a#b", "%41", ".", "..", "ünï"} {
		p, err := roomPath(name)
		if err != nil {
			t.Fatal(err)
		}
		r := call(t, h, "GET", p, "")
		if r.status != 200 || r.obj["room"] != name {
			t.Errorf("%q via %s: %d %v", name, p, r.status, r.obj)
		}
	}
	if _, err := roomPath(" "); !errors.Is(err, room.ErrBadName) {
		t.Errorf("roomPath of a bad name: %v", err)
	}
}
