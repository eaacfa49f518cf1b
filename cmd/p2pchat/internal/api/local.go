package api

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// Local is a [Backend] for a node in this process: a thin adapter over its
// room manager, which answers for the node and the store.
type Local struct {
	M *room.Manager
}

var _ Backend = (*Local)(nil)

// Self implements [Backend].
func (l *Local) Self(context.Context) (Self, error) {
	s := l.M.Self()
	return Self{PeerID: s.PeerID, Fingerprint: s.Fingerprint, Nick: s.Nick, Addrs: s.Addrs}, nil
}

// Status implements [Backend].
func (l *Local) Status(ctx context.Context) (Status, error) {
	self, err := l.Self(ctx)
	if err != nil {
		return Status{}, err
	}
	return Status{Self: self, Peers: l.M.PeerCount(), Rooms: l.M.Status().Rooms}, nil
}

// Rooms implements [Backend].
func (l *Local) Rooms(ctx context.Context) ([]RoomInfo, error) {
	var out []RoomInfo
	for _, name := range l.M.Rooms() {
		ri, err := l.Room(ctx, name)
		if err != nil {
			continue // left meanwhile
		}
		out = append(out, ri)
	}
	return out, nil
}

// Room implements [Backend].
func (l *Local) Room(_ context.Context, name string) (RoomInfo, error) {
	r, err := l.M.Room(name)
	if err != nil {
		return RoomInfo{}, err
	}
	return RoomInfo{RoomStatus: r.Status(), Members: r.Members()}, nil
}

// StoredKind implements [Backend].
func (l *Local) StoredKind(ctx context.Context, name string) (string, error) {
	return l.M.StoredKind(ctx, name)
}

// Join implements [Backend].
func (l *Local) Join(ctx context.Context, name string, passphrase []byte) (RoomInfo, error) {
	r, err := l.M.Join(ctx, name, room.JoinOptions{Passphrase: passphrase})
	if err != nil {
		return RoomInfo{}, err
	}
	return RoomInfo{RoomStatus: r.Status(), Members: r.Members()}, nil
}

// Leave implements [Backend].
func (l *Local) Leave(ctx context.Context, name string) error { return l.M.Leave(ctx, name) }

// SetNick implements [Backend].
func (l *Local) SetNick(ctx context.Context, nick string) error { return l.M.SetNick(ctx, nick) }

// Send implements [Backend].
func (l *Local) Send(ctx context.Context, name, text string, action bool) (*room.Message, error) {
	r, err := l.M.Room(name)
	if err != nil {
		return nil, err
	}
	return r.Send(ctx, text, action)
}

// History implements [Backend].
func (l *Local) History(ctx context.Context, name string, n int) ([]*room.Message, error) {
	return l.M.History(ctx, name, n)
}

// Search implements [Backend].
func (l *Local) Search(ctx context.Context, query, roomName string, n int) ([]room.SearchHit, error) {
	return l.M.Search(ctx, query, roomName, n)
}

// Verified implements [Backend].
func (l *Local) Verified(_ context.Context, p peer.ID) (bool, error) { return l.M.Verified(p), nil }

// Verify implements [Backend].
func (l *Local) Verify(ctx context.Context, p peer.ID, fingerprint string) error {
	return l.M.Verify(ctx, p, fingerprint)
}

// Peers implements [Backend].
func (l *Local) Peers(ctx context.Context) ([]PeerInfo, error) {
	var out []PeerInfo
	for _, p := range l.M.Peers(ctx) {
		out = append(out, PeerInfo(p))
	}
	return out, nil
}
