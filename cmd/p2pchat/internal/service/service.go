package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode/utf16"
)

// ErrUnsupportedOS is returned (wrapped) for a [Config] whose OS is not
// linux, darwin or windows.
var ErrUnsupportedOS = errors.New("no service support for this operating system")

// Config says what to register and where. The zero value is not valid:
// OS, Binary, and the directories of that OS are required.
type Config struct {
	// OS is the target system: "linux", "darwin" or "windows".
	OS string
	// Binary is the absolute path of the p2pchat executable the service
	// runs (a Windows path on windows).
	Binary string
	// UserHome is the user's home directory. Linux: the unit goes in
	// UserHome/.config/systemd/user unless ConfigHome is set. macOS: the
	// agent goes in UserHome/Library/LaunchAgents and its log in
	// UserHome/Library/Logs. Required on Linux and macOS.
	UserHome string
	// ConfigHome is $XDG_CONFIG_HOME on Linux; empty means
	// UserHome/.config. Unused elsewhere.
	ConfigHome string
	// LocalAppData is %LocalAppData% on Windows: the task's XML is kept in
	// LocalAppData\p2pchat. Required on Windows.
	LocalAppData string
	// StateDir, when not empty, is given to the daemon as --home. Empty:
	// the daemon uses its default state directory.
	StateDir string
	// Socket, when not empty, is given to the daemon as --socket.
	Socket string
	// UID is the user's uid, for launchd's gui/UID domain. macOS only.
	UID int
	// User is the account the scheduled task runs as and whose logon
	// starts it, as DOMAIN\name. Required on Windows.
	User string
}

// Names of what is registered.
const (
	// SystemdUnit is the systemd user unit's name.
	SystemdUnit = "p2pchat.service"
	// LaunchdLabel is the launchd agent's label, and its plist's name
	// without ".plist".
	LaunchdLabel = "com.github.p2pchat.daemon"
	// TaskName is the Windows scheduled task's name.
	TaskName = "p2pchat"
)

// File is a file that installing writes.
type File struct {
	Path string      // where, absolute
	Mode fs.FileMode // permission bits
	Text string      // the contents, as text
	// UTF16 says the file is written as UTF-16LE with a byte order mark
	// (what Task Scheduler writes and reads); else as Text's UTF-8.
	UTF16 bool
}

// Bytes returns the file's contents as written to disk.
func (f File) Bytes() []byte {
	if !f.UTF16 {
		return []byte(f.Text)
	}
	u := utf16.Encode([]rune(f.Text))
	b := make([]byte, 0, 2+2*len(u))
	b = append(b, 0xff, 0xfe)
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

// Action is one step of installing, uninstalling or checking a service.
// Exactly one of Write, Remove and Run is set.
type Action struct {
	Write  *File    // write this file, creating its directory
	Remove string   // remove this file; a missing file is not an error
	Run    []string // run this command (argv)
	// MayFail marks a command whose failure is expected in some states
	// (stopping a service that is not loaded): [Do] reports it and goes on.
	MayFail bool
}

// daemonArgs are the daemon's arguments after the binary.
func daemonArgs(c Config, logFormat string) []string {
	a := []string{"daemon", "--log-format", logFormat}
	if c.StateDir != "" {
		a = append(a, "--home", c.StateDir)
	}
	if c.Socket != "" {
		a = append(a, "--socket", c.Socket)
	}
	return a
}

func (c Config) check() error {
	var abs bool
	switch c.OS {
	case "linux", "darwin":
		abs = strings.HasPrefix(c.Binary, "/")
		if c.UserHome == "" {
			return errors.New("service: no home directory")
		}
	case "windows":
		abs = isWindowsAbs(c.Binary)
		if c.LocalAppData == "" {
			return errors.New(`service: %LocalAppData% is not set`)
		}
		if c.User == "" {
			return errors.New("service: no user name for the task")
		}
	default:
		return fmt.Errorf("service: %q: %w", c.OS, ErrUnsupportedOS)
	}
	if !abs {
		return fmt.Errorf("service: the binary path %q is not absolute", c.Binary)
	}
	return nil
}

// isWindowsAbs reports whether p is C:\… or \\server\….
func isWindowsAbs(p string) bool {
	if strings.HasPrefix(p, `\\`) {
		return true
	}
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		(('a' <= p[0] && p[0] <= 'z') || ('A' <= p[0] && p[0] <= 'Z'))
}

// Files returns the files that installing writes for c.
func Files(c Config) ([]File, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	switch c.OS {
	case "linux":
		return []File{systemdFile(c)}, nil
	case "darwin":
		return []File{launchdFile(c)}, nil
	default:
		return []File{taskFile(c)}, nil
	}
}

// InstallActions returns what installing does: write the service file,
// register it, and (re)start the daemon. Installing again replaces the
// file and restarts the daemon with it.
func InstallActions(c Config) ([]Action, error) {
	fs, err := Files(c)
	if err != nil {
		return nil, err
	}
	f := &fs[0]
	switch c.OS {
	case "linux":
		return []Action{
			{Write: f},
			{Run: systemctl("daemon-reload")},
			{Run: systemctl("enable", SystemdUnit)},
			{Run: systemctl("restart", SystemdUnit)},
		}, nil
	case "darwin":
		return []Action{
			{Write: f},
			// Unload an older version; fails when none is loaded.
			{Run: []string{"launchctl", "bootout", launchdTarget(c)}, MayFail: true},
			{Run: []string{"launchctl", "enable", launchdTarget(c)}},
			{Run: []string{"launchctl", "bootstrap", launchdDomain(c), f.Path}},
		}, nil
	default:
		return []Action{
			{Write: f},
			// Stop a running daemon of an older task; fails when none runs.
			{Run: []string{"schtasks", "/End", "/TN", TaskName}, MayFail: true},
			{Run: []string{"schtasks", "/Create", "/TN", TaskName, "/XML", f.Path, "/F"}},
			{Run: []string{"schtasks", "/Run", "/TN", TaskName}},
		}, nil
	}
}

// UninstallActions returns what uninstalling does: stop the daemon,
// unregister it and remove the service file. The state directory is left
// alone.
func UninstallActions(c Config) ([]Action, error) {
	fs, err := Files(c)
	if err != nil {
		return nil, err
	}
	p := fs[0].Path
	switch c.OS {
	case "linux":
		return []Action{
			{Run: systemctl("disable", "--now", SystemdUnit), MayFail: true},
			{Remove: p},
			{Run: systemctl("daemon-reload")},
		}, nil
	case "darwin":
		return []Action{
			{Run: []string{"launchctl", "bootout", launchdTarget(c)}, MayFail: true},
			{Remove: p},
		}, nil
	default:
		return []Action{
			{Run: []string{"schtasks", "/End", "/TN", TaskName}, MayFail: true},
			{Run: []string{"schtasks", "/Delete", "/TN", TaskName, "/F"}, MayFail: true},
			{Remove: p},
		}, nil
	}
}

// StatusActions returns the command that shows the service's state. It
// fails (exits non-zero) when the service is not registered, and with
// systemd also when it is not running.
func StatusActions(c Config) ([]Action, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	switch c.OS {
	case "linux":
		return []Action{{Run: systemctl("status", "--no-pager", SystemdUnit)}}, nil
	case "darwin":
		return []Action{{Run: []string{"launchctl", "print", launchdTarget(c)}}}, nil
	default:
		return []Action{{Run: []string{"schtasks", "/Query", "/TN", TaskName, "/V", "/FO", "LIST"}}}, nil
	}
}

func systemctl(args ...string) []string {
	return append([]string{"systemctl", "--user"}, args...)
}

// Runner runs a command, its output going to stdout and stderr. The error
// is the command's failure to start or its non-zero exit.
type Runner interface {
	Run(ctx context.Context, argv []string, stdout, stderr io.Writer) error
}

// ExecRunner is the [Runner] that runs commands with [os/exec], finding
// them in $PATH.
type ExecRunner struct{}

var _ Runner = ExecRunner{}

// Run runs argv.
func (ExecRunner) Run(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

// Do performs actions in order and writes one line per action to out:
// "wrote PATH (mode MODE)", "removed PATH" (or "PATH was not there"),
// "ran: COMMAND" (with "(failed, ignored: …)" for a MayFail command that
// failed). Commands' own output goes to out and errOut. It stops at the
// first error (a MayFail command's failure is not one) and returns it.
func Do(ctx context.Context, actions []Action, r Runner, out, errOut io.Writer) error {
	for _, a := range actions {
		switch {
		case a.Write != nil:
			f := a.Write
			if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
				return fmt.Errorf("failed to create the directory for %s: %w", f.Path, err)
			}
			if err := writeFile(f.Path, f.Bytes(), f.Mode); err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %s (mode %04o)\n", f.Path, f.Mode.Perm())
		case a.Remove != "":
			err := os.Remove(a.Remove)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				fmt.Fprintf(out, "%s was not there\n", a.Remove)
			case err != nil:
				return fmt.Errorf("failed to remove %s: %w", a.Remove, err)
			default:
				fmt.Fprintf(out, "removed %s\n", a.Remove)
			}
		case len(a.Run) > 0:
			fmt.Fprintf(out, "ran: %s\n", Quote(a.Run))
			if err := r.Run(ctx, a.Run, out, errOut); err != nil {
				if a.MayFail {
					fmt.Fprintf(out, "  (failed, ignored: %v)\n", err)
					continue
				}
				return fmt.Errorf("%s: %w", Quote(a.Run), err)
			}
		}
	}
	return nil
}

// writeFile replaces path with data atomically (a temporary file renamed
// over it), so that a service manager never reads half a file.
func writeFile(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	return nil
}

// Describe writes what actions would do, without doing it: "write PATH
// (mode MODE):" followed by the file's text, each line indented by a tab
// (when contents is true), "remove PATH", and "run: COMMAND" (with
// "(may fail)" for a MayFail one).
func Describe(w io.Writer, actions []Action, contents bool) {
	for _, a := range actions {
		switch {
		case a.Write != nil:
			enc := ""
			if a.Write.UTF16 {
				enc = ", UTF-16LE with BOM"
			}
			fmt.Fprintf(w, "write %s (mode %04o%s)", a.Write.Path, a.Write.Mode.Perm(), enc)
			if !contents {
				fmt.Fprintln(w)
				continue
			}
			fmt.Fprintln(w, ":")
			for l := range strings.Lines(a.Write.Text) {
				if l != "\n" {
					l = "\t" + l
				}
				io.WriteString(w, l)
			}
			if !strings.HasSuffix(a.Write.Text, "\n") {
				fmt.Fprintln(w)
			}
		case a.Remove != "":
			fmt.Fprintf(w, "remove %s\n", a.Remove)
		case len(a.Run) > 0:
			may := ""
			if a.MayFail {
				may = " (may fail)"
			}
			fmt.Fprintf(w, "run: %s%s\n", Quote(a.Run), may)
		}
	}
}

// Quote joins argv for display, single-quoting arguments that contain
// anything but letters, digits and -_./:=@%+, (a POSIX shell reads the
// result back as argv).
func Quote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// Status writes whether c's service file is installed ("PATH: installed"
// or "PATH: not installed"), then runs [StatusActions] through r as [Do]
// does. Its error is the status command's: the service is not registered
// (or, with systemd, not running).
func Status(ctx context.Context, c Config, r Runner, out, errOut io.Writer) error {
	files, err := Files(c)
	if err != nil {
		return err
	}
	for _, f := range files {
		state := "installed"
		if _, err := os.Stat(f.Path); err != nil {
			state = "not installed"
		}
		fmt.Fprintf(out, "%s: %s\n", f.Path, state)
	}
	actions, err := StatusActions(c)
	if err != nil {
		return err
	}
	return Do(ctx, actions, r, out, errOut)
}
