package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// historyCmd runs the subcommands that read the state database without
// starting a node: history, search and export.
type historyCmd struct {
	roomName, since string
	n               int
	args            []string
	o               *options
	archive         *room.Archive
	stdout, stderr  io.Writer
}

// command is the subcommand of h that runs f with one positional argument
// (usage: its reminder). Each subcommand has a historyCmd of its own, so
// that their flags do not share variables.
func (h *historyCmd) command(use, short, usage string, f func(*historyCmd, context.Context) error) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Args: args(1, 1, usage),
		RunE: func(cmd *cobra.Command, a []string) error {
			h.args = a
			return h.run(cmd.Context(), f)
		},
	}
}

// run opens the state directory's history and runs f.
func (h *historyCmd) run(ctx context.Context, f func(*historyCmd, context.Context) error) error {
	home, err := resolveHome(h.o.home)
	if err != nil {
		return err
	}
	h.archive, err = room.OpenHistory(ctx, home)
	if err != nil {
		return err
	}
	defer h.archive.Close()
	err = f(h, ctx)
	if n, first := h.archive.Altered(); n > 0 {
		// One warning, after what could be shown.
		fmt.Fprintf(h.stderr, "p2pchat: warning: %d stored messages were left out: they do not verify against their authors' signatures, the database was altered (first: %v); a running node replaces them with a member's verified copy when sync offers it\n", n, first)
	}
	return err
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
	msgs, err := h.archive.History(ctx, name, h.n, since)
	if err != nil {
		return err
	}
	for _, m := range msgs {
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
	hits, err := h.archive.Search(ctx, h.args[0], roomName, h.n)
	if err != nil {
		return err
	}
	for _, hit := range hits {
		m := hit.Message
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
	msgs, err := h.archive.Export(ctx, name)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		pub, err := identity.PublicKeyOf(m.From)
		if err != nil {
			return err
		}
		extra := map[string]any{"author_key": base64.StdEncoding.EncodeToString(pub)}
		if !m.Deleted {
			extra["record"] = base64.StdEncoding.EncodeToString(m.Record)
		}
		if err := h.print(name, m, extra); err != nil {
			return err
		}
	}
	return nil
}
