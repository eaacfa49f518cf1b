package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/p2pchat/p2pchat/room"
)

// EventsOptions says which events to stream.
type EventsOptions struct {
	// Room, if set, keeps only the events of this room.
	Room string
	// Since, if not 0, streams every retained event after this event id,
	// then new ones. Event ids are those of the daemon that issued them.
	Since uint64
	// FromStart streams every retained event (since=0), then new ones.
	// Without it or Since only events published from now on are streamed.
	FromStart bool
	// GiveUp, for [Client.Follow]: how long the daemon may be unreachable
	// before Follow fails; 0 keeps trying.
	GiveUp time.Duration
}

// EventStream is an open event stream: [Event]s in event id order, with
// error events of reason [ReasonEventsMissed] where events were lost. It is
// for one goroutine at a time.
type EventStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
	head uint64
	boot string
}

// Events opens an event stream. The stream ends when ctx ends, on
// [EventStream.Close], or when the daemon ends it.
func (c *Client) Events(ctx context.Context, opts EventsOptions) (*EventStream, error) {
	q := url.Values{}
	switch {
	case opts.Since > 0:
		q.Set("since", strconv.FormatUint(opts.Since, 10))
	case opts.FromStart:
		q.Set("since", "0")
	}
	if opts.Room != "" {
		q.Set("room", opts.Room)
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/events", q, nil)
	if err != nil {
		return nil, err
	}
	head, err := strconv.ParseUint(resp.Header.Get(HeaderEventHead), 10, 64)
	if err != nil || resp.Header.Get(HeaderBoot) == "" {
		resp.Body.Close()
		return nil, fmt.Errorf("the daemon at %s: event stream without %s and %s headers", c.path, HeaderBoot, HeaderEventHead)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	return &EventStream{body: resp.Body, sc: sc, head: head, boot: resp.Header.Get(HeaderBoot)}, nil
}

// Head returns the id of the newest event when the stream began (0: none).
func (s *EventStream) Head() uint64 { return s.head }

// Boot returns the daemon's boot id: it changes when the daemon restarts.
func (s *EventStream) Boot() string { return s.boot }

// Next returns the next event, waiting for it. At the end of the stream
// the error is io.EOF, or the reason it broke. A line that is not a valid
// event gives an error wrapping [ErrBadObject]; the stream goes on after it.
func (s *EventStream) Next() (Event, error) {
	for s.sc.Scan() {
		line := s.sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return DecodeEvent(line)
	}
	if err := s.sc.Err(); err != nil {
		return Event{}, err
	}
	return Event{}, io.EOF
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }

// Follow calls fn with every event that opts selects, in order, until ctx
// ends (it then returns nil) or fn returns an error (returned as is). When
// the stream breaks it reconnects, waiting 100ms, then longer up to 2s, and
// resumes after the last event fn saw, so fn sees every event once. Events
// the daemon dropped meanwhile are reported by an error event of reason
// [ReasonEventsMissed]. When it finds another daemon (it restarted), fn gets
// an error event of reason [ReasonDaemonRestarted], then the new daemon's
// events from its first. If the daemon stays unreachable longer than
// opts.GiveUp (if not 0), Follow returns an error wrapping [ErrNoDaemon].
func (c *Client) Follow(ctx context.Context, opts EventsOptions, fn func(Event) error) error {
	var (
		boot      string
		cursor    uint64 // the last event id fn saw, or where to resume
		resume    bool   // cursor is set
		backoff   = followBackoff
		downSince time.Time
	)
	for {
		o := EventsOptions{Room: opts.Room, Since: opts.Since, FromStart: opts.FromStart}
		if resume {
			o.Since, o.FromStart = cursor, cursor == 0
		}
		stream, err := c.Events(ctx, o)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if e, ok := errors.AsType[*Error](err); ok && e.Status < 500 {
				return err // a request the daemon will never accept
			}
			if downSince.IsZero() {
				downSince = time.Now()
			}
			if opts.GiveUp > 0 && time.Since(downSince) >= opts.GiveUp {
				if !errors.Is(err, ErrNoDaemon) {
					err = fmt.Errorf("%w: %w", ErrNoDaemon, err)
				}
				return fmt.Errorf("unreachable for %v: %w", opts.GiveUp, err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, followMaxWait)
			continue
		}
		downSince, backoff = time.Time{}, followBackoff
		if boot != "" && stream.Boot() != boot {
			stream.Close()
			boot, cursor, resume = stream.Boot(), 0, true
			ev := Event{Event: room.Event{Type: room.EventError, Reason: ReasonDaemonRestarted,
				Err: errors.New("the daemon restarted: events of the old one that were not streamed yet are lost")}}
			if err := fn(ev); err != nil {
				return err
			}
			continue
		}
		if !resume {
			boot, resume = stream.Boot(), true
			switch {
			case o.Since > 0:
				cursor = min(o.Since, stream.Head())
			case o.FromStart:
				cursor = 0
			default:
				cursor = stream.Head()
			}
		}
		if err := c.drain(stream, &cursor, fn); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}

// drain passes the events of stream to fn until the stream ends (nil) or
// fn fails (its error), advancing cursor.
func (c *Client) drain(stream *EventStream, cursor *uint64, fn func(Event) error) error {
	defer stream.Close()
	for {
		ev, err := stream.Next()
		if errors.Is(err, ErrBadObject) {
			ev = Event{Event: room.Event{Type: room.EventError, Reason: ReasonBadEvent, Err: err}}
		} else if err != nil {
			return nil
		}
		if ev.EventID != 0 {
			if ev.EventID <= *cursor {
				continue // seen before the stream broke
			}
			*cursor = ev.EventID
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}
