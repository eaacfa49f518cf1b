package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/slash"
	"github.com/p2pchat/p2pchat/room"
)

// TestLineCommandErrors runs command lines that are answered before the
// backend is asked anything (it is nil): none of them is sent as a
// message.
func TestLineCommandErrors(t *testing.T) {
	tests := []struct {
		line string
		want string // the error
	}{
		{"/frobnicate", "unknown command /frobnicate; /help lists the commands"},
		{"/", "unknown command /; /help lists the commands"},
		{"/clear", "unknown command /clear; /help lists the commands"}, // the UI's only
		{"/join my room", `room names cannot contain spaces, and "my room" has one; did you mean /join my-room?`},
		{"/join", "usage: /join [-p] ROOM"},
		{"/me", "usage: /me ACTION"},
		{"/history -3", "usage: /history [N]"},
		{"/search", "usage: /search TEXT"},
		{"/verify", "usage: /verify WHO [FINGERPRINT]"},
	}
	for _, tt := range tests {
		col := &collector{}
		c := &commands{out: col}
		if quit := c.handle(context.Background(), tt.line); quit {
			t.Errorf("%q quit", tt.line)
		}
		if len(col.out) != 1 || col.out[0].Event == nil || col.out[0].Event.Err.Error() != tt.want {
			t.Errorf("%q answered %+v, want the error %q", tt.line, col.out, tt.want)
		}
	}
}

// TestLineJoinTakesPassphraseLine checks that a wrong /join -p still takes
// the next line, the passphrase, so that it is not sent as a message.
func TestLineJoinTakesPassphraseLine(t *testing.T) {
	ctx := context.Background()
	lr := newLineReader(strings.NewReader("secret\nhello\n"))
	defer lr.close()
	col := &collector{}
	c := &commands{out: col, lines: lr}
	c.handle(ctx, "/join -p my room")
	if len(col.out) != 1 || !strings.Contains(col.out[0].Event.Err.Error(), "did you mean /join -p my-room?") {
		t.Errorf("answered %+v", col.out)
	}
	if l, ok := lr.next(ctx); !ok || string(l.line) != "hello" {
		t.Errorf("next line %q, %v; want hello", l.line, ok)
	}
}

// TestLineHelp checks that line mode's /help lists each of its commands
// once, with the table's text.
func TestLineHelp(t *testing.T) {
	col := &collector{}
	(&commands{out: col}).handle(context.Background(), "/help")
	if len(col.out) != 1 || col.out[0].Kind != "help" {
		t.Fatalf("answered %+v", col.out)
	}
	help := col.out[0].Text
	flat := strings.Join(strings.Fields(help), " ")
	for _, c := range slash.Commands(slash.Line) {
		if n := strings.Count(help, "\n  "+c.Usage()); n != 1 {
			t.Errorf("%s listed %d times:\n%s", c.Usage(), n, help)
		}
		if !strings.Contains(flat, c.Help) {
			t.Errorf("%s lacks its help %q:\n%s", c.Usage(), c.Help, help)
		}
	}
	for _, ui := range []string{"/clear", "load the room's"} {
		if strings.Contains(help, ui) {
			t.Errorf("line mode's help has the UI's %q:\n%s", ui, help)
		}
	}
}

// TestCLIDocHasHelp checks that docs/CLI.md shows line mode's /help as it
// is generated.
func TestCLIDocHasHelp(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "docs", "CLI.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```\n"+helpText+"\n```\n") {
		t.Errorf("docs/CLI.md lacks the /help text; it is now:\n%s", helpText)
	}
}

// TestDropSummary: counters that grow in a healthy room at start-up are
// not listed as drops; the others are.
func TestDropSummary(t *testing.T) {
	tests := []struct {
		in   map[string]uint64
		want string
	}{
		{nil, "nothing"},
		{map[string]uint64{room.DropUnknownEpoch: 2}, "nothing (and 2 ignored as usual while keys settle)"},
		{map[string]uint64{room.DropSignature: 1, room.DropSuperseded: 3, room.DropReplay: 0}, "bad_signature=1 (and 3 ignored as usual while keys settle)"},
		{map[string]uint64{room.DropUnknownEpoch: math.MaxUint64, room.DropSuperseded: 5}, fmt.Sprintf("nothing (and %d ignored as usual while keys settle)", uint64(math.MaxUint64))},
	}
	for _, tt := range tests {
		if got := dropSummary(tt.in); got != tt.want {
			t.Errorf("dropSummary(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
