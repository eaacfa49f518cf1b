package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// terminal is stdin when it is a terminal: passphrases are then read from it
// without echo. x/term builds on every platform Go supports, so no build
// tags are needed.
type terminal struct {
	fd     int
	prompt io.Writer // where prompts go: stderr, never stdout
}

// stdinTerminal returns the terminal behind stdin, or nil when stdin is not
// an *os.File or not a terminal (a pipe, a file, a test's reader).
func stdinTerminal(stdin io.Reader, prompt io.Writer) *terminal {
	f, ok := stdin.(*os.File)
	if !ok {
		return nil
	}
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	return &terminal{fd: fd, prompt: prompt}
}

// readHidden writes prompt and reads one line without echo. If ctx ends
// first (SIGINT, SIGTERM), it restores the terminal's echo and returns
// ctx's error; the abandoned read ends with the next line typed or when the
// process exits. The caller clears the result when done.
func (t *terminal) readHidden(ctx context.Context, prompt string) ([]byte, error) {
	state, err := term.GetState(t.fd)
	if err != nil {
		return nil, fmt.Errorf("reading the passphrase: %w", err)
	}
	fmt.Fprint(t.prompt, prompt)
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(t.fd)
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		fmt.Fprintln(t.prompt) // the user's Enter was not echoed
		if r.err != nil {
			return nil, fmt.Errorf("reading the passphrase: %w", r.err)
		}
		return r.b, nil
	case <-ctx.Done():
		// ReadPassword turned echo off and only turns it back on when it
		// returns; do it now so the shell is not left without echo.
		term.Restore(t.fd, state)
		fmt.Fprintln(t.prompt)
		return nil, ctx.Err()
	}
}
