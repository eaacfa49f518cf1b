package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/room"
)

// who runs /who: the members of the current room, then those that are not
// here now.
func (s *commands) who(ctx context.Context) {
	r, err := s.b.Room(ctx, s.current)
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
	s.out.info(whoAnswer(r))
}

// newWhoCmd is p2pchat who: the members of one of the daemon's rooms.
func newWhoCmd(o *options, stdout io.Writer) *cobra.Command {
	var name string
	return newClientCmd(o, stdout, clientCmd{use: "who ROOM", short: "list the members of ROOM, and those not here now",
		long: `List the members of ROOM, which the daemon must have joined, as /who
does: nick#fp, ✓ for verified ones, (away: TEXT) for those away; then,
under "not here now:", those that were members before, with when they
were last seen. With --json it prints the who object of docs/CLI.md.`,
		args: args(1, 1, "ROOM"),
		check: func(_ *cobra.Command, a []string) (err error) {
			if name, err = room.Normalize(a[0]); err != nil {
				return usageError{fmt.Errorf("room %q: %v", a[0], err)}
			}
			return nil
		},
		run: func(ctx context.Context, c *api.Client, _ []string, out *printer) error {
			r, err := c.Room(ctx, name)
			if err != nil {
				return err
			}
			out.info(whoAnswer(r))
			return nil
		}})
}

// whoAnswer is the who object of room r and its --plain text.
func whoAnswer(r api.RoomInfo) (typ string, fields map[string]any, text string) {
	ms := r.Members
	lines := []string{fmt.Sprintf("[%s] %d other member(s)", r.Name, len(ms))}
	var list []api.MemberJSON // null when empty, as line mode has always printed it
	if len(ms) > 0 {
		list = api.MembersJSON(ms)
	}
	for _, mb := range ms {
		mark := trustMark(mb.Verified, mb.Mismatch)
		away := ""
		if mb.Away != "" {
			away = "  (away: " + clean(mb.Away) + ")"
		}
		lines = append(lines, fmt.Sprintf("  %s#%s%s  %s%s", clean(mb.Nick), mb.Fingerprint.Short(), mark, mb.Peer, away))
	}
	var absent []api.MemberJSON // null when empty, as members
	if len(r.Absent) > 0 {
		absent = api.MembersJSON(r.Absent)
		lines = append(lines, "  not here now:")
	}
	for _, mb := range r.Absent {
		seen := "never heard from"
		if !mb.LastSeen.IsZero() {
			seen = "last seen " + mb.LastSeen.Local().Format("2006-01-02 15:04")
		}
		lines = append(lines, fmt.Sprintf("    %s#%s%s  (%s)", clean(mb.Nick), mb.Fingerprint.Short(), trustMark(mb.Verified, mb.Mismatch), seen))
	}
	return "who", map[string]any{"room": r.Name, "members": list, "absent": absent}, strings.Join(lines, "\n")
}
