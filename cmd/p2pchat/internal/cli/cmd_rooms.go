package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// newRoomsCmd is p2pchat rooms: the daemon's rooms.
func newRoomsCmd(o *options, stdout io.Writer) *cobra.Command {
	return newClientCmd(o, stdout, clientCmd{use: "rooms", short: "list the daemon's rooms",
		args: args(0, 0, "[--json]"), run: answer((*api.Client).Rooms, roomsAnswer)})
}

// roomsAnswer is the answer of p2pchat rooms: --json's rooms object and
// the --plain text.
func roomsAnswer(rs []api.RoomInfo) (typ string, fields map[string]any, text string) {
	var names, lines []string
	for _, r := range rs {
		names = append(names, r.Name)
		state := "waiting for the room key"
		if r.Ready {
			state = "ready"
		}
		lines = append(lines, fmt.Sprintf("%-20s %-10s %-24s %d other member(s)", r.Name, r.Kind, state, len(r.Members)))
	}
	if len(lines) == 0 {
		lines = []string{"not in any room"}
	}
	return "rooms", map[string]any{"rooms": names}, strings.Join(lines, "\n")
}
