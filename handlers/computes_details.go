package handlers

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// ComputeDetails handles GET /computes/{name}: the details page, or for htmx
// the live state section.
func (h *Handlers) ComputeDetails(w http.ResponseWriter, r *http.Request) error {
	if alias := workspaceParam(r); alias != "" {
		return h.workspaceComputeDetails(w, r, alias, chi.URLParam(r, "name"))
	}
	return h.computeDetailsPage(w, r, chi.URLParam(r, "name"), r.URL.Query().Get("tab"), "", http.StatusOK)
}

// computeDetailsPage renders a target's page; secretsErr is why a
// credentials replacement was refused (shown by its form), with status.
func (h *Handlers) computeDetailsPage(w http.ResponseWriter, r *http.Request, name, tab, secretsErr string, status int) error {
	return h.renderDetails(w, r, name, tab, detailsExtras{secretsErr: secretsErr}, status)
}

// detailsExtras carry a refused form's values and errors back to the page.
type detailsExtras struct {
	secretsErr string
	scaleForm  *pages.ScaleFormVM
}

// renderDetails renders a target's page with a refused form's state.
func (h *Handlers) renderDetails(w http.ResponseWriter, r *http.Request, name, tab string, ex detailsExtras, status int) error {
	secretsErr := ex.secretsErr
	switch tab {
	case "nodes", "runs", "monitoring":
	default:
		tab = "details"
	}
	t, err := h.cfg.Store.GetTarget(r.Context(), name)
	if err != nil {
		if hx := r.Header.Get("HX-Target"); isHTMX(r) && (hx == "compute-live" || hx == "compute-actions") {
			// The target is gone (deleted while watched): take the user to the list.
			setFlash(w, name+" was deleted.")
			w.Header().Set("HX-Redirect", "/computes?tab="+url.QueryEscape(r.URL.Query().Get("back")))
			w.WriteHeader(http.StatusOK)
			return nil
		}
		return err
	}
	live := h.liveVM(r, t, tab)
	if isHTMX(r) {
		switch r.Header.Get("HX-Target") {
		case "compute-live":
			return h.render(w, r, http.StatusOK, pages.ComputeLive(live))
		case "compute-actions":
			return h.render(w, r, http.StatusOK, pages.ComputeActions(live))
		}
	}
	var runs *pages.RunsTableVM
	if tab == "runs" {
		table, err := h.targetRuns(r, t)
		if err != nil {
			return err
		}
		if isHTMX(r) && r.Header.Get("HX-Target") == "runs-table" {
			return h.render(w, r, http.StatusOK, pages.RunsTable(table))
		}
		runs = &table
	}
	base := "/computes/" + url.PathEscape(t.Name)
	vm := pages.ComputeDetailsVM{
		Name: t.Name, KindLabel: t.Kind.Label(), Tab: tab, Live: live,
		Runs:       runs,
		Partitions: h.partitionsVM(r.Context(), t),
		Tabs: []pages.TabVM{
			{ID: "details", Label: "Details", Href: base, Current: tab == "details"},
			{ID: "nodes", Label: "Nodes", Href: base + "?tab=nodes", Current: tab == "nodes"},
			{ID: "runs", Label: "Runs", Href: base + "?tab=runs", Current: tab == "runs"},
		},
	}
	if tab == "monitoring" || h.hasHistory(r.Context(), t) {
		vm.Tabs = append(vm.Tabs, pages.TabVM{ID: "monitoring", Label: "Monitoring", Href: base + "?tab=monitoring", Current: tab == "monitoring"})
	}
	if tab == "details" {
		vm.Scale = h.scaleVM(r.Context(), t, ex.scaleForm)
		vm.Price = h.priceForm(r, "", t)
	}
	if (t.Kind == compute.KindVirtualMachine || t.Kind == compute.KindHDInsight) && compute.UserFrom(r.Context()).Can(compute.RoleComputeOperator) &&
		t.ProvisioningState != compute.ProvisioningDeleting {
		vm.Secrets = &pages.SecretsFormVM{Action: base + "/update-secrets", Set: strings.Join(t.SecretsSet, ", "), Error: secretsErr}
	}
	listTab := t.Kind.Tab()
	label := map[string]string{}
	for _, ct := range computeTabs {
		label[ct.id] = ct.label
	}
	vm.Page = h.live(h.page(r, t.Name, "compute", []layout.Crumb{
		{Label: "Compute", Href: "/computes"}, {Label: label[listTab], Href: "/computes?tab=" + listTab}, {Label: t.Name},
	}), Watch{Computes: []string{t.Name}})
	return h.render(w, r, status, pages.ComputeDetails(vm))
}

func (h *Handlers) liveVM(r *http.Request, t *compute.Target, tab string) pages.ComputeLiveVM {
	story := compute.StoryOf(t)
	vm := pages.ComputeLiveVM{
		Name: t.Name, Tab: tab, State: story.State, StateSince: h.since(t), NextStep: story.NextStep,
		NodesText: nodesText(t),
		SelfURL:   "/computes/" + url.PathEscape(t.Name) + "?tab=" + tab + "&back=" + t.Kind.Tab(),
	}
	if t.Kind == compute.KindSlurm && t.Nodes.Current > 0 {
		vm.Counts = countsText(t.Nodes)
	}
	if t.Cluster != nil {
		vm.Counts = countsText(t.Nodes)
		if t.Cluster.AllocationState == "Resizing" {
			vm.NodesText += fmt.Sprintf(" (resizing to %d)", t.Cluster.TargetNodeCount)
		}
	}
	// One banner, from the target's story: a failed target shows its
	// errors; a usable one that stopped answering, Unusable; one never
	// reached, Not checked yet (compute.StoryOf).
	if t.ProvisioningState == compute.ProvisioningFailed {
		vm.Errors = t.ProvisioningErrors
		if len(vm.Errors) == 0 && story.Problem != "" {
			vm.Errors = []string{story.Problem}
		}
	}
	vm.StateLabel = "Provisioning state"
	if t.Instance != nil {
		vm.StateLabel = "State" // Studio's label on an instance's page
		h.instanceAccess(r, t, &vm)
	}
	if t.Kind.IsAttached() {
		vm.Health = story.Health
	}
	if t.Attach != nil && t.Attach.PendingHostKeyFingerprint != "" {
		vm.PendingHostKey = t.Attach.PendingHostKeyFingerprint
		if compute.UserFrom(r.Context()).Can(compute.RoleComputeOperator) {
			vm.ApproveURL = "/computes/" + url.PathEscape(t.Name) + "/approve-host-key"
		}
	}
	if story.State == compute.StateUnusable {
		vm.Unusable = story.Problem
	}
	if story.Health == compute.HealthUnchecked {
		vm.Unchecked = t.Attach.StatusMessage
		if vm.Unchecked == "" {
			vm.Unchecked = "Not checked yet: Trainyard has not connected to this target."
		}
	}
	if vm.StateSince != "" {
		vm.TickSeconds = 1
	}
	vm.Actions = actionsFor(compute.UserFrom(r.Context()), t)
	if tab == "details" {
		vm.Attributes = append(attributes(t), h.costAttributes(r.Context(), "", t)...)
	}
	if tab == "nodes" {
		vm.ShowNodes = true
		vm.Nodes = h.nodeRows(r, t)
	}
	if tab == "monitoring" {
		rangeID, _ := monitoringRange(r.URL.Query().Get("range"))
		vm.SelfURL += "&range=" + rangeID
		vm.Monitoring = h.monitoringVM(r.Context(), t, rangeID)
		// New samples announce themselves; the chart's time axis moves by
		// itself.
		vm.TickSeconds = max(vm.TickSeconds, 30)
	}
	return vm
}

func (h *Handlers) nodeRows(r *http.Request, t *compute.Target) []pages.NodeRowVM {
	b := h.cfg.Backends.Backend(t.Kind)
	if b == nil {
		return nil
	}
	nodes, err := b.Nodes(r.Context(), t)
	if err != nil {
		h.cfg.Logger.WarnContext(r.Context(), "list nodes", "target", t.Name, "err", err)
		return nil
	}
	out := make([]pages.NodeRowVM, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, nodeRow(t, n))
	}
	return h.realConnections(t, out)
}

// nodeRow is one row of the Nodes tab, the same columns for every kind.
func nodeRow(t *compute.Target, n compute.Node) pages.NodeRowVM {
	row := pages.NodeRowVM{ID: n.ID, State: string(n.State), PrivateIP: n.PrivateIP, PublicIP: n.PublicIP, RunID: n.RunID, Reason: n.Reason}
	host := n.PublicIP
	if host == "" {
		host = n.PrivateIP
	}
	row.Address = host
	if n.PrivateIP != "" && n.PublicIP != "" && n.PrivateIP != n.PublicIP {
		row.Address = n.PublicIP + " (private " + n.PrivateIP + ")"
	}
	if n.Port > 0 {
		row.Port = strconv.Itoa(n.Port)
		if host != "" {
			row.Address = net.JoinHostPort(host, row.Port)
		}
		user := "azureuser"
		switch {
		case t.Cluster != nil && t.Cluster.AdminUserName != "":
			user = t.Cluster.AdminUserName
		case t.Attach != nil && t.Attach.UserName != "":
			user = t.Attach.UserName
		}
		// A Slurm node's port is slurmd's, not an SSH server's: no
		// connection string there.
		if host != "" && t.Kind != compute.KindSlurm {
			row.Connection = fmt.Sprintf("ssh -p %d %s@%s", n.Port, user, host)
		}
	}
	if n.CPUs > 0 {
		row.CPUs = strconv.Itoa(n.CPUs)
	}
	if n.MemoryMB > 0 {
		row.Memory = fmt.Sprintf("%.1f GiB", float64(n.MemoryMB)/1024)
	}
	if n.CPUs > 0 || n.GPUs > 0 {
		row.GPUs = strconv.Itoa(n.GPUs)
	}
	if n.RunID != "" {
		row.RunURL = "/runs/" + url.PathEscape(n.RunID)
	}
	return row
}

// attributes is the Details tab's definition list.
func attributes(t *compute.Target) []pages.AttrVM {
	a := []pages.AttrVM{
		{Label: "Name", Value: t.Name},
		{Label: "Compute type", Value: t.Kind.Label() + " (" + string(t.Kind) + ")"},
		{Label: "Provisioning state", Value: string(t.ProvisioningState)},
		{Label: "Location", Value: t.Location},
		{Label: "Created by", Value: t.CreatedBy},
		{Label: "Created on", Value: formatTime(t.CreatedAt)},
		{Label: "Last operation", Value: lastOpText(t.LastOperation)},
	}
	if t.Description != "" {
		a = append(a, pages.AttrVM{Label: "Description", Value: t.Description})
	}
	if t.ResourceID != "" {
		a = append(a, pages.AttrVM{Label: "Resource ID", Value: t.ResourceID})
	}
	if c := t.Cluster; c != nil {
		a = append(a,
			pages.AttrVM{Label: "Virtual machine size", Value: sizeText(c.VMSize)},
			pages.AttrVM{Label: "Virtual machine tier", Value: tierText(t)},
			pages.AttrVM{Label: "Virtual machine type", Value: c.VMType},
			pages.AttrVM{Label: "Minimum nodes", Value: strconv.Itoa(c.MinNodes)},
			pages.AttrVM{Label: "Maximum nodes", Value: strconv.Itoa(c.MaxNodes)},
			pages.AttrVM{Label: "Idle seconds before scale down", Value: strconv.Itoa(c.IdleSecondsBeforeScaleDown)},
			pages.AttrVM{Label: "Allocation state", Value: c.AllocationState},
			pages.AttrVM{Label: "SSH admin user", Value: orNone(c.AdminUserName)},
			pages.AttrVM{Label: "Managed identity", Value: orNone(c.IdentityType)},
		)
	}
	if in := t.Instance; in != nil {
		idle := "Off"
		if in.IdleShutdownMinutes > 0 {
			idle = fmt.Sprintf("after %d minutes idle", in.IdleShutdownMinutes)
		}
		a = append(a,
			pages.AttrVM{Label: "Virtual machine size", Value: sizeText(in.VMSize)},
			pages.AttrVM{Label: "State", Value: string(in.State)},
			pages.AttrVM{Label: "Idle shutdown", Value: idle},
			pages.AttrVM{Label: "Schedules", Value: schedulesText(in.Schedules)},
			pages.AttrVM{Label: "SSH access", Value: map[bool]string{true: "Enabled (" + in.AdminUserName + ")", false: "Disabled"}[in.SSHEnabled]},
			pages.AttrVM{Label: "Assigned to", Value: orNone(in.AssignedUser)},
		)
	}
	if at := t.Attach; at != nil {
		if at.Address != "" {
			a = append(a, pages.AttrVM{Label: "Address", Value: at.Address}, pages.AttrVM{Label: "SSH port", Value: strconv.Itoa(at.SSHPort)})
		}
		for _, kv := range [][2]string{{"User name", at.UserName}, {"Databricks workspace", at.Workspace}, {"Resource group", at.ResourceGroup}, {"Account name", at.AccountName}, {"slurmrestd URL", at.RESTURL}, {"Slurm user", at.SlurmUser}, {"Slurm partition", at.SlurmPartition}, {"Shared directory", at.SharedDir}, {"slurm.conf", at.SlurmConf}} {
			if kv[1] != "" {
				a = append(a, pages.AttrVM{Label: kv[0], Value: kv[1]})
			}
		}
		a = append(a, pages.AttrVM{Label: "Connection checked", Value: map[bool]string{true: "Yes", false: "Not yet"}[at.Checked]})
	}
	if len(t.SecretsSet) > 0 {
		a = append(a, pages.AttrVM{Label: "Stored secrets", Value: strings.Join(t.SecretsSet, ", ") + " (set; never shown)"})
	}
	return a
}

func sizeText(name string) string {
	s, ok := compute.LookupVMSize(name)
	if !ok {
		return name
	}
	gpu := ""
	if s.GPUs > 0 {
		gpu = fmt.Sprintf(", %d× %s", s.GPUs, s.GPUModel)
	}
	return fmt.Sprintf("%s (%d vCPUs, %g GB RAM%s)", s.Name, s.VCPUs, s.MemoryGB, gpu)
}

func schedulesText(ss []compute.Schedule) string {
	if len(ss) == 0 {
		return "None"
	}
	parts := make([]string, 0, len(ss))
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%s at %s %s on %s", s.Action, s.Time, s.TimeZone, strings.Join(s.Days, ", ")))
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}
