package room

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/store"
)

// Archive is the message history of a state directory, read without a
// node: what the history, search and export commands show. Every message
// it returns was checked against its author's signature, so what the
// database holds is shown only if it is what its author signed; a message
// that does not verify is left out and counted ([Archive.Altered]).
type Archive struct {
	st   *store.Store
	self peer.ID // "" if the directory has no identity

	altered      map[[16]byte]bool // messages left out: they do not verify
	firstAltered error
}

// OpenHistory opens the history of the state directory dir (its database
// and, if there is one, its identity, which tells own messages apart).
// Close it when done.
func OpenHistory(ctx context.Context, dir string) (*Archive, error) {
	a := &Archive{}
	if id, err := identity.Load(dir); err == nil {
		a.self = id.PeerID()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	st, err := store.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	a.st = st
	return a, nil
}

// Close closes the database.
func (a *Archive) Close() error { return a.st.Close() }

// History returns the last n messages of the room (all if n <= 0) sent at
// or after since (any time if zero), in room order.
func (a *Archive) History(ctx context.Context, roomName string, n int, since time.Time) ([]*Message, error) {
	return a.history(ctx, roomName, n, since, true)
}

// history is History; with fold false each message is as its author
// signed it (no edit, reaction or quote applied).
func (a *Archive) history(ctx context.Context, roomName string, n int, since time.Time, fold bool) ([]*Message, error) {
	norm, err := Normalize(roomName)
	if err != nil {
		return nil, err
	}
	msgs, err := a.st.History(ctx, norm, n, since)
	if err != nil {
		return nil, err
	}
	out := make([]*Message, 0, len(msgs))
	for _, sm := range msgs {
		if m := a.verified(sm); m != nil {
			out = append(out, m)
		}
	}
	if !fold {
		return out, nil
	}
	return out, a.view().fold(ctx, norm, out)
}

func (a *Archive) view() view { return view{st: a.st, self: a.self} }

// Export returns every message of the room in room order, each as its
// author signed it, with its record ([Message.Record]), which anyone can
// check with [VerifyRecord]: an edited message has its original text (the
// edit is a record of its own, not exported), a deleted one (Deleted) no
// text and no record.
func (a *Archive) Export(ctx context.Context, roomName string) ([]*Message, error) {
	return a.history(ctx, roomName, 0, time.Time{}, false)
}

// Search returns up to n messages containing every word of query, best
// first, in roomName or in every room if it is "".
func (a *Archive) Search(ctx context.Context, query, roomName string, n int) ([]SearchHit, error) {
	return search(ctx, a.view(), query, roomName, n, a.verified)
}

// Altered returns how many distinct stored messages the Archive's calls
// left out because they do not verify (the database was altered), and the
// first such error.
func (a *Archive) Altered() (int, error) { return len(a.altered), a.firstAltered }

// verified returns the message sm carries, or nil (counted in Altered) if
// it does not verify.
func (a *Archive) verified(sm store.Message) *Message {
	m, err := a.view().row(sm)
	if err != nil {
		if a.altered == nil {
			a.altered, a.firstAltered = map[[16]byte]bool{}, err
		}
		a.altered[sm.ID] = true
		return nil
	}
	return m
}
