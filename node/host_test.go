package node

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-multiaddr"
)

// TestHostTCPOnly checks that the host has no transport but TCP: a QUIC,
// WebTransport or WebRTC listener would accept connections secured by their
// own TLS instead of Noise. It also checks that the services left out
// (ping, AutoNAT) answer no protocol.
func TestHostTCPOnly(t *testing.T) {
	n := newTestNode(t, Config{NoMDNS: true})
	for _, a := range []string{
		"/ip4/127.0.0.1/udp/0/quic-v1",
		"/ip4/127.0.0.1/udp/0/quic-v1/webtransport",
		"/ip4/127.0.0.1/udp/0/webrtc-direct",
	} {
		if err := n.host.Network().Listen(multiaddr.StringCast(a)); err == nil {
			t.Errorf("listening on %s worked", a)
		}
	}
	protos := n.host.Mux().Protocols()
	for _, p := range protos {
		if strings.HasPrefix(string(p), "/ipfs/ping/") || strings.Contains(string(p), "autonat") {
			t.Errorf("host serves %s", p)
		}
	}
	if !slices.ContainsFunc(protos, func(p protocol.ID) bool { return strings.HasPrefix(string(p), "/ipfs/id/") }) {
		t.Errorf("host does not serve identify (gossipsub needs it): %v", protos)
	}
}

// TestNoUnusedTransportsLinked keeps libp2p.New's default transports out
// of the package's dependencies (and so out of the binary): they come back
// as soon as something imports the go-libp2p root package.
func TestNoUnusedTransportsLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"github.com/quic-go/", "github.com/pion/", "/p2p/transport/webtransport", "/p2p/transport/webrtc", "go.uber.org/fx"} {
			if strings.Contains(dep, bad) {
				t.Errorf("node depends on %s", dep)
			}
		}
	}
}
