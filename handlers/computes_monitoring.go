package handlers

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/pages"
)

// The Monitoring tab: a target's node counts by state over time, as the
// node refresher recorded them (compute.NodeHistory), drawn as a stacked
// step chart in server-rendered SVG. It sits inside the details page's live
// section, so it follows that section's htmx polling.

// monitoringRanges are the chart's time windows; the first is the default.
var monitoringRanges = []struct {
	id    string
	label string
	d     time.Duration
}{{"1h", "1 hour", time.Hour}, {"6h", "6 hours", 6 * time.Hour}, {"24h", "24 hours", 24 * time.Hour}}

// monitoringRange returns the chosen window's id and length.
func monitoringRange(q string) (string, time.Duration) {
	for _, r := range monitoringRanges {
		if r.id == q {
			return r.id, r.d
		}
	}
	return monitoringRanges[0].id, monitoringRanges[0].d
}

// nodeSeries are the stacked bands, bottom to top. Each has its own fill
// and its name in every mark's title and in the legend, so the chart reads
// without colour too.
var nodeSeries = []struct {
	id, label, class string
	count            func(compute.NodeSample) int
}{
	{"busy", "Busy", "fill-blue-700 dark:fill-blue-400", func(s compute.NodeSample) int { return s.Busy }},
	{"idle", "Idle", "fill-emerald-600 dark:fill-emerald-400", func(s compute.NodeSample) int { return s.Idle }},
	{"powering-up", "Powering up", "fill-amber-400 dark:fill-amber-300", func(s compute.NodeSample) int { return s.Preparing }},
	{"unusable", "Unusable", "fill-red-700 dark:fill-red-400", func(s compute.NodeSample) int { return s.Unusable }},
	{"preempted", "Preempted", "fill-purple-600 dark:fill-purple-400", func(s compute.NodeSample) int { return s.Preempted }},
	{"powered-down", "Powered down", "fill-gray-300 dark:fill-gray-600", func(s compute.NodeSample) int { return s.PoweredDown }},
}

// hasHistory tells whether the Monitoring tab applies to a target: Slurm
// clusters always (the refresher records them), other kinds once samples
// exist.
func (h *Handlers) hasHistory(ctx context.Context, t *compute.Target) bool {
	if t.Kind == compute.KindSlurm || t.Kind == compute.KindCluster {
		return true // every cluster's nodes are followed over time
	}
	ss, err := h.cfg.Store.NodeSamples(ctx, t.Name, h.cfg.Now())
	return err == nil && len(ss) > 0
}

// monitoringVM builds the chart of the target's last window of samples.
func (h *Handlers) monitoringVM(ctx context.Context, t *compute.Target, rangeID string) *pages.MonitoringVM {
	rangeID, window := monitoringRange(rangeID)
	vm := &pages.MonitoringVM{}
	base := "/computes/" + url.PathEscape(t.Name) + "?tab=monitoring&range="
	for _, r := range monitoringRanges {
		vm.Ranges = append(vm.Ranges, pages.TabVM{ID: r.id, Label: r.label, Href: base + r.id, Current: r.id == rangeID})
	}
	now := h.cfg.Now()
	samples, err := h.cfg.Store.NodeSamples(ctx, t.Name, now.Add(-window))
	if err != nil {
		h.cfg.Logger.WarnContext(ctx, "reading node history", "target", t.Name, "err", err)
		vm.Note = "The node history could not be read."
		return vm
	}
	if len(samples) == 0 {
		vm.Note = "No node history yet: Trainyard records the nodes' states every few seconds while it reaches the cluster."
		return vm
	}
	layoutNodeChart(vm, samples, now.Add(-window), now)
	return vm
}

// layoutNodeChart fills vm's geometry: x is time from start to end, y the
// node count, one rectangle per series per interval between changes.
func layoutNodeChart(vm *pages.MonitoringVM, samples []compute.NodeSample, start, end time.Time) {
	vm.W, vm.H = 720, 240
	vm.Left, vm.Right, vm.Top, vm.Bottom = 44, 708, 10, 206
	vm.XLabel = "Time (UTC)"
	// Merge runs of equal counts: fewer marks, one title per state change.
	var steps []compute.NodeSample
	for _, s := range samples {
		if len(steps) > 0 && steps[len(steps)-1].SameCounts(s) {
			continue
		}
		steps = append(steps, s)
	}
	total := func(s compute.NodeSample) int {
		n := 0
		for _, se := range nodeSeries {
			n += se.count(s)
		}
		return n
	}
	top := 1
	for _, s := range steps {
		top = max(top, total(s))
	}
	stepY := int(math.Ceil(float64(top) / 5))
	top = int(math.Ceil(float64(top)/float64(stepY))) * stepY
	span := end.Sub(start).Seconds()
	x := func(t time.Time) float64 {
		f := t.Sub(start).Seconds() / span
		return vm.Left + math.Min(1, math.Max(0, f))*(vm.Right-vm.Left)
	}
	y := func(n int) float64 { return vm.Bottom - float64(n)/float64(top)*(vm.Bottom-vm.Top) }
	for v := 0; v <= top; v += stepY {
		vm.YTicks = append(vm.YTicks, pages.ChartTickVM{Pos: y(v), Label: strconv.Itoa(v)})
	}
	for i := 0; i <= 4; i++ {
		t := start.Add(time.Duration(float64(end.Sub(start)) * float64(i) / 4))
		vm.XTicks = append(vm.XTicks, pages.ChartTickVM{Pos: x(t), Label: t.UTC().Format("15:04")})
	}
	for i, s := range steps {
		from, to := s.At, end
		if i+1 < len(steps) {
			to = steps[i+1].At
		}
		x0, x1 := x(from), x(to)
		if x1 <= x0 {
			continue
		}
		when := fmt.Sprintf("%s–%s UTC", from.UTC().Format("15:04:05"), to.UTC().Format("15:04:05"))
		if from.Before(start) {
			when = fmt.Sprintf("until %s UTC", to.UTC().Format("15:04:05"))
		}
		base := 0
		for _, se := range nodeSeries {
			n := se.count(s)
			if n == 0 {
				continue
			}
			vm.Rects = append(vm.Rects, pages.StepRectVM{X: x0, Y: y(base + n), W: x1 - x0, H: y(base) - y(base+n),
				Class: se.class, Series: se.id, Title: fmt.Sprintf("%s: %d %s", when, n, strings.ToLower(se.label))})
			base += n
		}
	}
	last := steps[len(steps)-1]
	var words []string
	for _, se := range nodeSeries {
		vm.Legend = append(vm.Legend, pages.LegendVM{Label: se.label, Class: se.class, Now: se.count(last)})
		words = append(words, fmt.Sprintf("%d %s", se.count(last), strings.ToLower(se.label)))
	}
	vm.Summary = "Now: " + strings.Join(words, ", ") + "."
}
