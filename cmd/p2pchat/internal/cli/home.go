package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/localsock"
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

// socketEnv names the environment variable that sets the API socket.
const socketEnv = "P2PCHAT_SOCKET"

// socketPath returns the daemon's API socket for the state directory home:
// --socket, else $P2PCHAT_SOCKET, else one per home in the runtime dir.
func socketPath(o *options, home string) (string, error) {
	if o.socket != "" {
		return o.socket, nil
	}
	if s := os.Getenv(socketEnv); s != "" {
		return s, nil
	}
	dir, err := localsock.RuntimeDir()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", fmt.Errorf("state directory %s: %w", home, err)
	}
	return localsock.SocketPath(dir, abs)
}

// homeAndSocket is the state directory ([resolveHome]) and the daemon's API
// socket for it ([socketPath]).
func homeAndSocket(o *options) (home, sock string, err error) {
	if home, err = resolveHome(o.home); err != nil {
		return "", "", err
	}
	if sock, err = socketPath(o, home); err != nil {
		return "", "", err
	}
	return home, sock, nil
}
