package components

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A sweep's pictures (docs/design/ui.md "Pictures"): its progress as a bar of child
// states, and its primary metric per child over time with the best so far.
// As for the line charts, the geometry is plain Go and the templ only
// writes it out; every mark has a <title>, and states differ by text and
// marker shape as well as colour.

// SweepSegment is one part of the sweep's progress bar: children in one
// state (or the runs not started yet).
type SweepSegment struct {
	Key   string // completed, running, policy, canceled, failed, queued, remaining
	Label string
	Count int
	Class string // fill colour classes
	// X and W are the segment's place on the bar (0..ProgressWidth), set by Layout.
	X, W float64
}

// ProgressWidth is the progress bar's width in SVG user units.
const ProgressWidth = 1000.0

// SweepProgress is the bar: segments in order, out of Total runs.
type SweepProgress struct {
	Total    int
	Segments []SweepSegment
}

// Layout places the segments along the bar, each as wide as its share of
// Total (segments beyond Total, which a shrinking grid could cause, are
// scaled down together).
func (p SweepProgress) Layout() SweepProgress {
	sum := 0
	for _, s := range p.Segments {
		sum += s.Count
	}
	den := float64(max(p.Total, sum, 1))
	x := 0.0
	out := p
	out.Segments = slices.Clone(p.Segments)
	for i := range out.Segments {
		w := float64(out.Segments[i].Count) / den * ProgressWidth
		out.Segments[i].X, out.Segments[i].W = x, w
		x += w
	}
	return out
}

// Title is the hover text of a segment.
func (s SweepSegment) Title() string { return fmt.Sprintf("%s: %d", s.Label, s.Count) }

// SweepPoint is one child on the metric-over-time chart.
type SweepPoint struct {
	ID    string
	At    time.Time // when the child ended, or logged its latest value while running
	Value float64   // its best primary metric value so far
	Ended bool
	Best  bool
}

// SweepMetricChart is the primary metric of each child over the sweep's
// time, with the best value found so far as a step line.
type SweepMetricChart struct {
	ID       string
	Metric   string
	Maximize bool
	Start    time.Time // the sweep's start: x is time since then
	Points   []SweepPoint
}

// SweepMark is one child as drawn.
type SweepMark struct {
	ID    string
	X, Y  float64
	Title string
	Ended bool
	Best  bool
}

// SweepMetricLayout is a SweepMetricChart's computed geometry.
type SweepMetricLayout struct {
	ID, Title, Desc          string
	W, H                     float64
	Left, Top, Right, Bottom float64
	XTicks, YTicks           []Tick
	XLabel, YLabel           string
	Marks                    []SweepMark
	BestPath                 string // the best-so-far step line
	Empty                    bool
}

// Layout computes scales, ticks, marks and the best-so-far line.
func (c SweepMetricChart) Layout() SweepMetricLayout {
	l := SweepMetricLayout{ID: c.ID, Title: c.Metric + " per child over time", W: chartW, H: chartH,
		Left: chartLeft, Top: chartTop, Right: chartW - chartRight, Bottom: chartH - chartBottom, YLabel: c.Metric}
	pts := make([]SweepPoint, 0, len(c.Points))
	for _, p := range c.Points {
		if finite(p.Value) && !p.At.IsZero() {
			pts = append(pts, p)
		}
	}
	// Drawn in time order, so the best-so-far line is a walk along them.
	slices.SortStableFunc(pts, func(a, b SweepPoint) int { return a.At.Compare(b.At) })
	span := 0.0
	for _, p := range pts {
		span = math.Max(span, p.At.Sub(c.Start).Seconds())
	}
	xDiv, unit := 1.0, "s"
	switch {
	case span > 2*3600:
		xDiv, unit = 3600, "h"
	case span > 120:
		xDiv, unit = 60, "min"
	}
	l.XLabel = "Time since the sweep started (" + unit + ")"
	x := func(p SweepPoint) float64 { return math.Max(0, p.At.Sub(c.Start).Seconds()) / xDiv }
	xMin, xMax, yMin, yMax := 0.0, math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		xMax = math.Max(xMax, x(p))
		yMin, yMax = math.Min(yMin, p.Value), math.Max(yMax, p.Value)
	}
	if len(pts) == 0 {
		l.Empty = true
		xMax, yMin, yMax = 1, 0, 1
	}
	xMin, xMax = widen(xMin, xMax, false)
	yMin, yMax = widen(yMin, yMax, false)
	xlo, xhi, xstep := NiceRange(math.Max(0, xMin), xMax, 6)
	ylo, yhi, ystep := NiceRange(yMin, yMax, 5)
	sx := func(v float64) float64 { return l.Left + (v-xlo)/(xhi-xlo)*(l.Right-l.Left) }
	sy := func(v float64) float64 { return l.Bottom - (v-ylo)/(yhi-ylo)*(l.Bottom-l.Top) }
	for _, v := range tickValues(xlo, xhi, xstep) {
		l.XTicks = append(l.XTicks, Tick{Pos: sx(v), Label: FormatTick(v, xstep)})
	}
	for _, v := range tickValues(ylo, yhi, ystep) {
		l.YTicks = append(l.YTicks, Tick{Pos: sy(v), Label: FormatTick(v, ystep)})
	}
	better := func(a, b float64) bool { return (c.Maximize && a > b) || (!c.Maximize && a < b) }
	var path strings.Builder
	best := math.NaN()
	for i, p := range pts {
		state := "ended"
		if !p.Ended {
			state = "running, so far"
		}
		title := fmt.Sprintf("%s: %s = %s at %s %s (%s)", p.ID, c.Metric, FormatValue(p.Value), strconv.FormatFloat(x(p), 'g', 4, 64), unit, state)
		if p.Best {
			title += ", best child"
		}
		l.Marks = append(l.Marks, SweepMark{ID: p.ID, X: sx(x(p)), Y: sy(p.Value), Title: title, Ended: p.Ended, Best: p.Best})
		prev := best
		if math.IsNaN(best) || better(p.Value, best) {
			best = p.Value
		}
		switch {
		case i == 0:
			path.WriteString("M" + Coord(sx(x(p))) + " " + Coord(sy(best)))
		case best != prev:
			path.WriteString(" H" + Coord(sx(x(p))) + " V" + Coord(sy(best)))
		}
	}
	if len(pts) > 0 {
		path.WriteString(" H" + Coord(sx(x(pts[len(pts)-1]))))
	}
	l.BestPath = path.String()
	goal := "lower is better"
	if c.Maximize {
		goal = "higher is better"
	}
	if l.Empty {
		l.Desc = "No child has logged " + c.Metric + " yet."
	} else {
		l.Desc = fmt.Sprintf("%s logged %s (%s); the best so far is %s.", plural(len(pts), "child has", "children have"), c.Metric, goal, FormatNumber(best))
	}
	return l
}

// bigDiamond is the best child's marker: a diamond larger than the dots.
func bigDiamond(x, y float64) string {
	const r = 7.5
	return Coord(x) + "," + Coord(y-r) + " " + Coord(x+r) + "," + Coord(y) + " " + Coord(x) + "," + Coord(y+r) + " " + Coord(x-r) + "," + Coord(y)
}
