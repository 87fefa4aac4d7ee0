package local

import (
	"slices"
	"testing"
)

func TestOutermost(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"/srv/data/local", "/srv/data", "/root"}, []string{"/root", "/srv/data"}},
		{[]string{"/srv/data", "/srv/database"}, []string{"/srv/data", "/srv/database"}},
		{[]string{"/a", "/a/", "/"}, []string{"/a"}},
		{nil, nil},
	}
	for _, tc := range tests {
		if got := outermost(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("outermost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
