package components

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A parallel-coordinates chart of a sweep (docs/design/ui.md "Pictures"): one vertical
// axis per hyperparameter and one for the primary metric, one polyline per
// completed child through its values. Choice axes place their options
// evenly spaced in the search space's order; numeric axes are linear, or
// logarithmic for the log expressions. Lines are coloured by metric in five
// steps of one hue (darker is better), the best child is drawn last, thick
// and dashed, and every line has a <title> naming the child and its values,
// so the chart reads without colour.

// ParallelAxis is one axis: a hyperparameter or the metric.
type ParallelAxis struct {
	Name string
	// Categories, when set, make the axis categorical (a choice's options).
	Categories []string
	// Log draws a numeric axis on a log scale (when every value is > 0).
	Log bool
}

// ParallelLine is one child: its value text on each axis except the metric,
// and its metric.
type ParallelLine struct {
	ID     string
	Values []string
	Metric float64
	Best   bool
}

// ParallelChart is what the chart shows.
type ParallelChart struct {
	ID       string
	Axes     []ParallelAxis // the hyperparameters; the metric axis is added last
	Metric   string
	Maximize bool
	Lines    []ParallelLine
}

// ParallelAxisGeom is an axis as drawn.
type ParallelAxisGeom struct {
	Name  string
	X     float64
	Ticks []Tick // Pos is the y coordinate
	Kind  string // "choice", "linear", "log" or "metric"
}

// ParallelLineGeom is one child's polyline.
type ParallelLineGeom struct {
	ID     string
	Points string // SVG polyline points
	Class  string
	Title  string
	Best   bool
	Band   int // 0 (worst fifth) … 4 (best fifth)
}

// ParallelLayout is a ParallelChart's computed geometry.
type ParallelLayout struct {
	ID, Title, Desc string
	W, H            float64
	Top, Bottom     float64
	Axes            []ParallelAxisGeom
	Lines           []ParallelLineGeom
	Empty           bool
}

// parallelBands are the metric colour steps, worst to best (read only).
var parallelBands = []string{
	"stroke-sky-300 dark:stroke-sky-900",
	"stroke-sky-500 dark:stroke-sky-700",
	"stroke-blue-600 dark:stroke-blue-500",
	"stroke-blue-800 dark:stroke-blue-300",
	"stroke-indigo-950 dark:stroke-indigo-100",
}

const (
	parallelH      = 300.0
	parallelTop    = 34.0 // room for the axis names
	parallelBottom = 16.0
	parallelSide   = 70.0 // room for the outer axes' tick labels
	parallelGap    = 150.0
)

// Layout places the axes and the polylines.
func (c ParallelChart) Layout() ParallelLayout {
	n := len(c.Axes) + 1
	// At least a line chart's width, so that few axes do not blow the
	// labels up when the SVG is scaled to its container.
	w := max(chartW, 2*parallelSide+float64(n-1)*parallelGap)
	gap := (w - 2*parallelSide) / float64(max(n-1, 1))
	l := ParallelLayout{ID: c.ID, Title: "Hyperparameters and " + c.Metric, W: w, H: parallelH, Top: parallelTop, Bottom: parallelH - parallelBottom}
	axisX := func(i int) float64 { return parallelSide + float64(i)*gap }
	// scales[i] maps a value's text to a y coordinate (ok=false: not drawable).
	scales := make([]func(string) (float64, bool), len(c.Axes))
	for i, a := range c.Axes {
		g := ParallelAxisGeom{Name: a.Name, X: axisX(i)}
		if len(a.Categories) > 0 {
			g.Kind = "choice"
			pos := map[string]float64{}
			for k, cat := range a.Categories {
				y := (l.Top + l.Bottom) / 2
				if len(a.Categories) > 1 {
					y = l.Bottom - float64(k)/float64(len(a.Categories)-1)*(l.Bottom-l.Top)
				}
				pos[cat] = y
				g.Ticks = append(g.Ticks, Tick{Pos: y, Label: shorten(cat, 14)})
			}
			scales[i] = func(s string) (float64, bool) { y, ok := pos[s]; return y, ok }
		} else {
			var vals []float64
			for _, line := range c.Lines {
				if i < len(line.Values) {
					if v, err := strconv.ParseFloat(line.Values[i], 64); err == nil && finite(v) {
						vals = append(vals, v)
					}
				}
			}
			log := a.Log
			for _, v := range vals {
				log = log && v > 0
			}
			g.Kind = "linear"
			if log {
				g.Kind = "log"
			}
			scales[i], g.Ticks, _ = numericScale(vals, log, l.Top, l.Bottom)
		}
		l.Axes = append(l.Axes, g)
	}
	var metrics []float64
	for _, line := range c.Lines {
		if finite(line.Metric) {
			metrics = append(metrics, line.Metric)
		}
	}
	_, metricTicks, toMetricY := numericScale(metrics, false, l.Top, l.Bottom)
	l.Axes = append(l.Axes, ParallelAxisGeom{Name: c.Metric, X: axisX(n - 1), Ticks: metricTicks, Kind: "metric"})
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, m := range metrics {
		lo, hi = math.Min(lo, m), math.Max(hi, m)
	}
	var bestLines []ParallelLineGeom
	for _, line := range c.Lines {
		if !finite(line.Metric) {
			continue
		}
		var pts []string
		var parts []string
		ok := true
		for i, a := range c.Axes {
			if i >= len(line.Values) {
				ok = false
				break
			}
			y, drawable := scales[i](line.Values[i])
			if !drawable {
				ok = false
				break
			}
			pts = append(pts, Coord(axisX(i))+","+Coord(y))
			parts = append(parts, a.Name+" = "+line.Values[i])
		}
		if !ok {
			continue
		}
		pts = append(pts, Coord(axisX(n-1))+","+Coord(toMetricY(line.Metric)))
		// The band: where the metric lies between the worst and the best, in fifths.
		frac := 1.0
		if hi > lo {
			frac = (line.Metric - lo) / (hi - lo)
			if !c.Maximize {
				frac = 1 - frac
			}
		}
		band := min(int(frac*float64(len(parallelBands))), len(parallelBands)-1)
		g := ParallelLineGeom{ID: line.ID, Points: strings.Join(pts, " "), Class: parallelBands[band], Band: band, Best: line.Best,
			Title: fmt.Sprintf("%s: %s → %s = %s", line.ID, strings.Join(parts, ", "), c.Metric, FormatValue(line.Metric))}
		if line.Best {
			g.Title += " (best child)"
			g.Class = "stroke-amber-600 dark:stroke-amber-300"
			bestLines = append(bestLines, g)
			continue
		}
		l.Lines = append(l.Lines, g)
	}
	// The best is drawn last, on top of the others.
	l.Lines = append(l.Lines, bestLines...)
	l.Empty = len(l.Lines) == 0
	goal := "lower is better"
	if c.Maximize {
		goal = "higher is better"
	}
	if l.Empty {
		l.Desc = "No child has completed with " + c.Metric + " yet."
	} else {
		l.Desc = fmt.Sprintf("%s, one line each, through %s to %s (%s); darker lines are better, the best is dashed.",
			plural(len(l.Lines), "completed child", "completed children"), plural(len(c.Axes), "hyperparameter", "hyperparameters"), c.Metric, goal)
	}
	return l
}

// numericScale maps values onto [top, bottom] (higher values higher up),
// linear or log10, with nice ticks. It returns the scale of a value's text,
// the ticks, and the scale of a number.
func numericScale(vals []float64, log bool, top, bottom float64) (func(string) (float64, bool), []Tick, func(float64) float64) {
	tf := func(v float64) float64 { return v }
	if log {
		tf = math.Log10
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		lo, hi = math.Min(lo, tf(v)), math.Max(hi, tf(v))
	}
	if len(vals) == 0 {
		lo, hi = 0, 1
	}
	lo, hi = widen(lo, hi, false)
	nlo, nhi, step := NiceRange(lo, hi, 4)
	if log {
		// Whole decades are the ticks people read on a log axis.
		// (log10 of 0.1 is a hair above -1: round before taking the decade.)
		nlo, nhi = math.Floor(lo+1e-9), math.Ceil(hi-1e-9)
		if nhi <= nlo {
			nhi = nlo + 1
		}
		step = math.Max(1, math.Ceil((nhi-nlo)/4))
	}
	y := func(v float64) float64 { return bottom - (tf(v)-nlo)/(nhi-nlo)*(bottom-top) }
	var ticks []Tick
	for _, t := range tickValues(nlo, nhi, step) {
		label := FormatTick(t, step)
		if log {
			label = strconv.FormatFloat(math.Pow(10, t), 'g', 3, 64)
		}
		ticks = append(ticks, Tick{Pos: bottom - (t-nlo)/(nhi-nlo)*(bottom-top), Label: label})
	}
	text := func(s string) (float64, bool) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !finite(v) || (log && v <= 0) {
			return 0, false
		}
		return y(v), true
	}
	return text, ticks, y
}

// shorten cuts s to n runes with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// plural writes "1 child", "2 children".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
