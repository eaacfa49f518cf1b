//go:build !(unix && !aix) && !windows

package localsock

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// lockFile fails: this platform has no lock that dies with its holder.
func lockFile(*os.File) error {
	return fmt.Errorf("file locking on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// unlockFile has nothing to release.
func unlockFile(*os.File) error { return nil }
