package handlers

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// runsPageSize is how many runs one page of a list shows.
const runsPageSize = 25

// runRanges are the time range filter's choices.
var runRanges = []struct {
	id, label string
	d         time.Duration
}{
	{"", "Any time", 0},
	{"1h", "Last hour", time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"30d", "Last 30 days", 30 * 24 * time.Hour},
}

// runsQuery is the state of a runs list in its URL. base is the page's path
// and fixed the parameters the page itself sets (e.g. tab=runs); the
// experiment or target a page fixes are not taken from the URL.
type runsQuery struct {
	base        string
	fixed       url.Values
	status      string // a status, or "active"
	target      string
	experiment  string
	submittedBy string
	parent      string
	rng         string
	sort        string
	desc        bool
	cursor      string
	pos         int // 1-based position of the page's first row, for "Showing 26–50"
	fixExp      bool
	fixTarget   bool
	// cols is the column chooser's choice (runColumns keys and m:METRIC),
	// nil for the default columns.
	cols []string
}

func parseRunsQuery(base string, v url.Values) runsQuery {
	q := runsQuery{base: base, status: v.Get("status"), target: strings.TrimSpace(v.Get("target")),
		experiment: strings.TrimSpace(v.Get("experiment")), submittedBy: strings.TrimSpace(v.Get("submittedBy")),
		parent: strings.TrimSpace(v.Get("parent")), rng: v.Get("range"), sort: v.Get("sort"), cursor: v.Get("cursor")}
	if q.status != "active" && !compute.RunStatus(q.status).Valid() {
		q.status = ""
	}
	if rangeOf(q.rng) < 0 {
		q.rng = ""
	}
	if !slices.Contains(store.RunSortKeys, q.sort) {
		q.sort = "created"
	}
	// Newest first unless asked otherwise; other columns A→Z unless desc.
	q.desc = v.Get("desc") == "1" || (q.sort == "created" && v.Get("desc") == "")
	if p, err := strconv.Atoi(v.Get("pos")); err == nil && p > 0 {
		q.pos = p
	}
	if q.cursor == "" {
		q.pos = 1
	}
	switch {
	case len(v["col"]) > 0: // the chooser's form: one col per checked box
		q.cols = v["col"]
	case v.Get("cols") != "":
		q.cols = strings.Split(v.Get("cols"), ",")
	}
	q.cols = slices.DeleteFunc(q.cols, func(c string) bool { return c == "" || len(c) > 250 })
	return q
}

// filtered reports whether the user narrowed the list (beyond what the page fixes).
func (q runsQuery) filtered() bool {
	return q.status != "" || q.submittedBy != "" || q.rng != "" || (q.experiment != "" && !q.fixExp) || (q.target != "" && !q.fixTarget) || q.parent != ""
}

// page is the store query of the list's filters and order.
func (q runsQuery) page(now time.Time) store.RunPageQuery {
	f := compute.RunFilter{Experiment: q.experiment, Target: q.target, Parent: q.parent}
	switch q.status {
	case "":
	case "active":
		// Every status that has not ended, by name: the status index serves
		// that, where "not ended" would scan.
		for _, st := range compute.RunStatuses() {
			if !st.Terminal() {
				f.Statuses = append(f.Statuses, st)
			}
		}
	default:
		f.Statuses = []compute.RunStatus{compute.RunStatus(q.status)}
	}
	if i := rangeOf(q.rng); i > 0 {
		f.Since = now.Add(-runRanges[i].d)
	}
	return store.RunPageQuery{Filter: f, Submitter: q.submittedBy, Sort: q.sort, Desc: q.desc, Cursor: q.cursor, Limit: runsPageSize}
}

// rangeOf returns the index of a time range choice, or -1.
func rangeOf(id string) int {
	for i, r := range runRanges {
		if r.id == id {
			return i
		}
	}
	return -1
}

// url writes the list's URL after change; paging and sorting reset unless
// the change sets them.
func (q runsQuery) url(change func(*runsQuery)) string {
	c := q
	if change != nil {
		change(&c)
	}
	v := url.Values{}
	for k, vals := range c.fixed {
		v[k] = vals
	}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("status", c.status)
	if !c.fixExp {
		set("experiment", c.experiment)
	}
	if !c.fixTarget {
		set("target", c.target)
	}
	set("submittedBy", c.submittedBy)
	set("parent", c.parent)
	set("range", c.rng)
	if c.sort != "created" {
		set("sort", c.sort)
		if c.desc {
			v.Set("desc", "1")
		}
	} else if !c.desc {
		v.Set("desc", "0")
	}
	if c.cursor != "" {
		v.Set("cursor", c.cursor)
		v.Set("pos", strconv.Itoa(c.pos))
	}
	if len(c.cols) > 0 {
		v.Set("cols", strings.Join(c.cols, ","))
	}
	if len(v) == 0 {
		return c.base
	}
	return c.base + "?" + v.Encode()
}

// RunsList handles GET /runs: runs across experiments with filters, sorting
// and paging; for htmx (HX-Target runs-table) only the table.
func (h *Handlers) RunsList(w http.ResponseWriter, r *http.Request) error {
	q := parseRunsQuery("/runs", r.URL.Query())
	table, err := h.runsTable(r, q)
	if err != nil {
		return err
	}
	if isHTMX(r) && r.Header.Get("HX-Target") == "runs-table" {
		return h.render(w, r, http.StatusOK, pages.RunsTable(table))
	}
	filter, err := h.runsFilter(r, q)
	if err != nil {
		return err
	}
	vm := pages.RunsListVM{Heading: "Runs", Filter: filter, Table: table}
	vm.Page = h.live(h.page(r, "Runs", "runs", []layout.Crumb{{Label: "Runs"}}), Watch{AllRuns: true})
	return h.render(w, r, http.StatusOK, pages.RunsList(vm))
}

// runsFilter builds the filter bar of a runs list.
func (h *Handlers) runsFilter(r *http.Request, q runsQuery) (pages.RunsFilterVM, error) {
	f := pages.RunsFilterVM{Action: q.base, Status: q.status, Target: q.target, Experiment: q.experiment, SubmittedBy: q.submittedBy,
		Range: q.rng, HideExperiment: q.fixExp, HideTarget: q.fixTarget}
	if q.sort != "created" {
		f.Sort, f.Desc = q.sort, q.desc
	} else if !q.desc {
		f.Sort = "created"
		f.Hidden = append(f.Hidden, pages.HiddenVM{Name: "desc", Value: "0"})
	}
	for k, vals := range q.fixed {
		for _, v := range vals {
			f.Hidden = append(f.Hidden, pages.HiddenVM{Name: k, Value: v})
		}
	}
	if q.parent != "" {
		f.Hidden = append(f.Hidden, pages.HiddenVM{Name: "parent", Value: q.parent})
	}
	f.Statuses = []components.Option{{Value: "", Label: "Any status"}, {Value: "active", Label: "Active (not ended)"}}
	for _, s := range compute.RunStatuses() {
		f.Statuses = append(f.Statuses, components.Option{Value: string(s), Label: string(s)})
	}
	for _, rg := range runRanges {
		f.Ranges = append(f.Ranges, components.Option{Value: rg.id, Label: rg.label})
	}
	if !q.fixTarget {
		names, err := h.cfg.Store.TargetNames(r.Context(), 500)
		if err != nil {
			return f, err
		}
		f.Targets = []components.Option{{Value: "", Label: "Any target"}}
		found := q.target == ""
		for _, name := range names {
			f.Targets = append(f.Targets, components.Option{Value: name, Label: name})
			found = found || strings.EqualFold(name, q.target)
		}
		if !found {
			// Runs outlive their target: a deleted one can still be filtered on.
			f.Targets = append(f.Targets, components.Option{Value: q.target, Label: q.target + " (deleted)"})
		}
	}
	if !q.fixExp {
		exps, err := h.cfg.Store.ListExperiments(r.Context())
		if err != nil {
			return f, err
		}
		for _, e := range exps {
			f.Experiments = append(f.Experiments, e.Name)
		}
	}
	return f, nil
}

// runsTable reads one page of runs and builds the live table.
func (h *Handlers) runsTable(r *http.Request, q runsQuery) (pages.RunsTableVM, error) {
	ps := h.cfg.Store
	now := h.cfg.Now()
	pq := q.page(now)
	page, err := ps.RunsPage(r.Context(), pq)
	if errors.Is(err, compute.ErrInvalid) && q.cursor != "" {
		// A stale or edited page link: show the first page instead.
		q.cursor, q.pos, pq.Cursor = "", 1, ""
		page, err = ps.RunsPage(r.Context(), pq)
	}
	if err != nil {
		return pages.RunsTableVM{}, err
	}
	// A total is counted on one index; when two filters combine, counting
	// would visit every run one of them matches, so the list says
	// "Showing 1–25" without "of N" (paging still works by key).
	total := -1
	if filterTerms(pq) <= 1 {
		if total, err = ps.CountRunsPage(r.Context(), pq); err != nil {
			return pages.RunsTableVM{}, err
		}
	}
	u := compute.UserFrom(r.Context())
	vm := pages.RunsTableVM{
		Total: total, Filtered: q.filtered(), CanSubmit: u.Can(compute.RoleDataScientist), SubmitHref: "/runs/new",
		SelfURL: q.url(nil), PushURL: (q.base == "/runs" && q.parent == "") || strings.HasPrefix(q.base, "/experiments/"),
		SortLinks: map[string]string{}, SortMarks: map[string]string{},
		ShowExperiment: !q.fixExp, ShowTarget: !q.fixTarget,
		EmptyText: "Runs are executions of a training script on a compute target. Submit one from this page or with trainyard run submit-script.",
	}
	if q.fixExp {
		vm.SubmitHref = "/runs/new?experiment=" + url.QueryEscape(q.experiment)
		vm.EmptyText = "This experiment has no runs yet."
	}
	if q.fixTarget {
		vm.SubmitHref = "/runs/new?target=" + url.QueryEscape(q.target)
		vm.EmptyText = "No runs on " + q.target + " yet. Runs submitted to this target will be listed here."
	}
	if q.parent != "" {
		vm.EmptyText = "This run has no child runs."
	}
	for _, key := range store.RunSortKeys {
		vm.SortLinks[key] = q.url(func(c *runsQuery) {
			c.desc = !(c.sort == key && c.desc)
			if c.sort != key && key == "created" {
				c.desc = true // newest first is what people want first
			}
			c.sort, c.cursor, c.pos = key, "", 1
		})
		vm.SortMarks[key] = "none"
	}
	vm.SortMarks[q.sort] = map[bool]string{false: "ascending", true: "descending"}[q.desc]
	if len(page.Runs) > 0 {
		vm.From, vm.To = q.pos, q.pos+len(page.Runs)-1
	}
	if page.Prev != "" {
		vm.FirstURL = q.url(func(c *runsQuery) { c.cursor, c.pos = "", 1 })
		vm.PrevURL = q.url(func(c *runsQuery) { c.cursor, c.pos = page.Prev, max(1, c.pos-runsPageSize) })
	}
	if page.Next != "" {
		vm.NextURL = q.url(func(c *runsQuery) { c.cursor, c.pos = page.Next, c.pos+len(page.Runs) })
	}
	vm.Metrics = commonMetrics(page.Runs, 3)
	vm.Chooser = chooserOf(q, vm.Metrics, commonMetrics(page.Runs, 50))
	if q.cols != nil {
		vm.Metrics = nil
		for _, c := range q.cols {
			if m, ok := strings.CutPrefix(c, "m:"); ok {
				vm.Metrics = append(vm.Metrics, m)
			}
		}
		vm.HideExperiment = !slices.Contains(q.cols, "experiment")
		vm.HideTarget = !slices.Contains(q.cols, "target")
		vm.HideSubmittedBy = !slices.Contains(q.cols, "submittedBy")
		vm.HideCreated = !slices.Contains(q.cols, "created")
		vm.HideDuration = !slices.Contains(q.cols, "duration")
	}
	for _, run := range page.Runs {
		if run.Status == compute.RunRunning {
			vm.TickSeconds = 1 // its duration counts up
		}
		vm.Rows = append(vm.Rows, h.runRow(u, run, vm.Metrics, now))
	}
	return vm, nil
}

// commonMetrics returns the metric names most runs of the page have (at
// most n), in name order.
func commonMetrics(runs []*compute.Run, n int) []string {
	count := map[string]int{}
	for _, r := range runs {
		for k := range r.Metrics {
			count[k]++
		}
	}
	names := make([]string, 0, len(count))
	for k := range count {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(count[b]-count[a], strings.Compare(a, b))
	})
	names = names[:min(n, len(names))]
	slices.Sort(names)
	return names
}

func (h *Handlers) runRow(u *compute.User, run *compute.Run, metrics []string, now time.Time) pages.RunRowVM {
	row := pages.RunRowVM{
		ID: run.ID, Name: runName(run), Href: "/runs/" + url.PathEscape(run.ID),
		Experiment: run.ExperimentName, ExperimentHref: "/experiments/" + url.PathEscape(run.ExperimentName),
		Status: string(run.Status), StatusSince: runSince(run, now), StatusReason: run.StatusReason,
		Target: run.Target, TargetHref: "/computes/" + url.PathEscape(run.Target),
		SubmittedBy: run.SubmittedBy, Created: formatTime(run.CreatedAt), Duration: runDuration(run, now),
	}
	if run.Status == compute.RunFailed && row.StatusReason == "" {
		row.StatusReason = run.Error
	}
	for _, m := range metrics {
		v, ok := run.Metrics[m]
		if !ok {
			row.Metrics = append(row.Metrics, "")
			continue
		}
		row.Metrics = append(row.Metrics, components.FormatValue(v))
	}
	if canCancel(u, run) {
		row.Actions = append(row.Actions, pages.ActionVM{Label: "Cancel", Path: "/runs/" + url.PathEscape(run.ID) + "/cancel", Danger: true,
			Confirm: cancelQuestion(run)})
	}
	return row
}

func runName(r *compute.Run) string {
	if r.DisplayName != "" {
		return r.DisplayName
	}
	return r.ID
}

// runSince says how long an active run has been in its status, as far as
// a list row knows: running since it started, waiting since it was submitted.
func runSince(r *compute.Run, now time.Time) string {
	switch {
	case r.Status.Terminal():
		return ""
	case r.Status == compute.RunRunning && !r.StartedAt.IsZero():
		return components.FormatDuration(now.Sub(r.StartedAt))
	case r.Status == compute.RunNotStarted || r.Status == compute.RunQueued:
		return components.FormatDuration(now.Sub(r.CreatedAt))
	}
	return ""
}

// runDuration is how long the run ran (so far): from its start to its end.
func runDuration(r *compute.Run, now time.Time) string {
	if r.StartedAt.IsZero() {
		return ""
	}
	end := r.EndedAt
	if end.IsZero() {
		end = now
	}
	return components.FormatDuration(end.Sub(r.StartedAt))
}

// canCancel reports whether u may cancel run now: it has not ended, and u
// is a DataScientist who submitted it, or an Admin.
func canCancel(u *compute.User, run *compute.Run) bool {
	if u == nil || run.Status.Terminal() || run.Status == compute.RunCancelRequested || !u.Can(compute.RoleDataScientist) {
		return false
	}
	return u.Can(compute.RoleAdmin) || (u.ID != "" && u.ID == run.SubmittedByID)
}

func cancelQuestion(run *compute.Run) string {
	if isSweepParent(run) {
		return sweepCancelQuestion(run)
	}
	return fmt.Sprintf("Cancel run %s? Its script is stopped; the outputs, metrics and log so far are kept.", run.ID)
}

// targetRuns is a compute target's Runs tab: its runs, with the runs
// list's sorting and paging, live.
func (h *Handlers) targetRuns(r *http.Request, t *compute.Target) (pages.RunsTableVM, error) {
	q := parseRunsQuery("/computes/"+url.PathEscape(t.Name), r.URL.Query())
	q.fixed = url.Values{"tab": {"runs"}}
	q.target, q.fixTarget = t.Name, true
	return h.runsTable(r, q)
}

// filterTerms counts the conditions of a page query (each has its own index).
func filterTerms(q store.RunPageQuery) int {
	f := q.Filter
	n := 0
	for _, set := range []bool{f.Experiment != "", len(f.Statuses) > 0, f.Target != "", f.Parent != "", f.SubmittedBy != "",
		q.Submitter != "", !f.Since.IsZero(), !f.Until.IsZero(), f.ActiveOnly, f.Kind != ""} {
		if set {
			n++
		}
	}
	return n
}

// runColumns are the runs list's optional columns (Run, Status and the
// actions always show), as the column chooser names them.
var runColumns = []struct{ key, label string }{
	{"experiment", "Experiment"}, {"target", "Compute target"}, {"submittedBy", "Submitted by"},
	{"created", "Submitted"}, {"duration", "Duration"},
}

// chooserOf is the column chooser of a runs list: each optional column and
// each metric the page's runs logged, checked as shown now.
func chooserOf(q runsQuery, shownMetrics, allMetrics []string) pages.ColumnChooserVM {
	c := pages.ColumnChooserVM{Action: q.base, Reset: q.url(func(c *runsQuery) { c.cols = nil })}
	keep := q.url(func(c *runsQuery) { c.cols = nil })
	if _, query, ok := strings.Cut(keep, "?"); ok {
		vals, _ := url.ParseQuery(query)
		for k, vs := range vals {
			for _, v := range vs {
				c.Hidden = append(c.Hidden, pages.AttrVM{Label: k, Value: v})
			}
		}
		slices.SortFunc(c.Hidden, func(a, b pages.AttrVM) int { return cmp.Compare(a.Label, b.Label) })
	}
	for _, col := range runColumns {
		if (col.key == "experiment" && q.fixExp) || (col.key == "target" && q.fixTarget) {
			continue
		}
		on := q.cols == nil || slices.Contains(q.cols, col.key)
		c.Options = append(c.Options, pages.ChooserOptionVM{Value: col.key, Label: col.label, Checked: on})
	}
	for _, m := range allMetrics {
		on := slices.Contains(shownMetrics, m)
		if q.cols != nil {
			on = slices.Contains(q.cols, "m:"+m)
		}
		c.Options = append(c.Options, pages.ChooserOptionVM{Value: "m:" + m, Label: m, Metric: true, Checked: on})
	}
	return c
}
