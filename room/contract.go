package room

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/store"
)

// Kind is a room's kind: who may join it. It is the kind field of the
// rooms, status and joined objects of docs/CLI.md and docs/API.md.
type Kind string

// Room kinds.
const (
	KindOpen       Kind = store.KindOpen       // admission needs only the room name
	KindPassphrase Kind = store.KindPassphrase // admission needs the passphrase, proven by PAKE
)

// State is how far one of our own messages got ([Message.State]): the
// state field of message objects. It is "" for others' messages.
type State string

// Message states, in the order a message goes through them.
const (
	StatePending State = store.StatePending // stored; no member was reachable when it was published
	StateSent    State = store.StateSent    // published while a member was reachable
	StateSeen    State = "seen"             // at least one member is known to hold it (SeenBy)
)

// Reason says why a member left ([EventMemberLeft]) or what an error event
// ([EventError]) is about: the reason field of docs/CLI.md's events, which
// users' scripts branch on. Faces add reasons of their own (a Reason may be
// any string); these are the room's.
type Reason string

// Reasons of member_left events.
const (
	ReasonLeft         Reason = "left"                 // the member said goodbye
	ReasonDisconnected Reason = "disconnected"         // its connection went away without a goodbye
	ReasonTimedOut     Reason = "timed out"            // not heard from for Timing.MemberTimeout
	ReasonNotInEpoch   Reason = "not in the new epoch" // a rekey by another member left it out
)

// Reasons of error events.
const (
	ReasonWrongPassphrase Reason = "wrong_passphrase" // a peer proved a different passphrase for the room
	ReasonUnreadable      Reason = "unreadable"       // messages waited for a key that never came
	ReasonStore           Reason = "store"            // the database failed; history may be incomplete
	ReasonClockSkew       Reason = "clock_skew"       // a member's claimed times differ from our clock by more than 5 minutes (once per member)
)

// Reasons of error events that the faces report about commands.
const (
	ReasonFingerprintMismatch Reason = "fingerprint_mismatch" // /verify: the fingerprint given is not the peer's
	ReasonAmbiguous           Reason = "ambiguous"            // a nick names more than one member
)

// LeftText says in words why a member left, for a line such as "bob#k3f9q
// left": "" for a goodbye, else the reason after a comma. Reason codes are
// for scripts; this is for people.
func LeftText(r Reason) string {
	switch r {
	case ReasonLeft, "":
		return ""
	case ReasonDisconnected:
		return ": lost connection"
	case ReasonTimedOut:
		return ": not heard from for a while"
	case ReasonNotInEpoch:
		return ": was removed when the room key changed"
	}
	return " (" + string(r) + ")"
}

// KeyChangedWas names, for an [EventKeyChanged], the key that used the
// nick before, as people are named: nick#fp (the peer ID itself if it
// holds no key), with ", verified" if it had been.
func KeyChangedWas(e Event) string {
	was := e.OldPeer
	if p, err := peer.Decode(e.OldPeer); err == nil {
		if fp, err := identity.PeerFingerprint(p); err == nil {
			was = e.Nick + "#" + fp.Short()
		}
	}
	if e.OldVerified {
		was += ", verified"
	}
	return was
}
