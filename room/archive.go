package room

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/store"
)

// Archive is the message history of a state directory, read without a
// node: what the history, search and export commands show. Every message
// it returns was checked against its author's signature, so what the
// database holds is shown only if it is what its author signed.
type Archive struct {
	st   *store.Store
	self peer.ID // "" if the directory has no identity
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
		m, err := a.verified(sm)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Export returns every message of the room in room order, each with its
// record ([Message.Record]), which anyone can check with [VerifyRecord].
func (a *Archive) Export(ctx context.Context, roomName string) ([]*Message, error) {
	return a.History(ctx, roomName, 0, time.Time{})
}

// Search returns up to n messages containing every word of query, best
// first, in roomName or in every room if it is "".
func (a *Archive) Search(ctx context.Context, query, roomName string, n int) ([]SearchHit, error) {
	return search(ctx, a.st, query, roomName, n, a.verified)
}

// ErrAltered is wrapped by [Archive] methods when a stored message does not
// verify against its author's signature.
var ErrAltered = errors.New("the database was altered")

func (a *Archive) verified(sm store.Message) (*Message, error) {
	m, err := VerifyRecord(sm.Record)
	if err != nil {
		return nil, fmt.Errorf("message %x in room %q does not verify (%v): %w", sm.ID, sm.Room, err, ErrAltered)
	}
	m.Self, m.State = m.From == a.self, State(sm.State)
	return m, nil
}
