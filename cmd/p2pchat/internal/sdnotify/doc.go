// Package sdnotify tells systemd about the daemon's state with the
// sd_notify protocol (sd_notify(3)): one datagram of newline-separated
// VARIABLE=value assignments, sent to the Unix datagram socket that
// $NOTIFY_SOCKET names. A unit with Type=notify waits for "READY=1"
// before it counts the service as started.
//
// Without $NOTIFY_SOCKET (not started by systemd, or not on Linux) every
// function does nothing and returns nil.
package sdnotify
