package slash

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		line string
		face Face
		want Call   // Line, Arg and Command are not compared
		err  string // "" for none
	}{
		{"join", "/join lobby", Line, Call{Name: "join", Room: "lobby"}, ""},
		{"join -p", "/join -p  vault ", UI, Call{Name: "join", Room: "vault", Passphrase: true}, ""},
		{"join nothing", "/join", Line, Call{Name: "join"}, "usage: /join [-p] ROOM"},
		{"join -p nothing", "/join -p", Line, Call{Name: "join", Passphrase: true}, "usage: /join [-p] ROOM"},
		{"join a space", "/join my room", Line, Call{Name: "join"},
			`room names cannot contain spaces, and "my room" has one; did you mean /join my-room?`},
		{"join -p a space", "/join -p my big room", UI, Call{Name: "join", Passphrase: true},
			`room names cannot contain spaces, and "my big room" has one; did you mean /join -p my-big-room?`},
		{"leave current", "/leave", Line, Call{Name: "leave"}, ""},
		{"leave", "/leave Dev", Line, Call{Name: "leave", Room: "Dev"}, ""},
		{"leave a space", "/leave my room", Line, Call{Name: "leave"},
			`room names cannot contain spaces, and "my room" has one; did you mean /leave my-room?`},
		{"nick", "/nick bob", Line, Call{Name: "nick", Text: "bob"}, ""},
		{"nick nothing", "/nick ", Line, Call{Name: "nick"}, "usage: /nick NAME"},
		{"me", "/me waves  at all", Line, Call{Name: "me", Text: "waves  at all"}, ""},
		{"me nothing", "/me", UI, Call{Name: "me"}, "usage: /me ACTION"},
		{"verify who", "/verify bob#x4k2p", Line, Call{Name: "verify", Who: "bob#x4k2p"}, ""},
		{"verify fp", "/verify bob GMS2WTK XH5446B", Line, Call{Name: "verify", Who: "bob", Fingerprint: "GMS2WTK XH5446B"}, ""},
		{"verify nothing", "/verify", Line, Call{Name: "verify"}, "usage: /verify WHO [FINGERPRINT]"},
		{"history", "/history", Line, Call{Name: "history"}, ""},
		{"history N", "/history 5", UI, Call{Name: "history", N: 5}, ""},
		{"history 0", "/history 0", Line, Call{Name: "history"}, "usage: /history [N]"},
		{"history word", "/history five", Line, Call{Name: "history"}, "usage: /history [N]"},
		{"search", "/search hello world", Line, Call{Name: "search", Text: "hello world"}, ""},
		{"search nothing", "/search", Line, Call{Name: "search"}, "usage: /search TEXT"},
		{"reply", "/reply 2 yes,  at noon", Line, Call{Name: "reply", N: 2, Text: "yes,  at noon"}, ""},
		{"reply no text", "/reply 2", UI, Call{Name: "reply", N: 2}, "usage: /reply N TEXT"},
		{"reply no N", "/reply yes", Line, Call{Name: "reply"}, "usage: /reply N TEXT (N: 1 is the latest message, up to 1000)"},
		{"react", "/react 1 👍", UI, Call{Name: "react", N: 1, Text: "👍"}, ""},
		{"react 0", "/react 0 👍", Line, Call{Name: "react"}, "usage: /react N REACTION (N: 1 is the latest message, up to 1000)"},
		{"edit", "/edit 1 fixed", Line, Call{Name: "edit", N: 1, Text: "fixed"}, ""},
		{"delete", "/delete 3", Line, Call{Name: "delete", N: 3}, ""},
		{"delete too far", "/delete 1001", Line, Call{Name: "delete"}, "usage: /delete N (N: 1 is the latest message, up to 1000)"},
		{"away", "/away", Line, Call{Name: "away", Text: "away"}, ""},
		{"away text", "/away  lunch, back at 2", UI, Call{Name: "away", Text: "lunch, back at 2"}, ""},
		{"back", "/back", Line, Call{Name: "back"}, ""},
		{"no arguments", "/who", Line, Call{Name: "who"}, ""},
		{"alias", "/exit", Line, Call{Name: "quit"}, ""},
		{"tab after the name", "/join\tlobby", Line, Call{Name: "join", Room: "lobby"}, ""},
		{"clear in the UI", "/clear", UI, Call{Name: "clear"}, ""},
		{"clear in line mode", "/clear", Line, Call{Name: "clear"}, "unknown command /clear; /help lists the commands"},
		{"unknown", "/frobnicate now", UI, Call{Name: "frobnicate"}, "unknown command /frobnicate; /help lists the commands"},
		{"slash alone", "/", Line, Call{}, "unknown command /; /help lists the commands"},
		{"case matters", "/JOIN lobby", Line, Call{Name: "JOIN"}, "unknown command /JOIN; /help lists the commands"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.line, tt.face)
			if (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
				t.Fatalf("Parse(%q): error %v, want %q", tt.line, err, tt.err)
			}
			var unknown *UnknownError
			if errors.As(err, &unknown) != (got.Command == nil) {
				t.Errorf("Parse(%q): command %v with error %v", tt.line, got.Command, err)
			}
			if got.Line != tt.line {
				t.Errorf("Parse(%q).Line = %q", tt.line, got.Line)
			}
			got.Command, got.Line, got.Arg = nil, "", ""
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		line, text string
		cmd        bool
	}{
		{"hello", "hello", false},
		{"/join x", "", true},
		{"/", "", true},
		{"//join x", "/join x", false},
		{"///", "//", false},
		{" /join x", " /join x", false},
	}
	for _, tt := range tests {
		if text, cmd := Split(tt.line); text != tt.text || cmd != tt.cmd {
			t.Errorf("Split(%q) = %q, %v; want %q, %v", tt.line, text, cmd, tt.text, tt.cmd)
		}
	}
}

// TestHelpListsEachCommandOnce checks, for both faces, wrapped and not,
// that every command of the face starts exactly one line of the help,
// that its whole help text is there, and that no other face's command is.
func TestHelpListsEachCommandOnce(t *testing.T) {
	for _, f := range []Face{Line, UI} {
		for _, width := range []int{0, 80} {
			help := Help(f, width)
			unwrapped := strings.Join(strings.Fields(help), " ")
			for _, c := range table {
				n := 0
				for _, l := range strings.Split(help, "\n") {
					if l == "  "+c.Usage() || strings.HasPrefix(l, "  "+c.Usage()+" ") {
						n++
					}
				}
				want := 0
				if c.Faces&f != 0 {
					want = 1
				}
				if n != want {
					t.Errorf("face %d, width %d: %s starts %d lines, want %d:\n%s", f, width, c.Usage(), n, want, help)
				}
				if text := c.HelpFor(f); want == 1 && (len(text) < 12 || !strings.Contains(unwrapped, text)) {
					t.Errorf("face %d, width %d: the help of %s is not %q:\n%s", f, width, c.Usage(), text, help)
				}
			}
			if width > 0 {
				for _, l := range strings.Split(help, "\n") {
					if len([]rune(l)) > width && strings.Contains(strings.TrimSpace(l), " ") {
						t.Errorf("line longer than %d: %q", width, l)
					}
				}
			}
		}
	}
	if h := Help(UI, 0); !strings.Contains(h, "load the room's last N stored messages") || strings.Contains(h, "(default 20)") {
		t.Errorf("the UI's help has line mode's /history:\n%s", h)
	}
}

func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range table {
		for _, n := range append([]string{c.Name}, c.Aliases...) {
			if seen[n] || n == "" || strings.ContainsAny(n, " /") {
				t.Errorf("name %q twice, empty or malformed", n)
			}
			seen[n] = true
		}
		if c.Faces == 0 || c.Help == "" {
			t.Errorf("/%s has no face or no help", c.Name)
		}
		if c.parse == nil && c.Args != "" {
			t.Errorf("/%s takes %s but has no parser", c.Name, c.Args)
		}
	}
	names := Names(UI)
	if len(names) != len(Commands(UI)) || names[0] != "/away" || !slices.IsSorted(names) {
		t.Errorf("Names(UI) = %q", names)
	}
}
