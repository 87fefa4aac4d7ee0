package arm

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"PT120S", 120 * time.Second},
		{"PT5M", 5 * time.Minute},
		{"PT30M", 30 * time.Minute},
		{"PT2H", 2 * time.Hour},
		{"PT1H30M15S", time.Hour + 30*time.Minute + 15*time.Second},
		{"P3D", 72 * time.Hour},
		{"P1DT2H", 26 * time.Hour},
		{"P1W", 7 * 24 * time.Hour},
		{"PT0S", 0},
		{"PT1.5S", 1500 * time.Millisecond},
		{"PT0,25S", 250 * time.Millisecond},
		{"PT0.000000001S", 1},
		{"PT1.0000000000S", time.Second},
		{"-PT5M", -5 * time.Minute},
		{"PT9223372036.854775807S", math.MaxInt64},
		{"-PT9223372036.854775808S", math.MinInt64},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "P", "PT", "P1DT", "5M", "pt5m", "PT5", "PTM", "P1Y", "P2M", "PT1H1H", "PT5M1H", "P1D1W",
		"PT1.S", "PT.5S", "PT1.5M", "P1H", "PT1D", "PT-5S", "--PT5S", "PT9223372036.854775808S", "PT99999999999999999999S",
		"P106752D", "PT0.0000000001S", "PT5S ", " PT5S", "PT1X", "PTT5S"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		} else if !strings.Contains(err.Error(), "ISO-8601") {
			t.Errorf("ParseDuration(%q) error %q does not say what is expected", bad, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "PT0S"},
		{120 * time.Second, "PT2M"},
		{90 * time.Second, "PT1M30S"},
		{26 * time.Hour, "P1DT2H"},
		{72 * time.Hour, "P3D"},
		{1500 * time.Millisecond, "PT1.5S"},
		{time.Nanosecond, "PT0.000000001S"},
		{-5 * time.Minute, "-PT5M"},
		{math.MinInt64, "-P106751DT23H47M16.854775808S"},
	}
	for _, tc := range tests {
		if got := FormatDuration(tc.in); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if secondsDuration(120) != "PT120S" || minutesDuration(30) != "PT30M" {
		t.Error("field renderings changed")
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT120S", "PT5M", "P1DT2H3M4.5S", "-PT1S", "P1W", "PT0,5S", "P", "PT9223372036.854775807S", "P1Y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		out := FormatDuration(d)
		back, err := ParseDuration(out)
		if err != nil || back != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, d, out, back, err)
		}
	})
}

func FuzzFormatDuration(f *testing.F) {
	for _, n := range []int64{0, 1, -1, 120e9, math.MaxInt64, math.MinInt64} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		s := FormatDuration(time.Duration(n))
		back, err := ParseDuration(s)
		if err != nil || back != time.Duration(n) {
			t.Fatalf("%d → %q → %v, %v", n, s, back, err)
		}
	})
}
