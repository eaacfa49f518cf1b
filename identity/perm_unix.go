//go:build !windows

package identity

import (
	"fmt"
	"io/fs"
	"os"
)

// checkMode refuses a key file that group or others may read or write: the
// seed is the identity, and anyone who copies it can impersonate the node.
func checkMode(mode fs.FileMode) error {
	perm := mode.Perm()
	if perm&0o077 == 0 {
		return nil
	}
	what := "accessible"
	switch {
	case perm&0o044 != 0:
		what = "readable"
	case perm&0o022 != 0:
		what = "writable"
	}
	return &keyFileError{
		reason: fmt.Sprintf("%s by group or others (mode %04o)", what, perm),
		err:    ErrInsecureMode,
	}
}

// syncDir flushes dir's entry for a newly linked file to disk. It is best
// effort: the key file itself has already been synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
