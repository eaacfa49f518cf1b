package service

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
)

// Current returns the [Config] for the current user on this OS, running
// binary (absolute; see [Executable]). It reads $HOME (os.UserHomeDir),
// $XDG_CONFIG_HOME when absolute, %LocalAppData%, the uid and the user
// name; StateDir and Socket are left empty. It fails on an OS without
// service support (an error wrapping [ErrUnsupportedOS]) or when the
// user's directories cannot be found.
func Current(binary string) (Config, error) {
	c := Config{OS: runtime.GOOS, Binary: binary, UID: os.Getuid()}
	switch c.OS {
	case "linux", "darwin":
		h, err := os.UserHomeDir()
		if err != nil {
			return Config{}, fmt.Errorf("service: %w", err)
		}
		c.UserHome = h
		if x := os.Getenv("XDG_CONFIG_HOME"); c.OS == "linux" && filepath.IsAbs(x) {
			c.ConfigHome = x
		}
	case "windows":
		c.LocalAppData = os.Getenv("LocalAppData")
		u, err := user.Current()
		if err != nil {
			return Config{}, fmt.Errorf("service: failed to look up the current user: %w", err)
		}
		c.User = u.Username // DOMAIN\name on Windows
	}
	return c, c.check()
}

// Executable returns the absolute path of the running binary, with
// symbolic links resolved. It refuses a binary that `go run` or `go test`
// built in a temporary directory, which disappears: a service must run an
// installed one.
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("service: cannot find this binary: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	if isTemporaryBuild(exe) {
		return "", fmt.Errorf("service: %s is a temporary build (go run); install the binary (go install ./cmd/p2pchat) and run that, or pass --binary PATH", exe)
	}
	return exe, nil
}

// isTemporaryBuild reports whether exe lies in a go-build* directory, where
// `go run` and `go test` put their binaries.
func isTemporaryBuild(exe string) bool {
	for _, part := range strings.FieldsFunc(exe, func(r rune) bool { return r == '/' || r == '\\' }) {
		if strings.HasPrefix(part, "go-build") {
			return true
		}
	}
	return false
}
