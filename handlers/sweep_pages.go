package handlers

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/pages"
)

// sweepTableRows is how many children the table shows unless asked for
// all (?rows=all): the part is fetched again on every change of the
// sweep, and a 1,000-child table alone is most of a megabyte.
const sweepTableRows = 200

// isSweepParent reports whether run is a HyperDrive parent with its definition.
func isSweepParent(run *compute.Run) bool {
	return run.Kind == compute.RunKindHyperdrive && run.Sweep != nil
}

// sweepChild is one child with what the dashboard shows of it.
type sweepChild struct {
	run    *compute.Run
	metric float64 // best primary metric value so far; NaN when none
	at     time.Time
	best   bool
}

// The progress bar's states, in the bar's order (ended first, then active,
// then what has not started).
var sweepStates = []struct{ key, label, class string }{
	{"completed", "Completed", "fill-green-600 dark:fill-green-500"},
	{"policy", "Canceled by policy", "fill-amber-500 dark:fill-amber-400"},
	{"canceled", "Canceled", "fill-gray-500 dark:fill-gray-400"},
	{"failed", "Failed", "fill-red-700 dark:fill-red-500"},
	{"running", "Running", "fill-blue-600 dark:fill-blue-400"},
	{"queued", "Queued", "fill-sky-300 dark:fill-sky-700"},
	{"remaining", "Not started yet", "fill-gray-200 dark:fill-gray-700"},
}

// sweepState names the progress-bar state of a child.
func sweepState(r *compute.Run) string {
	switch r.Status {
	case compute.RunCompleted:
		return "completed"
	case compute.RunFailed:
		return "failed"
	case compute.RunCanceled:
		if r.PolicyCancelReason != "" {
			return "policy"
		}
		return "canceled"
	case compute.RunNotStarted, compute.RunQueued, compute.RunPreparing, compute.RunStarting:
		return "queued"
	}
	return "running" // Running, Finalizing, CancelRequested: still holding a slot
}

// sweepDashboardVM builds the sweep part of a parent's run page.
func (h *Handlers) sweepDashboardVM(r *http.Request, run *compute.Run) (pages.SweepDashboardVM, error) {
	ctx := r.Context()
	sw := run.Sweep
	page, err := h.cfg.Store.ListRuns(ctx, compute.RunFilter{Parent: run.ID, Limit: store.MaxRunPage})
	if err != nil {
		return pages.SweepDashboardVM{}, fmt.Errorf("children of %s: %w", run.ID, err)
	}
	metrics, err := h.cfg.Store.SweepChildMetrics(ctx, run.ID, sw.PrimaryMetric)
	if err != nil {
		return pages.SweepDashboardVM{}, fmt.Errorf("metrics of the children of %s: %w", run.ID, err)
	}
	now := h.cfg.Now()
	kids := make([]*sweepChild, 0, len(page.Runs))
	for _, c := range page.Runs {
		if c.Kind != compute.RunKindScript {
			continue
		}
		k := &sweepChild{run: c, metric: math.NaN()}
		if m, ok := metrics[c.ID]; ok {
			k.metric, k.at = m.Min, m.LastAt
			if sw.Goal == hyperdrive.Maximize {
				k.metric = m.Max
			}
			if c.Status.Terminal() && !c.EndedAt.IsZero() {
				k.at = c.EndedAt
			}
		}
		kids = append(kids, k)
	}
	// The best child is the sweep's own verdict (bestChildRunId); until the
	// driver has named one, the best value logged so far.
	bestID := run.BestChildID
	if bestID == "" {
		bv := math.NaN()
		for _, k := range kids {
			if !math.IsNaN(k.metric) && (math.IsNaN(bv) || sw.Goal.Better(k.metric, bv)) {
				bestID, bv = k.run.ID, k.metric
			}
		}
	}
	u := compute.UserFrom(ctx)
	vm := pages.SweepDashboardVM{RunID: run.ID, Ended: run.Status.Terminal(), Definition: sweepDefinition(sw), Space: sweepSpace(sw)}
	if canCancel(u, run) {
		vm.CanCancel, vm.CancelPath, vm.CancelAsk = true, runPath(run.ID)+"/cancel", sweepCancelQuestion(run)
	}
	var best *sweepChild
	for _, k := range kids {
		if k.run.ID == bestID {
			k.best, best = true, k
		}
	}
	if best != nil && !math.IsNaN(best.metric) {
		vm.BestID, vm.BestHref, vm.BestValue = best.run.ID, runPath(best.run.ID), components.FormatValue(best.metric)
		vm.BestParams = strings.Join(best.run.Hyperparameters.Args(), " ")
	}
	vm.Progress, vm.Counts, vm.ProgressText = sweepProgress(sw, run, kids)

	q := parseSweepSort(r.URL.Query(), sw)
	vm.SelfURL = q.url(run.ID)
	vm.Children = sweepChildrenVM(sw, run.ID, q, kids, now)

	start := run.StartedAt
	if start.IsZero() {
		start = run.CreatedAt
	}
	chart := components.SweepMetricChart{ID: "sweep-metric", Metric: sw.PrimaryMetric, Maximize: sw.Goal == hyperdrive.Maximize, Start: start}
	par := components.ParallelChart{ID: "sweep-parallel", Metric: sw.PrimaryMetric, Maximize: sw.Goal == hyperdrive.Maximize}
	for _, p := range sw.Space {
		a := components.ParallelAxis{Name: p.Name}
		switch p.Expr.Kind {
		case hyperdrive.Choice:
			for _, o := range p.Expr.Options {
				a.Categories = append(a.Categories, o.String())
			}
		case hyperdrive.LogUniform, hyperdrive.QLogUniform, hyperdrive.LogNormal, hyperdrive.QLogNormal:
			a.Log = true
		}
		par.Axes = append(par.Axes, a)
	}
	for _, k := range kids {
		if math.IsNaN(k.metric) {
			continue
		}
		chart.Points = append(chart.Points, components.SweepPoint{ID: k.run.ID, At: k.at, Value: k.metric, Ended: k.run.Status.Terminal(), Best: k.best})
		if k.run.Status != compute.RunCompleted {
			continue // parallel coordinates: completed children only
		}
		line := components.ParallelLine{ID: k.run.ID, Metric: k.metric, Best: k.best}
		for _, p := range sw.Space {
			v, _ := k.run.Hyperparameters.Get(p.Name)
			line.Values = append(line.Values, v.String())
		}
		par.Lines = append(par.Lines, line)
	}
	vm.MetricChart, vm.Parallel = chart.Layout(), par.Layout()
	return vm, nil
}

// sweepCancelQuestion is the confirmation of a sweep's cancel: it names
// what stops and what is kept.
func sweepCancelQuestion(run *compute.Run) string {
	return fmt.Sprintf("Cancel sweep %s? Its running and queued child runs are canceled too; finished children and their metrics are kept.", run.ID)
}

// sweepTotal is how many children the sweep will start at most:
// max_total_runs, or the grid's size when the grid is smaller.
func sweepTotal(sw *hyperdrive.Sweep) int {
	total := sw.MaxTotalRuns
	if sw.Sampling == hyperdrive.SamplingGrid {
		if g := (&hyperdrive.GridSampler{Space: sw.Space}).Size(); g > 0 && g < int64(total) {
			total = int(g)
		}
	}
	return total
}

// sweepProgress counts the children by state for the bar and its legend.
func sweepProgress(sw *hyperdrive.Sweep, run *compute.Run, kids []*sweepChild) (components.SweepProgress, []components.SweepSegment, string) {
	count := map[string]int{}
	for _, k := range kids {
		count[sweepState(k.run)]++
	}
	total := sweepTotal(sw)
	remaining := max(0, total-len(kids))
	if run.Status.Terminal() {
		remaining = 0 // an ended sweep starts nothing more
	}
	count["remaining"] = remaining
	p := components.SweepProgress{Total: max(total, len(kids))}
	var legend []components.SweepSegment
	for _, s := range sweepStates {
		seg := components.SweepSegment{Key: s.key, Label: s.label, Count: count[s.key], Class: s.class}
		p.Segments = append(p.Segments, seg)
		if s.key != "remaining" || !run.Status.Terminal() {
			legend = append(legend, seg)
		}
	}
	ended := count["completed"] + count["policy"] + count["canceled"] + count["failed"]
	text := fmt.Sprintf("%d of %d runs finished (max total runs %d); %d running, %d queued.", ended, total, sw.MaxTotalRuns, count["running"], count["queued"])
	if run.Status.Terminal() {
		text = fmt.Sprintf("The sweep %s: %d of %d runs finished (max total runs %d).", strings.ToLower(string(run.Status)), ended, total, sw.MaxTotalRuns)
		if run.StatusReason != "" {
			text += " " + run.StatusReason
		}
	}
	return p.Layout(), legend, text
}

// sweepDefinition describes the sweep's sampling, policy, metric and limits.
func sweepDefinition(sw *hyperdrive.Sweep) []pages.AttrVM {
	sampling := string(sw.Sampling)
	switch sw.Sampling {
	case hyperdrive.SamplingGrid:
		sampling += fmt.Sprintf(" (%d combinations)", (&hyperdrive.GridSampler{Space: sw.Space}).Size())
	default:
		sampling += " (seed " + strconv.FormatUint(sw.Seed, 10) + ")"
	}
	goal := goalText(sw.Goal)
	concurrent := strconv.Itoa(sw.ConcurrentRuns())
	if sw.MaxConcurrentRuns == 0 {
		concurrent += " (all at once: none set)"
	}
	return []pages.AttrVM{
		{Label: "Sampling", Value: sampling},
		{Label: "Early termination", Value: policyText(sw.Policy)},
		{Label: "Primary metric", Value: sw.PrimaryMetric},
		{Label: "Goal", Value: goal},
		{Label: "Max total runs", Value: strconv.Itoa(sw.MaxTotalRuns)},
		{Label: "Max concurrent runs", Value: concurrent},
		{Label: "Max duration", Value: strconv.Itoa(sw.DurationMinutes()) + " minutes"},
	}
}

// goalText is the goal as the form's select spells it.
func goalText(g hyperdrive.Goal) string {
	if g == hyperdrive.Maximize {
		return "Maximize"
	}
	return "Minimize"
}

// policyText names a policy with its settings, as the hdconfig spells them.
func policyText(p hyperdrive.Policy) string {
	if !p.Active() {
		return "None (every child runs to its end)"
	}
	var parts []string
	switch p.Kind {
	case hyperdrive.Bandit:
		if p.SlackFactor != 0 {
			parts = append(parts, "slack_factor "+components.FormatValue(p.SlackFactor))
		} else {
			parts = append(parts, "slack_amount "+components.FormatValue(p.SlackAmount))
		}
	case hyperdrive.TruncationSelection:
		parts = append(parts, "truncation_percentage "+strconv.Itoa(p.TruncationPercentage))
	}
	parts = append(parts, "evaluation_interval "+strconv.Itoa(p.EvaluationInterval), "delay_evaluation "+strconv.Itoa(p.DelayEvaluation))
	return string(p.Kind) + " (" + strings.Join(parts, ", ") + ")"
}

func sweepSpace(sw *hyperdrive.Sweep) []pages.SweepParamVM {
	out := make([]pages.SweepParamVM, 0, len(sw.Space))
	for _, p := range sw.Space {
		var vals []string
		if p.Expr.Kind == hyperdrive.Choice {
			for _, o := range p.Expr.Options {
				vals = append(vals, o.String())
			}
		} else {
			for i, a := range p.Expr.Args {
				name := ""
				if ns := hyperdrive.ArgNames(p.Expr.Kind); i < len(ns) {
					name = ns[i] + " "
				}
				vals = append(vals, name+components.FormatValue(a))
			}
		}
		out = append(out, pages.SweepParamVM{Name: p.Name, Expression: string(p.Expr.Kind), Values: strings.Join(vals, ", ")})
	}
	return out
}

// sweepSort is the children table's order, from the page's query: sort is
// index (proposal order, the default), status, metric, duration, or
// param:<name>; desc=1 reverses it.
type sweepSort struct {
	key  string
	desc bool
	all  bool // every row, not the first sweepTableRows
}

func parseSweepSort(v url.Values, sw *hyperdrive.Sweep) sweepSort {
	q := sweepSort{key: v.Get("sort"), desc: v.Get("desc") == "1", all: v.Get("rows") == "all"}
	switch {
	case q.key == "status", q.key == "metric", q.key == "duration":
	case strings.HasPrefix(q.key, "param:") && slices.ContainsFunc(sw.Space, func(p hyperdrive.ParamSpec) bool { return "param:"+p.Name == q.key }):
	default:
		q.key = "index"
	}
	return q
}

// url is the run page in this order ("" parameters for the default).
func (q sweepSort) url(runID string) string {
	v := url.Values{}
	if q.key != "index" {
		v.Set("sort", q.key)
	}
	if q.desc {
		v.Set("desc", "1")
	}
	if q.all {
		v.Set("rows", "all")
	}
	if len(v) == 0 {
		return runPath(runID)
	}
	return runPath(runID) + "?" + v.Encode()
}

// sweepChildrenVM sorts the children and builds the table.
func sweepChildrenVM(sw *hyperdrive.Sweep, runID string, q sweepSort, kids []*sweepChild, now time.Time) pages.SweepChildrenVM {
	vm := pages.SweepChildrenVM{Metric: sw.PrimaryMetric, Goal: goalText(sw.Goal),
		Sort: pages.SweepSortVM{Links: map[string]string{}, Marks: map[string]string{}}}
	keys := []string{"index", "status", "metric", "duration"}
	for _, p := range sw.Space {
		vm.Params = append(vm.Params, p.Name)
		vm.Sort.ParamKeys = append(vm.Sort.ParamKeys, "param:"+p.Name)
		keys = append(keys, "param:"+p.Name)
	}
	for _, k := range keys {
		// A click on the current column reverses it; another column starts
		// ascending, except the metric, which starts best first.
		next := sweepSort{key: k, desc: k == "metric" && sw.Goal == hyperdrive.Maximize, all: q.all}
		if k == q.key {
			next.desc = !q.desc
		}
		vm.Sort.Links[k] = next.url(runID)
		vm.Sort.Marks[k] = "none"
	}
	vm.Sort.Marks[q.key] = map[bool]string{false: "ascending", true: "descending"}[q.desc]

	duration := func(r *compute.Run) time.Duration {
		if r.StartedAt.IsZero() {
			return -1
		}
		end := r.EndedAt
		if end.IsZero() {
			end = now
		}
		return end.Sub(r.StartedAt)
	}
	// cmpKey compares two children on the sort column alone; missing
	// values (no metric yet, not started) go last in either direction.
	cmpKey := func(a, b *sweepChild) (c int, missing bool) {
		switch q.key {
		case "status":
			return strings.Compare(string(a.run.Status), string(b.run.Status)), false
		case "metric":
			switch an, bn := math.IsNaN(a.metric), math.IsNaN(b.metric); {
			case an || bn:
				return cmpBool(an, bn), true
			}
			return cmp.Compare(a.metric, b.metric), false
		case "duration":
			da, db := duration(a.run), duration(b.run)
			if da < 0 || db < 0 {
				return cmpBool(da < 0, db < 0), true
			}
			return cmp.Compare(da, db), false
		case "index":
			return cmp.Compare(a.run.ChildIndex, b.run.ChildIndex), false
		}
		name := strings.TrimPrefix(q.key, "param:")
		va, oka := a.run.Hyperparameters.Get(name)
		vb, okb := b.run.Hyperparameters.Get(name)
		if !oka || !okb {
			return cmpBool(!oka, !okb), true
		}
		if !va.IsString && !vb.IsString {
			return cmp.Compare(va.Num, vb.Num), false
		}
		return strings.Compare(va.String(), vb.String()), false
	}
	slices.SortStableFunc(kids, func(a, b *sweepChild) int {
		c, missing := cmpKey(a, b)
		if q.desc && !missing {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.run.ChildIndex, b.run.ChildIndex))
	})
	vm.Total = len(kids)
	if !q.all && len(kids) > sweepTableRows {
		kids = kids[:sweepTableRows]
		all := q
		all.all = true
		vm.AllURL = all.url(runID)
	}
	for _, k := range kids {
		row := pages.SweepChildRowVM{ID: k.run.ID, Href: runPath(k.run.ID), Status: string(k.run.Status),
			StatusSince: runSince(k.run, now), StatusReason: k.run.StatusReason, Duration: runDuration(k.run, now), Best: k.best}
		if k.run.PolicyCancelReason != "" {
			row.StatusReason = k.run.PolicyCancelReason
		} else if k.run.Status == compute.RunFailed && k.run.Error != "" {
			row.StatusReason = k.run.Error
		}
		for _, p := range sw.Space {
			v, ok := k.run.Hyperparameters.Get(p.Name)
			if !ok {
				row.Values = append(row.Values, "")
				continue
			}
			row.Values = append(row.Values, v.String())
		}
		if !math.IsNaN(k.metric) {
			row.Metric = components.FormatValue(k.metric)
		}
		vm.Rows = append(vm.Rows, row)
	}
	return vm
}

// cmpBool orders false before true (present values before missing ones).
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
