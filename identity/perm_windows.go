//go:build windows

package identity

import "io/fs"

// checkMode accepts every key file on Windows: access is governed by ACLs,
// which mode bits do not reflect. The key file inherits the ACL of its
// directory, normally the user's profile.
func checkMode(fs.FileMode) error { return nil }

// syncDir does nothing on Windows, where directories cannot be fsynced.
func syncDir(string) {}
