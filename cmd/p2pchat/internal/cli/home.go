package cli

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// resolveHome picks the state directory: --home, else $P2PCHAT_HOME, else
// the platform's per-user state directory followed by "p2pchat".
func resolveHome(flagHome string) (string, error) {
	return stateDir(runtime.GOOS, flagHome, os.Getenv, os.UserHomeDir)
}

// stateDir is [resolveHome] for the OS goos, with the environment and the
// user's home directory read through getenv and userHome, so that the
// rules of every OS are tested on any.
func stateDir(goos, flagHome string, getenv func(string) string, userHome func() (string, error)) (string, error) {
	if flagHome != "" {
		return flagHome, nil
	}
	if h := getenv("P2PCHAT_HOME"); h != "" {
		return h, nil
	}
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "p2pchat"), nil
	}
	switch goos {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "p2pchat"), nil
		}
	case "darwin":
		if h, err := userHome(); err == nil {
			return filepath.Join(h, "Library", "Application Support", "p2pchat"), nil
		}
	default:
		if h, err := userHome(); err == nil {
			return filepath.Join(h, ".local", "state", "p2pchat"), nil
		}
	}
	return "", errors.New("cannot find a home directory for p2pchat's state; pass --home DIR or set P2PCHAT_HOME")
}
