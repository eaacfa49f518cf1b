package memnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

func accept(_ peer.ID, data []byte, local any) (room.Verdict, any) {
	if string(data) == "bad" {
		return room.Reject, nil
	}
	if local != nil {
		return room.Accept, local
	}
	return room.Accept, string(data)
}

func join(t *testing.T, e *Endpoint, name string) room.Topic {
	t.Helper()
	tp, err := e.Join(name, accept, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	return tp
}

func next(t *testing.T, tp room.Topic) room.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	d, err := tp.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return d
}

func TestFloodInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		a, b, c := n.Endpoint("a"), n.Endpoint("b"), n.Endpoint("c")
		n.Connect("a", "b")
		ta, tb, tc := join(t, a, "x"), join(t, b, "x"), join(t, c, "x")
		n.SetDelay(10 * time.Millisecond)
		for i := range 5 {
			if err := ta.Publish(context.Background(), []byte(fmt.Sprint(i)), "mine"); err != nil {
				t.Fatal(err)
			}
		}
		if err := ta.Publish(context.Background(), []byte("bad"), "mine"); err == nil {
			t.Error("publish of a rejected message succeeded")
		}
		for i := range 5 {
			if d := next(t, ta); d.Value != "mine" || d.From != "a" {
				t.Errorf("own delivery %d = %+v", i, d)
			}
			if d := next(t, tb); d.Value != fmt.Sprint(i) || d.From != "a" {
				t.Errorf("delivery %d = %+v", i, d)
			}
		}
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if d, err := tc.Next(ctx); err == nil {
			t.Errorf("unlinked c received %+v", d)
		}
	})
}

func TestPeerEventsAndPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		a, b := n.Endpoint("a"), n.Endpoint("b")
		ta := join(t, a, "x")
		n.Connect("a", "b")
		tb := join(t, b, "x")
		ctx := context.Background()
		want := func(tp room.Topic, ev room.PeerEvent) {
			t.Helper()
			got, err := tp.NextPeerEvent(ctx)
			if err != nil || got != ev {
				t.Errorf("event = %+v, %v; want %+v", got, err, ev)
			}
		}
		want(ta, room.PeerEvent{Peer: "b", Joined: true})
		want(tb, room.PeerEvent{Peer: "a", Joined: true})
		if ps := ta.Peers(); len(ps) != 1 || ps[0] != "b" {
			t.Errorf("Peers = %v", ps)
		}
		n.Block("a", "b")
		want(ta, room.PeerEvent{Peer: "b", Joined: false})
		want(tb, room.PeerEvent{Peer: "a", Joined: false})
		if err := n.Connect("a", "b"); err == nil {
			t.Error("Connect across a partition succeeded")
		}
		if _, err := a.Open(ctx, "b", "/p"); !errors.Is(err, ErrUnreachable) {
			t.Errorf("Open across a partition = %v", err)
		}
		if err := n.Unblock("a", "b"); err != nil {
			t.Fatal(err)
		}
		want(ta, room.PeerEvent{Peer: "b", Joined: true})
		tb.Close()
		want(ta, room.PeerEvent{Peer: "b", Joined: false})
		if _, err := tb.Next(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close = %v", err)
		}
	})
}

func TestLossIsDeterministic(t *testing.T) {
	run := func() (got int) {
		synctest.Test(t, func(t *testing.T) {
			n := New(42)
			a, b := n.Endpoint("a"), n.Endpoint("b")
			n.Connect("a", "b")
			ta, tb := join(t, a, "x"), join(t, b, "x")
			n.SetLoss(0.5)
			for i := range 100 {
				ta.Publish(context.Background(), []byte(fmt.Sprint(i)), "mine")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			for {
				if _, err := tb.Next(ctx); err != nil {
					return
				}
				got++
			}
		})
		return got
	}
	first, second := run(), run()
	if first == 0 || first == 100 || first != second {
		t.Errorf("delivered %d then %d of 100 at 50%% loss", first, second)
	}
}

func TestReorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(7)
		a, b := n.Endpoint("a"), n.Endpoint("b")
		n.Connect("a", "b")
		ta, tb := join(t, a, "x"), join(t, b, "x")
		n.SetReorder(time.Second)
		for i := range 20 {
			ta.Publish(context.Background(), []byte(fmt.Sprint(i)), "mine")
		}
		inOrder := true
		for i := range 20 {
			if next(t, tb).Value != fmt.Sprint(i) {
				inOrder = false
			}
		}
		if inOrder {
			t.Error("20 messages with up to 1s of reordering arrived in order")
		}
	})
}

func TestStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		a, b := n.Endpoint("a"), n.Endpoint("b")
		done := make(chan struct{}, 2)
		b.Handle("/echo", func(s room.Stream) {
			defer func() { done <- struct{}{} }()
			defer s.Close()
			if s.RemotePeer() != "a" {
				t.Errorf("RemotePeer = %s", s.RemotePeer())
			}
			msg, err := io.ReadAll(s)
			if err != nil && !errors.Is(err, ErrReset) {
				t.Errorf("handler read: %v", err)
			}
			s.Write(msg)
		})
		ctx := context.Background()
		if _, err := a.Open(ctx, "b", "/other"); !errors.Is(err, ErrNoHandler) {
			t.Errorf("Open of an unserved protocol = %v", err)
		}
		s, err := a.Open(ctx, "b", "/echo")
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("hello, "))
		s.Write([]byte("world"))
		s.(*Stream).wr.eofOnce.Do(func() { close(s.(*Stream).wr.eof) }) // half-close
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "hello, world" {
			t.Errorf("echo = %q, %v", got, err)
		}
		<-done

		// A deadline fires on virtual time; Reset reaches the other end.
		s2, err := a.Open(ctx, "b", "/echo")
		if err != nil {
			t.Fatal(err)
		}
		s2.SetDeadline(time.Now().Add(time.Second))
		start := time.Now()
		if _, err := s2.Read(make([]byte, 1)); !errors.Is(err, ErrDeadline) || time.Since(start) != time.Second {
			t.Errorf("Read = %v after %v; want ErrDeadline after 1s", err, time.Since(start))
		}
		s2.Reset()
		if _, err := s2.Write([]byte("x")); !errors.Is(err, ErrReset) {
			t.Errorf("Write after Reset = %v", err)
		}
		<-done
	})
}
