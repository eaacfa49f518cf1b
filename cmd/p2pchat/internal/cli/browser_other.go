//go:build !darwin && !windows

package cli

import "os/exec"

// browserCommand returns the command that opens path in the desktop's
// default browser: xdg-open (freedesktop.org desktops).
func browserCommand(path string) *exec.Cmd { return exec.Command("xdg-open", path) }
