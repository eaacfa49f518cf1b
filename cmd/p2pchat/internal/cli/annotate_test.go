package cli

import (
	"context"
	"strings"
	"testing"
)

// TestAnnotateLineMode: /reply, /react, /edit and /delete in line mode
// name messages counting back (own ones for /edit and /delete) and reach
// the other node as events; /who lists a member that left as not here.
func TestAnnotateLineMode(t *testing.T) {
	a := startChat(t, context.Background(), "--json", "--no-mdns", "--home", t.TempDir(), "--nick", "alice", "--listen", "/ip4/127.0.0.1/tcp/0", "lobby")
	ready := a.wait("ready", isEvent("ready"))
	aID := ready["peer_id"].(string)
	b := startChat(t, context.Background(), "--json", "--no-mdns", "--home", t.TempDir(), "--nick", "bob", "--listen", "/ip4/127.0.0.1/tcp/0",
		"--peer", ready["addrs"].([]any)[0].(string), "lobby")
	bID := b.wait("ready", isEvent("ready"))["peer_id"].(string)
	a.wait("bob joins", isEvent("member_joined", "peer_id", bID))
	b.wait("alice joins", isEvent("member_joined", "peer_id", aID))

	a.send("lunch today?")
	q := b.wait("alice's question", isEvent("message", "text", "lunch today?"))
	b.send("/reply 1 yes, at noon")
	if ev := a.wait("bob's reply", isEvent("message", "text", "yes, at noon")); ev["reply_to"] != q["id"] || ev["reply_text"] != "lunch today?" {
		t.Errorf("reply %v", ev)
	}
	b.send("/react 2 👍") // 1 is bob's own reply now
	if ev := a.wait("bob's reaction", isEvent("reaction", "target", q["id"].(string), "reaction", "👍")); ev["on"] != true {
		t.Errorf("reaction %v", ev)
	}
	b.send("/edit 2 x")
	b.wait("too few own messages", func(ev map[string]any) bool {
		return ev["type"] == "error" && strings.Contains(ev["error"].(string), "has 1 stored messages of yours, not 2")
	})
	a.send("/edit 1 lunch today at 12?")
	if ev := b.wait("alice's edit", isEvent("edit", "target", q["id"].(string))); ev["message"].(map[string]any)["text"] != "lunch today at 12?" {
		t.Errorf("edit %v", ev)
	}
	a.send("/delete 1")
	if ev := b.wait("alice's delete", isEvent("delete", "target", q["id"].(string))); ev["message"].(map[string]any)["deleted"] != true {
		t.Errorf("delete %v", ev)
	}
	b.send("/history")
	h := b.wait("history of the deleted message", isEvent("history", "id", q["id"].(string)))
	if h["text"] != "" || h["deleted"] != true {
		t.Errorf("history shows %v", h)
	}
	// bob goes: alice's /who lists him as not here, with when he was seen.
	b.stdin.Close()
	b.exit()
	a.wait("bob leaves", isEvent("member_left", "peer_id", bID))
	a.send("/who")
	who := a.wait("who", isEvent("who"))
	abs, _ := who["absent"].([]any)
	if len(abs) != 1 || abs[0].(map[string]any)["peer_id"] != bID || abs[0].(map[string]any)["nick"] != "bob" || abs[0].(map[string]any)["last_seen"] == nil {
		t.Errorf("who after bob left: %v", who)
	}
	a.stdin.Close()
	a.exit()
}
