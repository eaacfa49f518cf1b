package api

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/store"
)

// Local is a [Backend] for a node in this process.
type Local struct {
	ID    *identity.Identity
	Node  *node.Node
	M     *room.Manager
	Store *store.Store
}

var _ Backend = (*Local)(nil)

// Self implements [Backend].
func (l *Local) Self(context.Context) (Self, error) {
	s := Self{PeerID: l.ID.PeerID(), Fingerprint: l.ID.Fingerprint(), Nick: l.M.Nick()}
	for _, a := range l.Node.Addrs() {
		s.Addrs = append(s.Addrs, a.String())
	}
	return s, nil
}

// Status implements [Backend].
func (l *Local) Status(ctx context.Context) (Status, error) {
	self, err := l.Self(ctx)
	if err != nil {
		return Status{}, err
	}
	return Status{Self: self, Peers: len(l.Node.ConnectedPeers()), Rooms: l.M.Status().Rooms}, nil
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
	norm, err := room.Normalize(name)
	if err != nil {
		return "", fmt.Errorf("room %q: %w", name, err)
	}
	rec, ok, err := l.Store.Room(ctx, norm)
	if err != nil || !ok {
		return "", err
	}
	return rec.Kind, nil
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
	for _, p := range l.Node.ConnectedPeers() {
		fp, err := identity.PeerFingerprint(p)
		if err != nil {
			continue // not an Ed25519 key: not a p2pchat peer
		}
		pi := PeerInfo{PeerID: p, Fingerprint: fp}
		if rec, ok, err := l.Store.Peer(ctx, p.String()); err == nil && ok {
			pi.Nick, pi.Verified = rec.LastNick, rec.Verified
		}
		for _, a := range l.Node.RemoteAddrs(p) {
			pi.Addrs = append(pi.Addrs, a.String())
		}
		out = append(out, pi)
	}
	return out, nil
}

// Annotate adds to ev what showing it needs from this node.
func (l *Local) Annotate(ev room.Event) Event {
	e := Event{Event: ev}
	switch ev.Type {
	case room.EventJoined:
		if r, err := l.M.Room(ev.Room); err == nil {
			e.Kind = r.Kind()
		}
	case room.EventMemberJoined:
		e.Verified = l.M.Verified(ev.Peer)
	}
	return e
}
