package api

import (
	"context"
	"testing"

	"github.com/p2pchat/p2pchat/room"
)

// BenchmarkStatus is one API request's round trip over the Unix socket
// (GET /v1/status, decoded by the client).
func BenchmarkStatus(b *testing.B) {
	_, _, c := serve(b, ServerConfig{Backend: newFake(b)})
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Status(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSend is one message sent through the API (POST
// /v1/rooms/lobby/messages to a backend that answers at once).
func BenchmarkSend(b *testing.B) {
	_, _, c := serve(b, ServerConfig{Backend: newFake(b)})
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Send(ctx, "lobby", "a message of a typical length, say fifty bytes.", false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventStream is one message event from Publish to a client
// reading the NDJSON stream, decoded (events/s is the stream's capacity).
func BenchmarkEventStream(b *testing.B) {
	s, _, c := serve(b, ServerConfig{Backend: newFake(b), EventLogSize: 1 << 16})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.Events(ctx, EventsOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer stream.Close()
	w := testWorld(b)
	msg := &room.Message{ID: "0123456789abcdef0123456789abcdef", From: w.bob.id, Short: w.bob.fp.Short(), Nick: "bob",
		Text: "a message of a typical length, say fifty bytes.", Time: t0, Seq: 1, Clock: 1}
	ev := Event{Event: room.Event{Type: room.EventMessage, Room: "lobby", Message: msg}}
	// At most 1024 events in flight, far below what the log keeps, so the
	// reader never falls behind the ring (it would get events_missed).
	inFlight := make(chan struct{}, 1024)
	b.ResetTimer()
	go func() {
		for range b.N {
			select {
			case inFlight <- struct{}{}:
			case <-ctx.Done():
				return
			}
			s.Publish(ev)
		}
	}()
	for range b.N {
		e, err := stream.Next()
		if err != nil {
			b.Fatal(err)
		}
		if e.Type != room.EventMessage {
			b.Fatalf("got a %s event: the reader fell behind", e.Type)
		}
		<-inFlight
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
