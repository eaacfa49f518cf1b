package identity

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func seqKey(from byte) ed25519.PublicKey {
	k := make(ed25519.PublicKey, ed25519.PublicKeySize)
	for i := range k {
		k[i] = from + byte(i)
	}
	return k
}

// TestSafetyNumber pins the derivation (computed apart from this code:
// SHA-256 of the label and the keys in byte order, five bytes a group,
// modulo 100000) and checks that both sides get the same number and that
// another key changes it.
func TestSafetyNumber(t *testing.T) {
	a, b := seqKey(0), seqKey(32)
	const want = "34148 81950 06398 17480 82740 74980"
	ab, err := SafetyNumber(a, b)
	if err != nil || ab != want {
		t.Fatalf("SafetyNumber(a, b) = %q, %v; want %q", ab, err, want)
	}
	if ba, _ := SafetyNumber(b, a); ba != ab {
		t.Errorf("the two sides differ: %q and %q", ab, ba)
	}
	c := seqKey(33)
	if ac, _ := SafetyNumber(a, c); ac == ab {
		t.Errorf("another key gives the same number %q", ac)
	}
	if _, err := SafetyNumber(a[:31], b); err == nil {
		t.Error("a 31-byte key was accepted")
	}
}

func TestCheckSafetyNumber(t *testing.T) {
	const want = "34148 81950 06398 17480 82740 74980"
	tests := []struct {
		in      string
		wantErr error
		msg     string
	}{
		{"341488195006398174808274074980", nil, ""},
		{"34148-81950-06398 17480 82740 74980", nil, ""},
		{"34148 81950 06398 17480 82740 74981", ErrBadFingerprint, "group 6 of the safety number does not match: typo?"},
		{"34148 81950 06398 17480 82740", ErrBadFingerprint, "25 digits, a safety number has 30"},
		{"11111 81950 06398 17480 82740 74981", ErrMismatch, "the safety numbers differ"},
	}
	for _, tt := range tests {
		err := CheckSafetyNumber(want, tt.in)
		if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.msg))) {
			t.Errorf("CheckSafetyNumber(%q) = %v, want %v containing %q", tt.in, err, tt.wantErr, tt.msg)
		}
	}
	if !LooksLikeSafetyNumber("12345 67890") || LooksLikeSafetyNumber("ABCDEFG-1234") || LooksLikeSafetyNumber(" - ") {
		t.Error("LooksLikeSafetyNumber misjudges")
	}
}

// TestCheck: Fingerprint.Check names the group a typo is in, says
// nothing internal, and tells another key's fingerprint apart.
func TestCheck(t *testing.T) {
	f := FingerprintOf(seqKey(0))
	other := FingerprintOf(seqKey(1))
	full := f.String()
	last := full[len(full)-1]
	typo := full[:len(full)-1] + string(map[bool]byte{true: 'B', false: 'A'}[last == 'A'])
	early := "X" + full[1:]
	if full[0] == 'X' {
		early = "Y" + full[1:]
	}
	tests := []struct {
		in      string
		wantErr error
		msg     string
	}{
		{full, nil, ""},
		{strings.ToLower(strings.ReplaceAll(full, "-", " ")), nil, ""},
		{typo, ErrBadFingerprint, "group 8 (characters 50–56) does not match: typo?"},
		{early, ErrBadFingerprint, "group 1 (characters 1–7) does not match: typo?"},
		{other.String(), ErrMismatch, "the fingerprints differ"},
		{full[:20], ErrBadFingerprint, "characters, want 56"},
	}
	for _, tt := range tests {
		err := f.Check(tt.in)
		if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.msg))) {
			t.Errorf("Check(%q) = %v, want %v containing %q", tt.in, err, tt.wantErr, tt.msg)
		}
		if err != nil && strings.Contains(err.Error(), "identity:") {
			t.Errorf("Check(%q) = %q: an internal prefix", tt.in, err)
		}
	}
}

// FuzzCheck: Check never panics, accepts exactly the text that parses to
// the fingerprint, and tells every other outcome apart with a sentinel.
func FuzzCheck(f *testing.F) {
	fp := FingerprintOf(seqKey(0))
	f.Add(fp.String())
	f.Add(FingerprintOf(seqKey(1)).String())
	f.Add(strings.Repeat("A", 56))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		err := fp.Check(s)
		parsed, perr := ParseFingerprint(s)
		switch {
		case err == nil && (perr != nil || parsed != fp):
			t.Fatalf("Check(%q) accepted text that is not the fingerprint", s)
		case err != nil && perr == nil && parsed == fp:
			t.Fatalf("Check(%q) refused the fingerprint: %v", s, err)
		case err != nil && !errors.Is(err, ErrBadFingerprint) && !errors.Is(err, ErrMismatch):
			t.Fatalf("Check(%q) = %v: no sentinel", s, err)
		}
	})
}

// FuzzCheckSafetyNumber: only the number itself (spaces and dashes aside)
// is accepted.
func FuzzCheckSafetyNumber(f *testing.F) {
	want, err := SafetyNumber(seqKey(0), seqKey(32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(want)
	f.Add("00000 00000 00000 00000 00000 00000")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckSafetyNumber(want, s)
		if (err == nil) != (normalise(s) == normalise(want)) {
			t.Fatalf("CheckSafetyNumber(%q) = %v", s, err)
		}
	})
}
