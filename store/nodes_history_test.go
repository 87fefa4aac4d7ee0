package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// TestNodeHistory: a sample is written per change or per 30 s, samples
// older than 24 h go, and reads start with the state in force at since.
func TestNodeHistory(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, clusterTarget("pool"), nil)
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	at := func(d time.Duration, idle, busy int) compute.NodeSample {
		return compute.NodeSample{At: t0.Add(d), Idle: idle, Busy: busy, PoweredDown: 2 - idle - busy}
	}
	steps := []struct {
		name  string
		s     compute.NodeSample
		saved bool
	}{
		{"first", at(0, 0, 0), true},
		{"same counts 3 s later", at(3*time.Second, 0, 0), false},
		{"a change", at(6*time.Second, 1, 0), true},
		{"another change", at(9*time.Second, 0, 1), true},
		{"same counts 29 s later", at(38*time.Second, 0, 1), false},
		{"same counts 30 s later", at(39*time.Second, 0, 1), true},
		{"a day later", at(24*time.Hour+10*time.Second, 0, 0), true},
	}
	for _, st := range steps {
		saved, err := s.RecordNodeSample(ctx, "pool", st.s)
		if err != nil || saved != st.saved {
			t.Fatalf("%s: saved %v, %v; want %v", st.name, saved, err, st.saved)
		}
	}
	tests := []struct {
		name  string
		since time.Time
		want  []compute.NodeSample
	}{
		// The samples older than 24 h before the last one are gone.
		{"all kept", t0, []compute.NodeSample{at(39*time.Second, 0, 1), at(24*time.Hour+10*time.Second, 0, 0)}},
		{"the last before since comes first", t0.Add(24 * time.Hour), []compute.NodeSample{at(39*time.Second, 0, 1), at(24*time.Hour+10*time.Second, 0, 0)}},
		{"only the state in force", t0.Add(25 * time.Hour), []compute.NodeSample{at(24*time.Hour+10*time.Second, 0, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.NodeSamples(ctx, "pool", tc.since)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if !got[i].At.Equal(tc.want[i].At) || !got[i].SameCounts(tc.want[i]) {
					t.Errorf("[%d] = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
	if _, err := s.RecordNodeSample(ctx, "nope", at(0, 0, 0)); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("unknown target: %v", err)
	}
	// Reading an unknown target is refused the same way.
	if _, err := s.NodeSamples(ctx, "nope", t0); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("unknown target read: %v", err)
	}
}
