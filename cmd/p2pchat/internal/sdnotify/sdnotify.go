package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Notify sends state, newline-separated assignments such as "READY=1", as
// one datagram to the socket named by $NOTIFY_SOCKET: a path, or on Linux
// "@name" for the abstract namespace. It returns nil without doing
// anything when NOTIFY_SOCKET is unset or empty, and an error if the
// variable names no usable socket or the datagram cannot be sent whole.
func Notify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	switch {
	case strings.HasPrefix(name, "@"):
		name = "\x00" + name[1:] // the abstract namespace starts with NUL
	case !strings.HasPrefix(name, "/"):
		// Relative paths are not part of the protocol; vsock: addresses
		// (systemd in a VM) are not supported.
		return fmt.Errorf("sd_notify: unsupported NOTIFY_SOCKET %q", name)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: failed to reach systemd: %w", err)
	}
	defer c.Close()
	n, err := c.Write([]byte(state))
	if err != nil {
		return fmt.Errorf("sd_notify: failed to send %q: %w", state, err)
	}
	if n != len(state) {
		return fmt.Errorf("sd_notify: short write: sent %d of %d bytes", n, len(state))
	}
	return nil
}

// Ready tells systemd the service has started, with status as the
// one-line status that "systemctl status" shows (line breaks become
// spaces).
func Ready(status string) error {
	return Notify("READY=1\nSTATUS=" + oneLine(status))
}

// Stopping tells systemd the service is shutting down.
func Stopping() error {
	return Notify("STOPPING=1")
}

// lineBreaks turns line breaks into spaces.
var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// oneLine flattens s so that it cannot add assignments of its own.
func oneLine(s string) string { return lineBreaks.Replace(s) }
