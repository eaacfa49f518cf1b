package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// resolveHome picks the state directory: --home, else $P2PCHAT_HOME, else
// the platform's per-user state directory followed by "p2pchat".
func resolveHome(flagHome string) (string, error) {
	if flagHome != "" {
		return flagHome, nil
	}
	if h := os.Getenv("P2PCHAT_HOME"); h != "" {
		return h, nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "p2pchat"), nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "p2pchat"), nil
		}
	case "darwin":
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, "Library", "Application Support", "p2pchat"), nil
		}
	default:
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".local", "state", "p2pchat"), nil
		}
	}
	return "", errors.New("cannot find a home directory for p2pchat's state; pass --home DIR or set P2PCHAT_HOME")
}
