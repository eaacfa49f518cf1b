package node

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

const testProto = "/p2pchat/test-echo/1.0.0"

// TestStreamsOverNoise opens a stream between two ordinary nodes and echoes
// frames over it.
func TestStreamsOverNoise(t *testing.T) {
	a := newTestNode(t, Config{NoMDNS: true})
	b := newTestNode(t, Config{NoMDNS: true, Peers: []string{loopbackAddr(t, a)}})
	a.Handle(testProto, func(s network.Stream) {
		defer s.Close()
		for {
			m, err := ReadFrame(s, 1024)
			if err != nil {
				return
			}
			if err := WriteFrame(s, append([]byte("echo:"), m...)); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	s, err := b.Open(ctx, a.ID(), testProto)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sec := s.Conn().ConnState().Security; sec != noise.ID {
		t.Fatalf("stream security %q", sec)
	}
	for _, msg := range []string{"one", "", "three"} {
		if err := WriteFrame(s, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFrame(s, 1024)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo:"+msg {
			t.Errorf("got %q, want %q", got, "echo:"+msg)
		}
	}

	// After RemoveHandler the protocol is refused.
	a.RemoveHandler(testProto)
	s2, err := b.Open(ctx, a.ID(), testProto)
	if err == nil {
		// Protocol negotiation may be lazy; the refusal then shows on use.
		_ = WriteFrame(s2, []byte("x"))
		if _, err = ReadFrame(s2, 1024); err == nil {
			t.Error("stream to a removed handler worked")
		}
		s2.Reset()
	}
}

// TestStreamsRefuseNonNoise builds two nodes that secure connections with
// TLS instead of Noise: Open must refuse with ErrNotNoise and Handle must not
// run the handler.
func TestStreamsRefuseNonNoise(t *testing.T) {
	useTLS := func(priv crypto.PrivKey, muxers []tptu.StreamMuxer) (sec.SecureTransport, error) {
		return tls.New(tls.ID, priv, muxers)
	}
	a := newTestNode(t, Config{NoMDNS: true, hostSecurity: useTLS})
	b := newTestNode(t, Config{NoMDNS: true, hostSecurity: useTLS})
	var ran atomic.Bool
	a.Handle(testProto, func(s network.Stream) {
		ran.Store(true)
		_ = WriteFrame(s, []byte("should not be sent"))
		s.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.host.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()}); err != nil {
		t.Fatal(err)
	}
	conns := b.host.Network().ConnsToPeer(a.ID())
	if len(conns) == 0 || conns[0].ConnState().Security != tls.ID {
		t.Fatalf("test setup: want a TLS connection, have %v", conns)
	}

	s, err := b.Open(ctx, a.ID(), testProto)
	if !errors.Is(err, ErrNotNoise) || s != nil {
		t.Fatalf("Open over TLS = %v, %v; want ErrNotNoise", s, err)
	}

	// Bypass Open's check to reach A's handler over the TLS connection.
	raw, err := b.host.NewStream(ctx, a.ID(), testProto)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(raw, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(raw)
	if err == nil || len(got) != 0 {
		t.Errorf("raw stream read %q, %v; want a reset", got, err)
	}
	if ran.Load() {
		t.Error("handler ran for a stream on a TLS connection")
	}
}
