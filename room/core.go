package room

import (
	"context"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room/store"
)

// What the faces show about this node and its peers: the manager answers
// for the node and the store so that no face reaches past it.

// SelfInfo describes this node.
type SelfInfo struct {
	PeerID      peer.ID
	Fingerprint identity.Fingerprint
	Nick        string
	Addrs       []string // listen addresses, each ending in /p2p/PEER_ID
}

// PeerInfo describes a connected peer.
type PeerInfo struct {
	PeerID      peer.ID
	Fingerprint identity.Fingerprint
	Nick        string   // the last nick this node saw it use, if any
	Verified    bool     // the user verified its fingerprint
	Mismatch    bool     // the user's last check of its fingerprint found another key's
	Addrs       []string // remote addresses of its connections
}

// Self describes this node: its identity, nick and listen addresses.
func (m *Manager) Self() SelfInfo {
	return SelfInfo{PeerID: m.id.PeerID(), Fingerprint: m.id.Fingerprint(), Nick: m.Nick(), Addrs: m.net.Addrs()}
}

// PeerCount returns the number of connected peers.
func (m *Manager) PeerCount() int { return len(m.net.ConnectedPeers()) }

// Peers describes the connected p2pchat peers (those with an Ed25519 key),
// with what the store remembers of them.
func (m *Manager) Peers(ctx context.Context) []PeerInfo {
	var out []PeerInfo
	for _, p := range m.net.ConnectedPeers() {
		fp, err := identity.PeerFingerprint(p)
		if err != nil {
			continue // not an Ed25519 key: not a p2pchat peer
		}
		pi := PeerInfo{PeerID: p, Fingerprint: fp, Addrs: m.net.RemoteAddrs(p)}
		if m.store != nil {
			if rec, ok, err := m.store.Peer(ctx, p.String()); err == nil && ok {
				pi.Nick, pi.Verified, pi.Mismatch = rec.LastNick, rec.Verified, rec.Mismatch
			}
		}
		out = append(out, pi)
	}
	return out
}

// StoredKind returns the kind remembered for the room called name
// ([KindOpen] or [KindPassphrase]), or "" for a room never joined, left
// since, or when nothing persists.
func (m *Manager) StoredKind(ctx context.Context, name string) (Kind, error) {
	norm, err := Normalize(name)
	if err != nil {
		return "", fmt.Errorf("room %q: %w", name, err)
	}
	if m.store == nil {
		return "", nil
	}
	rec, ok, err := m.store.Room(ctx, norm)
	if err != nil || !ok {
		return "", err
	}
	return Kind(rec.Kind), nil
}

// settingJoined is set in a state directory once a room was joined in it.
const settingJoined = "joined_before"

// StoredRooms returns the names of the rooms remembered as joined (left
// on purpose forgets a room; quitting does not), in the order they were
// joined (rejoining keeps a room's place), names breaking ties.
func (m *Manager) StoredRooms(ctx context.Context) ([]string, error) {
	if m.store == nil {
		return nil, nil
	}
	recs, err := m.store.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(recs, func(a, b store.RoomRecord) int { return a.Joined.Compare(b.Joined) })
	names := make([]string, 0, len(recs))
	for _, r := range recs {
		names = append(names, r.Name)
	}
	return names, nil
}

// JoinedBefore reports whether a room was ever joined with this node's
// store (false without one): a state directory where none was is new.
func (m *Manager) JoinedBefore(ctx context.Context) (bool, error) {
	if m.store == nil {
		return false, nil
	}
	_, ok, err := m.store.Setting(ctx, settingJoined)
	return ok, err
}

// emit queues e for [Manager.Events], first adding what showing it needs:
// the room's kind to [EventJoined], whether the peer is verified to
// [EventMemberJoined].
func (m *Manager) emit(e Event) {
	switch e.Type {
	case EventJoined:
		if r, err := m.Room(e.Room); err == nil {
			e.Kind = r.Kind()
		}
	case EventMemberJoined:
		e.Verified = m.verified(e.Peer)
	}
	m.events.push(e)
}
