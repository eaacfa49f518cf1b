//go:build linux || darwin

package store

import "syscall"

// statFree returns the bytes available to unprivileged users on the file
// system of dir.
func statFree(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true
}
