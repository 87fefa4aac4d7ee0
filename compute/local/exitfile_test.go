package local

import (
	"strconv"
	"testing"
)

func TestParseExit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code int
		ok   bool
	}{
		{"0\n", 0, true},
		{"143\n", 143, true},
		{"255\n", 255, true},
		{"", 0, false},  // the shell opened the file, has not written yet
		{"1", 0, false}, // no newline: not known to be whole
		{"14\n3\n", 0, false},
		{" 1\n", 0, false},
		{"-1\n", 0, false},
		{"256\n", 0, false},
		{"x\n", 0, false},
	} {
		code, ok := parseExit([]byte(tc.in))
		if code != tc.code || ok != tc.ok {
			t.Errorf("parseExit(%q) = %d, %v; want %d, %v", tc.in, code, ok, tc.code, tc.ok)
		}
	}
}

// FuzzParseExit: any content gives either no status or one the wrapper
// could have written, which reads back the same.
func FuzzParseExit(f *testing.F) {
	for _, s := range []string{"0\n", "143\n", "", "1", "\n", "99999999999999999999\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		code, ok := parseExit(b)
		if !ok {
			return
		}
		if code < 0 || code > 255 {
			t.Fatalf("parseExit(%q) = %d, outside 0..255", b, code)
		}
		if again, ok := parseExit([]byte(strconv.Itoa(code) + "\n")); !ok || again != code {
			t.Fatalf("status %d does not read back", code)
		}
	})
}
