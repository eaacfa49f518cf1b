package api

import (
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// checkStrict refuses what encoding/json accepts but would alter or
// resolve silently: bytes that are not UTF-8 (it substitutes U+FFFD), a
// member name given twice in one object (the last wins), \u0000 in a
// string, and a UTF-16 surrogate escape without its pair (U+FFFD again).
// b must be valid JSON syntax. Errors give the position of the offending
// byte, counting from 1, as the syntax errors do; they never quote the
// body, which may hold a passphrase, beyond a member name.
func checkStrict(b []byte) error {
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return fmt.Errorf("%w: the body is not valid UTF-8 (at byte %d)", ErrBadRequest, i+1)
	}
	// One set of member names per open object; nil for an array.
	var stack []map[string]bool
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			stack = append(stack, map[string]bool{})
		case '[':
			stack = append(stack, nil)
		case '}', ']':
			stack = stack[:len(stack)-1]
		case '"':
			end, err := checkString(b, i)
			if err != nil {
				return err
			}
			if len(stack) > 0 && stack[len(stack)-1] != nil && nextIsColon(b, end+1) {
				var name string
				if err := json.Unmarshal(b[i:end+1], &name); err != nil {
					return fmt.Errorf("%w: the body is not valid JSON (at byte %d)", ErrBadRequest, i+1)
				}
				if stack[len(stack)-1][name] {
					return fmt.Errorf("%w: member %q given twice (at byte %d)", ErrBadRequest, name, i+1)
				}
				stack[len(stack)-1][name] = true
			}
			i = end
		}
	}
	return nil
}

// checkString checks the JSON string starting at b[start] (a '"') and
// returns the index of its closing quote.
func checkString(b []byte, start int) (int, error) {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i, nil
		case '\\':
			if i+1 >= len(b) {
				return 0, fmt.Errorf("%w: the body is not valid JSON (at byte %d)", ErrBadRequest, i+1)
			}
			if b[i+1] != 'u' {
				i++
				continue
			}
			r, ok := escape(b, i)
			switch {
			case !ok:
				return 0, fmt.Errorf("%w: the body is not valid JSON (at byte %d)", ErrBadRequest, i+1)
			case r == 0:
				return 0, fmt.Errorf("%w: \\u0000 in a string (at byte %d)", ErrBadRequest, i+1)
			case utf16.IsSurrogate(r):
				r2, ok := escape(b, i+6)
				if r >= 0xdc00 || !ok || utf16.DecodeRune(r, r2) == utf8.RuneError {
					return 0, fmt.Errorf("%w: \\u%04x is half of a UTF-16 surrogate pair, without the other half (at byte %d)", ErrBadRequest, r, i+1)
				}
				i += 6
			}
			i += 5
		}
	}
	return 0, fmt.Errorf("%w: the body is not valid JSON (at byte %d)", ErrBadRequest, len(b)+1)
}

// escape decodes the \uXXXX escape at b[i], if there is one.
func escape(b []byte, i int) (rune, bool) {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	for _, c := range b[i+2 : i+6] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return 0, false
		}
	}
	return hex4(b[i+2 : i+6]), true
}

// nextIsColon reports whether the first byte at or after b[i] that is not
// JSON whitespace is ':'.
func nextIsColon(b []byte, i int) bool {
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}
