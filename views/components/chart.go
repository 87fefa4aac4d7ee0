package components

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Line charts are drawn by the server as inline SVG (docs/design/ui.md "Pictures"): the
// geometry is computed here, in plain Go that tests can check, and
// chart.templ only writes it out. Every mark carries a <title> (hover shows
// its value), the axes carry their units, and series differ by marker shape
// and dash pattern as well as colour, so the chart reads without colour.

// Chart geometry, in SVG user units (the SVG scales to its container).
const (
	chartW      = 560.0
	chartH      = 280.0
	chartLeft   = 70.0 // room for the y tick labels and the y axis label
	chartRight  = 18.0
	chartTop    = 14.0
	chartBottom = 56.0 // room for the x tick labels and the x axis label
	// chartMaxMarks bounds the marks (with their titles) one series draws;
	// longer series are thinned to this many, always keeping the last point.
	chartMaxMarks = 200
	// chartMaxPathPoints bounds the points of a line; longer series keep
	// each pixel column's lowest and highest value, so spikes stay visible.
	chartMaxPathPoints = 1200
)

// The x axis kinds of a metric chart.
const (
	XStep = "step" // x is the logged step
	XTime = "time" // x is seconds since the series' first point
)

// ChartPoint is one logged value.
type ChartPoint struct {
	X float64
	Y float64
	// Note is added to the mark's title, e.g. the point's time of day.
	Note string
}

// ChartSeries is one line of a chart.
type ChartSeries struct {
	Name   string
	Points []ChartPoint
}

// LineChart is what a metric chart shows: one or more series over steps or
// time. ID must be unique on the page (it names the SVG's title and desc).
type LineChart struct {
	ID     string
	Title  string // e.g. the metric name
	XKind  string // XStep or XTime
	XLabel string // overrides the default axis label ("Step", "Time since first point (s)")
	YLabel string // the value's name and unit, e.g. "accuracy"
	Series []ChartSeries
}

// Tick is one labelled position on an axis.
type Tick struct {
	Pos   float64 // SVG coordinate along the axis
	Label string
}

// Mark is one drawn point with its hover text.
type Mark struct {
	X, Y  float64
	Title string
}

// LineGeom is one series as drawn.
type LineGeom struct {
	Name  string
	Path  string // the SVG path "M x y L x y …"
	Marks []Mark
	Shape string // circle, square, triangle, diamond
	Dash  string // stroke-dasharray, "" for solid
	Class string // Tailwind stroke/fill colour classes
}

// ChartLayout is a LineChart's computed geometry.
type ChartLayout struct {
	ID                       string
	Title                    string
	Desc                     string // a sentence a screen reader reads for the whole chart
	W, H                     float64
	Left, Top, Right, Bottom float64 // the plot area
	XTicks, YTicks           []Tick
	XLabel, YLabel           string
	Lines                    []LineGeom
	Empty                    bool // no finite point: the axes and a note are drawn
	Legend                   bool // more than one series: a legend is drawn
}

var (
	seriesShapes  = []string{"circle", "square", "triangle", "diamond"}
	seriesDashes  = []string{"", "6 3", "2 3", "8 3 2 3"}
	seriesClasses = []string{
		"stroke-brand-600 fill-brand-600 dark:stroke-blue-300 dark:fill-blue-300",
		"stroke-amber-700 fill-amber-700 dark:stroke-amber-300 dark:fill-amber-300",
		"stroke-emerald-700 fill-emerald-700 dark:stroke-emerald-300 dark:fill-emerald-300",
		"stroke-fuchsia-700 fill-fuchsia-700 dark:stroke-fuchsia-300 dark:fill-fuchsia-300",
	}
)

// finite reports whether v can be drawn: not NaN, not ±Inf, and not the
// ±MaxFloat64 the store keeps for ±Inf.
func finite(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) < math.MaxFloat64
}

// Layout computes the chart's scales, ticks, lines and marks.
func (c LineChart) Layout() ChartLayout {
	l := ChartLayout{ID: c.ID, Title: c.Title, W: chartW, H: chartH,
		Left: chartLeft, Top: chartTop, Right: chartW - chartRight, Bottom: chartH - chartBottom,
		YLabel: c.YLabel, Legend: len(c.Series) > 1}
	if l.YLabel == "" {
		l.YLabel = c.Title
	}
	// The x unit: steps as they are; time in s, min or h by its span.
	xDiv, xUnit := 1.0, ""
	if c.XKind == XTime {
		span := 0.0
		for _, s := range c.Series {
			for _, p := range s.Points {
				span = math.Max(span, p.X)
			}
		}
		switch {
		case span > 2*3600:
			xDiv, xUnit = 3600, "h"
		case span > 120:
			xDiv, xUnit = 60, "min"
		default:
			xDiv, xUnit = 1, "s"
		}
		l.XLabel = "Time since first point (" + xUnit + ")"
	} else {
		l.XLabel = "Step"
	}
	if c.XLabel != "" {
		l.XLabel = c.XLabel
	}

	// Domains over the finite points.
	xMin, xMax, yMin, yMax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	n := 0
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !finite(p.Y) || !finite(p.X) {
				continue
			}
			n++
			xMin, xMax = math.Min(xMin, p.X/xDiv), math.Max(xMax, p.X/xDiv)
			yMin, yMax = math.Min(yMin, p.Y), math.Max(yMax, p.Y)
		}
	}
	if n == 0 {
		l.Empty = true
		xMin, xMax, yMin, yMax = 0, 1, 0, 1
	}
	xMin, xMax = widen(xMin, xMax, c.XKind != XTime)
	yMin, yMax = widen(yMin, yMax, false)
	xlo, xhi, xstep := NiceRange(xMin, xMax, 6)
	if c.XKind == XStep && xstep < 1 {
		// Steps are whole numbers: no tick between two steps.
		xstep = 1
		xlo, xhi = math.Floor(xMin), math.Ceil(xMax)
	}
	ylo, yhi, ystep := NiceRange(yMin, yMax, 5)
	sx := func(x float64) float64 { return l.Left + (x-xlo)/(xhi-xlo)*(l.Right-l.Left) }
	sy := func(y float64) float64 { return l.Bottom - (y-ylo)/(yhi-ylo)*(l.Bottom-l.Top) }
	for _, v := range tickValues(xlo, xhi, xstep) {
		l.XTicks = append(l.XTicks, Tick{Pos: sx(v), Label: FormatTick(v, xstep)})
	}
	for _, v := range tickValues(ylo, yhi, ystep) {
		l.YTicks = append(l.YTicks, Tick{Pos: sy(v), Label: FormatTick(v, ystep)})
	}

	var summary []string
	for i, s := range c.Series {
		g := LineGeom{Name: s.Name, Shape: seriesShapes[i%len(seriesShapes)], Dash: seriesDashes[i%len(seriesDashes)], Class: seriesClasses[i%len(seriesClasses)]}
		var pts []ChartPoint
		for _, p := range s.Points {
			if finite(p.Y) && finite(p.X) {
				pts = append(pts, ChartPoint{X: p.X / xDiv, Y: p.Y, Note: p.Note})
			}
		}
		g.Path = linePath(thinForPath(pts, l.Right-l.Left, xlo, xhi), sx, sy)
		for _, k := range markIndexes(len(pts)) {
			p := pts[k]
			g.Marks = append(g.Marks, Mark{X: sx(p.X), Y: sy(p.Y), Title: markTitle(s.Name, p, c.XKind, xUnit)})
		}
		l.Lines = append(l.Lines, g)
		summary = append(summary, seriesSummary(s.Name, pts, c.XKind, xUnit))
	}
	l.Desc = strings.Join(summary, " ")
	if l.Empty {
		l.Desc = "No values logged yet."
	}
	return l
}

// widen gives a one-value domain room around the value, so a single point
// sits in the middle of the plot; steps widen by whole steps.
func widen(lo, hi float64, whole bool) (float64, float64) {
	if hi > lo {
		return lo, hi
	}
	d := math.Abs(lo) * 0.1
	if d == 0 {
		d = 1
	}
	if whole {
		d = 1
	}
	return lo - d, hi + d
}

// NiceRange extends [lo, hi] to round numbers and returns the tick step,
// aiming at about n ticks (Heckbert's "nice numbers"). lo must be below hi.
func NiceRange(lo, hi float64, n int) (nlo, nhi, step float64) {
	step = niceNum((hi-lo)/float64(max(n-1, 1)), true)
	nlo = math.Floor(lo/step) * step
	nhi = math.Ceil(hi/step) * step
	return nlo, nhi, step
}

// niceNum rounds x to 1, 2, 5 or 10 times a power of ten.
func niceNum(x float64, round bool) float64 {
	if x <= 0 || !finite(x) {
		return 1
	}
	exp := math.Floor(math.Log10(x))
	f := x / math.Pow(10, exp)
	var nf float64
	switch {
	case round && f < 1.5, !round && f <= 1:
		nf = 1
	case round && f < 3, !round && f <= 2:
		nf = 2
	case round && f < 7, !round && f <= 5:
		nf = 5
	default:
		nf = 10
	}
	return nf * math.Pow(10, exp)
}

// tickValues lists lo, lo+step, … up to hi (inclusive, within rounding).
func tickValues(lo, hi, step float64) []float64 {
	var out []float64
	for i := 0; i < 100; i++ {
		v := lo + float64(i)*step
		if v > hi+step/1e6 {
			break
		}
		if math.Abs(v) < step/1e9 {
			v = 0 // no "-0" or 1e-17
		}
		out = append(out, v)
	}
	return out
}

// FormatTick writes a tick value with as many decimals as its step needs:
// 0.25 steps give 0.25, 0.50; 1000 steps give 2000; very large or small
// values use exponents (1e+06, 2e-05).
func FormatTick(v, step float64) string {
	if v == 0 {
		return "0"
	}
	if a := math.Abs(v); a >= 1e6 || a < 1e-4 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
		// A 0.25 step needs one more decimal than 0.2.
		if m := step * math.Pow(10, float64(dec)); math.Abs(m-math.Round(m)) > 1e-9 {
			dec++
		}
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// FormatValue writes a metric value exactly (shortest form that reads back).
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case v >= math.MaxFloat64:
		return "+Inf"
	case v <= -math.MaxFloat64:
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// markIndexes chooses which points get a mark: all of them up to
// chartMaxMarks, else evenly spaced ones and always the last.
func markIndexes(n int) []int {
	out := make([]int, 0, min(n, chartMaxMarks))
	if n <= chartMaxMarks {
		for i := range n {
			out = append(out, i)
		}
		return out
	}
	for i := range chartMaxMarks - 1 {
		out = append(out, i*(n-1)/(chartMaxMarks-1))
	}
	return append(out, n-1)
}

// thinForPath keeps, for long series, each pixel column's first, lowest,
// highest and last point (in order), so the line keeps its shape.
func thinForPath(pts []ChartPoint, width, xlo, xhi float64) []ChartPoint {
	if len(pts) <= chartMaxPathPoints {
		return pts
	}
	cols := int(width)
	out := make([]ChartPoint, 0, 4*cols)
	start := 0
	col := func(p ChartPoint) int { return int((p.X - xlo) / (xhi - xlo) * float64(cols-1)) }
	for start < len(pts) {
		c := col(pts[start])
		end := start
		lo, hi := start, start
		for end < len(pts) && col(pts[end]) == c {
			if pts[end].Y < pts[lo].Y {
				lo = end
			}
			if pts[end].Y > pts[hi].Y {
				hi = end
			}
			end++
		}
		keep := []int{start, lo, hi, end - 1}
		slices.Sort(keep)
		for _, k := range slices.Compact(keep) {
			out = append(out, pts[k])
		}
		start = end
	}
	return out
}

func linePath(pts []ChartPoint, sx, sy func(float64) float64) string {
	var b strings.Builder
	for i, p := range pts {
		if i == 0 {
			b.WriteString("M")
		} else {
			b.WriteString(" L")
		}
		b.WriteString(Coord(sx(p.X)))
		b.WriteByte(' ')
		b.WriteString(Coord(sy(p.Y)))
	}
	return b.String()
}

// Coord writes an SVG coordinate with one decimal.
func Coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// xText names an x value: "step 3", "12.5 s".
func xText(x float64, kind, unit string) string {
	if kind == XTime {
		return strconv.FormatFloat(x, 'g', 4, 64) + " " + unit
	}
	return "step " + strconv.FormatFloat(x, 'f', -1, 64)
}

func markTitle(name string, p ChartPoint, kind, unit string) string {
	t := fmt.Sprintf("%s = %s at %s", name, FormatValue(p.Y), xText(p.X, kind, unit))
	if p.Note != "" {
		t += " (" + p.Note + ")"
	}
	return t
}

// seriesSummary is the sentence describing one series: how many points,
// the last value, the lowest and the highest.
func seriesSummary(name string, pts []ChartPoint, kind, unit string) string {
	if len(pts) == 0 {
		return name + ": no values yet."
	}
	lo, hi := pts[0], pts[0]
	for _, p := range pts {
		if p.Y < lo.Y {
			lo = p
		}
		if p.Y > hi.Y {
			hi = p
		}
	}
	last := pts[len(pts)-1]
	word := "points"
	if len(pts) == 1 {
		word = "point"
	}
	return fmt.Sprintf("%s: %d %s; last %s at %s; lowest %s at %s; highest %s at %s.", name, len(pts), word,
		FormatValue(last.Y), xText(last.X, kind, unit), FormatValue(lo.Y), xText(lo.X, kind, unit), FormatValue(hi.Y), xText(hi.X, kind, unit))
}

// TrianglePoints is the SVG polygon of a triangle marker around (x, y).
func TrianglePoints(x, y float64) string {
	return Coord(x) + "," + Coord(y-4.5) + " " + Coord(x+4.5) + "," + Coord(y+3.5) + " " + Coord(x-4.5) + "," + Coord(y+3.5)
}

// DiamondPoints is the SVG polygon of a diamond marker around (x, y).
func DiamondPoints(x, y float64) string {
	return Coord(x) + "," + Coord(y-4.5) + " " + Coord(x+4.5) + "," + Coord(y) + " " + Coord(x) + "," + Coord(y+4.5) + " " + Coord(x-4.5) + "," + Coord(y)
}

// markCount is how many marks the chart draws (a data attribute for tests
// and for people reading the HTML).
func markCount(l ChartLayout) string {
	n := 0
	for _, g := range l.Lines {
		n += len(g.Marks)
	}
	return strconv.Itoa(n)
}
