package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// pageSize is how many targets one page of a list shows.
const pageSize = 25

var computeTabs = []struct{ id, label string }{
	{compute.TabInstances, "Compute instances"},
	{compute.TabClusters, "Compute clusters"},
	// Only Slurm is offered on this tab (there is no Kubernetes attach), so
	// the label says so; the id stays "slurm" so old links keep working.
	{compute.TabSlurm, "Slurm clusters"},
	{compute.TabAttached, "Attached computes"},
}

// listQuery is the state of a list in its URL.
type listQuery struct {
	tab    string
	q      string
	sort   string
	desc   bool
	offset int
}

func parseListQuery(v url.Values) listQuery {
	q := listQuery{tab: v.Get("tab"), q: v.Get("q"), sort: v.Get("sort"), desc: v.Get("desc") == "1"}
	switch q.tab {
	case compute.TabInstances, compute.TabClusters, compute.TabSlurm, compute.TabAttached:
	default:
		q.tab = compute.TabClusters
	}
	switch q.sort {
	case "name", "state", "vmSize", "created", "kind":
	default:
		q.sort = "name"
	}
	q.offset, _ = strconv.Atoi(v.Get("offset"))
	if q.offset < 0 {
		q.offset = 0
	}
	return q
}

func (q listQuery) url(change func(*listQuery)) string {
	c := q
	if change != nil {
		change(&c)
	}
	v := url.Values{"tab": {c.tab}}
	if c.q != "" {
		v.Set("q", c.q)
	}
	if c.sort != "name" {
		v.Set("sort", c.sort)
	}
	if c.desc {
		v.Set("desc", "1")
	}
	if c.offset > 0 {
		v.Set("offset", strconv.Itoa(c.offset))
	}
	return "/computes?" + v.Encode()
}

// ComputeList handles GET /computes: the full page, or only the table for
// htmx (search, sort, paging and the live poll).
func (h *Handlers) ComputeList(w http.ResponseWriter, r *http.Request) error {
	if alias := workspaceParam(r); alias != "" {
		return h.workspaceComputeList(w, r, alias)
	}
	q := parseListQuery(r.URL.Query())
	table, err := h.computeTable(r, q)
	if err != nil {
		return err
	}
	if isHTMX(r) && r.Header.Get("HX-Target") == "compute-table" {
		return h.render(w, r, http.StatusOK, pages.ComputeTable(table))
	}
	vm := pages.ComputeListVM{Table: table}
	if vm.Switcher, err = h.workspaceSwitcher(r.Context(), "", "/computes"); err != nil {
		return err
	}
	counts, err := h.cfg.Store.CountTargetsByKind(r.Context())
	if err != nil {
		return err
	}
	for _, t := range computeTabs {
		n := 0
		for _, k := range compute.KindsForTab(t.id) {
			n += counts[k]
		}
		vm.Tabs = append(vm.Tabs, pages.TabVM{ID: t.id, Label: t.label, Count: n, Current: t.id == q.tab, Href: "/computes?tab=" + t.id})
	}
	label := "Compute"
	for _, t := range computeTabs {
		if t.id == q.tab {
			label = t.label
		}
	}
	vm.Page = h.live(h.page(r, "Compute", "compute", []layout.Crumb{{Label: "Compute", Href: "/computes"}, {Label: label}}), Watch{AllComputes: true})
	vm.Bulk = true
	return h.render(w, r, http.StatusOK, pages.ComputeList(vm))
}

func (h *Handlers) computeTable(r *http.Request, q listQuery) (pages.ComputeTableVM, error) {
	targets, total, err := h.cfg.Store.ListTargets(r.Context(), compute.TargetFilter{
		Kinds: compute.KindsForTab(q.tab), Search: q.q, Sort: q.sort, Desc: q.desc, Offset: q.offset, Limit: pageSize,
	})
	if err != nil {
		return pages.ComputeTableVM{}, err
	}
	u := compute.UserFrom(r.Context())
	vm := pages.ComputeTableVM{Selectable: true,
		Tab: q.tab, Query: q.q, Sort: q.sort, Desc: q.desc, Offset: q.offset, Limit: pageSize, Total: total,
		CanCreate: u.Can(compute.RoleComputeOperator), SelfURL: q.url(nil),
		SortLinks: map[string]string{}, SortMarks: map[string]string{},
	}
	vm.NewActions, vm.EmptyText = newActionsFor(q.tab)
	for _, col := range []string{"name", "state", "vmSize", "created", "kind"} {
		col := col
		vm.SortLinks[col] = q.url(func(c *listQuery) { c.sort, c.desc, c.offset = col, c.sort == col && !c.desc, 0 })
		vm.SortMarks[col] = "none"
	}
	vm.SortMarks[q.sort] = map[bool]string{false: "ascending", true: "descending"}[q.desc]
	if q.offset > 0 {
		vm.PrevURL = q.url(func(c *listQuery) { c.offset = max(0, c.offset-pageSize) })
	}
	if q.offset+len(targets) < total {
		vm.NextURL = q.url(func(c *listQuery) { c.offset += pageSize })
	}
	for _, t := range targets {
		if h.since(t) != "" {
			vm.TickSeconds = 1
		}
		vm.Rows = append(vm.Rows, pages.ComputeRowVM{
			Name: t.Name, Href: "/computes/" + url.PathEscape(t.Name), KindLabel: t.Kind.Label(),
			State: displayState(t), StateSince: h.since(t), VMSize: t.VMSizeName(), Tier: tierText(t), Allocation: allocationText(t),
			Nodes: nodesText(t), Counts: clusterCounts(t), Address: addressText(t),
			CreatedBy: t.CreatedBy, CreatedOn: formatTime(t.CreatedAt), LastOp: lastOpText(t.LastOperation),
			Actions: actionsFor(u, t), Checked: slices.Contains(r.URL.Query()["sel"], t.Name), Apps: h.appLinks(u, t),
		})
	}
	return vm, nil
}

func newActionsFor(tab string) ([]pages.LinkVM, string) {
	switch tab {
	case compute.TabInstances:
		return []pages.LinkVM{{Label: "+ New", Href: "/computes/new/instance"}},
			"Compute instances are personal workstations for notebooks and development. You have none yet."
	case compute.TabSlurm:
		return []pages.LinkVM{{Label: "+ Attach Slurm cluster", Href: "/computes/attach/slurm"}},
			"Attach a Slurm cluster to run training jobs on its partitions. None is attached yet."
	case compute.TabAttached:
		return []pages.LinkVM{{Label: "+ Attach", Href: "/computes/attach/virtualmachine"}},
			"Attached computes are machines and services that already exist: Linux VMs, HDInsight, Databricks, Data Lake Analytics, Azure Batch. None is attached yet."
	}
	return []pages.LinkVM{{Label: "+ New", Href: "/computes/new/cluster"}},
		"Compute clusters scale nodes up for training runs and back down when idle. You have none yet."
}

// actionsFor lists the row actions the user may take on a target.
func actionsFor(u *compute.User, t *compute.Target) []pages.ActionVM {
	if t.IsBuiltin() || t.ProvisioningState == compute.ProvisioningDeleting {
		return nil
	}
	base := "/computes/" + url.PathEscape(t.Name) + "/"
	var out []pages.ActionVM
	if t.Instance != nil && canUseInstance(u, t) && t.ProvisioningState == compute.ProvisioningSucceeded {
		switch t.Instance.State {
		case compute.InstanceStopped:
			out = append(out, pages.ActionVM{Label: "Start", Path: base + "start"})
		case compute.InstanceRunning, compute.InstanceJobRunning:
			out = append(out,
				pages.ActionVM{Label: "Stop", Path: base + "stop", Confirm: fmt.Sprintf("Stop %s? Running notebooks and jobs on it are stopped.", t.Name)},
				pages.ActionVM{Label: "Restart", Path: base + "restart", Confirm: fmt.Sprintf("Restart %s? Running notebooks and jobs on it are stopped.", t.Name)})
		}
	}
	if !u.Can(compute.RoleComputeOperator) {
		return out
	}
	if t.Kind.IsAttached() {
		return append(out, pages.ActionVM{Label: "Detach", Path: base + "detach", Danger: true,
			Confirm: fmt.Sprintf("Detach %s? Trainyard forgets it and its stored credentials; the machine itself is not touched.", t.Name)})
	}
	what := "its workspace"
	if t.Cluster != nil {
		what = fmt.Sprintf("its %d node(s) and any running jobs", t.Nodes.Current)
	}
	return append(out, pages.ActionVM{Label: "Delete", Path: base + "delete", Danger: true,
		Confirm: fmt.Sprintf("Delete %s? This removes %s. It cannot be undone.", t.Name, what)})
}

func clusterCounts(t *compute.Target) string {
	if t.Cluster == nil && (t.Kind != compute.KindSlurm || t.Nodes.Current == 0) {
		return ""
	}
	return countsText(t.Nodes)
}

// allocationText is a cluster's allocation state as Studio lists it:
// Steady, or Resizing while its node count moves ("" for other kinds).
func allocationText(t *compute.Target) string {
	if t.Cluster == nil {
		return ""
	}
	if t.Cluster.AllocationState == "" {
		return "Steady"
	}
	return t.Cluster.AllocationState
}
