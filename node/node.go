package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/multiformats/go-multiaddr"
)

// MDNSService is the mDNS service name under which nodes announce themselves
// and look for each other. The version in the name keeps incompatible
// releases from discovering (and dialing) each other.
const MDNSService = "_p2pchat-v1._udp"

// Connection manager watermarks: a chat LAN has a handful of peers, so the
// manager only starts trimming well above any realistic room.
const (
	connLowWater  = 32
	connHighWater = 96
	connGrace     = time.Minute
)

// Redial backoff for [Config.Peers].
const (
	defaultBackoffMin = time.Second
	defaultBackoffMax = 30 * time.Second
)

// dialTimeout bounds one dial attempt (all addresses of one peer).
const dialTimeout = 15 * time.Second

// protectTag marks configured peers in the connection manager so that it
// never trims their connections.
const protectTag = "p2pchat/configured-peer"

// defaultListenAddrs are used when [Config.ListenAddrs] is nil.
var defaultListenAddrs = []string{"/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"}

// Config configures a [Node]. The zero value is usable: listen on all
// interfaces on a random TCP port, discover peers with mDNS, log nothing.
type Config struct {
	// ListenAddrs are TCP multiaddrs to listen on, such as
	// "/ip4/0.0.0.0/tcp/4001". Nil means "/ip4/0.0.0.0/tcp/0" and
	// "/ip6/::/tcp/0" (a random port; an address family that cannot listen
	// is skipped as long as one can). An explicitly listed address that
	// cannot be listened on makes [New] fail.
	ListenAddrs []string

	// Peers are multiaddrs ending in /p2p/<peer ID> to dial at start and
	// keep connected: after a failed dial or a disconnect the node redials
	// with exponential backoff from 1s to 30s. Several addresses of the same
	// peer are tried together. A malformed address makes [New] fail.
	Peers []string

	// NoMDNS turns off mDNS discovery. The zero value announces this node on
	// the LAN and dials every node found there.
	NoMDNS bool

	// Logger receives the node's logs. Nil discards them. go-libp2p's own
	// loggers are process-wide and print to stderr unless configured: the
	// first New in a process sends them, at Warn and above, to its Logger
	// (or discards them when Logger is nil).
	Logger *slog.Logger

	// Notify, if not nil, is called for each [Notice]. It is called from the
	// node's (and libp2p's) goroutines, one call at a time and in order, with
	// an internal lock held: it must not block and must not call
	// [Node.Close]. It is never called after Close returns.
	Notify func(Notice)

	// Test-only knobs; zero means the production value.
	backoffMin, backoffMax time.Duration
	mdnsService            string
	// hostSecurity replaces the Noise-only security option, so that tests
	// can build a node whose connections are not Noise.
	hostSecurity securityFunc
	// tracer, if not nil, traces gossipsub's RPCs.
	tracer pubsub.RawTracer
	// scores, if not nil, receives the peer scores every 100ms.
	scores func(map[peer.ID]float64)
}

// NoticeKind says what a [Notice] reports.
type NoticeKind int

const (
	// NoticePeerUnreachable reports that a peer from [Config.Peers] could
	// not be dialed. It is sent once per outage, not on every retry; the node
	// keeps retrying.
	NoticePeerUnreachable NoticeKind = iota + 1
	// NoticePeerConnected reports the first connection to a peer.
	NoticePeerConnected
	// NoticePeerDisconnected reports that the last connection to a peer
	// closed.
	NoticePeerDisconnected
)

// String returns a short lowercase name for k.
func (k NoticeKind) String() string {
	switch k {
	case NoticePeerUnreachable:
		return "peer-unreachable"
	case NoticePeerConnected:
		return "peer-connected"
	case NoticePeerDisconnected:
		return "peer-disconnected"
	default:
		return fmt.Sprintf("NoticeKind(%d)", int(k))
	}
}

// Notice is an event about a peer, delivered through [Config.Notify].
type Notice struct {
	// Kind says what happened.
	Kind NoticeKind
	// Peer is the peer it happened to.
	Peer peer.ID
	// Addr is the remote multiaddr of the connection for
	// NoticePeerConnected and NoticePeerDisconnected, and the configured
	// address(es), comma separated, for NoticePeerUnreachable.
	Addr string
	// Err is the dial error for NoticePeerUnreachable, nil otherwise.
	Err error
}

// ErrNotNoise is returned by [Node.Open] when the stream's connection is not
// secured by Noise. The stream has been reset.
var ErrNotNoise = errors.New("node: connection is not secured by noise")

// Node is a libp2p host with discovery and gossipsub. Its methods are safe for
// concurrent use. Create it with [New] and release it with [Node.Close].
type Node struct {
	host   host.Host
	cm     *connmgr.BasicConnMgr
	gater  *gater
	ps     *pubsub.PubSub
	mdns   mdns.Service // nil when mDNS is off
	log    *slog.Logger
	notify func(Notice)

	// bg is the node's own lifetime, canceled by Close. It bounds background
	// work (pubsub, dials); it never carries a caller's request.
	bg   context.Context
	stop context.CancelFunc

	backoffMin, backoffMax time.Duration

	// static holds the configured peers; it is not modified after New.
	static map[peer.ID]*staticPeer

	wg       sync.WaitGroup // goroutines the node starts
	handlers sync.WaitGroup // running stream handlers

	mu      sync.Mutex
	closed  bool
	topics  map[*Topic]struct{}
	dialing map[peer.ID]struct{} // mDNS dials in flight
	// discovered remembers what mDNS said about each peer, to redial it
	// after a disconnect: mDNS itself reports a peer only once.
	discovered map[peer.ID]peer.AddrInfo

	// evMu serializes connection bookkeeping and Notify calls.
	evMu      sync.Mutex
	evClosed  bool
	peerConns map[peer.ID]int

	closeOnce sync.Once
	closeErr  error

	// allows holds each joined topic's allow function (nil: everyone),
	// read by gossipsub's peer filter and scoring on its event loop.
	allowMu sync.RWMutex
	allows  map[string]func(peer.ID) bool

	// Dial attempts, counted for tests.
	mdnsDials   atomic.Int64
	staticDials atomic.Int64
}

// New starts a node with identity priv: it listens, starts mDNS unless
// cfg.NoMDNS, and starts dialing cfg.Peers in the background. New does not
// wait for the network; ctx is only checked on entry, and the node runs
// until [Node.Close]. New fails on a nil key, a malformed address in cfg, or
// if it cannot listen.
func New(ctx context.Context, priv crypto.PrivKey, cfg Config) (*Node, error) {
	if priv == nil {
		return nil, errors.New("node: nil private key")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	listen, strictListen, err := parseListenAddrs(cfg.ListenAddrs)
	if err != nil {
		return nil, err
	}
	self, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("node: failed to derive peer ID: %w", err)
	}
	static, err := parsePeers(cfg.Peers, self)
	if err != nil {
		return nil, err
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		log:        logger,
		notify:     cfg.Notify,
		backoffMin: orDefault(cfg.backoffMin, defaultBackoffMin),
		backoffMax: orDefault(cfg.backoffMax, defaultBackoffMax),
		static:     static,
		topics:     make(map[*Topic]struct{}),
		allows:     make(map[string]func(peer.ID) bool),
		dialing:    make(map[peer.ID]struct{}),
		discovered: make(map[peer.ID]peer.AddrInfo),
		peerConns:  make(map[peer.ID]int),
	}

	routeLibp2pLogs(logger)

	n.cm, err = connmgr.NewConnManager(connLowWater, connHighWater, connmgr.WithGracePeriod(connGrace))
	if err != nil {
		return nil, fmt.Errorf("node: failed to create connection manager: %w", err)
	}
	// Noise only: every connection then uses the one handshake this package
	// relies on, and no peer can negotiate TLS instead.
	security := securityFunc(noiseSecurity)
	if cfg.hostSecurity != nil {
		security = cfg.hostSecurity
	}
	n.gater = &gater{blocked: map[peer.ID]bool{}}
	// TCP only (newHost): QUIC, WebTransport and WebRTC bring their own
	// TLS and would bypass Noise.
	//
	// No SO_REUSEPORT: with it, outgoing connections leave from the listen
	// port, and when two peers that found each other over mDNS dial at the
	// same moment TCP merges the two dials into one simultaneous-open
	// connection on which both sides start the Noise handshake as
	// initiator, and both dials fail. Reuseport only helps NAT traversal,
	// which a LAN product does not do.
	//
	// Listening starts below, after the notifiee is registered, so no
	// connection goes uncounted. A LAN product: never route through relays,
	// never ask the router to open ports, never probe reachability through
	// third parties; no global Prometheus registration from a library. The
	// resource manager is libp2p's default one: it bounds memory, streams
	// and connections per peer.
	h, err := newHost(priv, security, n.gater, n.cm)
	if err != nil {
		n.cm.Close()
		return nil, fmt.Errorf("node: failed to create libp2p host: %w", err)
	}
	n.host = h
	n.bg, n.stop = context.WithCancel(context.Background())

	fail := func(err error) (*Node, error) {
		n.Close()
		return nil, err
	}

	h.Network().Notify(&network.NotifyBundle{
		ConnectedF:    n.connected,
		DisconnectedF: n.disconnected,
	})
	if err := n.listen(listen, strictListen); err != nil {
		return fail(err)
	}

	if err := n.startServices(cfg); err != nil {
		return fail(err)
	}

	for _, sp := range n.static {
		n.cm.Protect(sp.info.ID, protectTag)
		// Permanent: identify must not expire the addresses the user gave.
		h.Peerstore().AddAddrs(sp.info.ID, sp.info.Addrs, peerstore.PermanentAddrTTL)
		n.wg.Add(1)
		go n.keepConnected(sp)
	}
	n.log.Info("node started", "peer", h.ID(), "addrs", n.Addrs(), "mdns", !cfg.NoMDNS)
	return n, nil
}

// startServices starts gossipsub (with cfg's test knobs) and, unless
// cfg.NoMDNS, mDNS on n's host.
func (n *Node) startServices(cfg Config) error {
	opts := append(pubsubOptions(n.log), n.scoreOptions()...)
	if cfg.tracer != nil {
		opts = append(opts, pubsub.WithRawTracer(cfg.tracer))
	}
	if cfg.scores != nil {
		opts = append(opts, pubsub.WithPeerScoreInspect(cfg.scores, 100*time.Millisecond))
	}
	var err error
	n.ps, err = pubsub.NewGossipSub(n.bg, n.host, opts...)
	if err != nil {
		return fmt.Errorf("node: failed to start gossipsub: %w", err)
	}
	if !cfg.NoMDNS {
		name := cfg.mdnsService
		if name == "" {
			name = MDNSService
		}
		svc := mdns.NewMdnsService(n.host, name, discoveryNotifee{n})
		if err := svc.Start(); err != nil {
			svc.Close()
			return fmt.Errorf("node: failed to start mDNS: %w", err)
		}
		n.mdns = svc
	}
	return nil
}

func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// parseListenAddrs returns the multiaddrs to listen on and whether each must
// succeed (true for addresses the user chose).
func parseListenAddrs(addrs []string) ([]multiaddr.Multiaddr, bool, error) {
	strict := addrs != nil
	if addrs == nil {
		addrs = defaultListenAddrs
	}
	out := make([]multiaddr.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		a, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			return nil, false, fmt.Errorf("node: invalid listen address %q: %w", s, err)
		}
		out = append(out, a)
	}
	return out, strict, nil
}

// listen listens on addrs one by one, so that a failure can name its address.
func (n *Node) listen(addrs []multiaddr.Multiaddr, strict bool) error {
	var errs []error
	for _, a := range addrs {
		if err := n.host.Network().Listen(a); err != nil {
			err = fmt.Errorf("node: failed to listen on %s: %w", a, err)
			if strict {
				return err
			}
			n.log.Warn("cannot listen on default address", "addr", a, "err", err)
			errs = append(errs, err)
		}
	}
	if len(errs) == len(addrs) && len(addrs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

func pubsubOptions(logger *slog.Logger) []pubsub.Option {
	return []pubsub.Option{
		pubsub.WithLogger(logger.With("component", "gossipsub")),
		// Publish to the mesh only: flood publishing sends to every topic
		// peer whose score is above the publish threshold, whatever the
		// peer filter says, and the score is per peer, not per topic (a
		// member of one of our rooms subscribed to another would get its
		// traffic). The short heartbeat (see scoreOptions) forms the mesh
		// quickly instead.
		pubsub.WithFloodPublish(false),
		// Payloads are encrypted and signed by the caller; a libp2p
		// signature and author would only add bytes and reveal peer IDs.
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(messageID),
		// Library defaults (32) drop messages silently under bursts.
		pubsub.WithPeerOutboundQueueSize(queueSize),
		pubsub.WithValidateQueueSize(queueSize),
		// One validation worker: with several, inline validators run
		// concurrently and messages from one sender can be delivered out
		// of order.
		pubsub.WithValidateWorkers(1),
		pubsub.WithMaxMessageSize(MaxMessageSize),
	}
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Addrs returns the addresses the node listens on, one per interface
// (loopback included), each ending in /p2p/<ID>, sorted by their string form.
func (n *Node) Addrs() []multiaddr.Multiaddr {
	addrs, err := n.host.Network().InterfaceListenAddresses()
	if err != nil {
		n.log.Debug("cannot list interface addresses", "err", err)
		addrs = n.host.Network().ListenAddresses()
	}
	self, err := multiaddr.NewComponent("p2p", n.ID().String())
	if err != nil {
		// Unreachable: our own ID always encodes.
		n.log.Error("cannot encode own peer ID", "err", err)
		return nil
	}
	out := make([]multiaddr.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Encapsulate(self))
	}
	slices.SortFunc(out, func(a, b multiaddr.Multiaddr) int { return strings.Compare(a.String(), b.String()) })
	return slices.CompactFunc(out, multiaddr.Multiaddr.Equal)
}

// ConnectedPeers returns the peers the node has at least one connection to,
// each once, sorted.
func (n *Node) ConnectedPeers() []peer.ID {
	ps := n.host.Network().Peers()
	slices.Sort(ps)
	return slices.Compact(ps)
}

// RemoteAddrs returns the remote addresses of the node's connections to p.
func (n *Node) RemoteAddrs(p peer.ID) []multiaddr.Multiaddr {
	var out []multiaddr.Multiaddr
	for _, c := range n.host.Network().ConnsToPeer(p) {
		out = append(out, c.RemoteMultiaddr())
	}
	return out
}

// Close stops discovery and dialing, closes all topics and the host, and waits
// for the goroutines the node started and for running stream handlers to
// return (handlers see their streams reset). Close is idempotent; later calls
// return the first call's result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Node) close() error {
	n.mu.Lock()
	n.closed = true
	topics := make([]*Topic, 0, len(n.topics))
	for t := range n.topics {
		topics = append(topics, t)
	}
	n.mu.Unlock()

	n.evMu.Lock()
	n.evClosed = true
	n.evMu.Unlock()

	var errs []error
	if n.mdns != nil {
		if err := n.mdns.Close(); err != nil {
			errs = append(errs, fmt.Errorf("failed to stop mDNS: %w", err))
		}
	}
	// Topics go before pubsub stops: closing them talks to its event loop.
	for _, t := range topics {
		if err := t.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	n.stop()
	n.wg.Wait()
	if err := n.host.Close(); err != nil {
		errs = append(errs, fmt.Errorf("failed to close host: %w", err))
	}
	n.handlers.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node: close: %w", err)
	}
	return nil
}

// connected and disconnected keep a per-peer connection count, so that
// notices are about peers, not connections. libp2p calls them synchronously
// and guarantees Connected before Disconnected for each connection.
func (n *Node) connected(_ network.Network, c network.Conn) {
	p := c.RemotePeer()
	n.evMu.Lock()
	defer n.evMu.Unlock()
	n.peerConns[p]++
	if n.peerConns[p] != 1 {
		return
	}
	n.log.Debug("peer connected", "peer", p, "addr", c.RemoteMultiaddr())
	n.emitLocked(Notice{Kind: NoticePeerConnected, Peer: p, Addr: c.RemoteMultiaddr().String()})
}

func (n *Node) disconnected(_ network.Network, c network.Conn) {
	p := c.RemotePeer()
	n.evMu.Lock()
	n.peerConns[p]--
	if n.peerConns[p] > 0 {
		n.evMu.Unlock()
		return
	}
	delete(n.peerConns, p)
	n.log.Debug("peer disconnected", "peer", p, "addr", c.RemoteMultiaddr())
	n.emitLocked(Notice{Kind: NoticePeerDisconnected, Peer: p, Addr: c.RemoteMultiaddr().String()})
	n.evMu.Unlock()

	if sp := n.static[p]; sp != nil {
		sp.signalDown()
	} else {
		n.rediscover(p)
	}
}

// emit delivers a notice unless the node is closing.
func (n *Node) emit(nt Notice) {
	n.evMu.Lock()
	defer n.evMu.Unlock()
	n.emitLocked(nt)
}

func (n *Node) emitLocked(nt Notice) {
	if n.evClosed || n.notify == nil {
		return
	}
	n.notify(nt)
}

// libp2pLogsOnce makes the first node's logger the home of go-libp2p's
// process-wide logs.
var libp2pLogsOnce sync.Once

// routeLibp2pLogs stops go-libp2p from printing to stderr (which would also
// garble a terminal UI) by handing its loggers our handler. It must run
// before go-libp2p's loggers first log, so before the first host starts.
func routeLibp2pLogs(logger *slog.Logger) {
	libp2pLogsOnce.Do(func() {
		h := logger.Handler().WithAttrs([]slog.Attr{slog.String("component", "libp2p")})
		gologshim.SetDefaultHandler(minLevel{h, slog.LevelWarn})
	})
}

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(attrs), m.min}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{m.Handler.WithGroup(name), m.min}
}
