package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/slash"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// helpText is line mode's /help: the command table's, wrapped for a
// terminal.
var helpText = slash.Help(slash.Line, 80)

// maxLine bounds one stdin line; longer lines are refused as a whole.
const maxLine = room.MaxText + 1024

// sendTimeout bounds how long a line waits for the room key before it is
// reported as not sent.
const sendTimeout = 30 * time.Second

// output is where commands write their answers and errors: the printer in
// line mode, a collector in the full-screen UI (tui.go).
type output interface {
	info(typ string, fields map[string]any, line string)
	event(ev room.Event)
	errorf(format string, args ...any)
}

// hiddenReader asks for a passphrase without echoing it: stdin's terminal
// in line mode, a masked prompt in the full-screen UI.
type hiddenReader interface {
	readHidden(ctx context.Context, prompt string) ([]byte, error)
}

var (
	_ output       = (*printer)(nil)
	_ hiddenReader = (*terminal)(nil)
)

// commands runs the commands and messages that both faces share: line mode
// (session) and the full-screen UI (tui.go), which gives each command its
// own out, tty and current.
type commands struct {
	b   api.Backend
	out output
	// lines is where /join -p reads its passphrase line when tty is nil.
	lines *lineReader
	// tty asks for passphrases without echo; nil when there is no terminal.
	tty     hiddenReader
	current string
}

// session is line mode: stdin lines become messages and commands.
type session struct {
	*commands
}

// lineReader reads stdin one line per request, so that nothing is read
// ahead: a passphrase typed on a terminal after /join goes to the hidden
// prompt, not to this reader's buffer.
type lineReader struct {
	req    chan struct{}
	lines  chan lineOrErr
	stop   chan struct{} // closed by close
	exited chan struct{} // closed when the reading goroutine returns
}

type lineOrErr struct {
	line []byte
	err  error
}

// newLineReader starts reading r. Lines over maxLine bytes are refused with
// an error. Call close when done; the goroutine then ends as soon as it is
// not blocked reading r.
func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{req: make(chan struct{}), lines: make(chan lineOrErr), stop: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(lr.exited)
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			select {
			case <-lr.req:
			case <-lr.stop:
				return
			}
			l, eof := readLine(br)
			if l == nil {
				return
			}
			select {
			case lr.lines <- *l:
			case <-lr.stop:
				return
			}
			if eof {
				// The last line had no newline; the next request ends.
				select {
				case <-lr.req:
				case <-lr.stop:
				}
				return
			}
		}
	}()
	return lr
}

// readLine reads one line, without its line ending. It returns nil at the
// end of input (or on a read error), and eof if the input ended right after
// the line.
func readLine(br *bufio.Reader) (l *lineOrErr, eof bool) {
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
					clear(buf)
					tooLong, buf = true, nil
				}
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		switch {
		case tooLong:
			return &lineOrErr{err: fmt.Errorf("line longer than %d bytes not sent (messages are limited to %d bytes)", maxLine, room.MaxText)}, err != nil
		case len(buf) > 0:
			return &lineOrErr{line: bytes.TrimRight(buf, "\r\n")}, err != nil
		case err != nil:
			return nil, true
		}
	}
}

// next returns the next line; ok is false at the end of input or when ctx
// ends.
func (lr *lineReader) next(ctx context.Context) (l lineOrErr, ok bool) {
	select {
	case lr.req <- struct{}{}:
	case <-lr.exited:
		return l, false
	case <-ctx.Done():
		return l, false
	}
	select {
	case l = <-lr.lines:
		return l, true
	case <-lr.exited:
		return l, false
	case <-ctx.Done():
		return l, false
	}
}

func (lr *lineReader) close() { close(lr.stop) }

// loop handles stdin until EOF, /quit or ctx ends.
func (s *session) loop(ctx context.Context) error {
	for {
		l, ok := s.lines.next(ctx)
		if !ok {
			return nil
		}
		if l.err != nil {
			s.out.errorf("%v", l.err)
			continue
		}
		if quit := s.handle(ctx, string(l.line)); quit {
			return nil
		}
	}
}

// handle runs one line; it reports whether the user asked to quit.
func (s *commands) handle(ctx context.Context, line string) bool {
	if line == "" {
		return false
	}
	text, isCmd := slash.Split(line)
	if !isCmd {
		s.send(ctx, text, false)
		return false
	}
	c, err := slash.Parse(line, slash.Line)
	if c.Name == "join" && c.Command != nil {
		// Even a wrong /join -p takes its passphrase line.
		s.joinCmd(ctx, c, err)
		return false
	}
	if err != nil {
		s.out.errorf("%v", err)
		return false
	}
	switch c.Name {
	case "leave":
		s.leave(ctx, c.Room)
	case "nick":
		if err := s.b.SetNick(ctx, c.Text); err != nil {
			s.out.errorf("%v", err)
			return false
		}
		self, err := s.b.Self(ctx)
		if err != nil {
			s.out.errorf("%v", err)
			return false
		}
		s.out.info("nick", map[string]any{"nick": c.Text}, fmt.Sprintf("you are now %s#%s", c.Text, self.Fingerprint.Short()))
	case "me":
		s.send(ctx, c.Text, true)
	case "reply", "react", "edit", "delete":
		s.annotate(ctx, c)
	case "away", "back":
		s.away(ctx, c)
	case "who":
		s.who(ctx)
	case "verify":
		s.verify(ctx, c.Who, c.Fingerprint)
	case "rooms":
		s.rooms(ctx)
	case "history":
		s.history(ctx, c.N)
	case "search":
		s.search(ctx, c.Text)
	case "status":
		s.status(ctx)
	case "help":
		s.out.info("help", map[string]any{"text": helpText}, helpText)
	case "quit":
		return true
	default:
		// A command of the table that this switch forgot.
		s.out.errorf("/%s is not available in line mode", c.Name)
	}
	return false
}

// history prints the last N stored messages of the current room, each as a
// history event.
func (s *commands) history(ctx context.Context, n int) {
	if n == 0 {
		n = 20
	}
	if s.current == "" {
		s.out.errorf("not in any room; /join ROOM first")
		return
	}
	msgs, err := s.b.History(ctx, s.current, n)
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
	for _, m := range msgs {
		obj := map[string]any{"room": s.current}
		api.AddMessage(obj, m)
		s.out.info("history", obj, fmt.Sprintf("  %s [%s] %s", m.Time.Local().Format("2006-01-02 15:04"), s.current, messageLine(m)))
	}
	s.out.info("history_end", map[string]any{"room": s.current, "count": len(msgs)}, fmt.Sprintf("* [%s] %d stored message(s) shown", s.current, len(msgs)))
}

// search prints the stored messages matching TEXT, best first.
func (s *commands) search(ctx context.Context, arg string) {
	hits, err := s.b.Search(ctx, arg, "", 20)
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
	for _, h := range hits {
		obj := map[string]any{"room": h.Room, "snippet": h.Snippet}
		api.AddMessage(obj, h.Message)
		shown := *h.Message
		shown.Text = h.Snippet
		s.out.info("search_hit", obj, fmt.Sprintf("  %s [%s] %s", h.Message.Time.Local().Format("2006-01-02 15:04"), h.Room, messageLine(&shown)))
	}
	s.out.info("search_end", map[string]any{"query": arg, "count": len(hits)}, fmt.Sprintf("* %d match(es) for %q", len(hits), arg))
}

// joinCmd runs "/join [-p] ROOM", parsed as c with error perr.
func (s *commands) joinCmd(ctx context.Context, c slash.Call, perr error) {
	withPass := c.Passphrase
	var pass []byte
	defer func() { clear(pass) }()
	if withPass && s.tty == nil {
		// Scripts: the next line is the passphrase. It is taken even if
		// the command turns out to be wrong, so that it can never be sent
		// to the current room as a message.
		l, ok := s.lines.next(ctx)
		switch {
		case !ok:
			if ctx.Err() == nil {
				s.out.errorf("/join -p: input ended before the passphrase line; not joined")
			}
			return
		case l.err != nil:
			s.out.errorf("/join -p: the passphrase line is too long; not joined")
			return
		case len(l.line) == 0:
			s.out.errorf("/join -p: the passphrase line is empty; not joined")
			return
		}
		pass = l.line
	}
	if perr != nil {
		s.out.errorf("%v", perr)
		return
	}
	name, err := room.Normalize(c.Room)
	if err != nil {
		s.out.errorf("room %q: %v", c.Room, err)
		return
	}
	r, err := s.b.Room(ctx, name)
	joined := err == nil
	switch {
	case joined && !withPass:
		s.current = name
		return
	case joined && r.Ready:
		s.out.event(room.Event{Type: room.EventError, Room: name,
			Err: fmt.Errorf("already in room %q; /leave it first to join it with another passphrase", name)})
		return
	case !withPass:
		// An open room, or a passphrase room remembered in the state
		// directory, joined with its stored secret. A member that refuses
		// says the room needs a passphrase (/join -p ROOM).
		s.join(ctx, name, nil)
		return
	}
	if s.tty != nil {
		p, err := s.tty.readHidden(ctx, "passphrase for "+name+": ")
		if err != nil {
			if ctx.Err() == nil {
				s.out.errorf("%v", err)
			}
			return
		}
		if len(p) == 0 {
			s.out.errorf("no passphrase entered; not joined")
			return
		}
		pass = p
	}
	// Joined without the key (a member refused our secret): the backend
	// admits it again with this passphrase, as a passphrase room.
	s.join(ctx, name, pass)
}

// join joins name with pass (nil: open, or the stored secret) and makes it
// the current room.
func (s *commands) join(ctx context.Context, name string, pass []byte) {
	r, err := s.b.Join(ctx, name, pass)
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
	s.current = r.Name
}

func (s *commands) leave(ctx context.Context, name string) {
	if name == "" {
		name = s.current
	}
	if name == "" {
		s.out.errorf("not in any room")
		return
	}
	if err := s.b.Leave(ctx, name); err != nil {
		s.out.errorf("%v", err)
		return
	}
	if norm, _ := room.Normalize(name); norm == s.current {
		s.current = ""
		if rs, err := s.b.Rooms(ctx); err == nil && len(rs) > 0 {
			s.current = rs[len(rs)-1].Name
		}
	}
}

func (s *commands) send(ctx context.Context, text string, action bool) {
	if s.current == "" {
		s.out.errorf("not in any room; /join ROOM first")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if _, err := s.b.Send(ctx, s.current, text, action); err != nil {
		s.out.errorf("message not sent: %v", err)
	}
}

// verify runs "/verify WHO [FINGERPRINT]": without a fingerprint it shows
// WHO's, with one it checks it and remembers WHO as verified.
func (s *commands) verify(ctx context.Context, who, fpText string) {
	mb, ok := s.findMember(ctx, who)
	if !ok {
		return
	}
	desc := memberName(mb)
	fields := map[string]any{"peer_id": mb.Peer.String(), "nick": mb.Nick, "fp": mb.Fingerprint.Short(), "fingerprint": mb.Fingerprint.String()}
	if s.current != "" {
		fields["room"] = s.current
	}
	if fpText == "" {
		verified, err := s.b.Verified(ctx, mb.Peer)
		if err != nil {
			s.out.errorf("%v", err)
			return
		}
		fields["verified"] = verified
		sn := safetyNumber(ctx, s.b, mb.Peer)
		if sn != "" {
			fields["safety_number"] = sn
		}
		s.out.info("fingerprint", fields, fingerprintText(desc, mb, verified, sn, "/verify "+clean(who)))
		return
	}
	if err := s.b.Verify(ctx, mb.Peer, fpText); err != nil {
		s.out.event(verifyError(s.current, desc, mb.Peer, err))
		return
	}
	s.out.info("verified", fields, fmt.Sprintf("* %s verified ✓: fingerprint %s matches", desc, mb.Fingerprint))
}

// findMember resolves WHO (a nick, nick#fp or peer ID) to one member of the
// current room, or to any peer given by its ID. It reports an error event
// and false when there is none or more than one.
func (s *commands) findMember(ctx context.Context, who string) (room.Member, bool) {
	var ms []room.Member
	if s.current != "" {
		if r, err := s.b.Room(ctx, s.current); err == nil {
			ms = r.Members
		}
	}
	if p, err := peer.Decode(who); err == nil {
		for _, mb := range ms {
			if mb.Peer == p {
				return mb, true
			}
		}
		// Not in the current room: a fingerprint is a property of the key,
		// so a peer ID is enough to verify it.
		fp, err := identity.PeerFingerprint(p)
		if err != nil {
			s.out.errorf("/verify %s: %v", who, err)
			return room.Member{}, false
		}
		return room.Member{Peer: p, Fingerprint: fp}, true
	}
	if s.current == "" {
		s.out.errorf("not in any room; /join ROOM first, or give a peer ID")
		return room.Member{}, false
	}
	found := matchMembers(ms, who)
	switch len(found) {
	case 0:
		s.out.event(room.Event{Type: room.EventError, Room: s.current,
			Err: fmt.Errorf("no member %q in room %q; /who lists them", who, s.current)})
		return room.Member{}, false
	case 1:
		return found[0], true
	}
	s.out.event(room.Event{Type: room.EventError, Room: s.current, Reason: room.ReasonAmbiguous,
		Err: fmt.Errorf("%d members of room %q are called %q; say which with nick#fp or the peer ID: %s", len(found), s.current, who, candidates(found))})
	return room.Member{}, false
}

func (s *commands) rooms(ctx context.Context) {
	rs, err := s.b.Rooms(ctx)
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
	var names, lines []string
	for _, r := range rs {
		n := r.Name
		names = append(names, n)
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

func (s *commands) status(ctx context.Context) {
	st, err := s.b.Status(ctx)
	if err != nil {
		s.out.errorf("%v", err)
		return
	}
	typ, fields, text := statusAnswer(st)
	s.out.info(typ, fields, text)
}

// statusAnswer is the answer to /status and p2pchat status: --json's
// status object and the --plain text.
func statusAnswer(st api.Status) (typ string, fields map[string]any, text string) {
	fp := st.Fingerprint
	lines := []string{
		fmt.Sprintf("you:   %s#%s  %s", st.Nick, fp.Short(), st.PeerID),
		fmt.Sprintf("fingerprint: %s", fp),
		fmt.Sprintf("peers: %d connected", st.Peers),
	}
	var rooms []api.RoomJSON
	for _, r := range st.Rooms {
		state := "waiting for the room key"
		if r.Ready {
			state = fmt.Sprintf("epoch %d, key %.8s, %d in the key's roster", r.Epoch, r.KeyID, r.Roster)
		}
		lines = append(lines, fmt.Sprintf("[%s] %s; %d other member(s); %s; %d buffered; dropped %s", r.Name, room.DescribeKind(r.Kind), r.Members, state, r.Buffered, dropSummary(r.Drops)))
		rooms = append(rooms, api.RoomJSON{Room: r.Name, Kind: r.Kind, Ready: r.Ready, Members: r.Members, Roster: r.Roster, Buffered: r.Buffered,
			Epoch: r.Epoch, KeyID: r.KeyID, Dropped: r.Drops, Topic: r.Topic})
	}
	return "status", map[string]any{"peer_id": st.PeerID.String(), "fingerprint": fp.String(), "nick": st.Nick, "peers": st.Peers, "rooms": rooms}, strings.Join(lines, "\n")
}

// startUpDrops are drop counters that grow in a healthy room, mostly at
// start-up: envelopes under a key not (yet) ours, and ones under an epoch
// that lost to a concurrent one (their authors re-send).
var startUpDrops = []string{room.DropUnknownEpoch, room.DropSuperseded}

// dropSummary is the plain text of a room's drop counters: the ones that
// point at a problem, by name; the normal ones apart, as one count.
func dropSummary(d map[string]uint64) string {
	var parts []string
	var normal uint64
	for _, k := range slices.Sorted(maps.Keys(d)) {
		switch {
		case d[k] == 0:
		case slices.Contains(startUpDrops, k):
			if d[k] > math.MaxUint64-normal { // a sum of counters: saturate, never wrap
				normal = math.MaxUint64
			} else {
				normal += d[k]
			}
		default:
			parts = append(parts, fmt.Sprintf("%s=%d", k, d[k]))
		}
	}
	s := "nothing"
	if len(parts) > 0 {
		s = strings.Join(parts, " ")
	}
	if normal > 0 {
		s += fmt.Sprintf(" (and %d ignored as usual while keys settle)", normal)
	}
	return s
}
