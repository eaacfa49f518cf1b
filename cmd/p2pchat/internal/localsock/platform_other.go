//go:build !unix

package localsock

import "io/fs"

// checkOwner accepts every directory: ownership is not a uid here, and
// the per-user temporary directory keeps other users out.
func checkOwner(string, fs.FileInfo) error { return nil }

// backlogFull reports whether a dial failed because the listener's queue
// is full; this platform does not say so distinctly.
func backlogFull(error) bool { return false }
