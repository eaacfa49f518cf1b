package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/node"
	"github.com/p2pchat/p2pchat/room"
)

const helpText = `commands:
  /join ROOM     join ROOM and make it the current room
  /leave [ROOM]  leave ROOM (default: the current room)
  /nick NAME     change your nick
  /me ACTION     send an action ("* alice waves")
  /who           list the members of the current room
  /rooms         list joined rooms
  /status        show this node, its peers and rooms
  /help          show this help
  /quit          leave all rooms and exit
any other line is a message to the current room; start it with // to send a line beginning with /`

// maxLine bounds one stdin line; longer lines are refused as a whole.
const maxLine = room.MaxText + 1024

// sendTimeout bounds how long a line waits for the room key before it is
// reported as not sent.
const sendTimeout = 30 * time.Second

// session is line mode: stdin lines become messages and commands.
type session struct {
	m       *room.Manager
	n       *node.Node
	id      *identity.Identity
	out     *printer
	current string
}

// readLines sends stdin's lines to the returned channel, refusing lines over
// maxLine bytes with an error line, and closes it at EOF.
func readLines(r io.Reader) <-chan lineOrErr {
	ch := make(chan lineOrErr)
	go func() {
		defer close(ch)
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			var buf []byte
			tooLong := false
			var err error
			for {
				var frag []byte
				frag, err = br.ReadSlice('\n')
				if !tooLong {
					buf = append(buf, frag...)
					if len(buf) > maxLine {
						tooLong, buf = true, nil
					}
				}
				if !errors.Is(err, bufio.ErrBufferFull) {
					break
				}
			}
			switch {
			case tooLong:
				ch <- lineOrErr{err: fmt.Errorf("line longer than %d bytes not sent (messages are limited to %d bytes)", maxLine, room.MaxText)}
			case len(buf) > 0:
				ch <- lineOrErr{line: strings.TrimRight(string(buf), "\r\n")}
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

type lineOrErr struct {
	line string
	err  error
}

// loop handles stdin until EOF, /quit or ctx ends.
func (s *session) loop(ctx context.Context, stdin io.Reader) error {
	lines := readLines(stdin)
	for {
		select {
		case <-ctx.Done():
			return nil
		case l, ok := <-lines:
			if !ok {
				return nil
			}
			if l.err != nil {
				s.out.errorf("%v", l.err)
				continue
			}
			if quit := s.handle(ctx, l.line); quit {
				return nil
			}
		}
	}
}

// handle runs one line; it reports whether the user asked to quit.
func (s *session) handle(ctx context.Context, line string) bool {
	if line == "" {
		return false
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		s.send(ctx, strings.TrimPrefix(line, "/"), false)
		return false
	}
	cmd, arg, _ := strings.Cut(line[1:], " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "join":
		if arg == "" {
			s.out.errorf("usage: /join ROOM")
			return false
		}
		s.join(ctx, arg)
	case "leave":
		s.leave(ctx, arg)
	case "nick":
		if err := s.m.SetNick(ctx, arg); err != nil {
			s.out.errorf("%v", err)
			return false
		}
		s.out.info("nick", map[string]any{"nick": arg}, fmt.Sprintf("you are now %s#%s", arg, s.id.Fingerprint().Short()))
	case "me":
		if arg == "" {
			s.out.errorf("usage: /me ACTION")
			return false
		}
		s.send(ctx, arg, true)
	case "who":
		s.who()
	case "rooms":
		s.rooms()
	case "status":
		s.status()
	case "help":
		s.out.info("help", map[string]any{"text": helpText}, helpText)
	case "quit", "exit":
		return true
	default:
		s.out.errorf("unknown command /%s; /help lists the commands", cmd)
	}
	return false
}

func (s *session) join(ctx context.Context, name string) {
	r, err := s.m.Join(ctx, name, room.JoinOptions{})
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
	s.current = r.Name()
}

func (s *session) leave(ctx context.Context, name string) {
	if name == "" {
		name = s.current
	}
	if name == "" {
		s.out.errorf("not in any room")
		return
	}
	if err := s.m.Leave(ctx, name); err != nil {
		s.out.errorf("%v", err)
		return
	}
	if norm, _ := room.Normalize(name); norm == s.current {
		s.current = ""
		if rs := s.m.Rooms(); len(rs) > 0 {
			s.current = rs[len(rs)-1]
		}
	}
}

func (s *session) send(ctx context.Context, text string, action bool) {
	if s.current == "" {
		s.out.errorf("not in any room; /join ROOM first")
		return
	}
	r, err := s.m.Room(s.current)
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if _, err := r.Send(ctx, text, action); err != nil {
		s.out.errorf("message not sent: %v", err)
	}
}

func (s *session) who() {
	r, err := s.m.Room(s.current)
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
	ms := r.Members()
	var lines []string
	var list []map[string]any
	lines = append(lines, fmt.Sprintf("[%s] %d other member(s)", r.Name(), len(ms)))
	for _, mb := range ms {
		lines = append(lines, fmt.Sprintf("  %s#%s  %s", mb.Nick, mb.Fingerprint.Short(), mb.Peer))
		list = append(list, map[string]any{"peer_id": mb.Peer.String(), "nick": mb.Nick, "fp": mb.Fingerprint.Short(), "fingerprint": mb.Fingerprint.String()})
	}
	s.out.info("who", map[string]any{"room": r.Name(), "members": list}, strings.Join(lines, "\n"))
}

func (s *session) rooms() {
	names := s.m.Rooms()
	var lines []string
	for _, n := range names {
		mark := " "
		if n == s.current {
			mark = "*"
		}
		lines = append(lines, fmt.Sprintf("%s %s", mark, n))
	}
	if len(lines) == 0 {
		lines = []string{"not in any room"}
	}
	s.out.info("rooms", map[string]any{"rooms": names, "current": s.current}, strings.Join(lines, "\n"))
}

func (s *session) status() {
	fp := s.id.Fingerprint()
	peers := s.n.ConnectedPeers()
	lines := []string{
		fmt.Sprintf("you:   %s#%s  %s", s.m.Nick(), fp.Short(), s.id.PeerID()),
		fmt.Sprintf("fingerprint: %s", fp),
		fmt.Sprintf("peers: %d connected", len(peers)),
	}
	var rooms []map[string]any
	for _, r := range s.m.Status().Rooms {
		kind := "open: anyone on the network who knows the name can join"
		state := "waiting for the room key"
		if r.Ready {
			state = fmt.Sprintf("epoch %d, key %s", r.Epoch, r.KeyID[:8])
		}
		lines = append(lines, fmt.Sprintf("[%s] %s; %d other member(s); %s; dropped %s", r.Name, kind, r.Members, state, dropSummary(r.Drops)))
		rooms = append(rooms, map[string]any{"room": r.Name, "kind": "open", "ready": r.Ready, "members": r.Members, "epoch": r.Epoch, "key_id": r.KeyID, "dropped": r.Drops, "topic": r.Topic})
	}
	s.out.info("status", map[string]any{"peer_id": s.id.PeerID().String(), "fingerprint": fp.String(), "nick": s.m.Nick(), "peers": len(peers), "rooms": rooms}, strings.Join(lines, "\n"))
}

func dropSummary(d map[string]uint64) string {
	if len(d) == 0 {
		return "nothing"
	}
	var parts []string
	for _, k := range []string{room.DropMalformed, room.DropWrongRoom, room.DropUnknownEpoch, room.DropAuth, room.DropSender, room.DropSignature, room.DropReplay} {
		if d[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, d[k]))
		}
	}
	return strings.Join(parts, " ")
}
