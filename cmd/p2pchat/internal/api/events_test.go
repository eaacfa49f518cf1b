package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/room"
)

func TestEventLog(t *testing.T) {
	line := func(id uint64) int { // length of testEvent(id)'s line
		b, _ := marshalLine(Event{Event: testEvent(int(id), "r").Event, EventID: id}.JSON())
		return len(b)
	}
	tests := []struct {
		name          string
		maxN, maxB    int
		publish       int
		cursor        uint64
		wantIDs       []uint64
		wantMissed    uint64
		wantRetainedN int
	}{
		{"empty", 4, 1 << 20, 0, 0, nil, 0, 0},
		{"all retained", 4, 1 << 20, 3, 0, []uint64{1, 2, 3}, 0, 3},
		{"after cursor", 4, 1 << 20, 3, 2, []uint64{3}, 0, 3},
		{"at head", 4, 1 << 20, 3, 3, nil, 0, 3},
		{"count bound", 4, 1 << 20, 10, 0, []uint64{7, 8, 9, 10}, 6, 4},
		{"count bound, cursor inside", 4, 1 << 20, 10, 7, []uint64{8, 9, 10}, 0, 4},
		{"count bound, cursor just before", 4, 1 << 20, 10, 6, []uint64{7, 8, 9, 10}, 0, 4},
		{"bytes bound", 100, 2*line(9) + line(10), 10, 0, []uint64{8, 9, 10}, 7, 3},
		{"newest kept whatever its size", 100, 1, 5, 0, []uint64{5}, 4, 1},
		{"batch bound", 1000, 1 << 20, 600, 0, nil, 0, 600}, // checked below: streamBatch events
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newEventLog(tt.maxN, tt.maxB)
			for i := 1; i <= tt.publish; i++ {
				id, err := l.append(testEvent(i, "r"))
				if err != nil || id != uint64(i) {
					t.Fatalf("append %d: id %d, %v", i, id, err)
				}
			}
			if l.last() != uint64(tt.publish) {
				t.Errorf("last %d, want %d", l.last(), tt.publish)
			}
			batch, missed, wake := l.after(tt.cursor, streamBatch)
			var ids []uint64
			for _, e := range batch {
				ids = append(ids, e.id)
				if !strings.Contains(string(e.line), fmt.Sprintf(`"event_id":%d,`, e.id)) || e.line[len(e.line)-1] != '\n' {
					t.Errorf("line %q", e.line)
				}
			}
			if tt.name == "batch bound" {
				if len(ids) != streamBatch || ids[0] != 1 || ids[len(ids)-1] != streamBatch {
					t.Errorf("batch of %d from %d", len(ids), ids[0])
				}
			} else if !slices.Equal(ids, tt.wantIDs) || missed != tt.wantMissed {
				t.Errorf("after(%d) = %v, missed %d; want %v, missed %d", tt.cursor, ids, missed, tt.wantIDs, tt.wantMissed)
			}
			if n := len(l.entries) - l.head; n != tt.wantRetainedN {
				t.Errorf("%d retained, want %d", n, tt.wantRetainedN)
			}
			select {
			case <-wake:
				t.Error("wake closed before an append")
			default:
			}
			l.append(testEvent(tt.publish+1, "r"))
			select {
			case <-wake:
			default:
				t.Error("wake not closed by an append")
			}
		})
	}
}

// readIDs reads n events from s and returns their ids.
func readIDs(t *testing.T, s *EventStream, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for range n {
		ev, err := s.Next()
		if err != nil {
			t.Fatalf("after %d events: %v", len(ids), err)
		}
		if ev.Type != room.EventMessage || ev.Message.Text != fmt.Sprintf("m%d", ev.EventID) {
			t.Fatalf("event %d: %+v", ev.EventID, ev)
		}
		ids = append(ids, ev.EventID)
	}
	return ids
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestEventsResume reads 300 of 1000 events, closes, and resumes with
// since=300.
func TestEventsResume(t *testing.T) {
	s, _, c := serve(t, ServerConfig{Backend: newFake(t)})
	for i := 1; i <= 1000; i++ {
		s.Publish(testEvent(i, "lobby"))
	}
	ctx := context.Background()
	st, err := c.Events(ctx, EventsOptions{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := readIDs(t, st, 300); !slices.Equal(got, seq(1, 300)) {
		t.Fatalf("first read: %v", got)
	}
	if st.Head() != 1000 || st.Boot() == "" {
		t.Errorf("head %d, boot %q", st.Head(), st.Boot())
	}
	boot := st.Boot()
	st.Close()

	st, err = c.Events(ctx, EventsOptions{Since: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := readIDs(t, st, 700); !slices.Equal(got, seq(301, 1000)) {
		t.Fatalf("resumed read: %v", got)
	}
	if st.Boot() != boot {
		t.Errorf("boot changed from %q to %q", boot, st.Boot())
	}
	s.Publish(testEvent(1001, "lobby"))
	if got := readIDs(t, st, 1); got[0] != 1001 {
		t.Errorf("after 1000: %v", got)
	}
}

func TestEventsLive(t *testing.T) {
	s, _, c := serve(t, ServerConfig{Backend: newFake(t)})
	for i := 1; i <= 5; i++ {
		s.Publish(testEvent(i, "lobby"))
	}
	st, err := c.Events(context.Background(), EventsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Head() != 5 {
		t.Errorf("head %d, want 5", st.Head())
	}
	s.Publish(testEvent(6, "lobby"))
	if got := readIDs(t, st, 1); got[0] != 6 {
		t.Errorf("first live event %v, want 6", got)
	}
	// A since beyond the head (from another daemon) streams from now.
	st2, err := c.Events(context.Background(), EventsOptions{Since: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	s.Publish(testEvent(7, "lobby"))
	if got := readIDs(t, st2, 1); got[0] != 7 {
		t.Errorf("since beyond head: %v, want 7", got)
	}
}

func TestEventsRoomFilter(t *testing.T) {
	s, _, c := serve(t, ServerConfig{Backend: newFake(t)})
	for i := 1; i <= 20; i++ {
		s.Publish(testEvent(i, []string{"a", "b"}[i%2]))
	}
	s.Publish(Event{Event: room.Event{Type: room.EventError, Err: errors.New("node-wide")}})
	st, err := c.Events(context.Background(), EventsOptions{FromStart: true, Room: " A "})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := readIDs(t, st, 10)
	if !slices.Equal(got, []uint64{2, 4, 6, 8, 10, 12, 14, 16, 18, 20}) {
		t.Errorf("room a: %v", got)
	}
	s.Publish(testEvent(22, "b"))
	s.Publish(testEvent(23, "a"))
	if got := readIDs(t, st, 1); got[0] != 23 {
		t.Errorf("next in room a: %v, want 23", got)
	}
	if _, err := c.Events(context.Background(), EventsOptions{Room: "a b"}); !errors.Is(err, room.ErrBadName) {
		t.Errorf("bad room filter: %v", err)
	}
}

// TestEventsHeaders checks the stream's content type and headers, and that
// two servers have different boot ids.
func TestEventsHeaders(t *testing.T) {
	var boots []string
	for range 2 {
		s := NewServer(ServerConfig{Backend: newFake(t)})
		s.Publish(testEvent(1, "a"))
		srv := &http.Server{Handler: s.Handler()}
		path := socketPath(t)
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		resp, err := NewClient(path).send(context.Background(), "GET", "/v1/events", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q", ct)
		}
		if resp.Header.Get(HeaderEventHead) != "1" {
			t.Errorf("%s %q", HeaderEventHead, resp.Header.Get(HeaderEventHead))
		}
		boots = append(boots, resp.Header.Get(HeaderBoot))
	}
	if boots[0] == "" || boots[0] == boots[1] {
		t.Errorf("boot ids %q", boots)
	}
}

// TestSlowClient leaves a stream unread over a real socket while far more
// than the log holds is published: Publish and other clients go on, and
// the slow stream then gives events in order, every gap announced by an
// events_missed line, up to the last event. Shutdown ends it even though
// its writes are blocked.
func TestSlowClient(t *testing.T) {
	s, _, c := serve(t, ServerConfig{Backend: newFake(t), EventLogSize: 8})
	slow, err := c.Events(context.Background(), EventsOptions{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	big := strings.Repeat("x", 16<<10)
	const n = 400 // 6.4 MB: more than any socket buffers
	for i := 1; i <= n; i++ {
		ev := testEvent(i, "lobby")
		ev.Message.Text = fmt.Sprintf("m%d %s", i, big)
		s.Publish(ev)
	}
	// Another client is not held up.
	other := NewClient(c.path)
	defer other.Close()
	if _, err := other.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	fast, err := other.Events(context.Background(), EventsOptions{Since: n - 3})
	if err != nil {
		t.Fatal(err)
	}
	var fastIDs []uint64
	for range 3 {
		ev, err := fast.Next()
		if err != nil {
			t.Fatal(err)
		}
		fastIDs = append(fastIDs, ev.EventID)
	}
	fast.Close()
	if !slices.Equal(fastIDs, seq(n-2, n)) {
		t.Errorf("other client: %v", fastIDs)
	}

	var last uint64
	var pendingMissed uint64
	missedLines := 0
	for last < n {
		ev, err := slow.Next()
		if err != nil {
			t.Fatalf("after %d: %v", last, err)
		}
		if ev.Type == room.EventError {
			if ev.Reason != ReasonEventsMissed || ev.EventID != 0 || pendingMissed != 0 {
				t.Fatalf("unexpected error event %+v", ev)
			}
			if _, err := fmt.Sscanf(ev.Err.Error(), "%d events", &pendingMissed); err != nil {
				t.Fatalf("events_missed without a count: %q", ev.Err)
			}
			missedLines++
			continue
		}
		if gap := ev.EventID - last - 1; gap != pendingMissed {
			t.Fatalf("event %d after %d: %d missed, %d announced", ev.EventID, last, gap, pendingMissed)
		}
		if !strings.HasPrefix(ev.Message.Text, fmt.Sprintf("m%d ", ev.EventID)) {
			t.Fatalf("event %d has the text of another", ev.EventID)
		}
		last, pendingMissed = ev.EventID, 0
	}
	if missedLines == 0 {
		t.Error("no events_missed line although the stream fell behind the log")
	}

	// Unread again, blocked in a write: Shutdown still ends it.
	for i := n + 1; i <= 2*n; i++ {
		ev := testEvent(i, "lobby")
		ev.Message.Text = fmt.Sprintf("m%d %s", i, big)
		s.Publish(ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a blocked stream: %v", err)
	}
	for {
		if _, err := slow.Next(); err != nil {
			break // ended
		}
	}
}

// gate serves h but can hold event-stream requests: while closed, each
// one waits (and is announced on held) until the gate opens.
type gate struct {
	h    http.Handler
	mu   sync.Mutex
	open chan struct{}
	held chan struct{}
}

func newGate(h http.Handler) *gate {
	g := &gate{h: h, open: make(chan struct{}), held: make(chan struct{}, 100)}
	close(g.open)
	return g
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/events" {
		g.mu.Lock()
		open := g.open
		g.mu.Unlock()
		select {
		case <-open:
		default:
			g.held <- struct{}{}
			<-open
		}
	}
	g.h.ServeHTTP(w, r)
}

func (g *gate) shut() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

// serveGated serves s's handler behind a gate on a new socket.
func serveGated(t *testing.T, s *Server) (*gate, *Client) {
	t.Helper()
	g := newGate(s.Handler())
	path := socketPath(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g}
	go srv.Serve(l)
	t.Cleanup(func() {
		s.endStreams()
		srv.Close()
	})
	c := NewClient(path)
	t.Cleanup(func() { c.Close() })
	return g, c
}

// follow runs Follow in the background, sending what fn sees on the
// returned channel; stop ends it and returns Follow's error.
func follow(t *testing.T, c *Client, opts EventsOptions) (<-chan Event, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 10000)
	done := make(chan error, 1)
	go func() {
		done <- c.Follow(ctx, opts, func(ev Event) error {
			events <- ev
			return nil
		})
	}()
	return events, func() error {
		cancel()
		return <-done
	}
}

func receive(t *testing.T, events <-chan Event, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for range n {
		select {
		case ev := <-events:
			if ev.EventID == 0 {
				t.Fatalf("unexpected event %+v", ev)
			}
			ids = append(ids, ev.EventID)
		case <-time.After(30 * time.Second):
			t.Fatalf("no event after %v", ids)
		}
	}
	return ids
}

// waitStreams waits until s has begun n event streams.
func waitStreams(t *testing.T, s *Server, n int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); s.streams.Load() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams begun, want %d", s.streams.Load(), n)
		}
	}
}

// TestFollowReconnects drops Follow's stream twice, with events published
// while it is away, and checks that fn sees each event once, in order.
func TestFollowReconnects(t *testing.T) {
	s := NewServer(ServerConfig{Backend: newFake(t)})
	g, c := serveGated(t, s)
	events, stop := follow(t, c, EventsOptions{FromStart: true})
	for i := 1; i <= 50; i++ {
		s.Publish(testEvent(i, "lobby"))
	}
	got := receive(t, events, 50)

	for round := range 2 {
		g.shut()
		s.endStreams()
		<-g.held // Follow is reconnecting
		base := 50 + 50*round
		for i := base + 1; i <= base+50; i++ {
			s.Publish(testEvent(i, "lobby"))
		}
		g.release()
		got = append(got, receive(t, events, 50)...)
	}
	if !slices.Equal(got, seq(1, 150)) {
		t.Errorf("Follow saw %v", got)
	}
	if err := stop(); err != nil {
		t.Errorf("Follow returned %v when ctx ended", err)
	}
	select {
	case ev := <-events:
		t.Errorf("extra event %+v", ev)
	default:
	}
}

// TestFollowLiveReconnect follows without since: after a drop it resumes
// from the head it first saw, not from "now".
func TestFollowLiveReconnect(t *testing.T) {
	s := NewServer(ServerConfig{Backend: newFake(t)})
	g, c := serveGated(t, s)
	for i := 1; i <= 5; i++ {
		s.Publish(testEvent(i, "lobby"))
	}
	events, stop := follow(t, c, EventsOptions{})
	waitStreams(t, s, 1)
	g.shut()
	s.endStreams()
	<-g.held
	for i := 6; i <= 10; i++ {
		s.Publish(testEvent(i, "lobby"))
	}
	g.release()
	if got := receive(t, events, 5); !slices.Equal(got, seq(6, 10)) {
		t.Errorf("Follow saw %v, want 6..10", got)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

// TestFollowRestart replaces the daemon on the same socket.
func TestFollowRestart(t *testing.T) {
	path := socketPath(t)
	a := serveAt(t, ServerConfig{Backend: newFake(t)}, path)
	c := NewClient(path)
	defer c.Close()
	events, stop := follow(t, c, EventsOptions{FromStart: true})
	for i := 1; i <= 3; i++ {
		a.Publish(testEvent(i, "old"))
	}
	if got := receive(t, events, 3); !slices.Equal(got, seq(1, 3)) {
		t.Fatalf("first daemon: %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b := serveAt(t, ServerConfig{Backend: newFake(t)}, path)
	b.Publish(testEvent(1, "new"))
	b.Publish(testEvent(2, "new"))

	var ev Event
	select {
	case ev = <-events:
	case <-time.After(30 * time.Second):
		t.Fatal("nothing after the restart")
	}
	if ev.Type != room.EventError || ev.Reason != ReasonDaemonRestarted || ev.EventID != 0 || ev.Err == nil {
		t.Fatalf("first event after the restart: %+v", ev)
	}
	for i := uint64(1); i <= 2; i++ {
		select {
		case ev = <-events:
		case <-time.After(30 * time.Second):
			t.Fatal("new daemon's events missing")
		}
		if ev.EventID != i || ev.Room != "new" {
			t.Errorf("event %+v, want the new daemon's %d", ev.Event, i)
		}
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

// TestFollowFnError stops Follow with fn's error.
func TestFollowFnError(t *testing.T) {
	s, _, c := serve(t, ServerConfig{Backend: newFake(t)})
	for i := 1; i <= 5; i++ {
		s.Publish(testEvent(i, "lobby"))
	}
	errStop := errors.New("enough")
	var seen []uint64
	err := c.Follow(context.Background(), EventsOptions{FromStart: true}, func(ev Event) error {
		seen = append(seen, ev.EventID)
		if len(seen) == 3 {
			return errStop
		}
		return nil
	})
	if err != errStop || !slices.Equal(seen, seq(1, 3)) {
		t.Errorf("Follow: %v after %v", err, seen)
	}
}

// TestShutdownEndsStreams checks that Shutdown does not wait for an idle
// stream, and that the client sees its end.
func TestShutdownEndsStreams(t *testing.T) {
	s, _, c := serve(t, ServerConfig{Backend: newFake(t)})
	st, err := c.Events(context.Background(), EventsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := st.Next(); err == nil {
		t.Errorf("Next after Shutdown: %v", err)
	}
}

// TestPublishConcurrent publishes from many goroutines: ids are 1..N,
// each once, and a stream gets them in id order.
func TestPublishConcurrent(t *testing.T) {
	s, _, c := serve(t, ServerConfig{Backend: newFake(t)})
	st, err := c.Events(context.Background(), EventsOptions{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 400 {
				s.Publish(Event{Event: room.Event{Type: room.EventError, Room: "r", Err: fmt.Errorf("g%d i%d", g, i)}})
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for want := uint64(1); want <= 3200; want++ {
		ev, err := st.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.EventID != want || seen[ev.Err.Error()] {
			t.Fatalf("event %d (%v), want %d, each once", ev.EventID, ev.Err, want)
		}
		seen[ev.Err.Error()] = true
	}
}
