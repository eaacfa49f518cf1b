package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/room"
)

// printer writes events to stdout, one line (or one JSON object) each, from
// any goroutine.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

func newPrinter(w io.Writer, asJSON bool) *printer { return &printer{w: w, json: asJSON} }

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func (p *printer) emit(obj map[string]any, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		writeJSON(p.w, obj)
		return
	}
	fmt.Fprintln(p.w, line)
}

// info prints the answer to a command: typ names it in JSON mode. Fields
// may hold the api package's typed objects: they are printed as JSON
// objects always were, members in name order (see plainJSON).
func (p *printer) info(typ string, fields map[string]any, line string) {
	obj := map[string]any{"type": typ}
	for k, v := range fields {
		obj[k] = v
	}
	if p.json {
		obj = plainJSON(obj)
	}
	p.emit(obj, line)
}

// plainJSON returns obj with every struct in it turned into a map, by way
// of its JSON: encoding/json writes a map's members sorted by name, a
// struct's in field order, and line mode's objects have always been maps.
// Numbers are kept exactly (json.Number). obj is returned as it is if it
// cannot be encoded.
func plainJSON(obj map[string]any) map[string]any {
	b, err := json.Marshal(obj)
	if err != nil {
		return obj
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return obj
	}
	return out
}

func (p *printer) errorf(format string, args ...any) {
	p.event(room.Event{Type: room.EventError, Err: fmt.Errorf(format, args...)})
}

func (p *printer) ready(self api.Self) {
	fp := self.Fingerprint
	p.emit(map[string]any{"type": "ready", "peer_id": self.PeerID.String(), "fingerprint": fp.String(), "fp": fp.Short(), "addrs": self.Addrs},
		fmt.Sprintf("* you are %s#%s (fingerprint %s)\n* listening on %s", clean(self.Nick), fp.Short(), fp, strings.Join(self.Addrs, " ")))
}

// event prints an event that needs nothing from the node: the errors
// commands report.
func (p *printer) event(ev room.Event) { p.show(api.Event{Event: ev}) }

// show prints an event of the node's stream.
func (p *printer) show(e api.Event) {
	p.emit(e.JSON(), plainLine(e))
}

// plainLine is an event in --plain output.
func plainLine(e api.Event) string {
	ev := e.Event
	prefix := ""
	if ev.Room != "" {
		prefix = "[" + ev.Room + "] "
	}
	switch ev.Type {
	case room.EventJoined:
		line := "* " + prefix + "joined; messages are end-to-end encrypted"
		if e.Kind != "" {
			line += " (" + room.DescribeKind(e.Kind) + ")"
		}
		return line
	case room.EventLeft:
		return "* " + prefix + "left"
	case room.EventMemberJoined:
		mark := ""
		if e.Verified {
			mark = " ✓"
		}
		return fmt.Sprintf("* %s%s#%s%s joined", prefix, clean(ev.Nick), ev.Short, mark)
	case room.EventMemberLeft:
		return fmt.Sprintf("* %s%s#%s left%s", prefix, clean(ev.Nick), ev.Short, room.LeftText(ev.Reason))
	case room.EventNick:
		return fmt.Sprintf("* %s%s#%s is now %s#%s", prefix, clean(ev.OldNick), ev.Short, clean(ev.Nick), ev.Short)
	case room.EventMessage:
		return prefix + messageLine(ev.Message)
	case room.EventState:
		m := ev.Message
		return fmt.Sprintf("* %syour message %.8s is %s by %d member(s)", prefix, m.ID, m.State, m.SeenBy)
	case room.EventAway:
		if ev.Text == "" {
			return fmt.Sprintf("* %s%s#%s is back", prefix, clean(ev.Nick), ev.Short)
		}
		return fmt.Sprintf("* %s%s#%s is away: %s", prefix, clean(ev.Nick), ev.Short, clean(ev.Text))
	case room.EventReaction:
		verb := "reacted " + clean(ev.Reaction) + " to"
		if !ev.On {
			verb = "took back " + clean(ev.Reaction) + " from"
		}
		return fmt.Sprintf("* %s%s#%s %s %s", prefix, clean(ev.Nick), ev.Short, verb, describe(ev.Message, ev.Target))
	case room.EventEdit:
		if ev.Message == nil {
			return fmt.Sprintf("* %s%s#%s edited a message not received yet (%.8s)", prefix, clean(ev.Nick), ev.Short, ev.Target)
		}
		return fmt.Sprintf("* %s%s#%s edited a message: %s", prefix, clean(ev.Nick), ev.Short, clean(quote(ev.Message.Text)))
	case room.EventDelete:
		return fmt.Sprintf("* %s%s#%s deleted a message (%.8s)", prefix, clean(ev.Nick), ev.Short, ev.Target)
	case room.EventKeyChanged:
		was := clean(room.KeyChangedWas(ev))
		return fmt.Sprintf("!!! %s%s#%s uses the nick of a different key than before (was %s) — verify before trusting", prefix, clean(ev.Nick), ev.Short, was)
	case room.EventError:
		msg := "unknown error"
		if ev.Err != nil {
			msg = ev.Err.Error()
		}
		return "! " + prefix + clean(msg)
	default:
		return "* " + prefix + string(ev.Type)
	}
}

// describe names a message an event refers to: its author and text as
// they are now, or its id if it is not held.
func describe(m *room.Message, id string) string {
	if m == nil {
		return fmt.Sprintf("a message not received yet (%.8s)", id)
	}
	if m.Deleted {
		return fmt.Sprintf("%s's deleted message", clean(m.Nick))
	}
	return fmt.Sprintf("%s's message: %s", clean(m.Nick), clean(quote(m.Text)))
}

// quote shortens text to one line of at most 60 runes.
func quote(text string) string {
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i] + " …"
	}
	if r := []rune(text); len(r) > 60 {
		text = string(r[:59]) + "…"
	}
	return text
}

// messageLine is a message in --plain output, without the room prefix.
func messageLine(m *room.Message) string {
	var line string
	switch {
	case m.Deleted:
		line = fmt.Sprintf("%s#%s: (message deleted)", clean(m.Nick), m.Short)
	case m.Action:
		line = fmt.Sprintf("* %s#%s %s", clean(m.Nick), m.Short, clean(m.Text))
	default:
		line = fmt.Sprintf("%s#%s: %s", clean(m.Nick), m.Short, clean(m.Text))
	}
	if m.ReplyTo != "" {
		switch {
		case m.ReplyDeleted:
			line += fmt.Sprintf("  (reply to %s's deleted message)", clean(m.ReplyNick))
		case m.ReplyNick != "":
			line += fmt.Sprintf("  (reply to %s: %s)", clean(m.ReplyNick), clean(quote(m.ReplyText)))
		default:
			line += "  (reply to an unknown message)"
		}
	}
	if m.Edited {
		line += "  (edited)"
	}
	if len(m.Reactions) > 0 {
		line += "  [" + reactionSummary(m) + "]"
	}
	if m.State == room.StatePending {
		line += "  (pending: no member reachable; it will be delivered when one is)"
	}
	if m.Late {
		line += "  (late, sent " + m.Time.Local().Format("15:04:05") + ")"
	}
	return line
}

// clean makes text safe for a terminal: control characters (escape
// sequences included) are shown as \x.. escapes, and a newline continues on
// an indented line.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString("\n    ")
		case r == '\t':
			b.WriteRune(r)
		case unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Bidi_Control, r):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// reactionSummary is a message's reactions as "👍 2  🎉 1", most first.
func reactionSummary(m *room.Message) string {
	var parts []string
	for _, c := range m.ReactionCounts() {
		parts = append(parts, fmt.Sprintf("%s %d", clean(c.Reaction), c.N))
	}
	return strings.Join(parts, "  ")
}
