package sdnotify

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// listen returns a datagram socket standing in for systemd's, and points
// NOTIFY_SOCKET at it (name, or its path in a temporary directory).
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix datagram sockets on Windows, and no systemd")
	}
	if name == "" {
		dir := t.TempDir()
		if len(dir) > 90 { // keep within the Unix socket path limit
			var err error
			if dir, err = os.MkdirTemp("", "sd"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
		}
		name = filepath.Join(dir, "notify")
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return c
}

// receive returns the next datagram on c, or "" if none comes within d.
func receive(t *testing.T, c *net.UnixConn, d time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	n, _, err := c.ReadFromUnix(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name string
		send func() error
		want string
	}{
		{"Ready", func() error { return Ready("x") }, "READY=1\nSTATUS=x"},
		{"Ready multi-line", func() error { return Ready("a\nWATCHDOG=1") }, "READY=1\nSTATUS=a WATCHDOG=1"},
		{"Stopping", Stopping, "STOPPING=1"},
		{"Notify", func() error { return Notify("RELOADING=1\nMONOTONIC_USEC=1") }, "RELOADING=1\nMONOTONIC_USEC=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := listen(t, "")
			if err := tt.send(); err != nil {
				t.Fatal(err)
			}
			if got := receive(t, c, 10*time.Second); got != tt.want {
				t.Errorf("datagram = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNotifyUnset(t *testing.T) {
	c := listen(t, "")
	os.Unsetenv("NOTIFY_SOCKET") // restored by listen's t.Setenv
	if err := Ready("x"); err != nil {
		t.Errorf("Ready without NOTIFY_SOCKET = %v, want nil", err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Stopping(); err != nil {
		t.Errorf("Stopping with empty NOTIFY_SOCKET = %v, want nil", err)
	}
	if got := receive(t, c, 100*time.Millisecond); got != "" {
		t.Errorf("received %q, want nothing", got)
	}
}

func TestNotifyBadSocket(t *testing.T) {
	tests := []struct{ name, socket string }{
		{"relative", "run/notify"},
		{"vsock", "vsock:2:1234"},
		{"missing", filepath.Join(t.TempDir(), "missing")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tt.socket)
			if err := Ready("x"); err == nil {
				t.Errorf("Ready with NOTIFY_SOCKET=%q = nil, want an error", tt.socket)
			}
		})
	}
}
