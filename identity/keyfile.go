package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFileName is the name of the key file inside a node's data directory.
const KeyFileName = "identity.key"

// Errors returned, wrapped, by [Load] and [LoadOrCreate]; test with
// [errors.Is].
var (
	// ErrUnknownVersion means the key file's header names a format version
	// this build does not know, most likely written by a newer p2pchat.
	ErrUnknownVersion = errors.New("identity: unknown key file version")
	// ErrCorrupt means the key file is malformed, truncated, too large, or
	// its public key does not match its seed.
	ErrCorrupt = errors.New("identity: key file is corrupted")
	// ErrInsecureMode means the key file is readable or writable by group or
	// others. It is only returned on Unix.
	ErrInsecureMode = errors.New("identity: key file has insecure permissions")
)

const (
	keyFileHeader   = "p2pchat identity "
	keyFileVersion  = "v1"
	maxKeyFileSize  = 4 << 10
	maxVersionDigit = 9 // longest version number we bother to report
)

// keyFileError is the one-line, actionable error for a key file that exists
// but cannot be used. It unwraps to ErrCorrupt, ErrUnknownVersion or
// ErrInsecureMode. Its text never contains key material.
type keyFileError struct {
	path   string // empty until Load fills it in
	reason string // what is wrong, e.g. "public key does not match seed"
	err    error
}

func (e *keyFileError) Error() string {
	name := "key file"
	if e.path != "" {
		name += " " + e.path
	}
	switch e.err {
	case ErrUnknownVersion:
		return fmt.Sprintf("identity: %s has format %s, which this p2pchat is too old to read; upgrade p2pchat", name, e.reason)
	case ErrInsecureMode:
		return fmt.Sprintf("identity: %s is %s; fix with: chmod 600 %s", name, e.reason, e.path)
	default:
		return fmt.Sprintf("identity: %s is corrupted (%s); restore it from a backup, "+
			"or move it away to create a new identity (peers will see a new fingerprint)", name, e.reason)
	}
}

func (e *keyFileError) Unwrap() error { return e.err }

func corrupt(reason string) error { return &keyFileError{reason: reason, err: ErrCorrupt} }

// Load reads the identity from dir/identity.key. If the file does not exist
// the error wraps [fs.ErrNotExist]. It refuses a file that is accessible by
// group or others ([ErrInsecureMode], Unix only), of an unknown version
// ([ErrUnknownVersion]) or damaged in any way ([ErrCorrupt]); those errors are
// one line long and say how to fix the problem.
func Load(dir string) (*Identity, error) {
	path := filepath.Join(dir, KeyFileName)
	seed, err := readKeyFile(path)
	if err != nil {
		var kerr *keyFileError
		if errors.As(err, &kerr) {
			kerr.path = path
		}
		return nil, err
	}
	defer clear(seed)
	return FromSeed(seed)
}

func readKeyFile(path string) (seed []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: cannot read key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity: cannot read key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, corrupt("not a regular file")
	}
	if err := checkMode(fi.Mode()); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	defer clear(b)
	if err != nil {
		return nil, fmt.Errorf("identity: cannot read key file: %w", err)
	}
	return parseKeyFile(b)
}

// LoadOrCreate loads the identity from dir/identity.key, creating dir (mode
// 0700) and a new identity first if the file does not exist; created reports
// whether it did. It never overwrites an existing file: if another process
// creates the key file concurrently, both end up with its identity. Errors
// are those of [Load], or I/O errors from creating the file.
func LoadOrCreate(dir string) (id *Identity, created bool, err error) {
	id, err = Load(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("identity: cannot create data directory: %w", err)
	}
	id, err = Generate()
	if err != nil {
		return nil, false, err
	}
	b := marshalKeyFile(id.seed())
	err = createKeyFile(dir, b)
	clear(b)
	if errors.Is(err, fs.ErrExist) {
		// Someone else won the race; theirs is the identity.
		id, err = Load(dir)
		return id, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("identity: cannot write key file: %w", err)
	}
	return id, true, nil
}

// createKeyFile writes b to dir/identity.key with mode 0600, so that the file
// appears complete or not at all. It fails with an error wrapping
// fs.ErrExist if the file already exists.
func createKeyFile(dir string, b []byte) error {
	path := filepath.Join(dir, KeyFileName)
	tmp, err := os.CreateTemp(dir, ".identity-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp already uses 0600; make sure of it before the secret is written.
	err = tmp.Chmod(0o600)
	if err == nil {
		err = writeSync(tmp, b)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	// Link, unlike Rename, fails if path exists, so a key is never replaced.
	err = os.Link(tmp.Name(), path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// No hard links here (e.g. FAT, some network filesystems). O_EXCL
		// still never overwrites, but a concurrent reader may see a
		// partial file.
		err = createExclusive(path, b)
	}
	if err == nil {
		syncDir(dir)
	}
	return err
}

func createExclusive(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = writeSync(f, b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // we created it, and a partial key file is useless
	}
	return err
}

func writeSync(f *os.File, b []byte) error {
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Sync()
}

// marshalKeyFile returns the key file for a 32-byte seed. The result holds
// the seed; clear it after use.
func marshalKeyFile(seed []byte) []byte {
	priv := ed25519.NewKeyFromSeed(seed)
	defer clear(priv)
	enc := base64.StdEncoding
	var b []byte
	b = append(b, keyFileHeader+keyFileVersion+"\n"...)
	b = append(b, "seed "...)
	b = enc.AppendEncode(b, seed)
	b = append(b, "\npublic "...)
	b = enc.AppendEncode(b, priv[ed25519.SeedSize:])
	b = append(b, '\n')
	return b
}

// parseKeyFile returns the seed stored in key file contents b. It accepts
// only the exact bytes marshalKeyFile would write. Errors wrap ErrCorrupt or
// ErrUnknownVersion.
func parseKeyFile(b []byte) (seed []byte, err error) {
	if len(b) > maxKeyFileSize {
		return nil, corrupt("larger than 4 KiB")
	}
	header, rest, ok := bytes.Cut(b, []byte("\n"))
	version, found := bytes.CutPrefix(header, []byte(keyFileHeader))
	if !found {
		return nil, corrupt("missing header line")
	}
	if string(version) != keyFileVersion {
		if isVersion(version) {
			return nil, &keyFileError{reason: string(version), err: ErrUnknownVersion}
		}
		return nil, corrupt("malformed header line")
	}
	if !ok {
		return nil, corrupt("truncated")
	}

	seed, rest, err = parseField(rest, "seed", ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	pub, rest, err := parseField(rest, "public", ed25519.PublicKeySize)
	if err != nil {
		clear(seed)
		return nil, err
	}
	if len(rest) != 0 {
		clear(seed)
		return nil, corrupt("unexpected data after the public key")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	defer clear(priv)
	if subtle.ConstantTimeCompare(priv[ed25519.SeedSize:], pub) != 1 {
		clear(seed)
		return nil, corrupt("public key does not match seed")
	}
	return seed, nil
}

// parseField parses the line "<name> <base64 of size bytes>\n" at the start
// of b and returns the decoded value and what follows the line.
func parseField(b []byte, name string, size int) (value, rest []byte, err error) {
	line, rest, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return nil, nil, corrupt("truncated")
	}
	enc, found := bytes.CutPrefix(line, []byte(name+" "))
	if !found {
		return nil, nil, corrupt("missing " + name + " line")
	}
	// Strict rejects non-zero padding bits, and the length checks reject the
	// CR and LF characters the decoder would otherwise skip, so that each
	// value has exactly one accepted encoding.
	if len(enc) != base64.StdEncoding.EncodedLen(size) {
		return nil, nil, corrupt("malformed " + name + " line")
	}
	value = make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Strict().Decode(value, enc)
	if err != nil || n != size {
		clear(value)
		return nil, nil, corrupt("malformed " + name + " line")
	}
	return value[:size], rest, nil
}

// isVersion reports whether v looks like a format version: 'v' and digits.
func isVersion(v []byte) bool {
	if len(v) < 2 || len(v) > 1+maxVersionDigit || v[0] != 'v' {
		return false
	}
	for _, c := range v[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
