package handlers

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// experimentsQuery is the state of the experiments list in its URL.
type experimentsQuery struct {
	q      string
	sort   string // last (default), name, runs, created
	desc   bool
	offset int
}

func parseExperimentsQuery(v url.Values) experimentsQuery {
	q := experimentsQuery{q: strings.TrimSpace(v.Get("q")), sort: v.Get("sort")}
	switch q.sort {
	case "name", "runs", "created", "last":
	default:
		q.sort = "last"
	}
	// Most recent and biggest first; names A→Z.
	q.desc = v.Get("desc") == "1" || (q.sort != "name" && v.Get("desc") == "")
	q.offset, _ = strconv.Atoi(v.Get("offset"))
	q.offset = max(q.offset, 0)
	return q
}

func (q experimentsQuery) url(change func(*experimentsQuery)) string {
	c := q
	if change != nil {
		change(&c)
	}
	v := url.Values{}
	if c.q != "" {
		v.Set("q", c.q)
	}
	if c.sort != "last" {
		v.Set("sort", c.sort)
	}
	if c.desc != (c.sort != "name") {
		v.Set("desc", map[bool]string{true: "1", false: "0"}[c.desc])
	}
	if c.offset > 0 {
		v.Set("offset", strconv.Itoa(c.offset))
	}
	if len(v) == 0 {
		return "/experiments"
	}
	return "/experiments?" + v.Encode()
}

// Experiments handles GET /experiments: every experiment with its run count
// and last run, most recently used first; for htmx only the table.
func (h *Handlers) Experiments(w http.ResponseWriter, r *http.Request) error {
	q := parseExperimentsQuery(r.URL.Query())
	all, err := h.cfg.Store.ListExperiments(r.Context())
	if err != nil {
		return err
	}
	table := h.experimentsTable(r, q, all)
	if isHTMX(r) && r.Header.Get("HX-Target") == "experiments-table" {
		return h.render(w, r, http.StatusOK, pages.ExperimentsTable(table))
	}
	vm := pages.ExperimentsVM{Table: table, Page: h.live(h.page(r, "Experiments", "experiments", []layout.Crumb{{Label: "Experiments"}}), Watch{AllRuns: true})}
	return h.render(w, r, http.StatusOK, pages.Experiments(vm))
}

func (h *Handlers) experimentsTable(r *http.Request, q experimentsQuery, all []*compute.Experiment) pages.ExperimentsTableVM {
	var rows []*compute.Experiment
	for _, e := range all {
		if q.q == "" || strings.Contains(strings.ToLower(e.Name), strings.ToLower(q.q)) {
			rows = append(rows, e)
		}
	}
	slices.SortStableFunc(rows, func(a, b *compute.Experiment) int {
		var c int
		switch q.sort {
		case "name":
			c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		case "runs":
			c = cmp.Compare(a.RunCount, b.RunCount)
		case "created":
			c = a.CreatedAt.Compare(b.CreatedAt)
		default:
			c = lastUsed(a).Compare(lastUsed(b))
		}
		if q.desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(b.ID, a.ID))
	})
	vm := pages.ExperimentsTableVM{Query: q.q, Total: len(rows), All: len(all), SelfURL: q.url(nil),
		CanSubmit: compute.UserFrom(r.Context()).Can(compute.RoleDataScientist), SortLinks: map[string]string{}, SortMarks: map[string]string{}}
	for _, key := range []string{"name", "runs", "last", "created"} {
		vm.SortLinks[key] = q.url(func(c *experimentsQuery) {
			if c.sort == key {
				c.desc = !c.desc
			} else {
				c.desc = key != "name"
			}
			c.sort, c.offset = key, 0
		})
		vm.SortMarks[key] = "none"
	}
	vm.SortMarks[q.sort] = map[bool]string{false: "ascending", true: "descending"}[q.desc]
	if q.offset >= len(rows) {
		q.offset = 0
	}
	end := min(q.offset+pageSize, len(rows))
	if len(rows) > 0 {
		vm.From, vm.To = q.offset+1, end
	}
	if q.offset > 0 {
		vm.PrevURL = q.url(func(c *experimentsQuery) { c.offset = max(0, c.offset-pageSize) })
	}
	if end < len(rows) {
		vm.NextURL = q.url(func(c *experimentsQuery) { c.offset = end })
	}
	for _, e := range rows[q.offset:end] {
		vm.Rows = append(vm.Rows, pages.ExperimentRowVM{Name: e.Name, Href: "/experiments/" + url.PathEscape(e.Name),
			Runs: thousands(e.RunCount), LastRun: orDash(formatTime(e.LastRunAt)), Created: formatTime(e.CreatedAt)})
	}
	return vm
}

// lastUsed is when an experiment last had a run, or was created.
func lastUsed(e *compute.Experiment) time.Time {
	if e.LastRunAt.After(e.CreatedAt) {
		return e.LastRunAt
	}
	return e.CreatedAt
}

// Experiment handles GET /experiments/{name}: the experiment's runs with
// the runs list's filters; for htmx only the table.
func (h *Handlers) Experiment(w http.ResponseWriter, r *http.Request) error {
	e, err := h.cfg.Store.GetExperimentByName(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		return err
	}
	q := parseRunsQuery("/experiments/"+url.PathEscape(e.Name), r.URL.Query())
	q.experiment, q.fixExp = e.Name, true
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
	vm := pages.ExperimentVM{Name: e.Name, Filter: filter, Table: table,
		Attributes: []pages.AttrVM{
			{Label: "Runs", Value: thousands(e.RunCount)},
			{Label: "Last run", Value: orDash(formatTime(e.LastRunAt))},
			{Label: "Created", Value: formatTime(e.CreatedAt)},
			{Label: "ID", Value: strconv.FormatInt(e.ID, 10)},
		}}
	vm.Page = h.live(h.page(r, e.Name, "experiments", []layout.Crumb{{Label: "Experiments", Href: "/experiments"}, {Label: e.Name}}), Watch{AllRuns: true})
	return h.render(w, r, http.StatusOK, pages.Experiment(vm))
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// thousands writes 100000 as 100,000.
func thousands(n int) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
