package compute

import (
	"fmt"
	"unicode/utf8"
)

// Name length limits for compute targets (docs/design/studio-compute.md §3).
const (
	NameMinLen = 3
	NameMaxLen = 24
)

// ValidateName checks a compute name against Studio's rule: 3–24 characters,
// letters, digits and hyphens only, starting with a letter, and every hyphen
// followed later by at least one letter. It returns a message for the user, or
// "" when the name is fine. Uniqueness is the store's job.
func ValidateName(name string) string {
	if name == "" {
		return "Enter a compute name."
	}
	// Count characters, not bytes: "é" is one character the user typed, and
	// the character rule below names it.
	if n := utf8.RuneCountInString(name); n < NameMinLen || n > NameMaxLen {
		return fmt.Sprintf("The name must be %d to %d characters long (it is %d).", NameMinLen, NameMaxLen, n)
	}
	if !isLetter(name[0]) {
		return "The name must start with a letter."
	}
	lastHyphen := -1
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isLetter(c), isDigit(c):
		case c == '-':
			lastHyphen = i
		default:
			// Name the character the user typed, not its first UTF-8 byte.
			r, _ := utf8.DecodeRuneInString(name[i:])
			return fmt.Sprintf("The name may contain only letters, digits and hyphens; %q is not allowed.", string(r))
		}
	}
	if lastHyphen >= 0 {
		for i := lastHyphen + 1; i < len(name); i++ {
			if isLetter(name[i]) {
				return ""
			}
		}
		return "A hyphen in the name must be followed later by at least one letter."
	}
	return ""
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
