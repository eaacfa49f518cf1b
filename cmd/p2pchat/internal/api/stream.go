package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/p2pchat/p2pchat/room"
)

func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, "since", "room")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var since uint64
	v, hasSince := q["since"]
	if hasSince {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			s.writeError(w, r, fmt.Errorf("%w: since=%q: want an event id (0, 1, 2, …)", ErrBadRequest, v))
			return
		}
	}
	var filter string
	if v, ok := q["room"]; ok {
		if filter, err = normalize(v); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.mu.Lock()
	closing, k := s.closing, s.kick
	s.mu.Unlock()
	if closing {
		s.writeError(w, r, fmt.Errorf("the daemon is stopping: %w", room.ErrClosed))
		return
	}
	s.streams.Add(1)
	head := s.events.last()
	cursor := head
	if hasSince {
		// A since beyond the head (from an earlier daemon) means "from now".
		cursor = min(since, head)
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set(HeaderBoot, s.boot)
	h.Set(HeaderEventHead, strconv.FormatUint(head, 10))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil || r.Method == http.MethodHead {
		return
	}
	// A kick unblocks a write to a client that does not read.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-k.ch:
			rc.SetWriteDeadline(time.Now())
		case <-done:
		}
	}()
	var buf bytes.Buffer
	for {
		select {
		case <-k.ch:
			panic(http.ErrAbortHandler) // drop the connection: it is not reused
		default:
		}
		batch, missed, wake := s.events.after(cursor, streamBatch)
		buf.Reset()
		if missed > 0 {
			line, _ := marshalLine(map[string]any{"type": string(room.EventError), "reason": ReasonEventsMissed, "missed": missed,
				"error": fmt.Sprintf("%d events (of every room) after event %d were dropped from the daemon's event log before this stream could send them", missed, cursor)})
			buf.Write(line)
		}
		for _, e := range batch {
			cursor = e.id
			if filter == "" || e.room == filter {
				buf.Write(e.line)
			}
		}
		if buf.Len() > 0 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-k.ch:
			panic(http.ErrAbortHandler)
		}
	}
}
