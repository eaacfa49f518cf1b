package cli

import (
	"context"
	"fmt"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/slash"
	"github.com/p2pchat/p2pchat/room"
)

// annotate runs /reply N, /react N, /edit N and /delete N in the current
// room: N counts back from the latest message (for /edit and /delete, from
// our own latest). What follows shows as events: the reply as a message,
// the others as reaction, edit and delete events.
func (s *commands) annotate(ctx context.Context, c slash.Call) {
	if s.current == "" {
		s.out.errorf("not in any room; /join ROOM first")
		return
	}
	kind := map[string]room.AnnotationKind{"reply": room.AnnotateReply, "react": room.AnnotateReact,
		"edit": room.AnnotateEdit, "delete": room.AnnotateDelete}[c.Name]
	own := kind == room.AnnotateEdit || kind == room.AnnotateDelete
	target, err := s.nthBack(ctx, c.N, own)
	if err != nil {
		s.out.errorf("/%s: %v", c.Name, err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if _, err := s.b.Annotate(ctx, s.current, room.Annotation{Kind: kind, Target: target.ID, Text: c.Text}); err != nil {
		s.out.errorf("/%s not sent: %v", c.Name, err)
	}
}

// away runs /away [TEXT] and /back.
func (s *commands) away(ctx context.Context, c slash.Call) {
	text := ""
	if c.Name == "away" {
		text = c.Text
	}
	if err := s.b.SetAway(ctx, text); err != nil {
		s.out.errorf("/%s: %v", c.Name, err)
		return
	}
	line := "you are back"
	if text != "" {
		line = "you are away: " + clean(text)
	}
	s.out.info("away", map[string]any{"text": text}, "* "+line)
}

// nthBack returns the nth latest stored message of the current room not
// deleted (only ours if own).
func (s *commands) nthBack(ctx context.Context, n int, own bool) (*room.Message, error) {
	msgs, err := s.b.History(ctx, s.current, slash.MaxBack)
	if err != nil {
		return nil, err
	}
	seen := 0
	for i := len(msgs) - 1; i >= 0; i-- {
		if m := msgs[i]; !m.Deleted && (!own || m.Self) {
			if seen++; seen == n {
				return m, nil
			}
		}
	}
	what := "messages"
	if own {
		what = "messages of yours"
	}
	return nil, fmt.Errorf("[%s] has %d stored %s, not %d", s.current, seen, what, n)
}
