package node

import (
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Peer scoring. The only positive-free score components are used, so the
// score of a peer is at most 0: the application score (strangerScore for a
// peer no topic allows, 0 otherwise) plus the per-topic penalty for
// forwarding messages our validator rejected (P4).
const (
	// strangerScore is the application score of a peer that none of our
	// topics' allow functions lets through: far below graylistThreshold,
	// so all its RPCs are dropped before validation and nothing is
	// published to it.
	strangerScore = -1000

	gossipThreshold   = -10 // no gossip to or from peers below
	publishThreshold  = -50 // nothing published to peers below
	graylistThreshold = -80 // all RPCs of peers below are dropped

	// invalidWeight and invalidDecay: a forwarder of n rejected messages
	// on a topic scores -n², decaying by invalidDecay each second: about
	// 3 rejects stop gossip with it, 8 graylist it for a while.
	invalidWeight = -1
	invalidDecay  = 0.9
)

// pubsubProtocols are the gossipsub versions the node speaks. Floodsub is
// left out: gossipsub sends every message to floodsub peers whatever the
// peer filter says.
var pubsubProtocols = []protocol.ID{pubsub.GossipSubID_v13, pubsub.GossipSubID_v12, pubsub.GossipSubID_v11, pubsub.GossipSubID_v10}

// heartbeat is gossipsub's mesh maintenance interval, shorter than the
// library's 1s: publishing goes to the mesh only (see pubsubOptions), and a
// peer that becomes allowed joins the mesh at the next heartbeat.
const heartbeat = 200 * time.Millisecond

// meshDlo is gossipsub's Dlo: a mesh with this many peers is full enough
// to publish to.
var meshDlo = pubsub.DefaultGossipSubParams().Dlo

// allowed reports whether topic's allow function lets p through. Topics
// joined without one (and topics we did not join) let everyone through.
// It runs on gossipsub's event loop: it must not take n.mu.
func (n *Node) allowed(p peer.ID, topic string) bool {
	n.allowMu.RLock()
	a, ok := n.allows[topic]
	n.allowMu.RUnlock()
	return !ok || a == nil || a(p)
}

// appScore is the application-specific score of p: strangerScore unless one
// of our topics lets p through.
func (n *Node) appScore(p peer.ID) float64 {
	n.allowMu.RLock()
	defer n.allowMu.RUnlock()
	for _, a := range n.allows {
		if a == nil || a(p) {
			return 0
		}
	}
	return strangerScore
}

func (n *Node) scoreOptions() []pubsub.Option {
	params := &pubsub.PeerScoreParams{
		SkipAtomicValidation: true,
		Topics:               map[string]*pubsub.TopicScoreParams{},
		AppSpecificScore:     n.appScore,
		AppSpecificWeight:    1,
		DecayInterval:        time.Second,
		DecayToZero:          0.01,
		RetainScore:          time.Minute,
	}
	thresholds := &pubsub.PeerScoreThresholds{
		SkipAtomicValidation: true,
		GossipThreshold:      gossipThreshold,
		PublishThreshold:     publishThreshold,
		GraylistThreshold:    graylistThreshold,
		AcceptPXThreshold:    1, // PX is off; never accept it
	}
	gp := pubsub.DefaultGossipSubParams()
	gp.HeartbeatInterval = heartbeat
	gp.HeartbeatInitialDelay = heartbeat / 2
	return []pubsub.Option{
		pubsub.WithPeerScore(params, thresholds),
		pubsub.WithPeerFilter(n.allowed),
		pubsub.WithGossipSubProtocols(pubsubProtocols, pubsub.GossipSubDefaultFeatures),
		pubsub.WithGossipSubParams(gp),
	}
}

// topicScoreParams penalise forwarders of messages our validator rejects.
func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		SkipAtomicValidation:           true,
		TopicWeight:                    1,
		TimeInMeshQuantum:              time.Second, // unused (weight 0), but a divisor
		TimeInMeshCap:                  1,
		InvalidMessageDeliveriesWeight: invalidWeight,
		InvalidMessageDeliveriesDecay:  invalidDecay,
	}
}
