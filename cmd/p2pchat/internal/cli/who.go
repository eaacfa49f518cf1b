package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// who runs /who: the members of the current room, then those that are not
// here now.
func (s *commands) who(ctx context.Context) {
	r, err := s.b.Room(ctx, s.current)
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
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
	s.out.info("who", map[string]any{"room": r.Name, "members": list, "absent": absent}, strings.Join(lines, "\n"))
}
