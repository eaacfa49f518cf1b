package cli

import (
	"context"
	"slices"
	"testing"
)

// roomsOf asks c for /rooms and /status and returns the joined rooms (by
// name), the current one, and each room's kind.
func roomsOf(t *testing.T, c *chatProc) (names []string, current string, kinds map[string]string) {
	t.Helper()
	r := c.command("/rooms", "rooms", nil)
	list, _ := r["rooms"].([]any)
	for _, n := range list {
		names = append(names, n.(string))
	}
	current, _ = r["current"].(string)
	kinds = map[string]string{}
	rs, _ := c.command("/status", "status", nil)["rooms"].([]any)
	for _, x := range rs {
		m := x.(map[string]any)
		kinds[m["room"].(string)] = m["kind"].(string)
	}
	return names, current, kinds
}

func quit(t *testing.T, c *chatProc) {
	t.Helper()
	c.stdin.Close()
	if code := c.exit(); code != exitOK {
		t.Fatalf("exit %d", code)
	}
}

// TestPlainRunRejoins: p2pchat without ROOM joins lobby on a first run
// only; afterwards it rejoins every remembered room (a passphrase room
// with its stored secret, asking nothing) in the order they were joined,
// the last one current; /leave forgets a room.
func TestPlainRunRejoins(t *testing.T) {
	t.Setenv(passphraseEnv, "")
	home := t.TempDir()
	ctx := context.Background()
	args := loopback("--home", home, "--nick", "alice")

	a := startChat(t, ctx, args...)
	if names, _, _ := roomsOf(t, a); !slices.Equal(names, []string{"lobby"}) {
		t.Fatalf("first run joined %q, want lobby", names)
	}
	a.send("/leave lobby")
	a.send("/join zeta")
	a.send("/join alpha")
	a.send("/join -p vault")
	a.send("s3cret words")
	if names, cur, _ := roomsOf(t, a); !slices.Equal(names, []string{"alpha", "vault", "zeta"}) || cur != "vault" {
		t.Fatalf("rooms %q, current %q", names, cur)
	}
	quit(t, a)

	a = startChat(t, ctx, args...)
	names, cur, kinds := roomsOf(t, a)
	if !slices.Equal(names, []string{"alpha", "vault", "zeta"}) || cur != "vault" {
		t.Errorf("plain run: rooms %q, current %q; want alpha, vault, zeta with vault (joined last) current", names, cur)
	}
	if kinds["vault"] != "passphrase" || kinds["zeta"] != "open" {
		t.Errorf("kinds %v", kinds)
	}
	a.send("/leave alpha")
	quit(t, a)

	a = startChat(t, ctx, args...)
	if names, cur, _ := roomsOf(t, a); !slices.Equal(names, []string{"vault", "zeta"}) || cur != "vault" {
		t.Errorf("after /leave alpha: rooms %q, current %q", names, cur)
	}
	a.send("/leave vault")
	a.send("/leave zeta")
	quit(t, a)

	// Every room left on purpose: nothing to rejoin, and no lobby either.
	a = startChat(t, ctx, args...)
	if names, _, _ := roomsOf(t, a); len(names) != 0 {
		t.Errorf("after leaving every room: %q", names)
	}
	quit(t, a)
}
