package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/p2pchat/p2pchat/room"
)

// Event log bounds: the defaults of [ServerConfig].
const (
	defaultEventLogSize  = 4096
	defaultEventLogBytes = 8 << 20
	// streamBatch bounds the events a stream takes from the log at once.
	streamBatch = 256
)

// eventLog is a daemon's log of published events: a ring bounded by count
// and bytes, from which every event stream reads at its own pace. Appending
// never waits for a reader; a reader that falls behind the ring's start
// learns how many events it missed. Its methods are safe for concurrent use.
type eventLog struct {
	maxN, maxBytes int

	mu      sync.Mutex
	entries []logEntry // entries[head:] are retained, oldest first
	head    int
	bytes   int           // total line length of the retained entries
	next    uint64        // id of the next event; ids start at 1
	wake    chan struct{} // closed, and replaced, when an event is appended
}

// logEntry is one event as streams send it.
type logEntry struct {
	id   uint64
	room string
	ev   Event  // the event, with id set, for in-process readers
	line []byte // the event's JSON object and a newline; never modified
}

func newEventLog(maxN, maxBytes int) *eventLog {
	if maxN <= 0 {
		maxN = defaultEventLogSize
	}
	if maxBytes <= 0 {
		maxBytes = defaultEventLogBytes
	}
	return &eventLog{maxN: maxN, maxBytes: maxBytes, next: 1, wake: make(chan struct{})}
}

// append gives ev the next id, stores it, drops the oldest events beyond
// the bounds (the newest one is always kept) and wakes the readers.
func (l *eventLog) append(ev Event) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev.EventID = l.next
	line, err := marshalLine(ev.JSON())
	if err != nil {
		return 0, err
	}
	for n := len(l.entries) - l.head; n > 0 && (n >= l.maxN || l.bytes+len(line) > l.maxBytes); n-- {
		l.bytes -= len(l.entries[l.head].line)
		l.entries[l.head] = logEntry{}
		l.head++
	}
	if l.head > 0 && len(l.entries) == cap(l.entries) {
		n := copy(l.entries, l.entries[l.head:])
		clear(l.entries[n:])
		l.entries, l.head = l.entries[:n], 0
	}
	l.entries = append(l.entries, logEntry{id: ev.EventID, room: ev.Room, ev: ev, line: line})
	l.bytes += len(line)
	l.next++
	close(l.wake)
	l.wake = make(chan struct{})
	return ev.EventID, nil
}

// last returns the id of the newest event, 0 if there is none.
func (l *eventLog) last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// after returns up to max retained events with ids above cursor, oldest
// first; missed, the number of events after cursor that were dropped
// before these; and a channel closed when an event is appended after the
// ones returned.
func (l *eventLog) after(cursor uint64, max int) (batch []logEntry, missed uint64, wake <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.next // id of the oldest retained event
	if len(l.entries) > l.head {
		first = l.entries[l.head].id
	}
	start := cursor + 1
	if start < first {
		missed, start = first-start, first
	}
	if start < l.next {
		i := l.head + int(start-first)
		j := min(i+max, len(l.entries))
		batch = append([]logEntry(nil), l.entries[i:j]...)
	}
	return batch, missed, l.wake
}

// follow calls fn with the retained events after cursor of room filter
// (every room if ""), then with new ones as they are appended, until ctx
// ends, fn fails or done is closed and every event is delivered. Where
// events were dropped before fn could see them, fn gets an error event of
// reason [ReasonEventsMissed] (with no event id), as streams send it.
func (l *eventLog) follow(ctx context.Context, cursor uint64, filter string, done <-chan struct{}, fn func(Event) error) error {
	for {
		batch, missed, wake := l.after(cursor, streamBatch)
		if missed > 0 {
			err := fmt.Errorf("%d events (of every room) after event %d were dropped from the event log before they could be delivered", missed, cursor)
			if err := fn(Event{Event: room.Event{Type: room.EventError, Reason: ReasonEventsMissed, Err: err}}); err != nil {
				return err
			}
		}
		for _, e := range batch {
			cursor = e.id
			if filter == "" || e.room == filter {
				if err := fn(e.ev); err != nil {
					return err
				}
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil
		case <-done:
			if l.last() == cursor {
				return nil
			}
		}
	}
}

// marshalLine encodes obj as one line of JSON, not escaping HTML.
func marshalLine(obj any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil { // Encode adds the newline
		return nil, err
	}
	return b.Bytes(), nil
}
