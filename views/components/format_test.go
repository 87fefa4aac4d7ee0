package components

import (
	"math"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{0, "0s"},
		{850 * time.Millisecond, "850 ms"},
		{time.Second, "1s"},
		{4270 * time.Millisecond, "4.3s"},
		{12300 * time.Millisecond, "12s"},
		{72 * time.Second, "1m 12s"},
		{245 * time.Second, "4m 5s"},
		{time.Hour, "1h 0m"},
		{125 * time.Minute, "2h 5m"},
		{23*time.Hour + 59*time.Minute, "23h 59m"},
		{76 * time.Hour, "3d 4h"},
	} {
		if got := FormatDuration(tc.d); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{0.912345678, "0.9123"},
		{0.5, "0.5"},
		{1, "1"},
		{64, "64"},
		{12.3456, "12.35"},
		{-0.912345678, "-0.9123"},
		{1234.5678, "1235"},
		{9999.7, "10,000"},
		{12345.678, "12,346"},
		{-1234567.8, "-1,234,568"},
		{0.000123456, "0.0001235"},
		{0.0000123456, "1.235e-05"},
		{1.23456e20, "1.235e+20"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
	} {
		if got := FormatNumber(tc.v); got != tc.want {
			t.Errorf("FormatNumber(%g) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestShortNumber(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"0.912345678", "0.9123", true},
		{"32", "32", true},
		{"1e-3", "0.001", true},
		{"adam", "adam", false},
		{"", "", false},
		{"0x10", "0x10", false},
		{"1_000", "1_000", false},
		{"NaN", "NaN", false},
		{"[1, 2]", "[1, 2]", false},
	} {
		got, ok := ShortNumber(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ShortNumber(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"},
		{3 << 30, "3.0 GiB"},
		{2 << 40, "2.0 TiB"},
	} {
		if got := FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
