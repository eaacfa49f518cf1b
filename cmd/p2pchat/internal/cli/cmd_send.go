package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/room"
)

// newSendCmd is p2pchat send: send a message through the daemon.
func newSendCmd(o *options, stdin io.Reader, stdout io.Writer) *cobra.Command {
	var (
		wait   time.Duration
		action bool
	)
	var text string
	cmd := newClientCmd(o, stdout, clientCmd{use: "send ROOM [TEXT ...]",
		short: "send a message to ROOM through the daemon (TEXT, else all of stdin)",
		long: `Send TEXT (the arguments joined by spaces) to ROOM, which the daemon must
have joined. Without TEXT, all of stdin is one message (one trailing
newline removed). It waits up to --wait for the room key. With --json it
prints the message object; otherwise nothing on success.`,
		args: args(1, -1, "ROOM [TEXT ...]"),
		check: func(_ *cobra.Command, a []string) error {
			text = strings.Join(a[1:], " ")
			if len(a) == 1 {
				b, err := io.ReadAll(io.LimitReader(stdin, room.MaxText+3))
				if err != nil {
					return fmt.Errorf("reading the message from stdin: %w", err)
				}
				text = string(trimLineEnd(b))
			}
			switch {
			case text == "":
				return usageError{errors.New("empty message not sent")}
			case len(text) > room.MaxText:
				return usageError{fmt.Errorf("message longer than %d bytes not sent", room.MaxText)}
			}
			return nil
		},
		run: func(ctx context.Context, c *api.Client, a []string, out *printer) error {
			ctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			m, err := c.Send(ctx, a[0], text, action)
			if err != nil {
				return fmt.Errorf("message not sent: %w", err)
			}
			if o.json {
				obj := map[string]any{"type": "message", "room": mustNormalize(a[0])}
				api.AddMessage(obj, m)
				return writeJSON(out.w, obj)
			}
			return nil
		}})
	waitFlag(cmd.Flags(), &wait, sendTimeout, "how long to wait for the room key")
	cmd.Flags().BoolVar(&action, "action", false, "send an action, as /me does")
	return cmd
}
