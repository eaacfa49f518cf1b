// Package localsock is the OS-facing side of the p2pchat daemon's control
// API: where its Unix socket lives ([RuntimeDir], [SocketPath]), how it is
// created safely ([Listen]) and reached ([Dial]), who is at the other end
// of a connection ([PeerUID], [CheckPeer]), and the lock that keeps a
// second daemon off the same state directory ([LockHome], [LockHolder]).
//
// Only the user who runs the daemon may talk to it. Three layers see to
// that: the socket sits in a directory that is the user's own and mode
// 0700, the socket itself is mode 0600, and on Linux and macOS the server
// asks the kernel for each caller's uid ([CheckPeer]). On Windows the
// per-user temporary directory is the protection.
package localsock
