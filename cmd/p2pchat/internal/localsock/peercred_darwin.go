package localsock

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// xucredVersion is XUCRED_VERSION from <sys/ucred.h>.
const xucredVersion = 0

// peerUID reads the peer's uid with LOCAL_PEERCRED: the credentials the
// kernel recorded when the peer called connect, which it cannot forge.
func peerUID(raw syscall.RawConn) (int, bool, error) {
	var (
		cred *unix.Xucred
		err  error
	)
	if cerr := raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	}); cerr != nil {
		return 0, false, cerr
	}
	if err != nil {
		return 0, false, err
	}
	if cred.Version != xucredVersion {
		return 0, false, fmt.Errorf("unexpected xucred version %d", cred.Version)
	}
	return int(cred.Uid), true, nil
}
