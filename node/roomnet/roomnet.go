// Package roomnet runs rooms on a libp2p node: it adapts a [node.Node] to
// the [room.Transport] interface that room defines, so that node knows
// nothing of rooms and room nothing of libp2p.
package roomnet

import (
	"context"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-multiaddr"

	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room"
)

// Transport returns n as the [room.Transport] rooms run on: topics are
// gossipsub topics whose validator runs inline on gossipsub's validation
// worker (so each sender's messages are judged in order), the value given to
// Publish reaches the validator through gossipsub's ValidatorData, and
// streams are n's, which only ever run over Noise-secured connections (see
// [node.Node.Handle] and [node.Node.Open]).
func Transport(n *node.Node) room.Transport { return roomTransport{n} }

type roomTransport struct{ n *node.Node }

func (t roomTransport) ID() peer.ID { return t.n.ID() }

func (t roomTransport) Join(name string, v room.Validator, allow func(peer.ID) bool) (room.Topic, error) {
	var nv node.Validator
	if v != nil {
		nv = func(_ context.Context, from peer.ID, msg *pubsub.Message, local bool) pubsub.ValidationResult {
			var l any
			if local {
				if l = msg.ValidatorData; l == nil {
					return pubsub.ValidationReject
				}
			}
			verdict, val := v(from, msg.Data, l)
			switch verdict {
			case room.Accept:
				msg.ValidatorData = val
				return pubsub.ValidationAccept
			case room.Ignore:
				return pubsub.ValidationIgnore
			default:
				return pubsub.ValidationReject
			}
		}
	}
	tp, err := t.n.JoinFiltered(name, nv, allow)
	if err != nil {
		return nil, err
	}
	return roomTopic{tp}, nil
}

func (t roomTransport) Open(ctx context.Context, p peer.ID, proto string) (room.Stream, error) {
	s, err := t.n.Open(ctx, p, protocol.ID(proto))
	if err != nil {
		return nil, err
	}
	return roomStream{s}, nil
}

func (t roomTransport) Handle(proto string, h func(room.Stream)) {
	t.n.Handle(protocol.ID(proto), func(s network.Stream) { h(roomStream{s}) })
}

func (t roomTransport) RemoveHandler(proto string) { t.n.RemoveHandler(protocol.ID(proto)) }

func (t roomTransport) Addrs() []string { return addrStrings(t.n.Addrs()) }

func (t roomTransport) ConnectedPeers() []peer.ID { return t.n.ConnectedPeers() }

func (t roomTransport) RemoteAddrs(p peer.ID) []string { return addrStrings(t.n.RemoteAddrs(p)) }

func addrStrings(as []multiaddr.Multiaddr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// roomTopic is a [Topic] as a [room.Topic].
type roomTopic struct{ t *node.Topic }

func (t roomTopic) Publish(ctx context.Context, data []byte, local any) error {
	return t.t.Publish(ctx, data, local)
}

func (t roomTopic) Next(ctx context.Context) (room.Delivery, error) {
	m, err := t.t.Next(ctx)
	if err != nil {
		return room.Delivery{}, err
	}
	return room.Delivery{Data: m.Data, From: m.ReceivedFrom, Value: m.ValidatorData}, nil
}

func (t roomTopic) Peers() []peer.ID { return t.t.Peers() }

func (t roomTopic) NextPeerEvent(ctx context.Context) (room.PeerEvent, error) {
	ev, err := t.t.NextPeerEvent(ctx)
	if err != nil {
		return room.PeerEvent{}, err
	}
	return room.PeerEvent{Peer: ev.Peer, Joined: ev.Joined}, nil
}

func (t roomTopic) Close() error { return t.t.Close() }

// roomStream is a Noise-secured libp2p stream as a [room.Stream].
type roomStream struct{ network.Stream }

func (s roomStream) RemotePeer() peer.ID { return s.Conn().RemotePeer() }
