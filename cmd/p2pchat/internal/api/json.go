package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// Event is a room event (its Kind and Verified set by the room manager)
// with its place in an event log: the objects of --json line mode and of
// the API's event stream (docs/CLI.md).
type Event struct {
	room.Event
	// EventID is the event's position in an event log ([Backend.Follow]),
	// from 1; 0 for events that did not come through one.
	EventID uint64
}

// JSON returns the event's --json object.
func (e Event) JSON() map[string]any {
	ev := e.Event
	obj := map[string]any{"type": string(ev.Type)}
	if ev.Room != "" {
		obj["room"] = ev.Room
	}
	if e.EventID != 0 {
		obj["event_id"] = e.EventID
	}
	switch ev.Type {
	case room.EventJoined:
		if e.Kind != "" {
			obj["kind"] = string(e.Kind)
		}
	case room.EventMemberJoined:
		obj["peer_id"], obj["nick"], obj["fp"], obj["verified"] = ev.Peer.String(), ev.Nick, ev.Short, e.Verified
	case room.EventMemberLeft:
		obj["peer_id"], obj["nick"], obj["fp"], obj["reason"] = ev.Peer.String(), ev.Nick, ev.Short, ev.Reason
	case room.EventNick:
		obj["peer_id"], obj["nick"], obj["old_nick"], obj["fp"] = ev.Peer.String(), ev.Nick, ev.OldNick, ev.Short
	case room.EventMessage:
		AddMessage(obj, ev.Message)
	case room.EventState:
		m := ev.Message
		obj["id"], obj["seq"], obj["state"], obj["seen_by"] = m.ID, m.Seq, string(m.State), m.SeenBy
	case room.EventAway:
		obj["peer_id"], obj["nick"], obj["fp"], obj["text"] = ev.Peer.String(), ev.Nick, ev.Short, ev.Text
	case room.EventReaction, room.EventEdit, room.EventDelete:
		obj["peer_id"], obj["nick"], obj["fp"], obj["target"] = ev.Peer.String(), ev.Nick, ev.Short, ev.Target
		if ev.Type == room.EventReaction {
			obj["reaction"], obj["on"] = ev.Reaction, ev.On
		}
		if ev.Message != nil {
			m := map[string]any{}
			AddMessage(m, ev.Message)
			obj["message"] = m
		}
	case room.EventKeyChanged:
		obj["peer_id"], obj["nick"], obj["fp"], obj["old_peer_id"], obj["old_verified"] = ev.Peer.String(), ev.Nick, ev.Short, ev.OldPeer, ev.OldVerified
	case room.EventError:
		msg := "unknown error"
		if ev.Err != nil {
			msg = ev.Err.Error()
		}
		obj["error"] = msg
		if ev.Peer != "" {
			obj["peer_id"] = ev.Peer.String()
		}
		if ev.Reason != "" {
			obj["reason"] = ev.Reason
		}
	}
	return obj
}

// AddMessage adds a message's fields to a JSON object: the fields of
// docs/CLI.md's message event, for live, history and search output alike.
func AddMessage(obj map[string]any, m *room.Message) {
	obj["id"], obj["from"], obj["nick"], obj["fp"] = m.ID, m.From.String(), m.Nick, m.Short
	obj["text"], obj["time"], obj["self"] = m.Text, m.Time.UTC().Format(time.RFC3339Nano), m.Self
	obj["seq"], obj["clock"] = m.Seq, m.Clock
	if m.Action {
		obj["action"] = true
	}
	if m.State != "" {
		obj["state"] = string(m.State)
	}
	if m.Late {
		obj["late"] = true
	}
	if m.Synced {
		obj["synced"] = true
	}
	if m.ReplyTo != "" {
		obj["reply_to"] = m.ReplyTo
		if m.ReplyNick != "" {
			obj["reply_nick"], obj["reply_text"] = m.ReplyNick, m.ReplyText
		}
		if m.ReplyDeleted {
			obj["reply_deleted"] = true
		}
	}
	if len(m.Reactions) > 0 {
		rs := map[string][]string{}
		for r, who := range m.Reactions {
			for _, p := range who {
				rs[r] = append(rs[r], p.String())
			}
		}
		obj["reactions"] = rs
	}
	if m.Edited {
		obj["edited"] = true
	}
	if m.Deleted {
		obj["deleted"] = true
	}
}

// wireObject holds every field of the event and message objects, for
// decoding.
type wireObject struct {
	Type         string              `json:"type"`
	Room         string              `json:"room"`
	EventID      uint64              `json:"event_id"`
	Kind         room.Kind           `json:"kind"`
	PeerID       string              `json:"peer_id"`
	Nick         string              `json:"nick"`
	OldNick      string              `json:"old_nick"`
	FP           string              `json:"fp"`
	Verified     bool                `json:"verified"`
	Reason       room.Reason         `json:"reason"`
	OldPeerID    string              `json:"old_peer_id"`
	OldVerified  bool                `json:"old_verified"`
	Error        string              `json:"error"`
	ID           string              `json:"id"`
	From         string              `json:"from"`
	Text         string              `json:"text"`
	Time         string              `json:"time"`
	Self         bool                `json:"self"`
	Seq          uint64              `json:"seq"`
	Clock        uint64              `json:"clock"`
	Action       bool                `json:"action"`
	State        room.State          `json:"state"`
	SeenBy       int                 `json:"seen_by"`
	Late         bool                `json:"late"`
	Synced       bool                `json:"synced"`
	ReplyTo      string              `json:"reply_to"`
	ReplyNick    string              `json:"reply_nick"`
	ReplyText    string              `json:"reply_text"`
	ReplyDeleted bool                `json:"reply_deleted"`
	Reactions    map[string][]string `json:"reactions"`
	Edited       bool                `json:"edited"`
	Deleted      bool                `json:"deleted"`
	Target       string              `json:"target"`
	Reaction     string              `json:"reaction"`
	On           bool                `json:"on"`
	Message      json.RawMessage     `json:"message"`
}

// ErrBadObject is wrapped by the decoders when an object is malformed.
var ErrBadObject = errors.New("malformed object")

func (w *wireObject) message() (*room.Message, error) {
	from, err := peer.Decode(w.From)
	if err != nil {
		return nil, fmt.Errorf("%w: from %q: %v", ErrBadObject, w.From, err)
	}
	t, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil {
		return nil, fmt.Errorf("%w: time %q: %v", ErrBadObject, w.Time, err)
	}
	short := w.FP
	if fp, err := identity.PeerFingerprint(from); err == nil {
		short = fp.Short() // derived from the key, not taken on trust
	}
	m := &room.Message{ID: w.ID, From: from, Short: short, Nick: w.Nick, Text: w.Text, Action: w.Action,
		Time: t, Seq: w.Seq, Clock: w.Clock, Self: w.Self, State: w.State, SeenBy: w.SeenBy, Late: w.Late, Synced: w.Synced,
		ReplyTo: w.ReplyTo, ReplyNick: w.ReplyNick, ReplyText: w.ReplyText, ReplyDeleted: w.ReplyDeleted, Edited: w.Edited, Deleted: w.Deleted}
	for r, who := range w.Reactions {
		for _, s := range who {
			p, err := peer.Decode(s)
			if err != nil {
				return nil, fmt.Errorf("%w: reaction %q by %q: %v", ErrBadObject, r, s, err)
			}
			if m.Reactions == nil {
				m.Reactions = map[string][]peer.ID{}
			}
			m.Reactions[r] = append(m.Reactions[r], p)
		}
	}
	return m, nil
}

// DecodeMessage decodes a message object (AddMessage's fields).
func DecodeMessage(b []byte) (*room.Message, error) {
	var w wireObject
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadObject, err)
	}
	return w.message()
}

// DecodeEvent decodes an event object as [Event.JSON] writes it. Unknown
// types decode with only Type, Room and EventID set.
func DecodeEvent(b []byte) (Event, error) {
	var w wireObject
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrBadObject, err)
	}
	if w.Type == "" {
		return Event{}, fmt.Errorf("%w: no type", ErrBadObject)
	}
	e := Event{Event: room.Event{Type: room.EventType(w.Type), Room: w.Room}, EventID: w.EventID}
	var err error
	if w.PeerID != "" {
		if e.Peer, err = peer.Decode(w.PeerID); err != nil {
			return Event{}, fmt.Errorf("%w: peer_id %q: %v", ErrBadObject, w.PeerID, err)
		}
		if fp, err := identity.PeerFingerprint(e.Peer); err == nil {
			w.FP = fp.Short()
		}
	}
	switch e.Type {
	case room.EventJoined:
		e.Kind = w.Kind
	case room.EventMemberJoined, room.EventMemberLeft, room.EventNick, room.EventKeyChanged:
		e.Nick, e.Short, e.Verified, e.Reason, e.OldNick = w.Nick, w.FP, w.Verified, w.Reason, w.OldNick
		e.OldPeer, e.OldVerified = w.OldPeerID, w.OldVerified
	case room.EventMessage:
		if e.Message, err = w.message(); err != nil {
			return Event{}, err
		}
	case room.EventState:
		e.Message = &room.Message{ID: w.ID, Seq: w.Seq, State: w.State, SeenBy: w.SeenBy, Self: true}
	case room.EventAway:
		e.Nick, e.Short, e.Text = w.Nick, w.FP, w.Text
	case room.EventReaction, room.EventEdit, room.EventDelete:
		e.Nick, e.Short, e.Target, e.Reaction, e.On = w.Nick, w.FP, w.Target, w.Reaction, w.On
		if len(w.Message) > 0 && string(w.Message) != "null" {
			if e.Message, err = DecodeMessage(w.Message); err != nil {
				return Event{}, err
			}
		}
	case room.EventError:
		e.Err, e.Reason = errors.New(w.Error), w.Reason
	}
	return e, nil
}
