package localsock

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// peerUID reads the peer's uid with SO_PEERCRED: the credentials the
// kernel recorded when the peer called connect, which it cannot forge.
func peerUID(raw syscall.RawConn) (int, bool, error) {
	var (
		cred *unix.Ucred
		err  error
	)
	if cerr := raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); cerr != nil {
		return 0, false, cerr
	}
	if err != nil {
		return 0, false, err
	}
	return int(cred.Uid), true, nil
}
