package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/room"
)

// giveUp is how long a client waits for a daemon that went away (a restart
// under systemd takes a few seconds) before it reports that none runs.
const giveUp = 15 * time.Second

// attach runs the UI or line mode on the daemon c: rooms named are joined
// (with pass); with none, the daemon's rooms are shown (lobby is joined if
// it has none). Quitting detaches: the daemon stays in its rooms.
func attach(ctx context.Context, c *api.Client, rooms []string, pass []byte, ui *tuiFace, out *printer, show func(api.Event), stdin io.Reader, stderr io.Writer) error {
	// Subscribe before joining, so that the joins' events are not missed:
	// the stream resumes from the head it had then.
	head, err := eventHead(ctx, c, "")
	if err != nil {
		return err
	}
	if len(rooms) == 0 {
		have, err := c.Rooms(ctx)
		if err != nil {
			return err
		}
		for _, r := range have {
			rooms = append(rooms, r.Name) // joining a joined room just makes it current
		}
		if len(rooms) == 0 {
			rooms = []string{"lobby"}
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	followed := make(chan error, 1)
	go func() {
		err := c.Follow(ctx, api.EventsOptions{Since: head, FromStart: head == 0, GiveUp: giveUp}, func(e api.Event) error {
			show(e)
			return nil
		})
		if err != nil {
			err = fmt.Errorf("the daemon went away: %w", err)
		}
		followed <- err
		cancel(err)
	}()
	err = runFace(ctx, c, rooms, pass, ui, out, stdin, stderr)
	cancel(nil)
	if ferr := <-followed; ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// eventHead returns the id of the daemon's newest event.
func eventHead(ctx context.Context, c *api.Client, roomName string) (uint64, error) {
	s, err := c.Events(ctx, api.EventsOptions{Room: roomName})
	if err != nil {
		return 0, err
	}
	head := s.Head()
	s.Close()
	return head, nil
}

// joinRoom makes the daemon join name and waits up to wait for the room
// key: the joined event is printed; a refused passphrase is an error.
func joinRoom(ctx context.Context, c *api.Client, name string, pass []byte, wait time.Duration, out *printer) error {
	head, err := eventHead(ctx, c, name)
	if err != nil {
		return err
	}
	r, err := c.Join(ctx, name, pass)
	if err != nil {
		return err
	}
	joined := func() error {
		out.show(api.Event{Event: room.Event{Type: room.EventJoined, Room: r.Name, Kind: r.Kind}})
		return nil
	}
	if r.Ready {
		return joined()
	}
	if wait <= 0 {
		out.info("joining", map[string]any{"room": r.Name, "kind": string(r.Kind)}, fmt.Sprintf("* [%s] joining; the daemon gets the room key in the background", r.Name))
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var refused error
	err = c.Follow(wctx, api.EventsOptions{Room: r.Name, Since: head, FromStart: head == 0, GiveUp: giveUp}, func(e api.Event) error {
		switch {
		case e.Type == room.EventJoined:
			out.show(e)
			return errTailDone
		case e.Type == room.EventError && e.Reason == room.ReasonWrongPassphrase:
			refused = fmt.Errorf("%v; the daemon makes no further attempt: join again with the right passphrase, or `p2pchat leave %s`", e.Err, r.Name)
			return errTailDone
		}
		return nil
	})
	switch {
	case refused != nil:
		return refused
	case errors.Is(err, errTailDone):
		return nil
	case wctx.Err() != nil && ctx.Err() == nil:
		return fmt.Errorf("room %q: joined, but no room key after %v; the daemon keeps trying (p2pchat status shows when it has it)", r.Name, wait)
	}
	return err
}

// mustNormalize is name normalised, or name itself if it does not
// normalise (the daemon then said so already).
func mustNormalize(name string) string {
	if n, err := room.Normalize(name); err == nil {
		return n
	}
	return name
}

// errTailDone ends a tail that printed the messages it was asked for.
var errTailDone = errors.New("done")

// tailRoom prints the last n stored messages of name, then its events
// until ctx ends or, if limit > 0, limit messages were printed. A message in
// both is printed once.
func tailRoom(ctx context.Context, c *api.Client, name string, n, limit int, out *printer) error {
	head, err := eventHead(ctx, c, name)
	if err != nil {
		return err
	}
	shown := map[string]bool{}
	if n > 0 {
		msgs, err := c.History(ctx, name, n)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			shown[m.ID] = true
			obj := map[string]any{"room": name}
			api.AddMessage(obj, m)
			out.info("history", obj, fmt.Sprintf("  %s [%s] %s", m.Time.Local().Format("2006-01-02 15:04"), name, messageLine(m)))
			if limit > 0 && len(shown) >= limit {
				return nil
			}
		}
	}
	err = c.Follow(ctx, api.EventsOptions{Room: name, Since: head, FromStart: head == 0, GiveUp: giveUp}, func(e api.Event) error {
		if e.Type == room.EventMessage {
			if shown[e.Message.ID] {
				return nil
			}
			shown[e.Message.ID] = true
		}
		out.show(e)
		if limit > 0 && len(shown) >= limit {
			return errTailDone
		}
		return nil
	})
	if errors.Is(err, errTailDone) || ctx.Err() != nil {
		return nil // interrupted: the way tail ends
	}
	return err
}

// askPassphrase reads a passphrase for name: on the terminal without echo,
// else the first line of stdin.
func askPassphrase(ctx context.Context, name string, stdin io.Reader, stderr io.Writer) ([]byte, error) {
	if t := stdinTerminal(stdin, stderr); t != nil {
		p, err := t.readHidden(ctx, "passphrase for "+name+": ")
		if err != nil {
			return nil, err
		}
		if len(p) == 0 {
			return nil, usageError{errors.New("no passphrase entered; not joined")}
		}
		return p, nil
	}
	br := bufio.NewReaderSize(stdin, room.MaxPassphrase+3)
	line, err := br.ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, usageError{fmt.Errorf("reading the passphrase from stdin: %v", err)}
	}
	p := trimLineEnd(line)
	switch {
	case len(p) == 0:
		return nil, usageError{errors.New("the passphrase line on stdin is empty; not joined")}
	case len(p) > room.MaxPassphrase:
		return nil, usageError{fmt.Errorf("the passphrase is longer than %d bytes; not joined", room.MaxPassphrase)}
	}
	return append([]byte(nil), p...), nil
}
