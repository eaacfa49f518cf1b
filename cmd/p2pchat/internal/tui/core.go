package tui

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// Core is the chat core as the UI drives it. cmd/p2pchat adapts
// room.Manager to it; tests use a fake. Its methods are called from Update
// (Snapshot) and from Bubble Tea commands, that is from other goroutines:
// they must be safe for concurrent use.
type Core interface {
	// Snapshot returns what the side columns and the status line show.
	// It is called on every event, every second and on [SnapshotMsg], so
	// it must not block: a core keeps it and sends SnapshotMsg when it
	// changed.
	Snapshot() Snapshot
	// Send sends text to the joined room, as an action (/me) if action is
	// set, and returns the message as sent.
	Send(ctx context.Context, room, text string, action bool) (*room.Message, error)
	// Command runs a command line that line mode has too (/join, /leave,
	// /nick, /who, /verify, /rooms, /status: the commands of the slash
	// table that the model does not answer itself; it answers lines that
	// name no command) with current as the current room. It asks for passphrases
	// with ask, which shows a masked prompt and returns what was typed; the
	// caller clears that when done.
	Command(ctx context.Context, current, line string, ask AskFunc) CommandResult
}

// AskFunc asks the user for a secret with prompt and returns it, or an
// error if the user cancelled or ctx ended. The caller clears the result.
type AskFunc func(ctx context.Context, prompt string) ([]byte, error)

// CommandResult is what [Core.Command] did.
type CommandResult struct {
	Current string   // the current room after the command; "" for none
	Output  []Output // what the command answered, in order
	Quit    bool     // the command asks the program to end
}

// Output is one answer of a command: an event (errors mostly) or a note.
type Output struct {
	Event *room.Event // an event; nil for a note
	Kind  string      // what answered the note, as --json's type ("who", "status", …)
	Text  string      // the note, as line mode's --plain prints it
}

// Snapshot is the core's state that the UI shows beside the messages.
type Snapshot struct {
	ID    peer.ID     // this node
	Nick  string      // this node's nick
	Short string      // this node's short fingerprint
	Peers int         // connected peers
	Rooms []RoomState // joined rooms, sorted by name
}

// RoomState is one joined room in a [Snapshot].
type RoomState struct {
	Name    string        // normalised name
	Kind    room.Kind     // room.KindOpen or room.KindPassphrase
	Ready   bool          // this node holds the room key
	Members []room.Member // other members, sorted by nick
	Absent  []room.Member // members before, not now, the last seen first
}

// room returns the state of the joined room name.
func (s *Snapshot) room(name string) (*RoomState, bool) {
	for i := range s.Rooms {
		if s.Rooms[i].Name == name {
			return &s.Rooms[i], true
		}
	}
	return nil, false
}

// EventMsg carries one event of the core's stream into the program.
type EventMsg struct{ Event room.Event }

// SnapshotMsg tells the program that [Core.Snapshot] has news.
type SnapshotMsg struct{}

// Historian is what a [Core] that keeps message history also offers. The
// model loads a room's last messages when it first shows the room, more
// when the user scrolls past the top, and answers /history and /search
// with it; without it, those two say that history is not kept.
type Historian interface {
	// History returns the last n stored messages of the room, in room
	// order.
	History(ctx context.Context, room string, n int) ([]*room.Message, error)
	// Search returns up to limit stored messages that contain every word
	// of query, best first, in every room.
	Search(ctx context.Context, query string, limit int) ([]room.SearchHit, error)
}

// HistoryMsg puts stored messages of a room above what its pane shows,
// skipping those already there. The model asks its [Historian] for them;
// anything else may send them too.
type HistoryMsg struct {
	Room     string
	Messages []*room.Message // in room order
	Err      error           // the history could not be read
	Asked    int             // how many were asked for (0: all there are)
	Note     bool            // say in the pane how many were loaded (/history)
}
