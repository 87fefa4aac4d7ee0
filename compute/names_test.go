package compute

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The messages ValidateName shows, as a user reads them under the name field.
const (
	msgEmpty    = "Enter a compute name."
	msgStart    = "The name must start with a letter."
	msgHyphen   = "A hyphen in the name must be followed later by at least one letter."
	msgCharsFmt = "The name may contain only letters, digits and hyphens; %q is not allowed."
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		want string // "" = accepted
	}{
		// Accepted: Studio's rule (docs/design/studio-compute.md §1.4, §3).
		{"abc", ""},
		{"cpu-cluster", ""},
		{"GPU-Cluster-2x", ""},
		{"a1b", ""},
		{"a-b", ""},
		{"a--b", ""},                  // consecutive hyphens, a letter follows both
		{"a-1b", ""},                  // a digit may come between the hyphen and the letter
		{"ci-2024-alice", ""},         // every hyphen has a letter later on
		{"x12", ""},                   // digits after the first letter
		{strings.Repeat("a", 24), ""}, // longest allowed
		{"a" + strings.Repeat("1", 23), ""},

		{"", msgEmpty},

		// Length, counted in characters.
		{"a", "The name must be 3 to 24 characters long (it is 1)."},
		{"ab", "The name must be 3 to 24 characters long (it is 2)."},
		{"a-", "The name must be 3 to 24 characters long (it is 2)."},
		{strings.Repeat("a", 25), "The name must be 3 to 24 characters long (it is 25)."},
		{strings.Repeat("a", 100), "The name must be 3 to 24 characters long (it is 100)."},
		{"éé", "The name must be 3 to 24 characters long (it is 2)."},
		// 24 characters, 25 bytes: the length is fine, the é is not, and the
		// message must not claim a 24-character name is too long.
		{strings.Repeat("a", 23) + "é", `The name may contain only letters, digits and hyphens; "é" is not allowed.`},

		// First character.
		{"1abc", msgStart},
		{"-abc", msgStart},
		{"_abc", msgStart},
		{" abc", msgStart},
		{"émile", msgStart},

		// Character set: the message names the character the user typed.
		{"ab_c", `The name may contain only letters, digits and hyphens; "_" is not allowed.`},
		{"ab c", `The name may contain only letters, digits and hyphens; " " is not allowed.`},
		{"ab.c", `The name may contain only letters, digits and hyphens; "." is not allowed.`},
		{"abc/", `The name may contain only letters, digits and hyphens; "/" is not allowed.`},
		{"café", `The name may contain only letters, digits and hyphens; "é" is not allowed.`},
		{"ab\x00c", `The name may contain only letters, digits and hyphens; "\x00" is not allowed.`},

		// Hyphen rule: every hyphen needs a letter somewhere after it.
		{"abc-", msgHyphen},
		{"ab-1", msgHyphen},
		{"ab-12", msgHyphen},
		{"a-b-1", msgHyphen}, // the first hyphen is fine, the last is not
		{"ab--", msgHyphen},
		{"a-1-2", msgHyphen},
	}
	for _, tt := range tests {
		if got := ValidateName(tt.name); got != tt.want {
			t.Errorf("ValidateName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// nameRE and hyphenRuleOK state Studio's rule independently of ValidateName.
var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{2,23}$`)

func hyphenRuleOK(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] == '-' && !strings.ContainsAny(name[i+1:], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
			return false
		}
	}
	return true
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{
		"", "a", "ab", "abc", "cpu-cluster", "a-b", "a-1", "a-1b", "a--b", "1abc", "-abc",
		"ab_c", "café", "émile", strings.Repeat("a", 24), strings.Repeat("a", 25),
		strings.Repeat("a", 23) + "é", "abc-", "a-b-1", "ab\x00c", "\xff\xfe\xfd", "a\xffb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		msg := ValidateName(name)
		ruleOK := nameRE.MatchString(name) && hyphenRuleOK(name)
		if msg == "" && !ruleOK {
			t.Fatalf("ValidateName(%q) accepted a name that breaks Studio's rule", name)
		}
		if msg != "" && ruleOK {
			t.Fatalf("ValidateName(%q) = %q for a name Studio's rule allows", name, msg)
		}
		if msg != "" && !knownNameMessage(msg) {
			t.Fatalf("ValidateName(%q) = %q, not one of the known messages", name, msg)
		}
		// A length complaint must give the real length, and that length must
		// really be out of range.
		if m := lengthMsgRE.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n != utf8.RuneCountInString(name) || (n >= NameMinLen && n <= NameMaxLen) {
				t.Fatalf("ValidateName(%q) = %q, but the name has %d characters", name, msg, utf8.RuneCountInString(name))
			}
		}
	})
}

var (
	lengthMsgRE = regexp.MustCompile(`^The name must be 3 to 24 characters long \(it is (\d+)\)\.$`)
	charsMsgRE  = regexp.MustCompile(`^The name may contain only letters, digits and hyphens; ".+" is not allowed\.$`)
)

func knownNameMessage(msg string) bool {
	switch msg {
	case msgEmpty, msgStart, msgHyphen:
		return true
	}
	return lengthMsgRE.MatchString(msg) || charsMsgRE.MatchString(msg)
}
