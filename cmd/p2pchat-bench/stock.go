package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// stockTopic is the topic of the stock room.
const stockTopic = "p2pchat-bench"

// stockCluster is the baseline: go-libp2p hosts and gossipsub with library
// defaults (StrictSign, queues of 32, flood publishing off), plaintext
// payloads. Only the listen address is set, to loopback TCP.
type stockCluster struct {
	sink sink

	mu      sync.Mutex
	members []*stockMember
	wg      sync.WaitGroup // receive loops
}

type stockMember struct {
	h      host.Host
	ps     *pubsub.PubSub
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	cancel context.CancelFunc // stops the pubsub router
}

var _ cluster = (*stockCluster)(nil)

func startStock(ctx context.Context, n int, s sink) (_ cluster, err error) {
	c := &stockCluster{sink: s}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	infos := make([]peer.AddrInfo, n)
	for i := range n {
		m, err := newStockHost()
		if err != nil {
			return nil, err
		}
		c.members = append(c.members, m)
		infos[i] = peer.AddrInfo{ID: m.h.ID(), Addrs: m.h.Addrs()}
	}
	err = connectAll(ctx, infos, func(ctx context.Context, from int, to peer.AddrInfo) error {
		return c.members[from].h.Connect(ctx, to)
	})
	if err != nil {
		return nil, err
	}
	// Like the p2pchat room: connect first, then join.
	for i, m := range c.members {
		if err := c.join(i, m); err != nil {
			return nil, err
		}
	}
	err = poll(ctx, 20*time.Millisecond, func() string { return "stock: topic peers never complete" }, func() bool {
		for _, m := range c.members {
			if len(m.topic.ListPeers()) < n-1 {
				return false
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func newStockHost() (*stockMember, error) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		return nil, fmt.Errorf("stock host: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, h)
	if err != nil {
		cancel()
		h.Close()
		return nil, fmt.Errorf("stock gossipsub: %w", err)
	}
	return &stockMember{h: h, ps: ps, cancel: cancel}, nil
}

// join subscribes m to the topic and starts its receive loop.
func (c *stockCluster) join(i int, m *stockMember) error {
	t, err := m.ps.Join(stockTopic)
	if err != nil {
		return fmt.Errorf("stock join: %w", err)
	}
	sub, err := t.Subscribe()
	if err != nil {
		t.Close()
		return fmt.Errorf("stock subscribe: %w", err)
	}
	m.topic, m.sub = t, sub
	self := m.h.ID()
	c.wg.Go(func() {
		for {
			msg, err := sub.Next(context.Background())
			if err != nil {
				return // canceled by close
			}
			if msg.ReceivedFrom != self {
				c.sink(i, msg.Data, time.Now())
			}
		}
	})
	return nil
}

func (c *stockCluster) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.members)
}

func (c *stockCluster) member(i int) *stockMember {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i]
}

func (c *stockCluster) send(ctx context.Context, from int, b []byte) error {
	return c.member(from).topic.Publish(ctx, b)
}

func (c *stockCluster) add(ctx context.Context) (joining, error) {
	j := joining{start: time.Now()}
	m, err := newStockHost()
	if err != nil {
		return j, err
	}
	c.mu.Lock()
	others := append([]*stockMember(nil), c.members...)
	j.member = len(c.members)
	c.members = append(c.members, m)
	c.mu.Unlock()
	errs := make(chan error, len(others))
	for _, o := range others {
		go func() { errs <- m.h.Connect(ctx, peer.AddrInfo{ID: o.h.ID(), Addrs: o.h.Addrs()}) }()
	}
	for range others {
		if err := <-errs; err != nil {
			return j, fmt.Errorf("stock: connecting newcomer: %w", err)
		}
	}
	if err := c.join(j.member, m); err != nil {
		return j, err
	}
	j.joined = time.Now()
	ready := make(chan struct{})
	close(ready)
	j.ready, j.readyAt = ready, &j.joined
	return j, nil
}

func (c *stockCluster) close() {
	c.mu.Lock()
	members := c.members
	c.members = nil
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Go(func() {
			if m.sub != nil {
				m.sub.Cancel()
				m.topic.Close()
			}
			m.cancel()
			m.h.Close()
		})
	}
	wg.Wait()
	c.wg.Wait()
}
