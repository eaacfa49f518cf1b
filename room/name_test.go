package room

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"lobby", "lobby"},
		{"  Lobby\t", "lobby"},
		{"LOBBY", "lobby"},
		{"Straße", "strasse"},
		{"cafe\u0301", "café"}, // decomposed é composes under NFC
		{"ΣΑΣ", "σασ"},
		{"team-7f3k", "team-7f3k"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", " ", "a b", "a\u00a0b", "/x", "a\x00", "a\u200bb", "\xff", strings.Repeat("x", MaxNameLen+1)} {
		if got, err := Normalize(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrBadName", bad, got, err)
		}
	}
	if TopicFor("lobby") == TopicFor("lobby2") || !strings.HasPrefix(TopicFor("lobby"), TopicPrefix) {
		t.Error("topics")
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"lobby", " Straße ", "cafe\u0301", "/x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			return
		}
		if again, err := Normalize(n); err != nil || again != n {
			t.Fatalf("Normalize is not idempotent: %q -> %q -> %q (%v)", s, n, again, err)
		}
		if !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxNameLen {
			t.Fatalf("invalid result %q", n)
		}
	})
}
