package handlers

import (
	"testing"

	"github.com/trainyard/trainyard/compute"
)

func TestLogTextKeepsRunesWhole(t *testing.T) {
	b := []byte("héllo wörld €")
	tests := []struct {
		name     string
		in       []byte
		complete bool
		want     string
		wantN    int64
	}{
		{"whole", b, false, "héllo wörld €", int64(len(b))},
		{"cut in the euro sign", b[:len(b)-1], false, "héllo wörld ", int64(len(b) - 3)},
		{"cut after its first byte", b[:len(b)-2], false, "héllo wörld ", int64(len(b) - 3)},
		{"cut in é", []byte("h\xc3"), false, "h", 1},
		{"a complete log shows the broken end", b[:len(b)-1], true, "héllo wörld \uFFFD", int64(len(b) - 1)},
		{"invalid bytes in the middle", []byte("a\xffb"), false, "a\uFFFDb", 3},
		{"empty", nil, false, "", 0},
	}
	for _, tc := range tests {
		got, n := logText(tc.in, tc.complete)
		if got != tc.want || n != tc.wantN {
			t.Errorf("%s: %q (%d), want %q (%d)", tc.name, got, n, tc.want, tc.wantN)
		}
	}
}

func TestParseMaxDuration(t *testing.T) {
	for in, want := range map[string]int64{"3600": 3600, " 90m ": 5400, "2h30m": 9000, "1s": 1} {
		got, msg := parseMaxDuration(in)
		if msg != "" || got == nil || *got != want {
			t.Errorf("%q: %v %q, want %d", in, got, msg, want)
		}
	}
	for _, in := range []string{"", "0"} {
		if got, msg := parseMaxDuration(in); got != nil || msg != "" {
			t.Errorf("%q means no limit, got %v %q", in, got, msg)
		}
	}
	for _, in := range []string{"-5", "soon", "500ms", "1.5"} {
		if _, msg := parseMaxDuration(in); msg == "" {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestArgvText(t *testing.T) {
	got := argvText([]string{"--lr", "0.1", "it's", "a b", "", "$(x)"})
	if want := `--lr 0.1 "it's" "a b" "" "$(x)"`; got != want {
		t.Errorf("%s, want %s", got, want)
	}
}

func TestCommonMetrics(t *testing.T) {
	runs := []*compute.Run{
		{Metrics: map[string]float64{"loss": 1, "accuracy": 0.9, "lr": 0.1}},
		{Metrics: map[string]float64{"loss": 1, "accuracy": 0.9}},
		{Metrics: map[string]float64{"loss": 1, "f1": 0.3, "zeta": 1}},
	}
	got := commonMetrics(runs, 3)
	if len(got) != 3 || got[0] != "accuracy" || got[1] != "f1" || got[2] != "loss" {
		t.Errorf("%v", got)
	}
	if got := commonMetrics(nil, 3); len(got) != 0 {
		t.Errorf("%v", got)
	}
}
