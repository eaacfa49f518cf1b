package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room"
)

// printer writes events to stdout, one line (or one JSON object) each, from
// any goroutine.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	// m, once set, answers what events do not carry: a room's kind and
	// whether a peer is verified.
	m atomic.Pointer[room.Manager]
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

// info prints the answer to a command: typ names it in JSON mode.
func (p *printer) info(typ string, fields map[string]any, line string) {
	obj := map[string]any{"type": typ}
	for k, v := range fields {
		obj[k] = v
	}
	p.emit(obj, line)
}

func (p *printer) errorf(format string, args ...any) {
	p.event(room.Event{Type: room.EventError, Err: fmt.Errorf(format, args...)})
}

func (p *printer) ready(id *identity.Identity, n *node.Node) {
	fp := id.Fingerprint()
	var addrs []string
	for _, a := range n.Addrs() {
		addrs = append(addrs, a.String())
	}
	p.emit(map[string]any{"type": "ready", "peer_id": id.PeerID().String(), "fingerprint": fp.String(), "fp": fp.Short(), "addrs": addrs},
		fmt.Sprintf("* you are %s (fingerprint %s)\n* listening on %s", id.PeerID(), fp, strings.Join(addrs, " ")))
}

func (p *printer) event(ev room.Event) {
	obj := map[string]any{"type": string(ev.Type)}
	if ev.Room != "" {
		obj["room"] = ev.Room
	}
	prefix := ""
	if ev.Room != "" {
		prefix = "[" + ev.Room + "] "
	}
	var line string
	switch ev.Type {
	case room.EventJoined:
		line = "* " + prefix + "joined; messages are end-to-end encrypted"
		if kind := p.kind(ev.Room); kind != "" {
			obj["kind"] = kind
			line += " (" + room.DescribeKind(kind) + ")"
		}
	case room.EventLeft:
		line = "* " + prefix + "left"
	case room.EventMemberJoined:
		verified := p.verified(ev.Peer)
		obj["peer_id"], obj["nick"], obj["fp"], obj["verified"] = ev.Peer.String(), ev.Nick, ev.Short, verified
		mark := ""
		if verified {
			mark = " ✓"
		}
		line = fmt.Sprintf("* %s%s#%s%s joined", prefix, clean(ev.Nick), ev.Short, mark)
	case room.EventMemberLeft:
		obj["peer_id"], obj["nick"], obj["fp"], obj["reason"] = ev.Peer.String(), ev.Nick, ev.Short, ev.Reason
		line = fmt.Sprintf("* %s%s#%s left (%s)", prefix, clean(ev.Nick), ev.Short, ev.Reason)
	case room.EventNick:
		obj["peer_id"], obj["nick"], obj["old_nick"], obj["fp"] = ev.Peer.String(), ev.Nick, ev.OldNick, ev.Short
		line = fmt.Sprintf("* %s%s#%s is now %s#%s", prefix, clean(ev.OldNick), ev.Short, clean(ev.Nick), ev.Short)
	case room.EventMessage:
		addMessage(obj, ev.Message)
		line = prefix + messageLine(ev.Message)
	case room.EventState:
		m := ev.Message
		obj["id"], obj["seq"], obj["state"], obj["seen_by"] = m.ID, m.Seq, m.State, m.SeenBy
		line = fmt.Sprintf("* %syour message %s is %s by %d member(s)", prefix, m.ID[:8], m.State, m.SeenBy)
	case room.EventKeyChanged:
		obj["peer_id"], obj["nick"], obj["fp"], obj["old_peer_id"], obj["old_verified"] = ev.Peer.String(), ev.Nick, ev.Short, ev.OldPeer, ev.OldVerified
		was := clean(ev.OldPeer)
		if ev.OldVerified {
			was += ", verified"
		}
		line = fmt.Sprintf("!!! %s%s#%s uses the nick of a different key than before (was %s) — verify before trusting", prefix, clean(ev.Nick), ev.Short, was)
	case room.EventError:
		obj["error"] = ev.Err.Error()
		if ev.Peer != "" {
			obj["peer_id"] = ev.Peer.String()
		}
		if ev.Reason != "" {
			obj["reason"] = ev.Reason
		}
		line = "! " + prefix + clean(ev.Err.Error())
	default:
		line = "* " + prefix + string(ev.Type)
	}
	p.emit(obj, line)
}

// setManager makes p look up room kinds and verified peers in m.
func (p *printer) setManager(m *room.Manager) { p.m.Store(m) }

// kind returns the kind of the joined room name, or "" if unknown (no
// manager yet, or the room was left since the event).
func (p *printer) kind(name string) string {
	m := p.m.Load()
	if m == nil {
		return ""
	}
	r, err := m.Room(name)
	if err != nil {
		return ""
	}
	return r.Kind()
}

func (p *printer) verified(id peer.ID) bool {
	m := p.m.Load()
	return m != nil && m.Verified(id)
}

// addMessage adds a message's fields to a JSON event object: the fields
// of docs/CLI.md's message event, for live, history and search output alike.
func addMessage(obj map[string]any, m *room.Message) {
	obj["id"], obj["from"], obj["nick"], obj["fp"] = m.ID, m.From.String(), m.Nick, m.Short
	obj["text"], obj["time"], obj["self"] = m.Text, m.Time.UTC().Format(time.RFC3339Nano), m.Self
	obj["seq"], obj["clock"] = m.Seq, m.Clock
	if m.Action {
		obj["action"] = true
	}
	if m.State != "" {
		obj["state"] = m.State
	}
	if m.Late {
		obj["late"] = true
	}
	if m.Synced {
		obj["synced"] = true
	}
}

// messageLine is a message in --plain output, without the room prefix.
func messageLine(m *room.Message) string {
	var line string
	if m.Action {
		line = fmt.Sprintf("* %s#%s %s", clean(m.Nick), m.Short, clean(m.Text))
	} else {
		line = fmt.Sprintf("%s#%s: %s", clean(m.Nick), m.Short, clean(m.Text))
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
