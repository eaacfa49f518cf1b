package identity

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMismatch is returned (wrapped) by [Fingerprint.Check] when the text is
// a well-formed fingerprint of another key.
var ErrMismatch = errors.New("the fingerprints differ")

// Check reports whether s, as a person typed or pasted it, is f's full
// form (case, dashes and spaces do not matter). It returns nil if it is; an
// error wrapping [ErrMismatch] if s is the fingerprint of another key; and
// else an error wrapping [ErrBadFingerprint] that points at what to look at
// again: the groups of 7 (as [Fingerprint.String] prints them) that differ
// from f's, or the character that is not in the alphabet.
func (f Fingerprint) Check(s string) error {
	got, err := ParseFingerprint(s)
	switch {
	case err == nil && got == f:
		return nil
	case err == nil:
		return fmt.Errorf("%w: the key is not the one whose fingerprint was given", ErrMismatch)
	}
	typed := normalise(s)
	if len(typed) != fullLen {
		return err
	}
	want := strings.ReplaceAll(f.String(), "-", "")
	var groups, spans []string
	for g := 0; g < fullLen/groupLen; g++ {
		lo, hi := g*groupLen, (g+1)*groupLen
		if typed[lo:hi] != want[lo:hi] {
			groups = append(groups, fmt.Sprint(g+1))
			spans = append(spans, fmt.Sprintf("%d–%d", lo+1, hi))
		}
	}
	switch len(groups) {
	case 0:
		return err
	case 1:
		return fmt.Errorf("%w: group %s (characters %s) does not match: typo?", ErrBadFingerprint, groups[0], spans[0])
	}
	return fmt.Errorf("%w: groups %s (characters %s) do not match: typo?", ErrBadFingerprint,
		strings.Join(groups, ", "), strings.Join(spans, ", "))
}

// normalise returns s without dashes and spaces, in upper case.
func normalise(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s))
}
