package store

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestNodeHoursAccrue(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	samples := []struct {
		at    time.Duration
		nodes int
	}{
		{0, 2},                 // 2 nodes from 12:00
		{30 * time.Minute, 4},  // 2 × 0.5 h = 1 node-hour
		{90 * time.Minute, 0},  // 4 × 1 h = 4 node-hours
		{150 * time.Minute, 0}, // 0
		{120 * time.Minute, 3}, // out of order: counts nothing back in time
	}
	for _, sm := range samples {
		if err := s.AccrueNodes(ctx, "replay", "c1", sm.nodes, t0.Add(sm.at)); err != nil {
			t.Fatal(err)
		}
	}
	hours, since, err := s.NodeHours(ctx, "replay", "c1")
	if err != nil || math.Abs(hours-5) > 1e-9 || !since.Equal(t0) {
		t.Fatalf("NodeHours = %v since %v, %v; want 5 since %v", hours, since, err, t0)
	}
	if h, since, err := s.NodeHours(ctx, "replay", "never"); err != nil || h != 0 || !since.IsZero() {
		t.Errorf("a compute never sampled: %v %v %v", h, since, err)
	}
}
