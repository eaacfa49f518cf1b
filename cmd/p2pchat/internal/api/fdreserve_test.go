package api

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// exhausted is a process out of file descriptors: its listener's Accept
// fails with EMFILE while the spare is held, as accept4 does when every
// descriptor is in use.
type exhausted struct {
	net.Listener
	mu   sync.Mutex
	out  bool // out of descriptors
	held bool // the spare is held
}

func (e *exhausted) Accept() (net.Conn, error) {
	e.mu.Lock()
	fail := e.out && e.held
	e.mu.Unlock()
	if !fail {
		return e.Listener.Accept()
	}
	return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

// SetDeadline lets drain poll the queue, as on a real Unix listener.
func (e *exhausted) SetDeadline(t time.Time) error {
	return e.Listener.(*net.UnixListener).SetDeadline(t)
}

func (e *exhausted) release() { e.mu.Lock(); e.held = false; e.mu.Unlock() }
func (e *exhausted) retake()  { e.mu.Lock(); e.held = true; e.mu.Unlock() }

func (e *exhausted) setOut(out bool) { e.mu.Lock(); e.out = out; e.mu.Unlock() }

// TestOutOfDescriptors: a daemon that has no file descriptor left answers
// a client 503 no_descriptors, saying so, instead of leaving it to time
// out; once descriptors are free again it serves as before.
func TestOutOfDescriptors(t *testing.T) {
	path := socketPath(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ex := &exhausted{Listener: l, held: true} // every descriptor in use
	ex.setOut(true)
	var log logBuffer
	s := NewServer(ServerConfig{Backend: newFake(t), Logger: log.logger()})
	go s.srv.Serve(newReserveListener(ex, s.log, ex))
	t.Cleanup(func() { s.srv.Close() })

	c := NewClient(path)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = c.Status(ctx)
	var ae *Error
	if !errors.Is(err, ErrNoDescriptors) || !errors.As(err, &ae) || ae.Status != 503 || ae.Code != "no_descriptors" ||
		!strings.Contains(err.Error(), "out of file descriptors") {
		t.Fatalf("Status with no descriptor left: %v, want 503 no_descriptors", err)
	}
	// The daemon logs once it answered every waiting client.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), "out of file descriptors"); {
		if time.Now().After(deadline) {
			t.Fatalf("not logged: %q", log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Free again: served as before (a client that came while the last
	// refusals went out may still be refused, so ask until answered).
	ex.setOut(false)
	for {
		_, err := NewClient(path).Status(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoDescriptors) {
			t.Fatalf("Status once descriptors are free: %v", err)
		}
	}
}
