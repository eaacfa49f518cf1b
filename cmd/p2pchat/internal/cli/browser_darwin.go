package cli

import "os/exec"

// browserCommand returns the command that opens path in the default
// browser.
func browserCommand(path string) *exec.Cmd { return exec.Command("open", path) }
