package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/compute/azure"
)

// /api/v1/workspaces/{alias}/computes mirrors /api/v1/computes for a
// registered Azure ML workspace: bodies are ARM's own JSON (what ARM last
// said, from the cache), changes go to ARM as the caller, and long-running
// operations are followed in the background, so a GET shows Creating,
// Deleting, Stopping… until ARM says they ended.

// azureCredential is the credential ARM is called with for this request:
// the signed-in user's delegated one when they have it, else the service
// principal (nil).
func (h *Handlers) azureCredential(r *http.Request) azcore.TokenCredential {
	if h.cfg.AzureCredential == nil {
		return nil
	}
	return h.cfg.AzureCredential(r.Context(), compute.UserFrom(r.Context()))
}

// workspaceComputeList is the list body: ARM's shape plus when the cache
// last read ARM in full and why that read failed, if it did.
type workspaceComputeList struct {
	Value        []json.RawMessage `json:"value"`
	AsOf         time.Time         `json:"asOf,omitzero"`
	RefreshError string            `json:"refreshError,omitempty"`
}

// APIListWorkspaceComputes handles GET /api/v1/workspaces/{alias}/computes
// [?refresh=true]: every compute from the cache (read from ARM first when
// never read, or when refresh=true).
func (h *Handlers) APIListWorkspaceComputes(w http.ResponseWriter, r *http.Request) error {
	ws, err := h.workspaceOf(r)
	if err != nil {
		return err
	}
	cred := h.azureCredential(r)
	if r.URL.Query().Get("refresh") == "true" {
		if err := h.cfg.Azure.Refresh(r.Context(), ws, cred); err != nil {
			return err
		}
	}
	snap, err := h.cfg.Azure.Snapshot(r.Context(), ws, cred)
	if err != nil {
		return err
	}
	out := workspaceComputeList{Value: []json.RawMessage{}, AsOf: snap.AsOf, RefreshError: snap.Error}
	for _, c := range snap.Computes {
		out.Value = append(out.Value, c.Body)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// APIGetWorkspaceCompute handles GET /api/v1/workspaces/{alias}/computes/{name}.
func (h *Handlers) APIGetWorkspaceCompute(w http.ResponseWriter, r *http.Request) error {
	ws, err := h.workspaceOf(r)
	if err != nil {
		return err
	}
	c, err := h.cfg.Azure.Get(r.Context(), ws, h.azureCredential(r), chi.URLParam(r, "name"))
	if err != nil {
		return err
	}
	body := c.Body
	if t, err := azure.ToTarget(c.Body); err == nil {
		cost, err := h.cfg.Store.CostOf(r.Context(), ws.Alias, t)
		if err != nil {
			return err
		}
		body = withCost(body, cost)
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// APIPutWorkspaceCompute handles PUT …/computes/{name}: the body goes to ARM
// (Compute_CreateOrUpdate); 201 with the compute as ARM then says it is.
func (h *Handlers) APIPutWorkspaceCompute(w http.ResponseWriter, r *http.Request) (err error) {
	name := chi.URLParam(r, "name")
	defer func() { h.audit(r, "create", auditObject("compute", chi.URLParam(r, "alias")+"/"+name), err) }()
	ws, err := h.workspaceOf(r)
	if err != nil {
		return err
	}
	body, err := readRaw(w, r, maxBodyBytes)
	if err != nil {
		return err
	}
	c, err := h.cfg.Azure.Create(r.Context(), ws, h.azureCredential(r), name, body)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/workspaces/"+url.PathEscape(ws.Alias)+"/computes/"+url.PathEscape(name))
	writeJSON(w, http.StatusCreated, c.Body)
	return nil
}

// APIDeleteWorkspaceCompute handles DELETE …/computes/{name}
// [?underlyingResourceAction=Delete|Detach] → 202; without the parameter,
// attached computes are detached and the others deleted.
func (h *Handlers) APIDeleteWorkspaceCompute(w http.ResponseWriter, r *http.Request) (err error) {
	name := chi.URLParam(r, "name")
	defer func() { h.audit(r, "delete", auditObject("compute", chi.URLParam(r, "alias")+"/"+name), err) }()
	ws, err := h.workspaceOf(r)
	if err != nil {
		return err
	}
	cred := h.azureCredential(r)
	action := r.URL.Query().Get("underlyingResourceAction")
	if action == "" {
		t, err := h.azureTarget(r, ws, cred, name)
		if err != nil {
			return err
		}
		action = map[bool]string{true: "Detach", false: "Delete"}[t.Kind.IsAttached()]
	}
	if err := h.cfg.Azure.Delete(r.Context(), ws, cred, name, action); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// azureTarget is a workspace's compute as the pages and object checks see it.
func (h *Handlers) azureTarget(r *http.Request, ws compute.Workspace, cred azcore.TokenCredential, name string) (*compute.Target, error) {
	c, err := h.cfg.Azure.Get(r.Context(), ws, cred, name)
	if err != nil {
		return nil, err
	}
	return azure.ToTarget(c.Body)
}

// routeCompute reads the route's workspace and its compute name as the
// caller sees them, with the caller's credential.
func (h *Handlers) routeCompute(r *http.Request, name string) (compute.Workspace, azcore.TokenCredential, *compute.Target, error) {
	ws, err := h.workspaceOf(r)
	if err != nil {
		return ws, nil, nil, err
	}
	cred := h.azureCredential(r)
	t, err := h.azureTarget(r, ws, cred, name)
	return ws, cred, t, err
}

// APIWorkspacePower handles POST …/computes/{name}/start|stop|restart → 202.
// As for local instances, only the instance's assigned user (or a
// ComputeOperator) may, whatever ARM would allow the service principal.
func (h *Handlers) APIWorkspacePower(w http.ResponseWriter, r *http.Request) (err error) {
	name, a := chi.URLParam(r, "name"), compute.PowerAction(chi.URLParam(r, "action"))
	defer func() { h.audit(r, string(a), auditObject("compute", chi.URLParam(r, "alias")+"/"+name), err) }()
	if u := compute.UserFrom(r.Context()); !u.Can(compute.RoleDataScientist) && !u.Can(compute.RoleComputeOperator) {
		if err := require(r, compute.RoleDataScientist); err != nil {
			return err
		}
	}
	ws, cred, t, err := h.routeCompute(r, name)
	if err != nil {
		return err
	}
	if t.Instance == nil {
		return compute.Conflictf("OperationNotSupported", "name", "%s is a %s; only compute instances can be started, stopped or restarted.", name, t.Kind.Label())
	}
	if err := h.mayUseInstance(r, t); err != nil {
		return err
	}
	if err := h.cfg.Azure.Power(r.Context(), ws, cred, name, a); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// APIWorkspaceListNodes handles POST …/computes/{name}/listNodes.
func (h *Handlers) APIWorkspaceListNodes(w http.ResponseWriter, r *http.Request) error {
	ws, err := h.workspaceOf(r)
	if err != nil {
		return err
	}
	nodes, err := h.cfg.Azure.Nodes(r.Context(), ws, h.azureCredential(r), chi.URLParam(r, "name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, arm.FromNodes(nodes))
	return nil
}

// APIWorkspaceUpdateScale handles POST …/computes/{name}/updateScaleSettings
// {"scaleSettings":{…}} (PATCH in ARM); fields left out keep their value.
func (h *Handlers) APIWorkspaceUpdateScale(w http.ResponseWriter, r *http.Request) (err error) {
	name := chi.URLParam(r, "name")
	defer func() { h.audit(r, "update", auditObject("compute", chi.URLParam(r, "alias")+"/"+name), err) }()
	var req updateScaleRequest
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	ws, cred, t, err := h.routeCompute(r, name)
	if err != nil {
		return err
	}
	if t.Cluster == nil {
		return compute.Conflictf("OperationNotSupported", "name", "%s is a %s; only compute clusters have scale settings.", name, t.Kind.Label())
	}
	s := compute.ScaleSettings{MinNodes: t.Cluster.MinNodes, MaxNodes: t.Cluster.MaxNodes, IdleSeconds: t.Cluster.IdleSecondsBeforeScaleDown}
	if ss := req.ScaleSettings; ss != nil {
		if ss.MinNodeCount != nil {
			s.MinNodes = *ss.MinNodeCount
		}
		if ss.MaxNodeCount != nil {
			s.MaxNodes = *ss.MaxNodeCount
		}
		if ss.NodeIdleTimeBeforeScaleDown != "" {
			d, err := arm.ParseDuration(ss.NodeIdleTimeBeforeScaleDown)
			if err != nil {
				return compute.Invalid("scaleSettings.nodeIdleTimeBeforeScaleDown", "%v", err)
			}
			s.IdleSeconds = int(d / time.Second)
		}
	}
	if s.MinNodes < 0 || s.MaxNodes < s.MinNodes {
		return compute.Invalid("scaleSettings", "minNodeCount must be 0 or more and at most maxNodeCount.")
	}
	if err := h.cfg.Azure.UpdateScale(r.Context(), ws, cred, name, s); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
