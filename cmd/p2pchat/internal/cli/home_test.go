package cli

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestStateDir: the state directory rules of every OS, checked on any.
func TestStateDir(t *testing.T) {
	home := func() (string, error) { return "/home/alice", nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	tests := []struct {
		name, goos, flag string
		env              map[string]string
		home             func() (string, error)
		want             string // "" = an error
	}{
		{"flag wins", "linux", "/flag", map[string]string{"P2PCHAT_HOME": "/env"}, home, "/flag"},
		{"P2PCHAT_HOME", "darwin", "", map[string]string{"P2PCHAT_HOME": "/env", "XDG_STATE_HOME": "/xdg"}, home, "/env"},
		{"XDG_STATE_HOME", "linux", "", map[string]string{"XDG_STATE_HOME": "/xdg"}, home, filepath.Join("/xdg", "p2pchat")},
		{"XDG_STATE_HOME on macOS", "darwin", "", map[string]string{"XDG_STATE_HOME": "/xdg"}, home, filepath.Join("/xdg", "p2pchat")},
		{"relative XDG_STATE_HOME ignored", "linux", "", map[string]string{"XDG_STATE_HOME": "rel"}, home, filepath.Join("/home/alice", ".local", "state", "p2pchat")},
		{"linux", "linux", "", nil, home, filepath.Join("/home/alice", ".local", "state", "p2pchat")},
		{"freebsd like linux", "freebsd", "", nil, home, filepath.Join("/home/alice", ".local", "state", "p2pchat")},
		{"darwin", "darwin", "", nil, home, filepath.Join("/home/alice", "Library", "Application Support", "p2pchat")},
		{"windows", "windows", "", map[string]string{"LocalAppData": "/appdata/local"}, home, filepath.Join("/appdata/local", "p2pchat")},
		{"windows without LocalAppData", "windows", "", nil, home, ""},
		{"no home", "linux", "", nil, noHome, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stateDir(tt.goos, tt.flag, func(k string) string { return tt.env[k] }, tt.home)
			if tt.want == "" {
				if err == nil {
					t.Errorf("stateDir = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("stateDir = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
