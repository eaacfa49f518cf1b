package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionFromBuildInfo: the fields come from the build info, and the
// stamped release version wins over the module version.
func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/p2pchat/p2pchat", Version: "v0.6.1-0.20261202140000-2bb66890aaaa"},
		Settings: []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "GOARCH", Value: "arm64"},
			{Key: "GOOS", Value: "darwin"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "2bb6689000000000000000000000000000000000"},
			{Key: "vcs.time", Value: "2026-12-02T13:59:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    buildVersion
		text    string
	}{
		{
			name: "checkout", bi: bi,
			want: buildVersion{Type: "version", Version: "v0.6.1-0.20261202140000-2bb66890aaaa", Revision: "2bb6689000000000000000000000000000000000", Time: "2026-12-02T13:59:00Z", Modified: true, Go: "go1.26.8", OS: "darwin", Arch: "arm64"},
			text: "p2pchat v0.6.1-0.20261202140000-2bb66890aaaa\n" +
				"revision: 2bb6689000000000000000000000000000000000 (modified)\n" +
				"time:     2026-12-02T13:59:00Z\n" +
				"go:       go1.26.8\n" +
				"platform: darwin/arm64\n",
		},
		{
			name: "release", stamped: "v1.2.3", bi: bi,
			want: buildVersion{Type: "version", Version: "v1.2.3", Revision: "2bb6689000000000000000000000000000000000", Time: "2026-12-02T13:59:00Z", Modified: true, Go: "go1.26.8", OS: "darwin", Arch: "arm64"},
		},
		{
			name: "no build info",
			want: buildVersion{Type: "version", Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH},
			text: "p2pchat (devel)\n" +
				"revision: unknown (built without VCS information)\n" +
				"go:       " + runtime.Version() + "\n" +
				"platform: " + runtime.GOOS + "/" + runtime.GOARCH + "\n",
		},
		{
			name: "no VCS", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/p2pchat/p2pchat", Version: "(devel)"}},
			want: buildVersion{Type: "version", Version: "(devel)", Go: "go1.26.8", OS: runtime.GOOS, Arch: runtime.GOARCH},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readVersion(tt.stamped, tt.bi)
			if got != tt.want {
				t.Errorf("readVersion =\n%+v\nwant\n%+v", got, tt.want)
			}
			if tt.text != "" && got.String() != tt.text {
				t.Errorf("String() =\n%s\nwant\n%s", got, tt.text)
			}
		})
	}
}

// TestVersionCommand runs `version` and `version --json` on the test binary:
// whatever its build info holds, the contract's fields are there.
func TestVersionCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("version: exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if !strings.HasPrefix(lines[0], "p2pchat ") || !strings.HasPrefix(lines[1], "revision: ") || lines[len(lines)-1] != "platform: "+runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version:\n%s", stdout.String())
	}

	stdout.Reset()
	if code := run(context.Background(), []string{"version", "--json"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("version --json: exit %d: %s", code, stderr.String())
	}
	var m map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("version --json: %v: %q", err, stdout.String())
	}
	for _, k := range []string{"type", "version", "modified", "go", "os", "arch"} {
		if _, ok := m[k]; !ok {
			t.Errorf("version --json lacks %q: %s", k, stdout.String())
		}
	}
	if m["type"] != "version" || m["os"] != runtime.GOOS || m["arch"] != runtime.GOARCH || m["go"] != runtime.Version() {
		t.Errorf("version --json: %s", stdout.String())
	}

	if code := run(context.Background(), []string{"version", "extra"}, strings.NewReader(""), io.Discard, io.Discard); code != exitUsage {
		t.Errorf("version extra: exit %d, want %d", code, exitUsage)
	}
}
