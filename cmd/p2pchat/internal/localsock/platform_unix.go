//go:build unix

package localsock

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// checkOwner fails unless fi, the Lstat of dir, is owned by the current
// user.
func checkOwner(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("socket directory %s: cannot read its owner", dir)
	}
	if own := ownUID(); int(st.Uid) != own {
		return fmt.Errorf("socket directory %s belongs to uid %d, not to us (uid %d); refusing to use it", dir, st.Uid, own)
	}
	return nil
}

// backlogFull reports whether a dial failed because the listener's queue
// is full (Linux reports EAGAIN), which means the listener is alive.
func backlogFull(err error) bool { return errors.Is(err, syscall.EAGAIN) }
