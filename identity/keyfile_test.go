package identity

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// testKeyFile returns a valid key file and its seed.
func testKeyFile(t testing.TB, fill byte) (file, seed []byte) {
	t.Helper()
	seed = bytes.Repeat([]byte{fill}, 32)
	return marshalKeyFile(seed), seed
}

func writeKey(t *testing.T, dir string, b []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, KeyFileName)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadOrCreateRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "p2pchat")
	id, created, err := LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v; want created", created, err)
	}
	path := filepath.Join(dir, KeyFileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("p2pchat identity v1\n")) {
		t.Errorf("key file starts %q, want the v1 header line", b[:min(len(b), 20)])
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode = %v (%v), want 0600", fi.Mode(), err)
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("dir mode = %v (%v), want 0700", fi.Mode(), err)
		}
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmps) != 0 {
		t.Errorf("temporary files left behind: %v", tmps)
	}

	again, created, err := LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = %v, %v; want loaded", created, err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []*Identity{again, loaded} {
		if got.PeerID() != id.PeerID() || got.Fingerprint() != id.Fingerprint() {
			t.Errorf("loaded %s, want %s", got.PeerID(), id.PeerID())
		}
	}
	if b2, _ := os.ReadFile(path); !bytes.Equal(b, b2) {
		t.Error("loading changed the key file")
	}
}

func TestLoadOrCreateExistingDirKeepsMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, created, err := LoadOrCreate(dir); err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v", created, err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o750 {
		t.Errorf("dir mode = %v, want unchanged 0750", fi.Mode())
	}
}

func TestLoadOrCreateNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	want, seed := testKeyFile(t, 0x42)
	path := writeKey(t, dir, want, 0o600)
	wantID, err := FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}

	id, created, err := LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("LoadOrCreate = %v, %v; want loaded", created, err)
	}
	if id.PeerID() != wantID.PeerID() {
		t.Errorf("loaded %s, want %s", id.PeerID(), wantID.PeerID())
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Errorf("key file changed:\n%q\nwant\n%q", got, want)
	}
}

// TestCreateKeyFileExists checks the race LoadOrCreate loses when another
// process creates the key file between its Load and its write.
func TestCreateKeyFileExists(t *testing.T) {
	dir := t.TempDir()
	want, _ := testKeyFile(t, 0x42)
	path := writeKey(t, dir, want, 0o600)
	other, _ := testKeyFile(t, 0x43)
	if err := createKeyFile(dir, other); !errors.Is(err, fs.ErrExist) {
		t.Errorf("createKeyFile = %v, want fs.ErrExist", err)
	}
	if err := createExclusive(path, other); !errors.Is(err, fs.ErrExist) {
		t.Errorf("createExclusive = %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Error("key file changed")
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmps) != 0 {
		t.Errorf("temporary files left behind: %v", tmps)
	}
}

func TestCreateExclusive(t *testing.T) {
	dir := t.TempDir()
	want, _ := testKeyFile(t, 0x42)
	path := filepath.Join(dir, KeyFileName)
	if err := createExclusive(path, want); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Error("wrong content")
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode())
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p2pchat")
	const n = 8
	var (
		wg      sync.WaitGroup
		ids     [n]*Identity
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { ids[i], created[i], errs[i] = LoadOrCreate(dir) })
	}
	wg.Wait()
	var creators int
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreate %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
		if ids[i].PeerID() != ids[0].PeerID() {
			t.Errorf("LoadOrCreate %d got %s, want %s", i, ids[i].PeerID(), ids[0].PeerID())
		}
	}
	if creators != 1 {
		t.Errorf("%d calls created the identity, want 1", creators)
	}
}

func TestLoadMissing(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "nope")} {
		if _, err := Load(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%s) = %v, want fs.ErrNotExist", dir, err)
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	valid, seed := testKeyFile(t, 0x42)
	seedB64 := base64.StdEncoding.EncodeToString(seed)

	// Flip one base64 character of the seed (not the last, which holds
	// padding bits): it still decodes, to a different seed.
	flipped := bytes.Clone(valid)
	start := bytes.Index(flipped, []byte("seed ")) + len("seed ")
	flipped[start+5] ^= 0x01 // 'k' -> 'j'
	if b, err := base64.StdEncoding.DecodeString(string(flipped[start : start+44])); err != nil || bytes.Equal(b, seed) {
		t.Fatalf("bad test setup: %x, %v", b, err)
	}

	type test struct {
		name    string
		content []byte
		mode    os.FileMode
		want    error
		msg     string // substring of the error
	}
	tests := []test{
		{"empty", nil, 0o600, ErrCorrupt, "corrupted (missing header line)"},
		{"garbage", []byte("hello, world\n"), 0o600, ErrCorrupt, "missing header line"},
		{"binary garbage", bytes.Repeat([]byte{0xff, 0x00}, 100), 0o600, ErrCorrupt, "missing header line"},
		{"oversized", append(bytes.Clone(valid), bytes.Repeat([]byte("x"), 4096)...), 0o600, ErrCorrupt, "larger than 4 KiB"},
		{"oversized blank", append(bytes.Clone(valid), bytes.Repeat([]byte("\n"), 4096)...), 0o600, ErrCorrupt, "larger than 4 KiB"},
		{"flipped seed", flipped, 0o600, ErrCorrupt, "public key does not match seed"},
		{"v2", []byte("p2pchat identity v2\nwhatever\n"), 0o600, ErrUnknownVersion, "too old to read; upgrade p2pchat"},
		{"v10 header only", []byte("p2pchat identity v10"), 0o600, ErrUnknownVersion, "format v10"},
		{"v0", []byte("p2pchat identity v0\n"), 0o600, ErrUnknownVersion, "upgrade"},
		{"bad version", []byte("p2pchat identity 1\n"), 0o600, ErrCorrupt, "malformed header line"},
		{"version suffix", bytes.Replace(valid, []byte("v1"), []byte("v1 "), 1), 0o600, ErrCorrupt, "malformed header line"},
		{"CRLF", bytes.ReplaceAll(valid, []byte("\n"), []byte("\r\n")), 0o600, ErrCorrupt, "corrupted"},
		{"trailing newline", append(bytes.Clone(valid), '\n'), 0o600, ErrCorrupt, "unexpected data"},
		{"lines swapped", swapLines(valid), 0o600, ErrCorrupt, "missing seed line"},
		{"unpadded seed", bytes.Replace(valid, []byte("=\npublic"), []byte("\npublic"), 1), 0o600, ErrCorrupt, "malformed seed line"},
		{"seed padding replaced", bytes.Replace(valid, []byte("=\npublic"), []byte("A\npublic"), 1), 0o600, ErrCorrupt, "malformed seed line"},
		{"public padding replaced", bytes.Replace(valid, []byte("=\n"), []byte("A\n"), 2), 0o600, ErrCorrupt, "malformed"},
		{"CR in seed line", bytes.Replace(valid, []byte("=\npublic"), []byte("=\r\npublic"), 1), 0o600, ErrCorrupt, "malformed seed line"},
		{"CR in public line", append(bytes.Clone(valid[:len(valid)-1]), "\r\n"...), 0o600, ErrCorrupt, "malformed public line"},
		{"double space", bytes.Replace(valid, []byte("seed "), []byte("seed  "), 1), 0o600, ErrCorrupt, "malformed seed line"},
	}
	for n := range len(valid) {
		tests = append(tests, test{"truncated", valid[:n], 0o600, ErrCorrupt, "corrupted"})
	}
	if runtime.GOOS != "windows" {
		tests = append(tests,
			test{"mode 0644", valid, 0o644, ErrInsecureMode, "readable by group or others (mode 0644); fix with: chmod 600 "},
			test{"mode 0640", valid, 0o640, ErrInsecureMode, "readable by group or others (mode 0640); fix with: chmod 600 "},
			test{"mode 0604", valid, 0o604, ErrInsecureMode, "(mode 0604)"},
			test{"mode 0620", valid, 0o620, ErrInsecureMode, "writable by group or others (mode 0620)"},
			test{"mode 0601", valid, 0o601, ErrInsecureMode, "accessible by group or others (mode 0601)"},
			test{"mode 0710", valid, 0o710, ErrInsecureMode, "accessible by group or others (mode 0710)"},
			test{"insecure and corrupt", []byte("junk"), 0o666, ErrInsecureMode, "chmod 600"},
		)
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeKey(t, dir, tt.content, tt.mode)

			_, err := Load(dir)
			checkRefusal(t, err, tt.want, tt.msg, path, seedB64)

			// LoadOrCreate must not replace a file it cannot use.
			id, created, err := LoadOrCreate(dir)
			checkRefusal(t, err, tt.want, tt.msg, path, seedB64)
			if id != nil || created {
				t.Errorf("LoadOrCreate = %v, %v; want nil, false", id, created)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.content) {
				t.Error("LoadOrCreate changed the file")
			}
			if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != tt.mode {
				t.Errorf("LoadOrCreate changed the mode to %v", fi.Mode())
			}
		})
	}
}

func checkRefusal(t *testing.T, err, want error, msg, path, secret string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	s := err.Error()
	if !strings.Contains(s, msg) || !strings.Contains(s, path) {
		t.Errorf("error %q does not contain %q and the path", s, msg)
	}
	if strings.Contains(s, "\n") {
		t.Errorf("error is not one line: %q", s)
	}
	if strings.Contains(s, secret[:8]) {
		t.Errorf("error contains the seed: %q", s)
	}
	if want == ErrInsecureMode && !strings.HasSuffix(s, "chmod 600 "+path) {
		t.Errorf("error %q does not end with the fix", s)
	}
}

func swapLines(b []byte) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines[1], lines[2] = lines[2], lines[1]
	return bytes.Join(lines, nil)
}

func TestLoadDirectoryAsKeyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, KeyFileName), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load = %v, want ErrCorrupt", err)
	}
	if _, _, err := LoadOrCreate(dir); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LoadOrCreate = %v, want ErrCorrupt", err)
	}
}

func TestMarshalKeyFile(t *testing.T) {
	got, _ := testKeyFile(t, 0)
	want := "p2pchat identity v1\n" +
		"seed AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" +
		"public O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=\n"
	if string(got) != want {
		t.Errorf("marshalKeyFile = %q, want %q", got, want)
	}
}

func FuzzParseKeyFile(f *testing.F) {
	valid, _ := testKeyFile(f, 0x42)
	f.Add(valid)
	f.Add(marshalKeyFile(make([]byte, 32)))
	f.Add([]byte(""))
	f.Add([]byte("p2pchat identity v1\n"))
	f.Add([]byte("p2pchat identity v2\nseed x\npublic y\n"))
	f.Add(valid[:len(valid)-1])
	f.Add(swapLines(valid))
	f.Add(bytes.ReplaceAll(valid, []byte("\n"), []byte("\r\n")))
	f.Fuzz(func(t *testing.T, b []byte) {
		seed, err := parseKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownVersion) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrUnknownVersion", err)
			}
			if seed != nil {
				t.Fatal("seed returned with an error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if len(seed) != 32 {
			t.Fatalf("seed is %d bytes", len(seed))
		}
		out := marshalKeyFile(seed)
		again, err := parseKeyFile(out)
		if err != nil || !bytes.Equal(again, seed) {
			t.Fatalf("marshal(parse(x)) parses to %x, %v; want %x", again, err, seed)
		}
		// The format is strict: the only accepted encoding is the canonical one.
		if !bytes.Equal(out, b) {
			t.Fatalf("accepted non-canonical file %q", b)
		}
	})
}
