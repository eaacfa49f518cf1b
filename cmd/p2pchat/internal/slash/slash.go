package slash

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Face is where a command is typed: line mode, the full-screen UI, or
// both (Line|UI).
type Face uint8

// The faces.
const (
	Line Face = 1 << iota // line mode (--plain, --json, not a terminal)
	UI                    // the full-screen UI
)

// Command is one slash command of the table. The zero value is not a
// command; the table's are read-only.
type Command struct {
	Name    string   // without the slash: "join"
	Aliases []string // other names it answers to: "exit" for quit
	Args    string   // synopsis of the arguments: "[-p] ROOM"; "" for none
	Help    string   // one line, as /help shows it
	UIHelp  string   // the UI's help where it differs from Help; "" if not
	Faces   Face     // the faces that have it
	// RoomArg reports that the argument is a room name: the UI completes
	// it from the joined rooms.
	RoomArg bool

	parse func(c *Call, args string) error
}

// HelpFor returns c's help line in face f.
func (c *Command) HelpFor(f Face) string {
	if f == UI && c.UIHelp != "" {
		return c.UIHelp
	}
	return c.Help
}

// Usage returns c's synopsis: "/join [-p] ROOM".
func (c *Command) Usage() string {
	if c.Args == "" {
		return "/" + c.Name
	}
	return "/" + c.Name + " " + c.Args
}

// Call is one command line, parsed. Which fields are set depends on the
// command; the others are zero.
type Call struct {
	Command *Command // the command; nil if the line names none
	Name    string   // the command's name (not the alias typed); the typed name if unknown
	Line    string   // the line as typed
	Arg     string   // everything after the name, spaces trimmed

	Room        string // join: the room; leave: the room, "" for the current one
	Passphrase  bool   // join: -p was given (set even when the rest is wrong)
	N           int    // history: N, 0 when not given; reply, react, edit, delete: which message, counting back from 1
	Who         string // verify: WHO
	Fingerprint string // verify: FINGERPRINT; "" to show WHO's
	Text        string // nick: the name; me: the action; search: the query; reply, edit: the text; react: the reaction; away: the text
}

// UnknownError is what [Parse] returns for a line that starts with "/"
// and names no command of the face.
type UnknownError struct {
	Name string // as typed, without the slash
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("unknown command /%s; /help lists the commands", e.Name)
}

// Split tells a command line from a message: for "/cmd …" it returns
// ok; for anything else it returns the message text, with one "/"
// removed from a line starting with "//".
func Split(line string) (text string, ok bool) {
	if strings.HasPrefix(line, "//") {
		return line[1:], false
	}
	if strings.HasPrefix(line, "/") {
		return "", true
	}
	return line, false
}

// Parse parses the command line (starting with "/") for face f. An
// unknown command is an [*UnknownError]; wrong arguments are an error
// that says how to give them, and the returned Call then has Command
// and Name set, and what could be parsed (join's Passphrase).
func Parse(line string, f Face) (Call, error) {
	rest := strings.TrimPrefix(line, "/")
	i := strings.IndexFunc(rest, unicode.IsSpace)
	if i < 0 {
		i = len(rest)
	}
	name := rest[:i]
	c := Call{Name: name, Line: line, Arg: strings.TrimSpace(rest[i:])}
	cmd := Lookup(name, f)
	if cmd == nil {
		return c, &UnknownError{Name: name}
	}
	c.Command, c.Name = cmd, cmd.Name
	if cmd.parse == nil {
		return c, nil // takes no arguments; any are ignored
	}
	return c, cmd.parse(&c, c.Arg)
}

// Lookup returns the command of face f called name (or one of its
// aliases), or nil.
func Lookup(name string, f Face) *Command {
	for _, c := range table {
		if c.Faces&f != 0 && (c.Name == name || slices.Contains(c.Aliases, name)) {
			return c
		}
	}
	return nil
}

// Commands returns the commands of face f, in the order /help lists them.
func Commands(f Face) []*Command {
	var cs []*Command
	for _, c := range table {
		if c.Faces&f != 0 {
			cs = append(cs, c)
		}
	}
	return cs
}

// Names returns "/name" for each command of face f, sorted: what Tab
// completes.
func Names(f Face) []string {
	var ns []string
	for _, c := range Commands(f) {
		ns = append(ns, "/"+c.Name)
	}
	slices.Sort(ns)
	return ns
}

// helpIndent is the column the help lines start at.
const helpIndent = 17

// Help returns the command list that /help shows in face f, each command
// once: its synopsis, then its help from column 17 (on a line of its own
// when the synopsis is longer). width > 0 wraps the help to width
// columns; 0 leaves the wrapping to the caller.
func Help(f Face, width int) string {
	lines := []string{"commands:"}
	pad := strings.Repeat(" ", helpIndent)
	for _, c := range Commands(f) {
		head := "  " + c.Usage()
		rows := wrap(c.HelpFor(f), width-helpIndent)
		if len(head) < helpIndent-1 {
			lines = append(lines, head+pad[len(head):]+rows[0])
			rows = rows[1:]
		} else {
			lines = append(lines, head)
		}
		for _, r := range rows {
			lines = append(lines, pad+r)
		}
	}
	lines = append(lines, wrap(footer, width)...)
	return strings.Join(lines, "\n")
}

const footer = "any other line is a message to the current room; start it with // to send a line beginning with /"

// wrap breaks s into rows of at most width columns at spaces; width <= 0
// keeps s whole.
func wrap(s string, width int) []string {
	if width <= 0 {
		return []string{s}
	}
	var rows []string
	row := ""
	for _, w := range strings.Fields(s) {
		switch {
		case row == "":
			row = w
		case len([]rune(row))+1+len([]rune(w)) <= width:
			row += " " + w
		default:
			rows = append(rows, row)
			row = w
		}
	}
	return append(rows, row)
}

// usage is the error for arguments that do not fit c's synopsis.
func usage(c *Call) error { return fmt.Errorf("usage: %s", c.Command.Usage()) }

// roomArg reads a room name from fields: several fields are a name with
// spaces, which no room has, and the error suggests one with dashes.
func roomArg(c *Call, fields []string, prefix string) (string, error) {
	if len(fields) > 1 {
		joined := strings.Join(fields, " ")
		return "", fmt.Errorf("room names cannot contain spaces, and %q has one; did you mean /%s %s%s?", joined, c.Name, prefix, strings.Join(fields, "-"))
	}
	if len(fields) == 0 {
		return "", nil
	}
	return fields[0], nil
}

func parseJoin(c *Call, args string) error {
	fields := strings.Fields(args)
	prefix := ""
	if len(fields) > 0 && fields[0] == "-p" {
		c.Passphrase, fields, prefix = true, fields[1:], "-p "
	}
	if len(fields) == 0 {
		return usage(c)
	}
	var err error
	c.Room, err = roomArg(c, fields, prefix)
	return err
}

func parseLeave(c *Call, args string) error {
	var err error
	c.Room, err = roomArg(c, strings.Fields(args), "")
	return err
}

// parseText takes all of args as the text, which must not be empty.
func parseText(c *Call, args string) error {
	if args == "" {
		return usage(c)
	}
	c.Text = args
	return nil
}

func parseVerify(c *Call, args string) error {
	who, fp, _ := strings.Cut(args, " ")
	if who == "" {
		return usage(c)
	}
	c.Who, c.Fingerprint = who, strings.TrimSpace(fp)
	return nil
}

// MaxBack bounds the N of reply, react, edit and delete.
const MaxBack = 1000

// parseAway parses "[TEXT]": "away" when none is given.
func parseAway(c *Call, args string) error {
	c.Text = args
	if c.Text == "" {
		c.Text = "away"
	}
	return nil
}

// parseN parses "N": a message counted back from the latest, 1 to MaxBack.
func parseN(c *Call, args string) error {
	n, err := strconv.Atoi(args)
	if err != nil || n <= 0 || n > MaxBack {
		return fmt.Errorf("%w (N: 1 is the latest message, up to %d)", usage(c), MaxBack)
	}
	c.N = n
	return nil
}

// parseNText parses "N TEXT".
func parseNText(c *Call, args string) error {
	n, text, _ := strings.Cut(args, " ")
	if err := parseN(c, n); err != nil {
		return err
	}
	if c.Text = strings.TrimSpace(text); c.Text == "" {
		return usage(c)
	}
	return nil
}

func parseHistory(c *Call, args string) error {
	if args == "" {
		return nil
	}
	n, err := strconv.Atoi(args)
	if err != nil || n <= 0 {
		return usage(c)
	}
	c.N = n
	return nil
}
