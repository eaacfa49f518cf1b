package api

import (
	"context"
	"errors"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

// Local is a [Backend] for a node in this process: a thin adapter over its
// room manager, which answers for the node and the store. It keeps the
// manager's events in an event log, the one a daemon's [Server] streams.
type Local struct {
	M *room.Manager

	events *eventLog
	done   chan struct{} // closed when the manager's event stream has ended
}

// NewLocal returns a Local for m, which from now on reads m's events
// (nothing else may read [room.Manager.Events]) into its event log, keeping
// the newest [ServerConfig]'s default number and bytes of them.
func NewLocal(m *room.Manager) *Local {
	l := &Local{M: m, events: newEventLog(0, 0), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ev := range m.Events() {
			_, _ = l.events.append(Event{Event: ev}) // a room event always encodes
		}
	}()
	return l
}

// Follow implements [Backend]. It returns nil when ctx ends or once the
// manager is closed and every event was delivered; opts.GiveUp is unused.
func (l *Local) Follow(ctx context.Context, opts EventsOptions, fn func(Event) error) error {
	if l.events == nil {
		return errors.New("api: a Local without events: make it with NewLocal")
	}
	var filter string
	if opts.Room != "" {
		var err error
		if filter, err = normalize(opts.Room); err != nil {
			return err
		}
	}
	cursor := l.events.last()
	switch {
	case opts.Since > 0:
		cursor = min(opts.Since, cursor)
	case opts.FromStart:
		cursor = 0
	}
	return l.events.follow(ctx, cursor, filter, l.done, fn)
}

var _ Backend = (*Local)(nil)

// Self implements [Backend].
func (l *Local) Self(context.Context) (Self, error) {
	return l.M.Self(), nil
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
func (l *Local) Room(ctx context.Context, name string) (RoomInfo, error) {
	r, err := l.M.Room(name)
	if err != nil {
		return RoomInfo{}, err
	}
	absent, err := r.Absent(ctx)
	if err != nil {
		return RoomInfo{}, err
	}
	return RoomInfo{RoomStatus: r.Status(), Members: r.Members(), Absent: absent}, nil
}

// StoredKind implements [Backend].
func (l *Local) StoredKind(ctx context.Context, name string) (room.Kind, error) {
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

// SetAway implements [Backend].
func (l *Local) SetAway(ctx context.Context, text string) error { return l.M.SetAway(ctx, text) }

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

// Annotate implements [Backend].
func (l *Local) Annotate(ctx context.Context, name string, a room.Annotation) (*room.Message, error) {
	return l.M.Annotate(ctx, name, a)
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
	return l.M.Peers(ctx), nil
}
