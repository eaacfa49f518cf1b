package room

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// EventType names what an [Event] reports.
type EventType string

// Event types. The faces (line mode, --json) map them one to one onto the
// event stream documented in docs/CLI.md.
const (
	EventJoined       EventType = "joined"        // this node holds the room key and can send
	EventLeft         EventType = "left"          // this node left the room
	EventMemberJoined EventType = "member_joined" // a peer proved it can read the room
	EventMemberLeft   EventType = "member_left"   // a member said goodbye, disconnected or timed out
	EventNick         EventType = "nick"          // a member changed its nick
	EventMessage      EventType = "message"       // a message, own ones included
	EventError        EventType = "error"         // something the user must know
	EventKeyChanged   EventType = "key_changed"   // a nick seen before now comes with another key
	EventState        EventType = "state"         // one of our messages changed state (sent, seen by N)
	EventReaction     EventType = "reaction"      // a member reacted to a message, or took its reaction back
	EventEdit         EventType = "edit"          // an author edited its message
	EventDelete       EventType = "delete"        // an author deleted its message
	EventAway         EventType = "away"          // a member went away (Text says why) or came back (Text "")
)

// Event is one thing that happened in a room.
type Event struct {
	Type        EventType
	Room        string   // normalised room name; empty for node-wide errors
	Peer        peer.ID  // for member events
	Nick        string   // for member events (new nick for EventNick)
	OldNick     string   // for EventNick
	Short       string   // short fingerprint of Peer
	Reason      Reason   // for EventMemberLeft and EventError: why
	OldPeer     string   // for EventKeyChanged: the peer ID that used the nick before
	OldVerified bool     // for EventKeyChanged: that peer had been verified
	Kind        Kind     // for EventJoined: the room's kind; "" if left since
	Verified    bool     // for EventMemberJoined: the user verified Peer
	Message     *Message // for EventReaction, EventEdit and EventDelete: the message named, as it is now (nil if not held yet)
	Target      string   // for EventReaction, EventEdit and EventDelete: the id of the message named
	Reaction    string   // for EventReaction
	Text        string   // for EventAway: the away text, "" when back
	On          bool     // for EventReaction: Peer's reaction is now on Target (false: taken back)
	Err         error    // for EventError
}

// Message is a verified chat message.
type Message struct {
	ID     string // stable id, unique across rooms: hex of wire.MessageID(room, author, seq)
	From   peer.ID
	Short  string // short fingerprint of From
	Nick   string
	Text   string
	Action bool // sent with /me
	Time   time.Time
	Seq    uint64 // per author and room, from 1
	Clock  uint64 // the room's Lamport clock: messages are ordered by (Clock, author, Seq)
	Self   bool
	State  State  // own messages: StatePending, StateSent or StateSeen
	SeenBy int    // own messages: members known to hold it
	Late   bool   // arrived after a message that comes after it in room order
	Synced bool   // fetched from another member's history rather than received live
	Record []byte // from History and Search: header and signed body, verifiable with VerifyRecord

	ReplyTo      string               // the id of the message this one answers ("" if none)
	ReplyNick    string               // the nick of the message answered, "" if it is not held
	ReplyText    string               // its text as it is now (shortened), "" if it is not held or deleted
	ReplyDeleted bool                 // the message answered was deleted
	Reactions    map[string][]peer.ID // reaction → the members whose reaction it is
	Edited       bool                 // its author edited it: Text is the latest edit
	Deleted      bool                 // its author deleted it: Text is empty

	kind wire.Kind // the kind of the message's body
}
