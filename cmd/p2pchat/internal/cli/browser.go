package cli

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// openBrowser opens the local file path in the browser: $BROWSER if set
// (its first entry, as a command given the path), else the platform's
// opener. It returns once the opener has been started (or failed).
func openBrowser(path string) error {
	cmd := browserCommand(path)
	if b := strings.TrimSpace(strings.Split(os.Getenv("BROWSER"), string(os.PathListSeparator))[0]); b != "" {
		cmd = exec.Command(b, path)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", cmd.Path, err)
	}
	go cmd.Wait() // reap it; openers return at once, browsers may run on
	return nil
}
