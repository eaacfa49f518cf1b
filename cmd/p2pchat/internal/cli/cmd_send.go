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
		wait    time.Duration
		action  bool
		replyTo string
	)
	var text string
	cmd := newClientCmd(o, stdout, clientCmd{use: "send ROOM [TEXT ...]",
		short: "send a message to ROOM through the daemon (TEXT, else all of stdin)",
		long: `Send TEXT (the arguments joined by spaces) to ROOM, which the daemon must
have joined. Without TEXT, all of stdin is one message (one trailing
newline removed). With --reply-to ID it answers the message ID (the "id"
of history --json, tail --json or send --json). It waits up to --wait for
the room key. With --json it prints the message object; otherwise nothing
on success.`,
		args: args(1, -1, "ROOM [TEXT ...]"),
		check: func(_ *cobra.Command, a []string) (err error) {
			if text, err = textArgs(a[1:], stdin, "the message"); err != nil {
				return err
			}
			switch {
			case text == "":
				return usageError{errors.New("empty message not sent")}
			case len(text) > room.MaxText:
				return usageError{fmt.Errorf("message longer than %d bytes not sent", room.MaxText)}
			case action && replyTo != "":
				return usageError{errors.New("--action and --reply-to: a reply cannot be an action")}
			}
			return nil
		},
		run: func(ctx context.Context, c *api.Client, a []string, out *printer) error {
			ctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			var m *room.Message
			var err error
			if replyTo != "" {
				m, err = c.Annotate(ctx, a[0], room.Annotation{Kind: room.AnnotateReply, Target: replyTo, Text: text})
			} else {
				m, err = c.Send(ctx, a[0], text, action)
			}
			if err != nil {
				return fmt.Errorf("message not sent: %w", err)
			}
			return printSent(o, out, a[0], m)
		}})
	waitFlag(cmd.Flags(), &wait, sendTimeout, "how long to wait for the room key")
	cmd.Flags().BoolVar(&action, "action", false, "send an action, as /me does")
	cmd.Flags().StringVar(&replyTo, "reply-to", "", "answer the message with this `ID`")
	return cmd
}

// textArgs is a command's TEXT: the arguments joined by spaces, or, with
// none, all of stdin (at most a little over a message, one trailing line
// end removed).
func textArgs(words []string, stdin io.Reader, what string) (string, error) {
	if len(words) > 0 {
		return strings.Join(words, " "), nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, room.MaxText+3))
	if err != nil {
		return "", fmt.Errorf("reading %s from stdin: %w", what, err)
	}
	return string(trimLineEnd(b)), nil
}

// printSent prints, with --json, the message object a send answered.
func printSent(o *options, out *printer, roomName string, m *room.Message) error {
	if !o.json {
		return nil
	}
	obj := map[string]any{"type": "message", "room": mustNormalize(roomName)}
	api.AddMessage(obj, m)
	return writeJSON(out.w, obj)
}

// newReactCmd is p2pchat react: react to a message through the daemon.
func newReactCmd(o *options, stdout io.Writer) *cobra.Command {
	var wait time.Duration
	cmd := newClientCmd(o, stdout, clientCmd{use: "react ROOM ID REACTION",
		short: "react to message ID in ROOM (the same reaction again takes it back)",
		long: `React to the message ID of ROOM with REACTION: an emoji, or a short word
(1 to 64 bytes, no spaces). Reacting again with the same REACTION takes it
back. With --json it prints the message as it is now, its reactions
included.`,
		args: args(3, 3, "ROOM ID REACTION"),
		run: annotateRun(o, &wait, func(a []string) room.Annotation {
			return room.Annotation{Kind: room.AnnotateReact, Target: a[1], Text: a[2]}
		})})
	waitFlag(cmd.Flags(), &wait, sendTimeout, "how long to wait for the room key")
	return cmd
}

// newEditCmd is p2pchat edit: edit one of our messages through the daemon.
func newEditCmd(o *options, stdin io.Reader, stdout io.Writer) *cobra.Command {
	var wait time.Duration
	var text string
	cmd := newClientCmd(o, stdout, clientCmd{use: "edit ROOM ID [TEXT ...]",
		short: "replace the text of your message ID in ROOM (TEXT, else all of stdin)",
		long: `Replace the text of your message ID of ROOM with TEXT (the arguments
joined by spaces; without TEXT, all of stdin). Members show the latest
text, marked edited; search finds it, not the text it replaced. Only a
message's author can edit it. With --json it prints the message as it is
now.`,
		args: args(2, -1, "ROOM ID [TEXT ...]"),
		check: func(_ *cobra.Command, a []string) (err error) {
			if text, err = textArgs(a[2:], stdin, "the new text"); err != nil {
				return err
			}
			switch {
			case text == "":
				return usageError{errors.New("empty text: to take a message back, use p2pchat delete")}
			case len(text) > room.MaxText:
				return usageError{fmt.Errorf("text longer than %d bytes: not edited", room.MaxText)}
			}
			return nil
		},
		run: annotateRun(o, &wait, func(a []string) room.Annotation {
			return room.Annotation{Kind: room.AnnotateEdit, Target: a[1], Text: text}
		})})
	waitFlag(cmd.Flags(), &wait, sendTimeout, "how long to wait for the room key")
	return cmd
}

// newDeleteCmd is p2pchat delete: delete one of our messages through the
// daemon.
func newDeleteCmd(o *options, stdout io.Writer) *cobra.Command {
	var wait time.Duration
	cmd := newClientCmd(o, stdout, clientCmd{use: "delete ROOM ID",
		short: "delete your message ID in ROOM",
		long: `Delete your message ID of ROOM: every member's p2pchat removes its text
from its screen, its history and its search, and shows "message deleted".
Only a message's author can delete it. A member running a modified
p2pchat can keep what it received: delete is a request, not a recall.
With --json it prints the message as it is now.`,
		args: args(2, 2, "ROOM ID"),
		run: annotateRun(o, &wait, func(a []string) room.Annotation {
			return room.Annotation{Kind: room.AnnotateDelete, Target: a[1]}
		})})
	waitFlag(cmd.Flags(), &wait, sendTimeout, "how long to wait for the room key")
	return cmd
}

// annotateRun is the run of react, edit and delete: the annotation of the
// arguments, sent through the daemon.
func annotateRun(o *options, wait *time.Duration, of func(a []string) room.Annotation) func(context.Context, *api.Client, []string, *printer) error {
	return func(ctx context.Context, c *api.Client, a []string, out *printer) error {
		ctx, cancel := context.WithTimeout(ctx, *wait)
		defer cancel()
		an := of(a)
		m, err := c.Annotate(ctx, a[0], an)
		if err != nil {
			return fmt.Errorf("%s not sent: %w", an.Kind, err)
		}
		return printSent(o, out, a[0], m)
	}
}

// newAwayCmd is p2pchat away: mark the daemon's node away, or back.
func newAwayCmd(o *options, stdout io.Writer) *cobra.Command {
	var back bool
	var text string
	cmd := newClientCmd(o, stdout, clientCmd{use: "away [TEXT ...] | away --back",
		short: "tell the members of every room you are away (TEXT, default away), or back",
		long: `Mark the daemon's node away in every room, with TEXT (the arguments joined
by spaces; default "away"; at most 128 bytes): members see
"alice#gms2w is away: TEXT" and /who says so until you are back. --back
marks it available again. With --json it prints the away object.`,
		args: args(0, -1, "[TEXT ...] | --back"),
		check: func(_ *cobra.Command, a []string) error {
			text = strings.Join(a, " ")
			switch {
			case back && text != "":
				return usageError{errors.New("--back takes no TEXT")}
			case back:
			case text == "":
				text = "away"
			}
			return nil
		},
		run: func(ctx context.Context, c *api.Client, _ []string, out *printer) error {
			if err := c.SetAway(ctx, text); err != nil {
				return err
			}
			if o.json {
				return writeJSON(out.w, map[string]any{"type": "away", "text": text})
			}
			return nil
		}})
	cmd.Flags().BoolVar(&back, "back", false, "mark the node available again")
	return cmd
}
