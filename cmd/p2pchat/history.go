package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
	"github.com/p2pchat/p2pchat/room/store"
)

// historyCmd runs the subcommands that read the state database without
// starting a node: history, search and export.
type historyCmd struct {
	roomName, since string
	n               int
	args            []string
	o               *options
	self            peer.ID
	st              *store.Store
	stdout          io.Writer
}

// run opens the state database and runs f.
func (h *historyCmd) run(ctx context.Context, f func(*historyCmd, context.Context) error) error {
	home, err := resolveHome(h.o.home)
	if err != nil {
		return err
	}
	if id, err := identity.Load(home); err == nil {
		h.self = id.PeerID()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	h.st, err = store.Open(ctx, home)
	if err != nil {
		return err
	}
	defer h.st.Close()
	return f(h, ctx)
}

// message turns a stored message into what is printed, verifying its
// record against the author's signature on the way: what the database
// holds is shown only if it is what its author signed.
func (h *historyCmd) message(sm store.Message) (*room.Message, error) {
	m, err := room.VerifyRecord(sm.Record)
	if err != nil {
		return nil, fmt.Errorf("message %x in room %q does not verify (%w): the database was altered", sm.ID, sm.Room, err)
	}
	m.Self, m.State = m.From == h.self, sm.State
	return m, nil
}

func (h *historyCmd) print(roomName string, m *room.Message, extra map[string]any) error {
	if h.o.json {
		obj := map[string]any{"type": "message", "room": roomName}
		api.AddMessage(obj, m)
		for k, v := range extra {
			obj[k] = v
		}
		return writeJSON(h.stdout, obj)
	}
	_, err := fmt.Fprintf(h.stdout, "%s [%s] %s\n", m.Time.Local().Format("2006-01-02 15:04:05"), roomName, messageLine(m))
	return err
}

func (h *historyCmd) history(ctx context.Context) error {
	name, err := room.Normalize(h.args[0])
	if err != nil {
		return usageError{err}
	}
	var since time.Time
	if h.since != "" {
		if d, err := time.ParseDuration(h.since); err == nil {
			since = time.Now().Add(-d)
		} else if since, err = time.Parse(time.RFC3339, h.since); err != nil {
			return usageError{fmt.Errorf("--since %q: want an RFC 3339 time or a duration such as 2h", h.since)}
		}
	}
	msgs, err := h.st.History(ctx, name, h.n, since)
	if err != nil {
		return err
	}
	for _, sm := range msgs {
		m, err := h.message(sm)
		if err != nil {
			return err
		}
		if err := h.print(name, m, nil); err != nil {
			return err
		}
	}
	return nil
}

func (h *historyCmd) search(ctx context.Context) error {
	roomName := ""
	if h.roomName != "" {
		n, err := room.Normalize(h.roomName)
		if err != nil {
			return usageError{err}
		}
		roomName = n
	}
	hits, err := h.st.Search(ctx, h.args[0], roomName, h.n)
	if err != nil {
		return err
	}
	for _, hit := range hits {
		m, err := h.message(hit.Message)
		if err != nil {
			return err
		}
		if !h.o.json {
			shown := *m
			shown.Text = hit.Snippet
			if err := h.print(hit.Room, &shown, nil); err != nil {
				return err
			}
			continue
		}
		if err := h.print(hit.Room, m, map[string]any{"type": "search_hit", "snippet": hit.Snippet}); err != nil {
			return err
		}
	}
	return nil
}

// export writes every message of a room as JSON with its record, which
// anyone can check against the author's key (room.VerifyRecord).
func (h *historyCmd) export(ctx context.Context) error {
	if !h.o.json {
		return usageError{errors.New("export writes JSON: pass --json")}
	}
	name, err := room.Normalize(h.args[0])
	if err != nil {
		return usageError{err}
	}
	msgs, err := h.st.History(ctx, name, 0, time.Time{})
	if err != nil {
		return err
	}
	for _, sm := range msgs {
		m, err := h.message(sm)
		if err != nil {
			return err
		}
		pub, err := identity.PublicKeyOf(m.From)
		if err != nil {
			return err
		}
		if err := h.print(name, m, map[string]any{
			"record":     base64.StdEncoding.EncodeToString(sm.Record),
			"author_key": base64.StdEncoding.EncodeToString(pub),
		}); err != nil {
			return err
		}
	}
	return nil
}
