package components

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSweepProgressLayout(t *testing.T) {
	tests := []struct {
		name   string
		total  int
		counts []int
		wantX  []float64
		wantW  []float64
	}{
		{"shares of max_total_runs", 10, []int{3, 1, 2}, []float64{0, 300, 400}, []float64{300, 100, 200}},
		{"nothing yet", 5, []int{0, 0}, []float64{0, 0}, []float64{0, 0}},
		{"more children than the total", 2, []int{3, 1}, []float64{0, 750}, []float64{750, 250}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := SweepProgress{Total: tc.total}
			for i, c := range tc.counts {
				p.Segments = append(p.Segments, SweepSegment{Key: strconv.Itoa(i), Count: c})
			}
			l := p.Layout()
			for i, s := range l.Segments {
				if math.Abs(s.X-tc.wantX[i]) > 1e-9 || math.Abs(s.W-tc.wantW[i]) > 1e-9 {
					t.Errorf("segment %d at %v wide %v, want %v, %v", i, s.X, s.W, tc.wantX[i], tc.wantW[i])
				}
			}
		})
	}
}

// TestSweepMetricBestSoFar: the best-so-far line steps only when a better
// value arrives, for both goals, and NaN values are not drawn.
func TestSweepMetricBestSoFar(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	pts := []SweepPoint{{ID: "c", At: at(30), Value: 0.5, Ended: true}, {ID: "a", At: at(10), Value: 0.2, Ended: true},
		{ID: "b", At: at(20), Value: 0.1, Ended: true}, {ID: "d", At: at(40), Value: math.NaN(), Ended: true}}
	for _, tc := range []struct {
		maximize bool
		steps    int // H…V pairs after the start
	}{{true, 1}, {false, 1}} {
		l := SweepMetricChart{ID: "m", Metric: "acc", Maximize: tc.maximize, Start: start, Points: pts}.Layout()
		if len(l.Marks) != 3 {
			t.Fatalf("maximize %v: %d marks, want 3 (NaN left out)", tc.maximize, len(l.Marks))
		}
		if l.Marks[0].ID != "a" || l.Marks[2].ID != "c" {
			t.Errorf("marks not in time order: %v", l.Marks)
		}
		if n := strings.Count(l.BestPath, " V"); n != tc.steps {
			t.Errorf("maximize %v: path %q has %d steps, want %d", tc.maximize, l.BestPath, n, tc.steps)
		}
	}
}

// TestParallelLayout: choice axes space their options evenly in the
// space's order, log axes read decades, the best line comes last, and
// lines are banded from worst to best by the goal.
func TestParallelLayout(t *testing.T) {
	c := ParallelChart{ID: "p", Metric: "loss", Maximize: false,
		Axes: []ParallelAxis{{Name: "--act", Categories: []string{"relu", "tanh", "gelu"}}, {Name: "--lr", Log: true}},
		Lines: []ParallelLine{
			{ID: "best", Values: []string{"tanh", "0.01"}, Metric: 0.1, Best: true},
			{ID: "worst", Values: []string{"relu", "0.001"}, Metric: 0.9},
			{ID: "mid", Values: []string{"gelu", "0.1"}, Metric: 0.5},
			{ID: "unknown option", Values: []string{"selu", "0.1"}, Metric: 0.5},
		}}
	l := c.Layout()
	if len(l.Axes) != 3 || l.Axes[2].Kind != "metric" || l.Axes[1].Kind != "log" || l.Axes[0].Kind != "choice" {
		t.Fatalf("axes %+v", l.Axes)
	}
	ys := []float64{}
	for _, tk := range l.Axes[0].Ticks {
		ys = append(ys, tk.Pos)
	}
	if len(ys) != 3 || math.Abs((ys[0]-ys[1])-(ys[1]-ys[2])) > 1e-9 || ys[0] != l.Bottom || ys[2] != l.Top {
		t.Errorf("choice ticks %v are not evenly spaced from bottom to top", ys)
	}
	if len(l.Lines) != 3 || l.Lines[2].ID != "best" || !l.Lines[2].Best {
		t.Fatalf("lines %+v: want 3 with the best last", l.Lines)
	}
	bands := map[string]int{}
	for _, ln := range l.Lines {
		bands[ln.ID] = ln.Band
	}
	if bands["worst"] != 0 || bands["best"] != len(parallelBands)-1 || bands["mid"] != 2 {
		t.Errorf("bands %v (minimize: lower loss is better)", bands)
	}
	var labels []string
	for _, tk := range l.Axes[1].Ticks {
		labels = append(labels, tk.Label)
	}
	if strings.Join(labels, " ") != "0.001 0.01 0.1" {
		t.Errorf("log axis ticks %q", labels)
	}
}
