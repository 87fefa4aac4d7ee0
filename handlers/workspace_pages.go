package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/compute/azure"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// The compute pages of a registered Azure ML workspace: the same URLs as
// the local pages with ?workspace=ALIAS (/computes, /computes/{name}, the
// row actions and the create wizards), rendered from the cache of what ARM
// last said, with when that was.

// workspaceParam is the workspace a page is about: "" for the local one.
func workspaceParam(r *http.Request) string {
	ws := r.URL.Query().Get("workspace")
	if ws == compute.LocalWorkspace {
		return ""
	}
	return ws
}

// withWorkspace adds ?workspace=alias (or &workspace=) to a local path.
func withWorkspace(path, alias string) string {
	if alias == "" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "workspace=" + url.QueryEscape(alias)
}

// workspaceSwitcher lists the local workspace and every registered one, as
// tabs linking to path in each.
func (h *Handlers) workspaceSwitcher(ctx context.Context, current, path string) ([]pages.TabVM, error) {
	all, err := h.cfg.Store.Workspaces(ctx)
	if err != nil {
		return nil, err
	}
	out := []pages.TabVM{{ID: "ws-" + compute.LocalWorkspace, Label: "local", Href: path, Current: current == ""}}
	for _, ws := range all {
		out = append(out, pages.TabVM{ID: "ws-" + ws.Alias, Label: ws.Alias, Href: withWorkspace(path, ws.Alias), Current: ws.Alias == current})
	}
	return out, nil
}

// asOfText is when ARM was last read, as the pages show it.
func asOfText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("15:04:05")
}

// transitional reports whether ARM's operation on t is still under way.
func transitional(t *compute.Target) bool {
	switch t.ProvisioningState {
	case compute.ProvisioningCreating, compute.ProvisioningUpdating, compute.ProvisioningDeleting:
		return true
	}
	if t.Instance != nil {
		switch t.Instance.State {
		case compute.InstanceCreating, compute.InstanceStarting, compute.InstanceStopping, compute.InstanceRestarting, compute.InstanceDeleting:
			return true
		}
	}
	return false
}

// workspaceComputeList renders GET /computes?workspace=ALIAS[&refresh=1].
func (h *Handlers) workspaceComputeList(w http.ResponseWriter, r *http.Request, alias string) error {
	ws, err := h.cfg.Store.Workspace(r.Context(), alias)
	if err != nil {
		return err
	}
	if h.cfg.Azure == nil {
		return &compute.CodedError{Kind: compute.ErrUnavailable, Code: "AzureNotConfigured", Message: "This server has no Azure configuration."}
	}
	cred := h.azureCredential(r)
	q := parseListQuery(r.URL.Query())
	if r.URL.Query().Get("refresh") == "1" {
		// A failed read is recorded in the snapshot and shown; the cached
		// rows stay.
		_ = h.cfg.Azure.Refresh(r.Context(), ws, cred)
	}
	snap, err := h.cfg.Azure.Snapshot(r.Context(), ws, cred)
	if err != nil && snap.AsOf.IsZero() {
		snap.Error = err.Error()
	}
	var all []*compute.Target
	for _, c := range snap.Computes {
		if t, err := azure.ToTarget(c.Body); err == nil {
			all = append(all, t)
		}
	}
	table := h.workspaceTable(r, alias, q, all)
	if isHTMX(r) && r.Header.Get("HX-Target") == "compute-table" {
		return h.render(w, r, http.StatusOK, pages.ComputeTable(table))
	}
	vm := pages.ComputeListVM{Table: table, Azure: &pages.AzureReadVM{AsOf: asOfText(snap.AsOf), Error: snap.Error,
		RefreshTo: withWorkspace(q.url(nil), alias) + "&refresh=1"}}
	if vm.Switcher, err = h.workspaceSwitcher(r.Context(), alias, "/computes"); err != nil {
		return err
	}
	for _, tab := range computeTabs {
		n := 0
		for _, t := range all {
			if t.Kind.Tab() == tab.id {
				n++
			}
		}
		vm.Tabs = append(vm.Tabs, pages.TabVM{ID: tab.id, Label: tab.label, Count: n, Current: tab.id == q.tab, Href: withWorkspace("/computes?tab="+tab.id, alias)})
	}
	vm.Page = h.page(r, "Compute", "compute", []layout.Crumb{{Label: "Compute", Href: "/computes"}, {Label: alias}})
	return h.render(w, r, http.StatusOK, pages.ComputeList(vm))
}

// workspaceTable is one tab of a workspace's list: filtered, sorted and
// paged here, since the cache holds one workspace's computes.
func (h *Handlers) workspaceTable(r *http.Request, alias string, q listQuery, all []*compute.Target) pages.ComputeTableVM {
	var rows []*compute.Target
	needle := strings.ToLower(q.q)
	for _, t := range all {
		if t.Kind.Tab() != q.tab {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(t.Name+" "+t.VMSizeName()+" "+string(t.Kind)), needle) {
			continue
		}
		rows = append(rows, t)
	}
	key := func(t *compute.Target) string {
		switch q.sort {
		case "state":
			return displayState(t)
		case "vmSize":
			return t.VMSizeName()
		case "created":
			return t.CreatedAt.UTC().Format(time.RFC3339Nano)
		case "kind":
			return string(t.Kind)
		}
		return strings.ToLower(t.Name)
	}
	slices.SortStableFunc(rows, func(a, b *compute.Target) int {
		c := strings.Compare(key(a), key(b))
		if q.desc {
			c = -c
		}
		return c
	})
	u := compute.UserFrom(r.Context())
	self := func(change func(*listQuery)) string { return withWorkspace(q.url(change), alias) }
	vm := pages.ComputeTableVM{
		Tab: q.tab, Query: q.q, Sort: q.sort, Desc: q.desc, Offset: q.offset, Limit: pageSize, Total: len(rows),
		CanCreate: u.Can(compute.RoleComputeOperator), SelfURL: self(nil), TickSeconds: 5,
		SortLinks: map[string]string{}, SortMarks: map[string]string{},
	}
	vm.NewActions, vm.EmptyText = newActionsFor(q.tab)
	vm.NewActions = workspaceNewActions(vm.NewActions, q.tab, alias)
	for _, col := range []string{"name", "state", "vmSize", "created", "kind"} {
		vm.SortLinks[col] = self(func(c *listQuery) { c.sort, c.desc, c.offset = col, c.sort == col && !c.desc, 0 })
		vm.SortMarks[col] = "none"
	}
	vm.SortMarks[q.sort] = map[bool]string{false: "ascending", true: "descending"}[q.desc]
	if q.offset > 0 {
		vm.PrevURL = self(func(c *listQuery) { c.offset = max(0, c.offset-pageSize) })
	}
	end := min(q.offset+pageSize, len(rows))
	if end < len(rows) {
		vm.NextURL = self(func(c *listQuery) { c.offset += pageSize })
	}
	for _, t := range rows[min(q.offset, len(rows)):end] {
		if transitional(t) {
			// ARM's operations are followed by this server, not announced
			// by the store: the table reads the cache every second meanwhile.
			vm.TickSeconds = 1
		}
		actions := actionsFor(u, t)
		for i := range actions {
			actions[i].Path = withWorkspace(actions[i].Path, alias)
		}
		vm.Rows = append(vm.Rows, pages.ComputeRowVM{
			Name: t.Name, Href: withWorkspace("/computes/"+url.PathEscape(t.Name), alias), KindLabel: t.Kind.Label(),
			State: displayState(t), VMSize: t.VMSizeName(), Tier: tierText(t), Nodes: nodesText(t), Counts: clusterCounts(t),
			Address: t.ResourceID, CreatedBy: t.CreatedBy, CreatedOn: formatTime(t.CreatedAt), LastOp: lastOpText(t.LastOperation),
			Actions: actions,
		})
	}
	return vm
}

// workspaceNewActions keeps the create wizards (clusters, instances) and
// the attach form (Attached compute) for a workspace, pointed at it; Slurm
// clusters are Trainyard's own and cannot be attached to Azure.
func workspaceNewActions(local []pages.LinkVM, tab, alias string) []pages.LinkVM {
	if tab == compute.TabSlurm {
		return nil
	}
	out := make([]pages.LinkVM, 0, len(local))
	for _, a := range local {
		out = append(out, pages.LinkVM{Label: a.Label, Href: withWorkspace(a.Href, alias)})
	}
	return out
}

// workspaceComputeDetails renders GET /computes/{name}?workspace=ALIAS.
func (h *Handlers) workspaceComputeDetails(w http.ResponseWriter, r *http.Request, alias, name string) error {
	ws, err := h.workspaceOfAlias(r.Context(), alias)
	if err != nil {
		return err
	}
	cred := h.azureCredential(r)
	c, err := h.cfg.Azure.Get(r.Context(), ws, cred, name)
	if err != nil {
		return err
	}
	t, err := azure.ToTarget(c.Body)
	if err != nil {
		return err
	}
	tab := r.URL.Query().Get("tab")
	if tab != "nodes" {
		tab = "details"
	}
	self := withWorkspace("/computes/"+url.PathEscape(name), alias)
	live := pages.WorkspaceLiveVM{SelfURL: withWorkspace("/computes/"+url.PathEscape(name)+"?tab="+tab, alias), PollSeconds: 5,
		State: displayState(t), AsOf: asOfText(c.UpdatedAt), Errors: t.ProvisioningErrors, OpError: c.OpError}
	if transitional(t) {
		live.PollSeconds = 1
	}
	if tab == "details" {
		live.Attributes = append(workspaceAttributes(ws, t, c.Body), h.costAttributes(r.Context(), alias, t)...)
	}
	if isHTMX(r) && r.Header.Get("HX-Target") == "compute-live" {
		return h.render(w, r, http.StatusOK, pages.WorkspaceLive(live))
	}
	vm := pages.WorkspaceComputeDetailsVM{Alias: alias, Name: name, KindLabel: t.Kind.Label(), Tab: tab, Live: live}
	if tab == "details" {
		vm.Price = h.priceForm(r, alias, t)
	}
	if vm.Switcher, err = h.workspaceSwitcher(r.Context(), alias, "/computes"); err != nil {
		return err
	}
	vm.Tabs = []pages.TabVM{
		{ID: "details", Label: "Details", Href: self, Current: tab == "details"},
		{ID: "nodes", Label: "Nodes", Href: withWorkspace("/computes/"+url.PathEscape(name)+"?tab=nodes", alias), Current: tab == "nodes"},
	}
	vm.Actions = actionsFor(compute.UserFrom(r.Context()), t)
	for i := range vm.Actions {
		vm.Actions[i].Path = withWorkspace(vm.Actions[i].Path, alias)
	}
	if tab == "nodes" {
		nodes, err := h.cfg.Azure.Nodes(r.Context(), ws, cred, name)
		if err != nil {
			vm.NodesError = err.Error()
		}
		for _, n := range nodes {
			port := ""
			if n.Port > 0 {
				port = strconv.Itoa(n.Port)
			}
			vm.Nodes = append(vm.Nodes, pages.NodeRowVM{ID: n.ID, State: string(n.State), PrivateIP: n.PrivateIP, PublicIP: n.PublicIP, Port: port, RunID: n.RunID})
		}
	}
	vm.Page = h.page(r, name, "compute", []layout.Crumb{{Label: "Compute", Href: "/computes"}, {Label: alias, Href: withWorkspace("/computes?tab="+t.Kind.Tab(), alias)}, {Label: name}})
	return h.render(w, r, http.StatusOK, pages.WorkspaceComputeDetails(vm))
}

// workspaceAttributes is the Details list of a workspace's compute.
func workspaceAttributes(ws compute.Workspace, t *compute.Target, raw json.RawMessage) []pages.AttrVM {
	var env struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &env)
	attrs := []pages.AttrVM{
		{Label: "Workspace", Value: ws.Alias + " (" + ws.ResourceID() + ")"},
		{Label: "Resource ID", Value: env.ID},
		{Label: "Compute type", Value: t.Kind.Label()},
		{Label: "Provisioning state", Value: string(t.ProvisioningState)},
		{Label: "Location", Value: t.Location},
		{Label: "Created on", Value: formatTime(t.CreatedAt)},
	}
	if t.Description != "" {
		attrs = append(attrs, pages.AttrVM{Label: "Description", Value: t.Description})
	}
	if c := t.Cluster; c != nil {
		attrs = append(attrs,
			pages.AttrVM{Label: "Virtual machine size", Value: c.VMSize},
			pages.AttrVM{Label: "Tier", Value: tierText(t)},
			pages.AttrVM{Label: "Nodes (current / min / max)", Value: nodesText(t)},
			pages.AttrVM{Label: "Idle seconds before scale down", Value: strconv.Itoa(c.IdleSecondsBeforeScaleDown)},
			pages.AttrVM{Label: "Allocation state", Value: c.AllocationState})
	}
	if i := t.Instance; i != nil {
		attrs = append(attrs, pages.AttrVM{Label: "Virtual machine size", Value: i.VMSize}, pages.AttrVM{Label: "State", Value: string(i.State)})
		if i.AssignedUser != "" {
			attrs = append(attrs, pages.AttrVM{Label: "Assigned to", Value: i.AssignedUser})
		}
		attrs = append(attrs, pages.AttrVM{Label: "SSH", Value: map[bool]string{true: "Enabled", false: "Disabled"}[i.SSHEnabled]})
	}
	if t.ResourceID != "" {
		attrs = append(attrs, pages.AttrVM{Label: "Underlying resource", Value: t.ResourceID})
	}
	return attrs
}

// workspaceOfAlias is the registered workspace, and that Azure is set up.
func (h *Handlers) workspaceOfAlias(ctx context.Context, alias string) (compute.Workspace, error) {
	ws, err := h.cfg.Store.Workspace(ctx, alias)
	if err != nil {
		return ws, err
	}
	if h.cfg.Azure == nil {
		return ws, &compute.CodedError{Kind: compute.ErrUnavailable, Code: "AzureNotConfigured", Message: "This server has no Azure configuration."}
	}
	return ws, nil
}

// workspaceComputeAction handles POST /computes/{name}/{action}?workspace=ALIAS
// (start, stop, restart, delete, detach) from the pages.
func (h *Handlers) workspaceComputeAction(w http.ResponseWriter, r *http.Request, alias, name, action string) (err error) {
	defer func() { h.audit(r, action, auditObject("compute", alias+"/"+name), err) }()
	ws, err := h.workspaceOfAlias(r.Context(), alias)
	if err != nil {
		return err
	}
	cred := h.azureCredential(r)
	t, err := h.azureTarget(r, ws, cred, name)
	if err != nil {
		return err
	}
	flash := ""
	switch action {
	case "start", "stop", "restart":
		if t.Instance == nil {
			return compute.Conflictf("OperationNotSupported", "name", "%s is a %s; only compute instances can be started, stopped or restarted.", name, t.Kind.Label())
		}
		if !canUseInstance(compute.UserFrom(r.Context()), t) {
			return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed", Message: "Only the user this compute instance is assigned to can use it."}
		}
		err = h.cfg.Azure.Power(r.Context(), ws, cred, name, compute.PowerAction(action))
		flash = name + ": " + action + " requested."
	case "delete", "detach":
		if err := require(r, compute.RoleComputeOperator); err != nil {
			return err
		}
		err = h.cfg.Azure.Delete(r.Context(), ws, cred, name, map[bool]string{true: "Detach", false: "Delete"}[action == "detach"])
		flash = name + " is being " + map[bool]string{true: "detached", false: "deleted"}[action == "detach"] + "."
	default:
		return compute.NotFoundf("action", "Unknown action %q.", action)
	}
	if err != nil {
		return err
	}
	if isHTMX(r) {
		w.Header().Set("HX-Trigger", "computes-changed")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	back := withWorkspace("/computes/"+url.PathEscape(name), alias)
	if action == "delete" || action == "detach" {
		back = withWorkspace("/computes?tab="+t.Kind.Tab(), alias)
	}
	setFlash(w, flash)
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// createInWorkspace is the wizards' Create for a workspace: the request
// becomes ARM's body (with the admin password the wizard kept server-side)
// and goes to ARM as the user; the page then shows it Creating.
func (h *Handlers) createInWorkspace(r *http.Request, alias string, req *compute.CreateRequest) (err error) {
	defer func() { h.audit(r, "create", auditObject("compute", alias+"/"+req.Name), err) }()
	ws, err := h.workspaceOfAlias(r.Context(), alias)
	if err != nil {
		return err
	}
	if !azureFormKind(req.Kind) {
		return compute.Invalid("computeType", "Attach a %s to an Azure ML workspace through the API (PUT /api/v1/workspaces/%s/computes/NAME) or Azure itself; the forms create clusters and instances and attach VMs and HDInsight clusters.", req.Kind.Label(), alias)
	}
	if err := req.Validate(); err != nil {
		return err
	}
	if req.Kind.IsAttached() && req.ResourceID == "" {
		// ARM attaches an existing resource by its ID (Compute_CreateOrUpdate).
		return compute.Invalid(compute.FieldResourceID, "Give the Azure resource ID of the %s to attach, e.g. /subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/virtualMachines/NAME.", strings.ToLower(req.Kind.Label()))
	}
	t := &compute.Target{Name: req.Name, Kind: req.Kind, Description: req.Description, Location: h.workspaceRegion(r.Context(), ws, req.Location),
		Cluster: req.Cluster, Instance: req.Instance, Attach: req.Attach, ResourceID: req.ResourceID}
	if t.Instance != nil && t.Instance.AssignedUser == "" {
		if u := compute.UserFrom(r.Context()); u != nil {
			t.Instance.AssignedUser = u.ID
		}
	}
	c := arm.FromTarget(t, ws.ComputesID())
	c.Properties.ProvisioningState, c.Properties.IsAttachedCompute = "", false
	if pw := req.Secrets[compute.SecretAdminPassword]; pw != "" && req.Cluster != nil {
		inner, err := c.Properties.Inner()
		if err != nil {
			return err
		}
		if p, ok := inner.(*arm.AmlComputeProperties); ok {
			if p.UserAccountCredentials == nil {
				p.UserAccountCredentials = &arm.UserAccountCredentials{}
			}
			p.UserAccountCredentials.AdminUserPassword = pw
			if err := c.Properties.SetInner(p); err != nil {
				return err
			}
		}
	}
	if req.Kind.IsAttached() {
		if err := withAdminSecrets(&c, req.Secrets); err != nil {
			return err
		}
	}
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", req.Name, err)
	}
	_, err = h.cfg.Azure.Create(r.Context(), ws, h.azureCredential(r), req.Name, body)
	return err
}

// wizardQuota is the quota panel of a wizard's review step for a
// workspace: usage and limits of the chosen size's family in the region,
// the workspace's own quota, and a warning when the request would exceed one.
func (h *Handlers) wizardQuota(r *http.Request, alias string, req *compute.CreateRequest) *pages.QuotaVM {
	ws, err := h.workspaceOfAlias(r.Context(), alias)
	if err != nil {
		return &pages.QuotaVM{Error: err.Error()}
	}
	size, nodes, low := "", 1, false
	switch {
	case req.Cluster != nil:
		size, nodes, low = req.Cluster.VMSize, req.Cluster.MaxNodes, req.Cluster.VMPriority == compute.LowPriority
	case req.Instance != nil:
		size = req.Instance.VMSize
	default:
		return nil
	}
	region := h.workspaceRegion(r.Context(), ws, req.Location)
	if region == "" {
		return &pages.QuotaVM{Error: "the workspace's region is not known yet; choose a location"}
	}
	q, err := h.cfg.Azure.Quota(r.Context(), ws, h.azureCredential(r), region, size, low, nodes)
	if err != nil {
		return &pages.QuotaVM{Error: err.Error()}
	}
	limit := func(n int) string {
		if n < 0 {
			return "no limit of its own"
		}
		return strconv.Itoa(n)
	}
	vm := &pages.QuotaVM{Warning: q.Exceeds(), Lines: []pages.AttrVM{
		{Label: "Size", Value: fmt.Sprintf("%s: %d vCPUs, family %s", q.VMSize, q.VCPUs, q.Family)},
		{Label: "This request", Value: fmt.Sprintf("up to %d vCPUs (%d node(s))", q.Requested, max(nodes, 1))},
		{Label: q.FamilyUsage + " in " + q.Region, Value: fmt.Sprintf("%d used, limit %s", q.FamilyUsed, limit(q.FamilyLimit))},
		{Label: "Total " + q.Tier + " vCPUs in " + q.Region, Value: fmt.Sprintf("%d used, limit %s", q.TotalUsed, limit(q.TotalLimit))},
		{Label: "Workspace quota", Value: limit(q.WorkspaceLimit)},
	}}
	if s, ok := compute.LookupVMSize(size); ok {
		prio := compute.Dedicated
		if low {
			prio = compute.LowPriority
		}
		each := s.Price(prio)
		vm.Lines = append(vm.Lines, pages.AttrVM{Label: "Estimated price", Value: fmt.Sprintf("$%.2f a node-hour, up to $%.2f an hour at %d node(s) (Trainyard's size catalogue, Linux, an estimate)", each, each*float64(max(nodes, 1)), max(nodes, 1))})
	}
	return vm
}

// workspaceRegion is where a wizard's compute goes: the location typed in
// the form, unless it is the local default, else the workspace's region as
// its computes say.
func (h *Handlers) workspaceRegion(ctx context.Context, ws compute.Workspace, typed string) string {
	if typed != "" && typed != h.cfg.Location {
		return typed
	}
	return h.cfg.Azure.Region(ctx, ws)
}

// azureFormKind reports whether the pages' forms create or attach kind in
// an Azure ML workspace: clusters and instances, and the attached kinds
// whose form asks for what ARM needs (the resource ID, the SSH account).
func azureFormKind(kind compute.Kind) bool {
	switch kind {
	case compute.KindCluster, compute.KindInstance, compute.KindVirtualMachine, compute.KindHDInsight:
		return true
	}
	return false
}

// withAdminSecrets puts an attached VM's or HDInsight cluster's SSH
// credentials into the ARM body's administratorAccount (write-only there:
// ARM never returns them, and arm.FromTarget never writes them).
func withAdminSecrets(c *arm.Compute, secrets map[string]string) error {
	inner, err := c.Properties.Inner()
	if err != nil {
		return err
	}
	var acct **arm.AdministratorAccount
	switch p := inner.(type) {
	case *arm.VirtualMachineProperties:
		acct = &p.AdministratorAccount
	case *arm.HDInsightProperties:
		acct = &p.AdministratorAccount
	default:
		return nil
	}
	if *acct == nil {
		*acct = &arm.AdministratorAccount{}
	}
	(*acct).Password, (*acct).PrivateKeyData = secrets[compute.SecretPassword], secrets[compute.SecretPrivateKey]
	(*acct).PrivateKeyPassphrase = secrets[compute.SecretPassphrase]
	return c.Properties.SetInner(inner)
}
