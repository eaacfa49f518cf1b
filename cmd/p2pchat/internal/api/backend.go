package api

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// Backend is a p2pchat node as the faces drive it. [Local] is a node in
// this process, [Client] one in a daemon. Methods are safe for concurrent
// use; errors wrap the room package's sentinels (room.ErrNotJoined,
// room.ErrFingerprint, …) whichever implementation returns them.
type Backend interface {
	// Self describes this node.
	Self(ctx context.Context) (Self, error)
	// Status is this node, its connected peers and its joined rooms.
	Status(ctx context.Context) (Status, error)
	// Rooms returns the joined rooms, with their members, sorted by name.
	Rooms(ctx context.Context) ([]RoomInfo, error)
	// Room returns the joined room called name.
	Room(ctx context.Context, name string) (RoomInfo, error)
	// StoredKind returns the kind remembered for a room (KindOpen or
	// KindPassphrase), or "" for a room never joined or left since.
	StoredKind(ctx context.Context, name string) (room.Kind, error)
	// Join joins the room called name, with passphrase if not nil (else
	// as an open room, or with the secret stored when it was last joined
	// with one), and returns it; joining a joined room just returns it.
	Join(ctx context.Context, name string, passphrase []byte) (RoomInfo, error)
	// Leave leaves the room, saying goodbye, and forgets its passphrase.
	Leave(ctx context.Context, name string) error
	// SetNick changes this node's nick.
	SetNick(ctx context.Context, nick string) error
	// SetAway marks this node away in every room with text ("": back).
	SetAway(ctx context.Context, text string) error
	// Send sends text (an action if action is set) to the joined room,
	// waiting (bounded by ctx) for the room key if need be.
	Send(ctx context.Context, name, text string, action bool) (*room.Message, error)
	// Annotate replies to, reacts to, edits or deletes a message of the
	// joined room (room.Manager.Annotate), waiting for the room key as
	// Send does. It returns the reply, or the message named as it is now.
	Annotate(ctx context.Context, name string, a room.Annotation) (*room.Message, error)
	// History returns the room's last n stored messages (all if n <= 0)
	// in room order.
	History(ctx context.Context, name string, n int) ([]*room.Message, error)
	// Search returns up to n stored messages matching query, best first,
	// in roomName or every room if it is "".
	Search(ctx context.Context, query, roomName string, n int) ([]room.SearchHit, error)
	// Verified reports whether the user verified p's fingerprint.
	Verified(ctx context.Context, p peer.ID) (bool, error)
	// Verify remembers p as verified if fingerprint is p's; otherwise the
	// error wraps room.ErrFingerprint.
	Verify(ctx context.Context, p peer.ID, fingerprint string) error
	// Peers returns the connected peers.
	Peers(ctx context.Context) ([]PeerInfo, error)
	// Follow calls fn with the node's events in event id order, as
	// opts selects them, until ctx ends (it then returns nil), fn returns
	// an error (returned) or the node stops. Events carry their event id;
	// where events were lost fn gets an error event of reason
	// [ReasonEventsMissed]. [Local] reads its event log, [Client] the
	// daemon's, which is the same kind of log fed the same way.
	Follow(ctx context.Context, opts EventsOptions, fn func(Event) error) error
}

// Self is this node, as its room manager describes it.
type Self = room.SelfInfo

// Status is a snapshot of the node.
type Status struct {
	Self
	Peers int // connected peers
	Rooms []room.RoomStatus
}

// RoomInfo is a joined room.
type RoomInfo struct {
	room.RoomStatus
	Members []room.Member // other members, sorted by nick then peer ID
	Absent  []room.Member // members before, not now: the last seen first (room.Room.Absent)
}

// PeerInfo is a connected peer, as the room manager describes it.
type PeerInfo = room.PeerInfo
