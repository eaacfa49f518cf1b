package localsock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// shortDir returns a fresh directory, removed after the test, in which
// socket paths stay within MaxPathLen (t.TempDir's may not on macOS).
func shortDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if len(d)+len("/run/api-0123456789abcdef.sock") <= MaxPathLen {
		return d
	}
	d, err := os.MkdirTemp("", "ls")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// listen is Listen that fails the test on error and closes at cleanup.
func listen(t *testing.T, path string) net.Listener {
	t.Helper()
	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen(%s): %v", path, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// accept accepts one connection on l within a few seconds.
func accept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	if ul, ok := l.(*net.UnixListener); ok {
		ul.SetDeadline(time.Now().Add(10 * time.Second))
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pair returns both ends of a connection made through Listen and Dial.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	path := filepath.Join(shortDir(t), "run", "s.sock")
	l := listen(t, path)
	client, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return accept(t, l), client
}

// roundTrip fails the test unless a byte written on a arrives on b.
func roundTrip(t *testing.T, a, b net.Conn) {
	t.Helper()
	if _, err := a.Write([]byte{'x'}); err != nil {
		t.Fatalf("write: %v", err)
	}
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1)
	if _, err := b.Read(buf); err != nil || buf[0] != 'x' {
		t.Fatalf("read = %q, %v; want \"x\"", buf, err)
	}
}

// wantMode fails the test unless path has permission bits want (Unix only:
// Windows does not keep them).
func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %#o, want %#o", path, got, want)
	}
}

func TestRuntimeDir(t *testing.T) {
	fallback := filepath.Join(os.TempDir(), fmt.Sprintf("p2pchat-%d", os.Getuid()))
	if runtime.GOOS == "windows" {
		fallback = filepath.Join(os.TempDir(), "p2pchat")
	}
	abs := filepath.Join(t.TempDir(), "xdg")
	tests := []struct {
		name string
		xdg  string
		want string
	}{
		{"absolute", abs, filepath.Join(abs, "p2pchat")},
		{"unset", "", fallback},
		{"relative", filepath.Join("rel", "run"), fallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", tt.xdg)
			if tt.xdg == "" {
				os.Unsetenv("XDG_RUNTIME_DIR") // restored by t.Setenv
			}
			got, err := RuntimeDir()
			if err != nil || got != tt.want {
				t.Errorf("RuntimeDir() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestRuntimeDirRules: the socket directory chosen on each OS, checked on
// any.
func TestRuntimeDirRules(t *testing.T) {
	for _, tt := range []struct {
		goos, xdg, tmp string
		want           string
	}{
		{"linux", "/run/user/1000", "/tmp", filepath.Join("/run/user/1000", "p2pchat")},
		{"linux", "", "/tmp", filepath.Join("/tmp", "p2pchat-1000")},
		{"linux", "run/rel", "/tmp", filepath.Join("/tmp", "p2pchat-1000")},
		{"darwin", "", "/var/folders/xy/T", filepath.Join("/var/folders/xy/T", "p2pchat-1000")},
		{"freebsd", "", "/tmp", filepath.Join("/tmp", "p2pchat-1000")},
		{"windows", "", "/Users/a/AppData/Local/Temp", filepath.Join("/Users/a/AppData/Local/Temp", "p2pchat")},
		{"windows", "/xdg", "/Temp", filepath.Join("/xdg", "p2pchat")},
	} {
		if got := runtimeDir(tt.goos, tt.xdg, tt.tmp, 1000); got != tt.want {
			t.Errorf("runtimeDir(%s, %q, %q) = %q, want %q", tt.goos, tt.xdg, tt.tmp, got, tt.want)
		}
	}
}

func TestSocketPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	base := t.TempDir()
	mustPath := func(home string) string {
		t.Helper()
		p, err := SocketPath(dir, home)
		if err != nil {
			t.Fatalf("SocketPath(%q): %v", home, err)
		}
		return p
	}

	ab := mustPath(filepath.Join(base, "a", "b"))
	if got := filepath.Dir(ab); got != dir {
		t.Errorf("socket directory = %s, want %s", got, dir)
	}
	if name := filepath.Base(ab); !regexp.MustCompile(`^api-[0-9a-f]{16}\.sock$`).MatchString(name) {
		t.Errorf("socket name = %s, want api-<16 hex digits>.sock", name)
	}
	if other := mustPath(filepath.Join(base, "a", "c")); other == ab {
		t.Errorf("homes a/b and a/c share socket %s", ab)
	}
	sep := string(filepath.Separator)
	same := base + sep + "a" + sep + "." + sep + "b" + sep // a/./b/
	if got := mustPath(same); got != ab {
		t.Errorf("home %q: socket %s, want %s as for a/b", same, got, ab)
	}

	// A relative home is the same as its absolute form.
	t.Chdir(base)
	if got := mustPath(filepath.Join("a", "b")); got != ab {
		t.Errorf("relative home a/b: socket %s, want %s", got, ab)
	}

	if runtime.GOOS != "windows" {
		// Known answer: the first 8 bytes of sha256("/home/alice/.local/state/p2pchat").
		if got, want := mustPath("/home/alice/.local/state/p2pchat"), filepath.Join(dir, "api-7a0d863c95741060.sock"); got != want {
			t.Errorf("SocketPath(/home/alice/...) = %s, want %s", got, want)
		}
	}

	long := filepath.Join(t.TempDir(), strings.Repeat("d", MaxPathLen))
	if p, err := SocketPath(long, base); err == nil || !strings.Contains(err.Error(), "--socket PATH") {
		t.Errorf("SocketPath(long dir) = %q, %v; want an error suggesting --socket PATH", p, err)
	}
	if p, err := SocketPath(dir, ""); err == nil {
		t.Errorf("SocketPath(dir, \"\") = %q, want an error", p)
	}
}

func TestListenCreatesPrivateDirAndSocket(t *testing.T) {
	dir := filepath.Join(shortDir(t), "run")
	path := filepath.Join(dir, "s.sock")
	listen(t, path)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		t.Errorf("%s is %v, want a socket", path, fi.Mode())
	}
	wantMode(t, dir, 0o700)
	wantMode(t, path, 0o600)
}

func TestListenTightensOwnDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows keeps no Unix permission bits")
	}
	dir := filepath.Join(shortDir(t), "run")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	listen(t, filepath.Join(dir, "s.sock"))
	wantMode(t, dir, 0o700)
}

func TestListenRefusesSymlinkDir(t *testing.T) {
	base := shortDir(t)
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "run")
	if err := os.Symlink(real, link); err != nil {
		t.Skipf("cannot create a symbolic link here: %v", err)
	}
	l, err := Listen(filepath.Join(link, "s.sock"))
	if err == nil {
		l.Close()
		t.Fatal("Listen in a symlinked directory succeeded, want an error")
	}
	if !strings.Contains(err.Error(), link) {
		t.Errorf("error %q does not name the directory %s", err, link)
	}
	if _, err := os.Lstat(filepath.Join(real, "s.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a socket appeared in the link's target (Lstat: %v)", err)
	}
}

func TestListenRefusesForeignDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("directories have no owning uid on Windows")
	}
	dir := filepath.Join(shortDir(t), "run")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	uid := os.Getuid()
	ownUID = func() int { return uid + 1 } // the directory is now someone else's
	t.Cleanup(func() { ownUID = os.Getuid })
	l, err := Listen(filepath.Join(dir, "s.sock"))
	if err == nil {
		l.Close()
		t.Fatal("Listen in another user's directory succeeded, want an error")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory %s", err, dir)
	}
}

func TestListenRefusesRegularFile(t *testing.T) {
	dir := filepath.Join(shortDir(t), "run")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s.sock")
	content := []byte("not a socket\n")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(path)
	if err == nil {
		l.Close()
		t.Fatal("Listen over a regular file succeeded, want an error")
	}
	if errors.Is(err, ErrInUse) {
		t.Errorf("error %q wraps ErrInUse; a regular file is not a listener", err)
	}
	got, rerr := os.ReadFile(path)
	if rerr != nil || !bytes.Equal(got, content) {
		t.Errorf("file after Listen = %q, %v; want it untouched (%q)", got, rerr, content)
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	dir := filepath.Join(shortDir(t), "run")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s.sock")
	// A crashed daemon: its socket file stays, nobody listens.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("stale socket missing before Listen: %v", err)
	}

	l := listen(t, path)
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatalf("Dial after replacing the stale socket: %v", err)
	}
	defer c.Close()
	roundTrip(t, c, accept(t, l))
}

func TestListenInUse(t *testing.T) {
	path := filepath.Join(shortDir(t), "run", "s.sock")
	l := listen(t, path)

	l2, err := Listen(path)
	if err == nil {
		l2.Close()
		t.Fatal("second Listen succeeded, want ErrInUse")
	}
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Listen: %v, want ErrInUse", err)
	}

	// The first listener still works. Its queue holds the probe connection
	// that found it alive, so accept until our byte arrives.
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatalf("Dial after refused Listen: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if i == 3 {
			t.Fatal("first listener never delivered our connection")
		}
		s := accept(t, l)
		s.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1)
		if n, _ := s.Read(buf); n == 1 && buf[0] == 'x' {
			break
		}
	}
}

func TestDialAndClose(t *testing.T) {
	path := filepath.Join(shortDir(t), "run", "s.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), path)
	if err != nil {
		l.Close()
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	s := accept(t, l)
	roundTrip(t, c, s)
	roundTrip(t, s, c)

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file after Close: Lstat = %v, want not exist", err)
	}
	if c, err := Dial(context.Background(), path); err == nil {
		c.Close()
		t.Error("Dial after Close succeeded")
	}
}

func TestPeerUID(t *testing.T) {
	server, client := pair(t)
	wantKnown := runtime.GOOS == "linux" || runtime.GOOS == "darwin"
	for _, tt := range []struct {
		name string
		c    net.Conn
	}{{"server side", server}, {"client side", client}} {
		uid, known, err := PeerUID(tt.c)
		if err != nil {
			t.Fatalf("%s: PeerUID: %v", tt.name, err)
		}
		if known != wantKnown {
			t.Errorf("%s: known = %v, want %v on %s", tt.name, known, wantKnown, runtime.GOOS)
		}
		if known && uid != os.Getuid() {
			t.Errorf("%s: uid = %d, want ours, %d", tt.name, uid, os.Getuid())
		}
		if err := CheckPeer(tt.c); err != nil {
			t.Errorf("%s: CheckPeer: %v, want nil", tt.name, err)
		}
	}
}

func TestPeerUIDNotUnixSocket(t *testing.T) {
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()

	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	tc, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()

	for _, tt := range []struct {
		name string
		c    net.Conn
	}{{"pipe", p1}, {"tcp", tc}} {
		if uid, known, err := PeerUID(tt.c); err == nil {
			t.Errorf("PeerUID(%s) = %d, %v, nil; want an error", tt.name, uid, known)
		}
		if err := CheckPeer(tt.c); err == nil {
			t.Errorf("CheckPeer(%s) = nil, want an error (fail closed)", tt.name)
		}
	}
}

func TestCheckUID(t *testing.T) {
	ownUID = func() int { return 1000 }
	t.Cleanup(func() { ownUID = os.Getuid })
	tests := []struct {
		name    string
		uid     int
		known   bool
		foreign bool
	}{
		{"same user", 1000, true, false},
		{"other user", 1001, true, true},
		{"root", 0, true, true},
		{"unknown", 1001, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkUID(tt.uid, tt.known)
			if !tt.foreign {
				if err != nil {
					t.Fatalf("checkUID(%d, %v) = %v, want nil", tt.uid, tt.known, err)
				}
				return
			}
			if !errors.Is(err, ErrForeignUser) {
				t.Fatalf("checkUID(%d, %v) = %v, want ErrForeignUser", tt.uid, tt.known, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "1000") || !strings.Contains(msg, fmt.Sprint(tt.uid)) {
				t.Errorf("error %q does not name both uids", msg)
			}
		})
	}
}

func TestCheckPeerRefusesMismatchedUID(t *testing.T) {
	server, _ := pair(t)
	if _, known, _ := PeerUID(server); !known {
		t.Skipf("peer uids are unknown on %s", runtime.GOOS)
	}
	uid := os.Getuid()
	ownUID = func() int { return uid + 1 }
	t.Cleanup(func() { ownUID = os.Getuid })
	if err := CheckPeer(server); !errors.Is(err, ErrForeignUser) {
		t.Errorf("CheckPeer with another expected uid = %v, want ErrForeignUser", err)
	}
}
