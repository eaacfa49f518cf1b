package room

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// MaxNameLen is the longest room name, in characters, after normalisation.
const MaxNameLen = 64

// ErrBadName is returned for room names that are empty, too long, or contain
// spaces or control characters.
var ErrBadName = errors.New("bad room name")

// TopicPrefix starts every room topic; the version in it changes with the
// topic derivation.
const TopicPrefix = "/p2pchat/room/1/"

var folder = cases.Fold()

// Normalize returns the canonical form of a room name: surrounding space
// trimmed, Unicode NFC, case-folded (and NFC again, as folding can denormalise).
// "Lobby", " lobby " and "LOBBY" are one room. It fails with [ErrBadName].
func Normalize(name string) (string, error) {
	s := strings.TrimSpace(name)
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not UTF-8", ErrBadName)
	}
	s = norm.NFC.String(folder.String(norm.NFC.String(s)))
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "", fmt.Errorf("%w: empty", ErrBadName)
	case n > MaxNameLen:
		return "", fmt.Errorf("%w: longer than %d characters", ErrBadName, MaxNameLen)
	case s[0] == '/':
		return "", fmt.Errorf("%w: %q starts with '/'", ErrBadName, s)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Cf, r) {
			return "", fmt.Errorf("%w: %q contains a space, control or invisible character", ErrBadName, s)
		}
	}
	return s, nil
}

// TopicFor returns the gossipsub topic of a normalised room name:
// TopicPrefix followed by the hex room id (see docs/PROTOCOL.md). Anyone who
// sees the topic can test guesses of the name against it; open rooms rely on
// the name alone.
func TopicFor(normalized string) string {
	id := wire.DeriveRoomID(normalized)
	return TopicPrefix + hex.EncodeToString(id[:])
}
