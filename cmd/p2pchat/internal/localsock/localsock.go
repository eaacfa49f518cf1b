package localsock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// MaxPathLen is the longest socket path [SocketPath] returns, in bytes.
// sun_path holds 108 bytes on Linux and 104 on macOS, both counting a
// terminating NUL; 100 leaves room on both.
const MaxPathLen = 100

// ErrInUse is returned (wrapped) by [Listen] when another process is
// listening on the socket path: most likely another daemon.
var ErrInUse = errors.New("address already in use")

// ErrForeignUser is returned (wrapped) by [CheckPeer] when the process at
// the other end of a connection runs as another user.
var ErrForeignUser = errors.New("connection from another user refused")

// ownUID returns the uid callers must have; a variable so that tests can
// pretend to be someone else.
var ownUID = os.Getuid

// probeTimeout bounds how long [Listen] waits for an existing socket to
// answer before deciding whether it is stale.
const probeTimeout = time.Second

// RuntimeDir returns the directory for the daemon's socket:
// $XDG_RUNTIME_DIR/p2pchat when XDG_RUNTIME_DIR is set to an absolute
// path, else a per-user directory in [os.TempDir] ("p2pchat-<uid>" on
// Unix, "p2pchat" on Windows, whose temporary directory is per user).
// It does not create the directory; [Listen] does. The error is reserved
// for platforms where no such directory can be named; today it is nil.
func RuntimeDir() (string, error) {
	return runtimeDir(runtime.GOOS, os.Getenv("XDG_RUNTIME_DIR"), os.TempDir(), ownUID()), nil
}

// runtimeDir is [RuntimeDir]'s rule for the OS goos, given
// $XDG_RUNTIME_DIR, the temporary directory and the uid, so that every
// OS's choice is tested on any.
func runtimeDir(goos, xdg, tmp string, uid int) string {
	if xdg != "" && filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "p2pchat")
	}
	// Windows' temporary directory is per user; Unix systems share theirs
	// between users, so the uid keeps one user's directory from another's.
	if goos == "windows" {
		return filepath.Join(tmp, "p2pchat")
	}
	return filepath.Join(tmp, "p2pchat-"+strconv.Itoa(uid))
}

// SocketPath returns the socket path in dir for the daemon whose state
// directory is home: "api-<hash>.sock", where hash is the first 16 hex
// digits of the SHA-256 of home made absolute and clean, so that each
// state directory gets its own socket however it was spelt. It fails if
// home is empty or cannot be made absolute, or if the path would be
// longer than [MaxPathLen].
func SocketPath(dir, home string) (string, error) {
	if home == "" {
		return "", errors.New("socket path: empty state directory")
	}
	abs, err := filepath.Abs(home) // Abs cleans its result.
	if err != nil {
		return "", fmt.Errorf("socket path: failed to resolve state directory %s: %w", home, err)
	}
	sum := sha256.Sum256([]byte(abs))
	p := filepath.Join(dir, "api-"+hex.EncodeToString(sum[:8])+".sock")
	if len(p) > MaxPathLen {
		return "", fmt.Errorf("socket path %s is %d bytes, longer than the %d a Unix socket allows; pass --socket PATH with a shorter path", p, len(p), MaxPathLen)
	}
	return p, nil
}

// Listen listens on the Unix socket at path, which only the current user
// can then reach. The parent directory is created with mode 0700 if
// missing; an existing one must be a real directory (not a symbolic link)
// owned by the current user, and is made 0700 if group or others had any
// access. A socket left at path by a crashed process is removed; if a
// process still answers on it, Listen fails with an error wrapping
// [ErrInUse]. Anything at path that is not a socket is left alone and
// Listen fails. The socket is made mode 0600.
//
// The stale-socket check and the bind are not atomic: the daemon must hold
// its state directory's [LockHome] lock before calling Listen, so that no
// second daemon for the same socket can be starting at the same time.
//
// Closing the returned listener removes the socket file.
func Listen(path string) (net.Listener, error) {
	if err := prepareDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %s: %w", path, err)
	}
	// Between bind and chmod the socket has umask-derived permissions;
	// the 0700 directory already keeps other users out of that window.
	if err := os.Chmod(path, 0o600); err != nil && runtime.GOOS != "windows" {
		l.Close()
		return nil, fmt.Errorf("failed to restrict socket %s to its owner: %w", path, err)
	}
	return l, nil
}

// prepareDir makes dir, or checks that it is a real directory of ours,
// private to us.
func prepareDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("failed to create socket directory: %w", err)
		}
		// Check again rather than trust that it is the directory we made.
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("failed to inspect socket directory: %w", err)
	}
	// A symbolic link could point the socket into a directory someone
	// else controls.
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("socket directory %s is a symbolic link; refusing to use it", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("socket directory %s is not a directory", dir)
	}
	// Another user's directory would let them replace our socket.
	if err := checkOwner(dir, fi); err != nil {
		return err
	}
	// Windows reports 0777 for every directory and ignores chmod beyond the
	// read-only bit; there the per-user temporary directory protects us.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("failed to restrict socket directory %s to its owner: %w", dir, err)
		}
	}
	return nil
}

// removeStale removes the socket at path if no process answers on it.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to inspect socket path: %w", err)
	}
	// Never delete anything but a socket: the path may be a user's typo.
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; refusing to replace it", path)
	}
	d := net.Dialer{Timeout: probeTimeout}
	c, err := d.Dial("unix", path)
	if err == nil {
		c.Close()
		return fmt.Errorf("another process is listening on %s: %w", path, ErrInUse)
	}
	// A process that is alive but slow to accept still owns the socket:
	// taking it would strand that process.
	var ne net.Error
	if (errors.As(err, &ne) && ne.Timeout()) || backlogFull(err) {
		return fmt.Errorf("another process is listening on %s but not answering: %w", path, ErrInUse)
	}
	// Nobody listens: a crashed process left the socket behind.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("failed to remove stale socket: %w", err)
	}
	return nil
}

// Dial connects to the Unix socket at path. ctx bounds the connection
// attempt only, not the returned connection.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("failed to connect to %s: %w", path, err)
	}
	return c, nil
}

// PeerUID returns the uid of the process at the other end of c, a Unix
// socket connection (a [*net.UnixConn], or any [net.Conn] wrapping one that
// implements [syscall.Conn]), as the kernel recorded it when the
// connection was made. On Linux (SO_PEERCRED) and macOS (LOCAL_PEERCRED)
// known is true; elsewhere, notably Windows, the uid cannot be learnt and
// PeerUID returns known false and a nil error: there the socket's per-user
// directory is the only protection. It fails if c is not a Unix socket or
// the kernel cannot be asked.
func PeerUID(c net.Conn) (uid int, known bool, err error) {
	// SO_PEERCRED on a TCP socket reports a made-up uid rather than failing.
	if a := c.LocalAddr(); a == nil || (a.Network() != "unix" && a.Network() != "unixpacket") {
		return 0, false, fmt.Errorf("peer credentials: %T is not a Unix socket connection", c)
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false, fmt.Errorf("peer credentials: %T does not expose its socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false, fmt.Errorf("peer credentials: %w", err)
	}
	uid, known, err = peerUID(raw)
	if err != nil {
		return 0, false, fmt.Errorf("peer credentials: %w", err)
	}
	return uid, known, nil
}

// CheckPeer returns nil if the process at the other end of c runs as the
// current user, or if this platform cannot tell (see [PeerUID]). It
// returns an error wrapping [ErrForeignUser] if the peer is someone else,
// and PeerUID's error if the uid could not be read: it fails closed.
// Root is refused like any other user.
func CheckPeer(c net.Conn) error {
	uid, known, err := PeerUID(c)
	if err != nil {
		return err
	}
	return checkUID(uid, known)
}

// checkUID is the comparison at the heart of [CheckPeer].
func checkUID(uid int, known bool) error {
	if !known {
		return nil
	}
	if own := ownUID(); uid != own {
		return fmt.Errorf("peer uid %d is not our uid %d: %w", uid, own, ErrForeignUser)
	}
	return nil
}
