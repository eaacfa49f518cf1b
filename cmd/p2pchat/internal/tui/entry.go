package tui

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/charmbracelet/x/ansi"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// SendState is how far one of our own messages got. The zero value is for
// entries that are not our messages.
type SendState int

// Send states, in the order a message goes through them.
const (
	StateNone    SendState = iota
	StateSending           // handed to the core; Send has not returned yet
	StatePending           // stored, but no member was reachable: delivered when one is
	StateSent              // published while a member was reachable
	StateSeen              // members are known to hold it (entry.seenBy)
	StateNotSent           // Send failed; entry.err says why
)

func (s SendState) String() string {
	switch s {
	case StateSending:
		return "sending…"
	case StatePending:
		return "pending: no member reachable"
	case StateSent:
		return "sent"
	case StateSeen:
		return "seen"
	case StateNotSent:
		return "not sent"
	}
	return ""
}

// stateOf maps the core's message state to a SendState.
func stateOf(s room.State) SendState {
	switch s {
	case room.StatePending:
		return StatePending
	case room.StateSeen:
		return StateSeen
	}
	return StateSent
}

// kind is what an entry of the message pane is.
type kind int

const (
	kindMessage    kind = iota // a chat message
	kindAction                 // a /me message
	kindMember                 // a member joined, left or changed nick
	kindInfo                   // this node's own news (joined, left, …)
	kindNote                   // a command's answer
	kindError                  // an error the user must know
	kindUnreadable             // messages that could not be read
	kindKeyChanged             // a nick now comes with another key
)

// entry is one item of a room's scrollback.
type entry struct {
	kind  kind
	time  time.Time
	from  peer.ID // author or member, if any
	nick  string
	short string
	text  string
	self  bool // our own message

	id      string        // message id, once known
	local   int           // our own messages: the id Send results refer to
	action  bool          // sent with /me
	state   SendState     // our own messages: how far they got
	seenBy  int           // StateSeen: by how many members
	err     string        // why not sent
	mention bool          // the text names us
	late    bool          // arrived after messages that follow it in room order
	msg     *room.Message // the message, if it has a place in the room's order (Clock > 0)

	replyTo   string // the id of the message this one answers
	quote     string // what it answers, one line: "alice: lunch?"
	edited    bool   // its author edited it: text is the latest
	deleted   bool   // its author deleted it
	reactions string // "👍 2  🎉 1", most first; "" for none
}

// messageEntry returns the entry that shows msg.
func messageEntry(msg *room.Message) *entry {
	e := &entry{kind: kindMessage, time: msg.Time, from: msg.From, nick: msg.Nick, short: msg.Short,
		text: msg.Text, self: msg.Self, id: msg.ID, action: msg.Action, late: msg.Late}
	if msg.Clock > 0 {
		e.msg = msg
	}
	if msg.Action {
		e.kind = kindAction
	}
	if msg.Self {
		e.state, e.seenBy = stateOf(msg.State), msg.SeenBy
	}
	e.annotate(msg)
	return e
}

// annotate sets what e shows of msg's reply, edit, delete and reactions.
func (e *entry) annotate(msg *room.Message) {
	e.replyTo, e.edited, e.deleted = msg.ReplyTo, msg.Edited, msg.Deleted
	e.reactions = reactionSummary(msg)
	switch {
	case msg.ReplyTo == "":
		e.quote = ""
	case msg.ReplyNick == "":
		e.quote = "a message not received yet"
	default:
		e.quote = quoteOf(msg.ReplyNick, msg.ReplyText, msg.ReplyDeleted)
	}
}

// quoteOf is what a reply shows of the message it answers.
func quoteOf(nick, text string, deleted bool) string {
	if deleted {
		return nick + "'s deleted message"
	}
	return nick + ": " + text
}

// reactionSummary is a message's reactions as "👍 2  🎉 1", most first.
func reactionSummary(m *room.Message) string {
	var parts []string
	for _, c := range m.ReactionCounts() {
		parts = append(parts, fmt.Sprintf("%s %d", c.Reaction, c.N))
	}
	return strings.Join(parts, "  ")
}

// mentions reports whether text names nick as a word, case-insensitively
// ("@bob", "bob:" and "Bob," count; "bobby" does not).
func mentions(text, nick string) bool {
	return len(mentionSpans(text, nick)) > 0
}

// mentionSpans returns the byte ranges of nick in text as whole words.
func mentionSpans(text, nick string) [][2]int {
	if nick == "" {
		return nil
	}
	lower, n := strings.ToLower(text), strings.ToLower(nick)
	if len(lower) != len(text) {
		// Case folding changed byte lengths: offsets would not line up, so
		// match exactly instead.
		lower, n = text, nick
	}
	var spans [][2]int
	for i := 0; ; {
		j := strings.Index(lower[i:], n)
		if j < 0 {
			return spans
		}
		start, end := i+j, i+j+len(n)
		if wordEdge(text, start, true) && wordEdge(text, end, false) {
			spans = append(spans, [2]int{start, end})
		}
		i = start + 1
	}
}

// wordEdge reports whether position i of s is a word boundary on the given
// side.
func wordEdge(s string, i int, before bool) bool {
	var r rune
	if before {
		if i == 0 {
			return true
		}
		r = lastRune(s[:i])
	} else {
		if i >= len(s) {
			return true
		}
		r = []rune(s[i:min(len(s), i+4)])[0]
	}
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-'
}

func lastRune(s string) rune {
	rs := []rune(s[max(0, len(s)-4):])
	return rs[len(rs)-1]
}

// sanitize makes text from the network safe to draw: control characters
// (escape sequences included) and bidi controls become \xNN, tabs four
// spaces. Newlines stay when keepNewlines is set, else become \x0a.
func sanitize(s string, keepNewlines bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' && keepNewlines:
			b.WriteRune(r)
		case r == '\t':
			b.WriteString("    ")
		case unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Bidi_Control, r):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// wrapText wraps plain text (newlines allowed) to width cells.
func wrapText(text string, width int) []string {
	width = max(1, width)
	var out []string
	for _, para := range strings.Split(text, "\n") {
		if para == "" {
			out = append(out, "")
			continue
		}
		out = append(out, strings.Split(ansi.Wrap(para, width, " "), "\n")...)
	}
	return out
}
