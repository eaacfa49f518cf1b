package service

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// configs are the cases of the golden tests: a plain one per OS and one
// with paths that need quoting or escaping.
var configs = []struct {
	name string
	c    Config
}{
	{"linux", Config{OS: "linux", Binary: "/home/alice/go/bin/p2pchat", UserHome: "/home/alice"}},
	{"linux-quoting", Config{OS: "linux", Binary: "/opt/my apps/p2pchat", UserHome: "/home/alice", ConfigHome: "/home/alice/.cfg",
		StateDir: `/home/alice/state 100% "real"`, Socket: "/run/user/1000/p2p$chat.sock"}},
	{"darwin", Config{OS: "darwin", Binary: "/usr/local/bin/p2pchat", UserHome: "/Users/alice", UID: 501,
		Socket: "/var/folders/xy/abc/T/p2pchat-501/api-0123456789abcdef.sock"}},
	{"darwin-quoting", Config{OS: "darwin", Binary: "/Users/alice/bin/p2p & <chat>", UserHome: "/Users/alice smith", UID: 502,
		StateDir: "/Users/alice smith/chat state", Socket: "/tmp/p2pchat-502/api.sock"}},
	{"windows", Config{OS: "windows", Binary: `C:\Users\alice\go\bin\p2pchat.exe`, LocalAppData: `C:\Users\alice\AppData\Local`, User: `DESKTOP-7Q\alice`}},
	{"windows-quoting", Config{OS: "windows", Binary: `C:\Program Files\p2pchat\p2pchat.exe`, LocalAppData: `C:\Users\o'brien\AppData\Local\`,
		User: `CORP\o'brien & co`, StateDir: `D:\chat state\`, Socket: `C:\Temp\say "hi".sock`}},
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", p, got)
	}
}

// TestGolden: for every OS, the service file and the exact actions of
// install, uninstall and status, against testdata/CASE/. The task XML is
// kept there as UTF-8 text; TestTaskFileUTF16 checks its encoding.
func TestGolden(t *testing.T) {
	for _, tt := range configs {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Files(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 {
				t.Fatalf("%d files", len(files))
			}
			f := files[0]
			base := f.Path[strings.LastIndexAny(f.Path, `/\`)+1:]
			golden(t, path.Join(tt.name, base), []byte(f.Text))

			var b bytes.Buffer
			for _, s := range []struct {
				name string
				fn   func(Config) ([]Action, error)
			}{{"install", InstallActions}, {"uninstall", UninstallActions}, {"status", StatusActions}} {
				actions, err := s.fn(tt.c)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "# %s\n", s.name)
				Describe(&b, actions, false)
			}
			golden(t, path.Join(tt.name, "actions.txt"), b.Bytes())
		})
	}
}

// TestSystemdMatchesContrib: the generated unit has the directives of
// contrib/systemd/p2pchat.service, which packages install, but for
// ExecStart.
func TestSystemdMatchesContrib(t *testing.T) {
	contrib, err := os.ReadFile("../../../../contrib/systemd/p2pchat.service")
	if err != nil {
		t.Fatal(err)
	}
	directives := func(s string) []string {
		var out []string
		for l := range strings.Lines(s) {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if strings.HasPrefix(l, "ExecStart=") {
				l = "ExecStart=…"
			}
			out = append(out, l)
		}
		return out
	}
	gen := systemdFile(Config{OS: "linux", Binary: "/bin/p2pchat", UserHome: "/home/a"})
	if got, want := directives(gen.Text), directives(string(contrib)); !slices.Equal(got, want) {
		t.Errorf("generated unit's directives\n%q\ndiffer from contrib's\n%q", got, want)
	}
	if !strings.Contains(string(contrib), "\nExecStart=%h/go/bin/p2pchat daemon --log-format json\n") {
		t.Error("contrib's ExecStart changed: update contrib/release/assets.sh, which rewrites it for packages")
	}
}

// TestPlistArgv: launchd reads back exactly the argv it was given, however
// odd the characters.
func TestPlistArgv(t *testing.T) {
	c := configs[3].c
	var plist struct {
		Dict struct {
			Keys   []string `xml:"key"`
			Arrays []struct {
				Strings []string `xml:"string"`
			} `xml:"array"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal([]byte(launchdFile(c).Text), &plist); err != nil {
		t.Fatal(err)
	}
	want := []string{"/Users/alice/bin/p2p & <chat>", "daemon", "--log-format", "text", "--home", "/Users/alice smith/chat state", "--socket", "/tmp/p2pchat-502/api.sock"}
	if len(plist.Dict.Arrays) != 1 || !slices.Equal(plist.Dict.Arrays[0].Strings, want) {
		t.Errorf("ProgramArguments %q, want %q", plist.Dict.Arrays, want)
	}
}

// TestTaskFile: the task XML is well-formed, names the binary, and is
// written as UTF-16LE with a byte order mark.
func TestTaskFile(t *testing.T) {
	f := taskFile(configs[5].c)
	var task struct {
		Exec struct {
			Command   string
			Arguments string
		} `xml:"Actions>Exec"`
		UserID string `xml:"Principals>Principal>UserId"`
	}
	// encoding/xml refuses an encoding="UTF-16" declaration on a Go string.
	dec := xml.NewDecoder(strings.NewReader(f.Text))
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := dec.Decode(&task); err != nil {
		t.Fatal(err)
	}
	if task.Exec.Command != `C:\Program Files\p2pchat\p2pchat.exe` || task.UserID != `CORP\o'brien & co` {
		t.Errorf("task %+v", task)
	}
	if want := `daemon --log-format text --home "D:\chat state\\" --socket "C:\Temp\say \"hi\".sock"`; task.Exec.Arguments != want {
		t.Errorf("Arguments %s, want %s", task.Exec.Arguments, want)
	}

	b := f.Bytes()
	if !f.UTF16 || len(b) < 2 || b[0] != 0xff || b[1] != 0xfe || len(b)%2 != 0 {
		t.Fatalf("not UTF-16LE with BOM: % x…", b[:min(8, len(b))])
	}
	u := make([]uint16, 0, len(b)/2-1)
	for i := 2; i < len(b); i += 2 {
		u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
	}
	if got := string(utf16.Decode(u)); got != f.Text {
		t.Errorf("UTF-16 does not decode to the text")
	}
}

func TestQuoting(t *testing.T) {
	for _, tt := range []struct{ fn, in, want string }{
		{"systemd", "/usr/bin/p2pchat", "/usr/bin/p2pchat"},
		{"systemd", "/opt/my apps/p2pchat", `"/opt/my apps/p2pchat"`},
		{"systemd", "100%", "100%%"},
		{"systemd", "$HOME", "$$HOME"},
		{"systemd", `a "b" \c`, `"a \"b\" \\c"`},
		{"systemd", "", `""`},
		{"windows", `C:\state`, `C:\state`},
		{"windows", `D:\chat state\`, `"D:\chat state\\"`},
		{"windows", `say "hi"`, `"say \"hi\""`},
		{"windows", `a\"b`, `"a\\\"b"`},
		{"windows", "", `""`},
		{"shell", "schtasks /Create", `'schtasks /Create'`},
		{"shell", `C:\x`, `'C:\x'`},
		{"shell", "it's", `'it'\''s'`},
		{"shell", "gui/501/com.github.p2pchat.daemon", "gui/501/com.github.p2pchat.daemon"},
	} {
		var got string
		switch tt.fn {
		case "systemd":
			got = systemdQuote(tt.in)
		case "windows":
			got = windowsQuote(tt.in)
		default:
			got = Quote([]string{tt.in})
		}
		if got != tt.want {
			t.Errorf("%s quote %q = %s, want %s", tt.fn, tt.in, got, tt.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Config
		want string
	}{
		{"freebsd", Config{OS: "freebsd", Binary: "/bin/p2pchat", UserHome: "/h"}, "no service support"},
		{"relative", Config{OS: "linux", Binary: "p2pchat", UserHome: "/h"}, "not absolute"},
		{"no home", Config{OS: "darwin", Binary: "/bin/p2pchat"}, "no home directory"},
		{"windows unix path", Config{OS: "windows", Binary: "/bin/p2pchat", LocalAppData: `C:\l`, User: `d\u`}, "not absolute"},
		{"windows no user", Config{OS: "windows", Binary: `C:\p2pchat.exe`, LocalAppData: `C:\l`}, "no user name"},
		{"windows no LocalAppData", Config{OS: "windows", Binary: `C:\p2pchat.exe`, User: `d\u`}, "LocalAppData"},
	} {
		_, err := InstallActions(tt.c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
	_, err := Files(Config{OS: "plan9", Binary: "/bin/p2pchat", UserHome: "/h"})
	if !errors.Is(err, ErrUnsupportedOS) {
		t.Errorf("plan9: %v, want ErrUnsupportedOS", err)
	}
}

// fakeRunner records the commands instead of running them; a command
// whose argv[1] is in fail fails.
type fakeRunner struct {
	ran  [][]string
	fail map[string]bool
}

func (f *fakeRunner) Run(_ context.Context, argv []string, stdout, _ io.Writer) error {
	f.ran = append(f.ran, slices.Clone(argv))
	fmt.Fprintf(stdout, "(output of %s)\n", argv[0])
	if len(argv) > 1 && f.fail[argv[1]] || len(argv) > 2 && f.fail[argv[2]] {
		return errors.New("exit status 5")
	}
	return nil
}

func runs(actions []Action) [][]string {
	var out [][]string
	for _, a := range actions {
		if a.Run != nil {
			out = append(out, a.Run)
		}
	}
	return out
}

// TestDo installs, checks and uninstalls for real in a temporary home,
// with the commands recorded, for the OSes whose paths work here.
func TestDo(t *testing.T) {
	for _, osName := range []string{"linux", "darwin"} {
		t.Run(osName, func(t *testing.T) {
			home := t.TempDir()
			c := Config{OS: osName, Binary: "/usr/bin/p2pchat", UserHome: home, UID: 501}
			files, _ := Files(c)
			file := files[0].Path
			if !strings.HasPrefix(file, home+"/") {
				t.Fatalf("service file %s outside the home %s", file, home)
			}

			install, err := InstallActions(c)
			if err != nil {
				t.Fatal(err)
			}
			r := &fakeRunner{fail: map[string]bool{"bootout": true}}
			var out bytes.Buffer
			if err := Do(context.Background(), install, r, &out, io.Discard); err != nil {
				t.Fatalf("install: %v\n%s", err, out.String())
			}
			if !slices.EqualFunc(r.ran, runs(install), slices.Equal) {
				t.Errorf("install ran %q, want %q", r.ran, runs(install))
			}
			b, err := os.ReadFile(file)
			if err != nil || !bytes.Equal(b, files[0].Bytes()) {
				t.Errorf("installed file: %v, %q", err, b)
			}
			if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("installed file mode: %v %v", fi.Mode(), err)
			}
			if !strings.HasPrefix(out.String(), "wrote "+file+" (mode 0644)\nran: "+Quote(install[1].Run)+"\n") {
				t.Errorf("install said:\n%s", out.String())
			}
			if osName == "darwin" && !strings.Contains(out.String(), "(failed, ignored: exit status 5)") {
				t.Errorf("install did not report the failed bootout:\n%s", out.String())
			}
			if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
				t.Errorf("left behind: %v", entries)
			}

			out.Reset()
			r.ran = nil
			if err := Status(context.Background(), c, r, &out, io.Discard); err != nil {
				t.Errorf("status: %v", err)
			}
			status, _ := StatusActions(c)
			if !strings.HasPrefix(out.String(), file+": installed\n") || !slices.EqualFunc(r.ran, runs(status), slices.Equal) {
				t.Errorf("status said\n%s\nran %q", out.String(), r.ran)
			}

			uninstall, _ := UninstallActions(c)
			out.Reset()
			r.ran = nil
			if err := Do(context.Background(), uninstall, r, &out, io.Discard); err != nil {
				t.Fatalf("uninstall: %v", err)
			}
			if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("uninstall left %s: %v", file, err)
			}
			if !strings.Contains(out.String(), "removed "+file+"\n") || !slices.EqualFunc(r.ran, runs(uninstall), slices.Equal) {
				t.Errorf("uninstall said\n%s\nran %q", out.String(), r.ran)
			}

			out.Reset()
			if err := Do(context.Background(), uninstall, r, &out, io.Discard); err != nil || !strings.Contains(out.String(), file+" was not there\n") {
				t.Errorf("second uninstall: %v\n%s", err, out.String())
			}
			out.Reset()
			if err := Status(context.Background(), c, r, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), file+": not installed\n") {
				t.Errorf("status after uninstall: %v\n%s", err, out.String())
			}
		})
	}
}

// TestDoStopsAtFailure: a command that must succeed stops the actions and
// its error says which.
func TestDoStopsAtFailure(t *testing.T) {
	c := Config{OS: "linux", Binary: "/usr/bin/p2pchat", UserHome: t.TempDir()}
	install, _ := InstallActions(c)
	r := &fakeRunner{fail: map[string]bool{"enable": true}}
	err := Do(context.Background(), install, r, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "systemctl --user enable p2pchat.service: exit status 5") {
		t.Errorf("error %v", err)
	}
	if len(r.ran) != 2 {
		t.Errorf("ran %q after the failure", r.ran)
	}
}

func TestCurrent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks the Linux defaults")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "relative/ignored")
	c, err := Current("/usr/bin/p2pchat")
	if err != nil {
		t.Fatal(err)
	}
	if c.OS != "linux" || c.UserHome != home || c.ConfigHome != "" {
		t.Errorf("Current = %+v", c)
	}
	t.Setenv("XDG_CONFIG_HOME", home+"/cfg")
	c, _ = Current("/usr/bin/p2pchat")
	files, _ := Files(c)
	if want := home + "/cfg/systemd/user/p2pchat.service"; files[0].Path != want {
		t.Errorf("unit at %s, want %s", files[0].Path, want)
	}
}

func TestIsTemporaryBuild(t *testing.T) {
	for in, want := range map[string]bool{
		"/tmp/go-build1234/b001/exe/p2pchat":             true,
		`C:\Users\a\AppData\Local\Temp\go-build99\p.exe`: true,
		"/home/alice/go/bin/p2pchat":                     false,
		"/usr/bin/p2pchat":                               false,
	} {
		if got := isTemporaryBuild(in); got != want {
			t.Errorf("isTemporaryBuild(%s) = %v", in, got)
		}
	}
}
