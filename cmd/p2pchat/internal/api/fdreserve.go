package api

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrNoDescriptors is the error of a request the daemon could not serve
// because it has no file descriptor left.
var ErrNoDescriptors = errors.New("the daemon is out of file descriptors")

// spare is a file descriptor held in reserve, released to accept one
// connection when the process has no other left.
type spare interface {
	release()
	retake()
}

// devNull is a spare: an open /dev/null.
type devNull struct{ f *os.File }

func (d *devNull) release() {
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
}

func (d *devNull) retake() {
	if d.f == nil {
		d.f, _ = os.Open(os.DevNull)
	}
}

// reserveListener answers the clients it cannot serve because the process
// is out of file descriptors (EMFILE, ENFILE) with 503 no_descriptors,
// using a descriptor kept in reserve, instead of leaving them waiting in
// the listen queue until they time out.
type reserveListener struct {
	net.Listener
	log   *slog.Logger
	mu    sync.Mutex
	spare spare
}

func newReserveListener(l net.Listener, log *slog.Logger, sp spare) *reserveListener {
	sp.retake()
	return &reserveListener{Listener: l, log: log, spare: sp}
}

// Accept accepts a connection. Out of descriptors, it frees the spare,
// accepts the waiting client, tells it, takes the spare back and returns
// the error, which http.Server retries after a pause.
func (l *reserveListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil || !(errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) {
		return c, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spare.release()
	n := l.drain(noDescriptors())
	l.spare.retake()
	if n > 0 { // not once per retry of http.Server while nobody waits
		l.log.Error("API: out of file descriptors; the waiting clients were told so", "err", err, "clients", n, "limit", fdLimit())
	}
	return nil, err
}

// maxDrain bounds the clients refused at one time.
const maxDrain = 256

// drain answers err to the clients waiting in the listen queue, one at a
// time on the one free descriptor, and returns how many. Without a way to
// make Accept return at once (a deadline), it answers one: the next
// Accept could wait for a client that has not come yet.
func (l *reserveListener) drain(err error) int {
	dl, ok := l.Listener.(interface{ SetDeadline(time.Time) error })
	limit := 1
	if ok && dl.SetDeadline(time.Now().Add(refuseWait)) == nil {
		limit = maxDrain
		defer dl.SetDeadline(time.Time{})
	}
	n := 0
	for n < limit {
		if n > 0 {
			dl.SetDeadline(time.Now().Add(refuseWait))
		}
		c, aerr := l.Listener.Accept()
		if aerr != nil {
			break
		}
		refuse(c, err)
		n++
	}
	return n
}

// Close closes the listener and frees the spare.
func (l *reserveListener) Close() error {
	l.mu.Lock()
	l.spare.release()
	l.mu.Unlock()
	return l.Listener.Close()
}

// noDescriptors is the error clients get when the daemon is out of file
// descriptors.
func noDescriptors() error {
	limit := ""
	if n := fdLimit(); n > 0 {
		limit = " (its limit is " + strconv.FormatUint(n, 10) + ")"
	}
	return fmt.Errorf("%w%s: it cannot serve the API or accept peers now; raise its limit (ulimit -n, LimitNOFILE=) or close connections to it", ErrNoDescriptors, limit)
}

// refuseWait bounds how long drain waits for the next client in the queue.
const refuseWait = 5 * time.Millisecond

// headWait bounds how long refuse waits for a client's request head (a
// client in the queue has usually sent it already): one that sends nothing
// costs no more.
const headWait = 50 * time.Millisecond

// refuse answers err on c and closes c. It reads the client's request head
// first, or waits headWait for it: an HTTP client that gets an answer
// before it has sent its request drops it as unsolicited and fails with a
// transport error instead of the answer.
func refuse(c net.Conn, err error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(headWait))
	buf := make([]byte, 4096)
	var got []byte
	for !bytes.Contains(got, []byte("\r\n\r\n")) && len(got) < 64<<10 {
		n, rerr := c.Read(buf)
		got = append(got, buf[:n]...)
		if rerr != nil {
			break
		}
	}
	c.SetDeadline(time.Now().Add(headWait))
	var body errorJSON
	code, status := codeOf(err)
	body.Error.Code, body.Error.Message = code, err.Error()
	b, _ := marshalLine(body)
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(b), b)
}
