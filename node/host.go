package node

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	bhost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// securityFunc builds the connection security of a host from its key and
// muxers (noise.New's and tls.New's shape, with the protocol id bound).
type securityFunc func(priv crypto.PrivKey, muxers []tptu.StreamMuxer) (sec.SecureTransport, error)

func noiseSecurity(priv crypto.PrivKey, muxers []tptu.StreamMuxer) (sec.SecureTransport, error) {
	return noise.New(noise.ID, priv, muxers)
}

// newHost builds the libp2p host from its parts: TCP (no SO_REUSEPORT) as
// the only transport, the given security (Noise in production), yamux, the
// default resource manager, no listen address (the caller listens), and
// none of libp2p.New's defaults: no QUIC, WebTransport or WebRTC
// transports, relays, NAT port mapping, hole punching, AutoNAT, ping,
// address discovery through identify, or metrics. Building it by hand
// rather than through libp2p.New keeps those packages out of the binary:
// libp2p.New's defaults and its config package link them in even when
// they are not enabled.
func newHost(priv crypto.PrivKey, security securityFunc, gater connmgr.ConnectionGater, cm connmgr.ConnManager) (host.Host, error) {
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		return nil, err
	}
	if err := ps.AddPrivKey(id, priv); err != nil {
		ps.Close()
		return nil, err
	}
	if err := ps.AddPubKey(id, priv.GetPublic()); err != nil {
		ps.Close()
		return nil, err
	}
	rm, err := newResourceManager()
	if err != nil {
		ps.Close()
		return nil, err
	}
	fail := func(err error) (host.Host, error) {
		rm.Close()
		ps.Close()
		return nil, err
	}
	muxers := []tptu.StreamMuxer{{ID: yamux.ID, Muxer: yamux.DefaultTransport}}
	st, err := security(priv, muxers)
	if err != nil {
		return fail(fmt.Errorf("security: %w", err))
	}
	up, err := tptu.New([]sec.SecureTransport{st}, muxers, nil, rm, gater)
	if err != nil {
		return fail(fmt.Errorf("upgrader: %w", err))
	}
	bus := eventbus.NewBus()
	sw, err := swarm.NewSwarm(id, ps, bus,
		swarm.WithConnectionGater(gater),
		swarm.WithResourceManager(rm),
		// No UDP transport; the IPv6 detector is libp2p.New's default.
		swarm.WithUDPBlackHoleSuccessCounter(nil),
		swarm.WithIPv6BlackHoleSuccessCounter(&swarm.BlackHoleSuccessCounter{N: 100, MinSuccesses: 5, Name: "IPv6"}),
	)
	if err != nil {
		return fail(fmt.Errorf("swarm: %w", err))
	}
	tpt, err := tcp.NewTCPTransport(up, rm, nil, tcp.DisableReuseport())
	if err != nil {
		sw.Close()
		return fail(fmt.Errorf("tcp: %w", err))
	}
	if err := sw.AddTransport(tpt); err != nil {
		sw.Close()
		return fail(fmt.Errorf("tcp: %w", err))
	}
	h, err := bhost.NewHost(sw, &bhost.HostOpts{EventBus: bus, ConnManager: cm})
	if err != nil {
		sw.Close()
		return fail(err)
	}
	h.Start()
	return h, nil
}

// newResourceManager is libp2p.New's default resource manager: the
// library's default limits scaled to the machine, with the identify
// service's limits libp2p.SetDefaultServiceLimits sets (the other services
// it limits are not run here).
func newResourceManager() (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	limits.AddServiceLimit(identify.ServiceName,
		rcmgr.BaseLimit{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 4 << 20},
		rcmgr.BaseLimitIncrease{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 4 << 20})
	limits.AddServicePeerLimit(identify.ServiceName,
		rcmgr.BaseLimit{StreamsInbound: 16, StreamsOutbound: 16, Streams: 32, Memory: 1 << 20},
		rcmgr.BaseLimitIncrease{})
	for _, id := range []protocol.ID{identify.ID, identify.IDPush} {
		limits.AddProtocolLimit(id,
			rcmgr.BaseLimit{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 4 << 20},
			rcmgr.BaseLimitIncrease{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 4 << 20})
		limits.AddProtocolPeerLimit(id,
			rcmgr.BaseLimit{StreamsInbound: 16, StreamsOutbound: 16, Streams: 32, Memory: 32 * (256<<20 + 16<<10)},
			rcmgr.BaseLimitIncrease{})
	}
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
}
