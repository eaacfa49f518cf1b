package tui

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"
)

// errCancelled is what a cancelled passphrase prompt answers; the shared
// /join prints it as the reason the room was not joined.
var errCancelled = errors.New("passphrase entry cancelled; not joined")

// maxSecret bounds what the prompt keeps; room.MaxPassphrase is 1024 bytes
// and the core refuses longer ones with its own message.
const maxSecret = 4096

type askRequest struct {
	prompt string
	reply  chan askReply // buffered: answering never blocks Update
}

type askReply struct {
	secret []byte
	err    error
}

// askMsg tells Update that a command waits for a secret.
type askMsg struct{ req askRequest }

// newAsk returns an [AskFunc] that hands its requests to the model through
// asks and gives up when ctx or done ends.
func newAsk(asks chan<- askRequest, done <-chan struct{}) AskFunc {
	return func(ctx context.Context, prompt string) ([]byte, error) {
		req := askRequest{prompt: prompt, reply: make(chan askReply, 1)}
		select {
		case asks <- req:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-done:
			return nil, errCancelled
		}
		select {
		case r := <-req.reply:
			return r.secret, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-done:
			return nil, errCancelled
		}
	}
}

// secretPrompt is the masked input that replaces the input line while a
// command waits for a passphrase. What is typed is never drawn (only a dot
// per character), never kept in the input history and never logged; it is
// cleared as soon as it is handed over.
type secretPrompt struct {
	text   string
	secret []byte
	reply  chan askReply
}

func (p *secretPrompt) insert(s string) {
	if len(p.secret)+len(s) > maxSecret {
		return
	}
	p.secret = append(p.secret, s...)
}

// paste inserts pasted text without its line breaks: a passphrase pasted
// with a trailing newline must not differ from the one typed.
func (p *secretPrompt) paste(s string) {
	p.insert(strings.NewReplacer("\r", "", "\n", "").Replace(s))
}

func (p *secretPrompt) backspace() {
	if len(p.secret) == 0 {
		return
	}
	_, n := utf8.DecodeLastRune(p.secret)
	clear(p.secret[len(p.secret)-n:])
	p.secret = p.secret[:len(p.secret)-n]
}

func (p *secretPrompt) erase() {
	clear(p.secret)
	p.secret = p.secret[:0]
}

// submit hands a copy of the secret over and clears the prompt's own.
func (p *secretPrompt) submit() {
	s := make([]byte, len(p.secret))
	copy(s, p.secret)
	p.erase()
	p.reply <- askReply{secret: s}
}

func (p *secretPrompt) cancel() {
	p.erase()
	p.reply <- askReply{err: errCancelled}
}

// mask is what the prompt shows for the secret: one dot per character.
func (p *secretPrompt) mask() string {
	return strings.Repeat("•", utf8.RuneCount(p.secret))
}
