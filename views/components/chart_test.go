package components

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

func near(a, b float64) bool { return math.Abs(a-b) < 0.05 }

func tickLabels(ts []Tick) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Label)
	}
	return out
}

func TestNiceRangeAndTickLabels(t *testing.T) {
	tests := []struct {
		lo, hi        float64
		n             int
		wantLo, wantH float64
		wantStep      float64
	}{
		{0.81, 0.93, 5, 0.8, 0.95, 0.05},
		{0, 100, 5, 0, 100, 20},
		{-3, 7, 6, -4, 8, 2},
		{0.0001, 0.0009, 5, 0.0000, 0.001, 0.0002},
		{1e6, 5e6, 5, 1e6, 5e6, 1e6},
	}
	for _, tc := range tests {
		lo, hi, step := NiceRange(tc.lo, tc.hi, tc.n)
		if math.Abs(lo-tc.wantLo) > 1e-9 || math.Abs(hi-tc.wantH) > 1e-9 || math.Abs(step-tc.wantStep) > 1e-12 {
			t.Errorf("NiceRange(%g, %g) = %g, %g, %g; want %g, %g, %g", tc.lo, tc.hi, lo, hi, step, tc.wantLo, tc.wantH, tc.wantStep)
		}
	}
	for _, tc := range []struct {
		v, step float64
		want    string
	}{
		{0.8, 0.05, "0.80"}, {0.25, 0.25, "0.25"}, {0.5, 0.5, "0.5"}, {2000, 1000, "2000"}, {0, 0.1, "0"},
		{-0.2, 0.1, "-0.2"}, {3e6, 1e6, "3e+06"}, {0.00002, 0.00001, "2e-05"}, {7, 1, "7"},
	} {
		if got := FormatTick(tc.v, tc.step); got != tc.want {
			t.Errorf("FormatTick(%g, %g) = %q, want %q", tc.v, tc.step, got, tc.want)
		}
	}
	for v, want := range map[float64]string{0.93: "0.93", math.NaN(): "NaN", math.MaxFloat64: "+Inf", -math.MaxFloat64: "-Inf", 1e-7: "1e-07"} {
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%g) = %q, want %q", v, got, want)
		}
	}
}

func TestLineChartScalesMarksAndTitles(t *testing.T) {
	c := LineChart{ID: "m-accuracy", Title: "accuracy", XKind: XStep, Series: []ChartSeries{{Name: "accuracy", Points: []ChartPoint{
		{X: 0, Y: 0.81}, {X: 1, Y: 0.88}, {X: 2, Y: 0.93, Note: "14:03:05 UTC"},
	}}}}
	l := c.Layout()
	if l.Empty || len(l.Lines) != 1 || len(l.Lines[0].Marks) != 3 {
		t.Fatalf("layout: empty %v, %d lines", l.Empty, len(l.Lines))
	}
	if got := strings.Join(tickLabels(l.XTicks), " "); got != "0 1 2" {
		t.Errorf("x ticks %q, want whole steps 0 1 2", got)
	}
	if got := strings.Join(tickLabels(l.YTicks), " "); got != "0.80 0.85 0.90 0.95" {
		t.Errorf("y ticks %q", got)
	}
	if l.XLabel != "Step" || l.YLabel != "accuracy" {
		t.Errorf("axis labels %q / %q", l.XLabel, l.YLabel)
	}
	m := l.Lines[0].Marks
	// Step 0 sits on the left edge, step 2 on the right; 0.93 is 13/15 of the
	// way up from 0.80 to 0.95.
	if !near(m[0].X, l.Left) || !near(m[2].X, l.Right) || !near(m[1].X, (l.Left+l.Right)/2) {
		t.Errorf("x positions %v %v %v", m[0].X, m[1].X, m[2].X)
	}
	if want := l.Bottom - (0.13/0.15)*(l.Bottom-l.Top); !near(m[2].Y, want) {
		t.Errorf("y of 0.93 = %v, want %v", m[2].Y, want)
	}
	if m[2].Title != "accuracy = 0.93 at step 2 (14:03:05 UTC)" || m[0].Title != "accuracy = 0.81 at step 0" {
		t.Errorf("titles %q, %q", m[0].Title, m[2].Title)
	}
	if !strings.HasPrefix(l.Lines[0].Path, "M"+Coord(l.Left)+" ") || strings.Count(l.Lines[0].Path, "L") != 2 {
		t.Errorf("path %q", l.Lines[0].Path)
	}
	if !strings.Contains(l.Desc, "3 points; last 0.93 at step 2; lowest 0.81 at step 0; highest 0.93 at step 2") {
		t.Errorf("desc %q", l.Desc)
	}
}

func TestLineChartEmptySingleAndNonFinite(t *testing.T) {
	empty := LineChart{ID: "e", Title: "loss", Series: []ChartSeries{{Name: "loss"}}}.Layout()
	if !empty.Empty || len(empty.Lines[0].Marks) != 0 || empty.Lines[0].Path != "" || len(empty.XTicks) == 0 || len(empty.YTicks) == 0 {
		t.Fatalf("empty chart: %+v", empty)
	}
	if empty.Desc != "No values logged yet." {
		t.Errorf("empty desc %q", empty.Desc)
	}
	one := LineChart{ID: "o", Title: "lr", XKind: XStep, Series: []ChartSeries{{Name: "lr", Points: []ChartPoint{{X: 5, Y: 0.5}}}}}.Layout()
	if one.Empty || len(one.Lines[0].Marks) != 1 {
		t.Fatalf("single point: %+v", one)
	}
	mk := one.Lines[0].Marks[0]
	if !near(mk.X, (one.Left+one.Right)/2) || !near(mk.Y, (one.Top+one.Bottom)/2) {
		t.Errorf("a single point should sit in the middle, at %v,%v", mk.X, mk.Y)
	}
	if got := strings.Join(tickLabels(one.XTicks), " "); got != "4 5 6" {
		t.Errorf("single point x ticks %q", got)
	}
	zero := LineChart{ID: "z", Title: "z", Series: []ChartSeries{{Name: "z", Points: []ChartPoint{{X: 0, Y: 0}}}}}.Layout()
	if len(zero.YTicks) < 2 || zero.Lines[0].Marks[0].Y <= zero.Top || zero.Lines[0].Marks[0].Y >= zero.Bottom {
		t.Errorf("zero value: ticks %v mark %+v", tickLabels(zero.YTicks), zero.Lines[0].Marks[0])
	}
	odd := LineChart{ID: "n", Title: "n", Series: []ChartSeries{{Name: "n", Points: []ChartPoint{
		{X: 0, Y: 1}, {X: 1, Y: math.NaN()}, {X: 2, Y: math.MaxFloat64}, {X: 3, Y: math.Inf(-1)}, {X: 4, Y: 2},
	}}}}.Layout()
	if len(odd.Lines[0].Marks) != 2 {
		t.Fatalf("NaN and ±Inf must not be drawn: %d marks", len(odd.Lines[0].Marks))
	}
	if hi := odd.YTicks[len(odd.YTicks)-1].Label; hi != "2" && hi != "2.0" {
		t.Errorf("±Inf must not stretch the scale: top tick %q", hi)
	}
}

func TestLineChartTimeAxisAndLongSeries(t *testing.T) {
	var pts []ChartPoint
	for i := range 100_000 {
		pts = append(pts, ChartPoint{X: float64(i) * 0.3, Y: math.Sin(float64(i) / 500)})
	}
	pts[50_000].Y = 5 // a spike must survive thinning
	l := LineChart{ID: "t", Title: "loss", XKind: XTime, Series: []ChartSeries{{Name: "loss", Points: pts}}}.Layout()
	if l.XLabel != "Time since first point (h)" {
		t.Errorf("x label %q for a 8.3 h span", l.XLabel)
	}
	g := l.Lines[0]
	if len(g.Marks) != chartMaxMarks {
		t.Errorf("%d marks, want %d", len(g.Marks), chartMaxMarks)
	}
	if last := g.Marks[len(g.Marks)-1]; !strings.HasSuffix(last.Title, "at 8.333 h") {
		t.Errorf("the last point must be marked: %+v", last)
	}
	if n := strings.Count(g.Path, "L"); n > 4*int(l.Right-l.Left) {
		t.Errorf("path has %d points", n)
	}
	top := l.YTicks[len(l.YTicks)-1]
	if !strings.Contains(g.Path, " "+Coord(l.Bottom-(5-parseF(l.YTicks[0].Label))/(parseF(top.Label)-parseF(l.YTicks[0].Label))*(l.Bottom-l.Top))) {
		t.Errorf("the spike to 5 was thinned away")
	}
	minutes := LineChart{ID: "m", Title: "x", XKind: XTime, Series: []ChartSeries{{Name: "x", Points: []ChartPoint{{X: 0, Y: 1}, {X: 600, Y: 2}}}}}.Layout()
	if minutes.XLabel != "Time since first point (min)" || minutes.Lines[0].Marks[1].Title != "x = 2 at 10 min" {
		t.Errorf("minutes: %q, %q", minutes.XLabel, minutes.Lines[0].Marks[1].Title)
	}
}

func parseF(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func TestLineChartSVGRendersTitledMarks(t *testing.T) {
	c := LineChart{ID: "metric-acc", Title: "accuracy", Series: []ChartSeries{
		{Name: "run-a", Points: []ChartPoint{{X: 0, Y: 0.5}, {X: 1, Y: 0.7}}},
		{Name: "run-b", Points: []ChartPoint{{X: 0, Y: 0.4}, {X: 1, Y: 0.6}, {X: 2, Y: 0.65}}},
	}}
	var b strings.Builder
	if err := LineChartSVG(c.Layout()).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	d, err := goquery.NewDocumentFromReader(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	svg := d.Find(`svg[data-testid=metric-chart]`)
	if svg.Length() != 1 || svg.AttrOr("role", "") != "img" || svg.AttrOr("data-points", "") != "5" {
		t.Fatalf("svg: %s", b.String())
	}
	for _, id := range strings.Fields(svg.AttrOr("aria-labelledby", "")) {
		if d.Find("#"+id).Length() != 1 {
			t.Errorf("aria-labelledby names missing #%s", id)
		}
	}
	if n := svg.Find("circle > title, rect > title, polygon > title").Length(); n != 5 {
		t.Errorf("%d titled marks, want 5", n)
	}
	// The two series differ by marker shape and dash, not only colour.
	if svg.Find(`g[data-series=run-a] circle`).Length() != 2 || svg.Find(`g[data-series=run-b] rect`).Length() != 3 {
		t.Errorf("marker shapes do not differ per series")
	}
	if svg.Find(`g[data-series=run-b] path`).AttrOr("stroke-dasharray", "") == "" {
		t.Errorf("the second series has no dash pattern")
	}
	if d.Find(`ul[aria-label=Legend] li`).Length() != 2 {
		t.Errorf("no legend for two series")
	}
	if got := svg.Find(`[data-testid=x-label]`).Text(); got != "Step" {
		t.Errorf("x label %q", got)
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)
	ev := []TimelineEvent{
		{Status: "NotStarted", Time: t0},
		{Status: "Queued", Time: t0.Add(10 * time.Millisecond), Reason: "waiting for a node: 4/4 busy"},
		{Status: "Running", Time: t0.Add(2 * time.Second)},
		{Status: "Completed", Time: t0.Add(62 * time.Second)},
	}
	l := Timeline{ID: "tl", Events: ev, End: t0.Add(62 * time.Second), Ended: true}.Layout()
	if len(l.Bars) != 4 {
		t.Fatalf("%d bars", len(l.Bars))
	}
	total := 0.0
	for i, b := range l.Bars {
		if b.W < timelineMinW-1e-9 {
			t.Errorf("bar %d is %v wide", i, b.W)
		}
		total += b.W
	}
	if !near(total, timelineW) {
		t.Errorf("bars fill %v of %v", total, timelineW)
	}
	if l.Bars[2].W <= l.Bars[1].W || !l.Bars[2].ShowLabel {
		t.Errorf("Running (60 s) should be the widest, labelled bar: %+v", l.Bars)
	}
	if l.Bars[1].Title != "Queued from 14:00:00 UTC for 2s: waiting for a node: 4/4 busy" || l.Bars[3].Title != "Completed at 14:01:02 UTC" {
		t.Errorf("titles %q / %q", l.Bars[1].Title, l.Bars[3].Title)
	}
	if l.Bars[1].Class == l.Bars[3].Class {
		t.Errorf("busy and done share a colour")
	}
	active := Timeline{ID: "a", Events: ev[:3], End: t0.Add(5 * time.Second)}.Layout()
	if !strings.HasPrefix(active.Bars[2].Title, "Running since 14:00:02 UTC (3s so far)") {
		t.Errorf("active title %q", active.Bars[2].Title)
	}
	if none := (Timeline{ID: "n"}).Layout(); len(none.Bars) != 0 || none.Desc == "" {
		t.Errorf("empty timeline: %+v", none)
	}
}

// An ended run's long bar says how long its status lasted, so it does not
// read as the run's status now; the end mark has no label.
func TestTimelineLabelsSayHowLong(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	l := Timeline{ID: "tl", Ended: true, End: t0.Add(72 * time.Second), Events: []TimelineEvent{
		{Status: "Running", Time: t0},
		{Status: "Completed", Time: t0.Add(72 * time.Second)},
	}}.Layout()
	if len(l.Bars) != 2 {
		t.Fatalf("%d bars", len(l.Bars))
	}
	if b := l.Bars[0]; !b.ShowLabel || b.Label != "Running 1m 12s" {
		t.Errorf("Running bar: label %q shown %v", b.Label, b.ShowLabel)
	}
	if b := l.Bars[1]; b.ShowLabel {
		t.Errorf("the end mark is labelled %q", b.Label)
	}
}
