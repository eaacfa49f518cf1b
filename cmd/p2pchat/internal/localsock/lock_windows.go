package localsock

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockOffsetHigh places the locked byte far beyond the pid the file holds:
// Windows locks are mandatory, and locking byte 0 would stop LockHolder
// and LockHome's error from reading the holder's pid.
const lockOffsetHigh = 0x7fffffff

// lockFile locks one byte of f exclusively without waiting, or returns
// errWouldBlock. The lock belongs to the handle, so it also excludes other
// opens in this process, and dies with the process.
func lockFile(f *os.File) error {
	return control(f, func(h windows.Handle) error {
		ol := windows.Overlapped{OffsetHigh: lockOffsetHigh}
		err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return errWouldBlock
		}
		return err
	})
}

// unlockFile releases lockFile's lock.
func unlockFile(f *os.File) error {
	return control(f, func(h windows.Handle) error {
		ol := windows.Overlapped{OffsetHigh: lockOffsetHigh}
		return windows.UnlockFileEx(h, 0, 1, 0, &ol)
	})
}

// control runs fn on f's handle.
func control(f *os.File, fn func(h windows.Handle) error) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := raw.Control(func(h uintptr) { ferr = fn(windows.Handle(h)) }); err != nil {
		return err
	}
	return ferr
}
