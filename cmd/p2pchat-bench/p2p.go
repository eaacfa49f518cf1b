package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/node/roomnet"
	"github.com/p2pchat/p2pchat/room"
)

// p2pRoom is the room every p2pchat cluster meets in.
const p2pRoom = "bench"

// joinConverge bounds how long the room may take to agree on one key after
// a join; a healthy room takes well under a second.
const joinConverge = 15 * time.Second

// errNoRoom reports a room that did not form.
var errNoRoom = errors.New("room did not form")

// p2pCluster runs real p2pchat nodes and rooms with everything a user gets
// by default: Noise-only TCP, the tuned gossipsub of package node,
// admission, epochs, ratchets, signatures, validation, and (with persist) a
// store per node. Only mDNS is off and the listen address is loopback.
type p2pCluster struct {
	sink    sink
	persist bool
	log     io.Writer // the rooms' debug logs; nil discards them
	dir     string    // parent of the members' store directories

	mu      sync.Mutex
	members []*p2pMember
	closed  chan struct{} // closed by close
	seenAll []float64     // ms from sending to "seen by every other member", per own message
	seenIDs map[string]bool
}

// seenAllMs returns, for each own message that every other member was
// seen to hold, the milliseconds from its sending until its author learnt
// it (the receipts of docs/PROTOCOL.md section 9).
func (c *p2pCluster) seenAllMs() []float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]float64(nil), c.seenAll...)
}

type p2pMember struct {
	n    *node.Node
	st   *room.Store // nil without persist
	m    *room.Manager
	done chan struct{} // closed when the event loop has drained
}

var _ cluster = (*p2pCluster)(nil)

func startP2P(ctx context.Context, n int, s sink, persist bool, log io.Writer) (_ *p2pCluster, err error) {
	c := &p2pCluster{sink: s, persist: persist, log: log, closed: make(chan struct{})}
	if c.dir, err = os.MkdirTemp("", "p2pchat-bench-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	for i := range n {
		m, err := c.newMember(ctx)
		if err != nil {
			return nil, err
		}
		c.members = append(c.members, m)
		c.listen(i, m)
	}
	infos := make([]peer.AddrInfo, n)
	for i, m := range c.members {
		infos[i] = peer.AddrInfo{ID: m.n.ID(), Addrs: m.n.Addrs()}
	}
	err = connectAll(ctx, infos, func(ctx context.Context, from int, to peer.AddrInfo) error {
		return c.members[from].n.Connect(ctx, to)
	})
	if err != nil {
		return nil, err
	}
	// The first two join together, so that one creates the key at once
	// instead of looking for members for FoundWait; then the others one
	// after the other, each waiting until the room agrees on one key again.
	// Every join is an admission and a rekey, and many at once make
	// competing epochs (50 simultaneous joins had not converged after a
	// minute here; see docs/BENCHMARKS.md).
	for i := 0; i < n; {
		size := 1
		if i == 0 {
			size = min(2, n)
		}
		batch := c.members[i : i+size]
		rooms := make([]*room.Room, len(batch))
		for j, m := range batch {
			if rooms[j], err = m.m.Join(ctx, p2pRoom, room.JoinOptions{}); err != nil {
				return nil, fmt.Errorf("p2pchat join: %w", err)
			}
		}
		for j, r := range rooms {
			select {
			case <-r.Ready():
			case <-ctx.Done():
				return nil, fmt.Errorf("p2pchat: member %d never got the room key: %w", i+j, ctx.Err())
			}
		}
		i += len(batch)
		jctx, cancel := context.WithTimeout(ctx, joinConverge)
		err = c.waitFormed(jctx, c.members[:i])
		cancel()
		if err != nil {
			return nil, fmt.Errorf("after member %d joined: %w", i-1, err)
		}
	}
	return c, nil
}

// newMember starts a node, its store and its manager; it joins nothing.
func (c *p2pCluster) newMember(ctx context.Context) (_ *p2pMember, err error) {
	id, err := identity.Generate()
	if err != nil {
		return nil, err
	}
	m := &p2pMember{done: make(chan struct{})}
	defer func() {
		if err != nil {
			m.close(ctx)
		}
	}()
	m.n, err = node.New(ctx, id.PrivKey(), node.Config{
		ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		NoMDNS:      true,
	})
	if err != nil {
		return nil, err
	}
	if c.persist {
		dir, err := os.MkdirTemp(c.dir, "node-")
		if err != nil {
			return nil, err
		}
		if m.st, err = room.OpenStore(ctx, dir); err != nil {
			return nil, err
		}
	}
	nick := "b" + id.Fingerprint().Short()
	var lg *slog.Logger
	if c.log != nil {
		lg = slog.New(slog.NewTextHandler(c.log, &slog.HandlerOptions{Level: slog.LevelDebug})).With("nick", nick)
	}
	if m.m, err = room.New(room.Config{Identity: id, Transport: roomnet.Transport(m.n), Nick: nick, Store: m.st, Logger: lg}); err != nil {
		return nil, err
	}
	return m, nil
}

// listen delivers member i's messages from others to the sink until its
// manager closes.
func (c *p2pCluster) listen(i int, m *p2pMember) {
	go func() {
		defer close(m.done)
		for ev := range m.m.Events() {
			if ev.Type == room.EventMessage && ev.Message != nil && !ev.Message.Self {
				c.sink(i, []byte(ev.Message.Text), time.Now())
			}
			if ev.Type == room.EventState && ev.Message != nil && ev.Message.Self {
				c.noteSeen(ev.Message)
			}
		}
	}()
}

// noteSeen records msg's time to "seen by all" once every other member
// holds it.
func (c *p2pCluster) noteSeen(msg *room.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if msg.SeenBy < len(c.members)-1 || c.seenIDs[msg.ID] {
		return
	}
	if c.seenIDs == nil {
		c.seenIDs = map[string]bool{}
	}
	c.seenIDs[msg.ID] = true
	c.seenAll = append(c.seenAll, float64(time.Since(msg.Time))/float64(time.Millisecond))
}

// waitFormed waits until every member in ms holds the same key and counts
// all of ms in the roster and as members heard from.
func (c *p2pCluster) waitFormed(ctx context.Context, ms []*p2pMember) error {
	return poll(ctx, 20*time.Millisecond, func() string { return fmt.Sprintf("%v: %s", errNoRoom, describe(ms)) }, func() bool {
		key := ""
		for _, m := range ms {
			st, ok := roomStatus(m)
			if !ok || !st.Ready || st.Roster != len(ms) || st.Members != len(ms)-1 || (key != "" && st.KeyID != key) {
				return false
			}
			key = st.KeyID
		}
		return true
	})
}

// describe summarises how the members see the room, for errors.
func describe(ms []*p2pMember) string {
	keys := map[string]bool{}
	var lo, hi uint32
	ready, full := 0, 0
	for _, m := range ms {
		st, _ := roomStatus(m)
		if !st.Ready {
			continue
		}
		if ready == 0 || st.Epoch < lo {
			lo = st.Epoch
		}
		hi = max(hi, st.Epoch)
		ready++
		keys[st.KeyID] = true
		if st.Roster == len(ms) && st.Members == len(ms)-1 {
			full++
		}
	}
	return fmt.Sprintf("%d members: %d hold a key, %d distinct keys, epochs %d to %d, %d see everyone (%s)", len(ms), ready, len(keys), lo, hi, full, eachStatus(ms))
}

// eachStatus lists how each member sees the room, for errors: epoch,
// roster size, members heard from, envelopes buffered and drop counts.
func eachStatus(ms []*p2pMember) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		st, _ := roomStatus(m)
		parts[i] = fmt.Sprintf("member %d: epoch %d, roster %d, heard %d, buffered %d, drops %v", i, st.Epoch, st.Roster, st.Members, st.Buffered, st.Drops)
	}
	return strings.Join(parts, "; ")
}

func roomStatus(m *p2pMember) (room.RoomStatus, bool) {
	r, err := m.m.Room(p2pRoom)
	if err != nil {
		return room.RoomStatus{}, false
	}
	return r.Status(), true
}

func (c *p2pCluster) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.members)
}

func (c *p2pCluster) member(i int) *p2pMember {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i]
}

func (c *p2pCluster) send(ctx context.Context, from int, b []byte) error {
	_, err := c.member(from).m.Send(ctx, p2pRoom, string(b))
	return err
}

// status returns member i's view of the room.
func (c *p2pCluster) status(i int) (room.RoomStatus, bool) { return roomStatus(c.member(i)) }

// leave makes member i leave the room (it says goodbye; the others rekey).
func (c *p2pCluster) leave(ctx context.Context, i int) error {
	return c.member(i).m.Leave(ctx, p2pRoom)
}

func (c *p2pCluster) add(ctx context.Context) (joining, error) {
	j := joining{start: time.Now()}
	m, err := c.newMember(ctx)
	if err != nil {
		return j, err
	}
	c.mu.Lock()
	others := append([]*p2pMember(nil), c.members...)
	j.member = len(c.members)
	c.members = append(c.members, m)
	c.mu.Unlock()
	c.listen(j.member, m)
	errs := make(chan error, len(others))
	for _, o := range others {
		go func() { errs <- m.n.Connect(ctx, peer.AddrInfo{ID: o.n.ID(), Addrs: o.n.Addrs()}) }()
	}
	for range others {
		if err := <-errs; err != nil {
			return j, fmt.Errorf("p2pchat: connecting newcomer: %w", err)
		}
	}
	r, err := m.m.Join(ctx, p2pRoom, room.JoinOptions{})
	if err != nil {
		return j, fmt.Errorf("p2pchat: newcomer join: %w", err)
	}
	j.joined = time.Now()
	ready := make(chan struct{})
	j.ready, j.readyAt = ready, new(time.Time)
	go func() {
		select {
		case <-r.Ready():
			*j.readyAt = time.Now()
			close(ready)
		case <-ctx.Done():
		case <-c.closed:
		}
	}()
	return j, nil
}

func (c *p2pCluster) close() {
	c.mu.Lock()
	members := c.members
	c.members = nil
	c.mu.Unlock()
	close(c.closed)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Go(func() { m.close(ctx) })
	}
	wg.Wait()
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// close stops the manager (saying goodbye), waits for its events to
// drain, then closes the node and the store.
func (m *p2pMember) close(ctx context.Context) {
	if m.m != nil {
		m.m.Close(ctx)
		select {
		case <-m.done:
		case <-ctx.Done():
		}
	}
	if m.n != nil {
		m.n.Close()
	}
	if m.st != nil {
		m.st.Close()
	}
}
