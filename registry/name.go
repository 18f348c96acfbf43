package registry

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidName is returned by Create for a channel name that is empty,
// longer than MaxNameLen characters, not UTF-8 or holds a control character.
var ErrInvalidName = errors.New("invalid channel name")

// MaxNameLen is the longest channel name, in characters: names are labels
// shown in lists and pages, not documents.
const MaxNameLen = 100

// checkName returns an error wrapping ErrInvalidName unless name is a
// channel name. Control characters are refused because names are printed on
// terminals (the keys CLI) and in logs, where they could rewrite lines.
func checkName(name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	n := utf8.RuneCountInString(name)
	if n == 0 || n > MaxNameLen {
		return fmt.Errorf("%w: must be 1 to %d characters, got %d", ErrInvalidName, MaxNameLen, n)
	}
	for i, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character %U at byte %d", ErrInvalidName, r, i)
		}
	}
	return nil
}
