package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is the release version, stamped by release builds with -ldflags
// "-X github.com/p2pchat/p2pchat/cmd/p2pchat/internal/cli.version=v1.2.3"
// (see .goreleaser.yaml). Empty in other builds: then the module version
// from the build info is used.
var version = ""

// buildVersion is what `p2pchat version` reports. Its JSON field names are
// part of the CLI contract (docs/CLI.md).
type buildVersion struct {
	Type     string `json:"type"`               // always "version"
	Version  string `json:"version"`            // release or module version; "(devel)" if unknown
	Revision string `json:"revision,omitempty"` // VCS commit, when built from a checkout
	Time     string `json:"time,omitempty"`     // VCS commit time, RFC 3339
	Modified bool   `json:"modified"`           // the checkout had uncommitted changes
	Go       string `json:"go"`                 // Go toolchain, e.g. go1.26.8
	OS       string `json:"os"`                 // GOOS
	Arch     string `json:"arch"`               // GOARCH
}

// readVersion describes this binary: stamped is the ldflags version (may be
// empty), bi the build info (nil when the binary has none). The OS and
// architecture are the running binary's; the Go version is bi's when
// known, else the runtime's.
func readVersion(stamped string, bi *debug.BuildInfo) buildVersion {
	v := buildVersion{Type: "version", Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi != nil {
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			v.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			case "GOOS":
				v.OS = s.Value
			case "GOARCH":
				v.Arch = s.Value
			}
		}
	}
	if stamped != "" {
		v.Version = stamped
	}
	return v
}

// String is the human-readable form: the first line is
// "p2pchat VERSION", then one "key: value" line each.
func (v buildVersion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "p2pchat %s\n", v.Version)
	if v.Revision != "" {
		mod := ""
		if v.Modified {
			mod = " (modified)"
		}
		fmt.Fprintf(&b, "revision: %s%s\n", v.Revision, mod)
	} else {
		b.WriteString("revision: unknown (built without VCS information)\n")
	}
	if v.Time != "" {
		fmt.Fprintf(&b, "time:     %s\n", v.Time)
	}
	fmt.Fprintf(&b, "go:       %s\nplatform: %s/%s\n", v.Go, v.OS, v.Arch)
	return b.String()
}

func newVersionCmd(o *options, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, VCS revision, Go version and platform of this binary",
		Args:  args(0, 0, "[--json]"),
		RunE: func(*cobra.Command, []string) error {
			bi, _ := debug.ReadBuildInfo()
			v := readVersion(version, bi)
			if o.json {
				return writeJSON(stdout, v)
			}
			_, err := io.WriteString(stdout, v.String())
			return err
		},
	}
}
