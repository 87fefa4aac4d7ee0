package handlers

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
)

// The workspaces API: an Admin registers Azure ML workspaces; everyone
// lists them. A workspace's computes are served by api_workspace_computes.go.

// workspaceJSON is a registered workspace in API bodies.
type workspaceJSON struct {
	Alias          string    `json:"alias"`
	ID             string    `json:"id,omitempty"`
	SubscriptionID string    `json:"subscriptionId"`
	ResourceGroup  string    `json:"resourceGroup"`
	WorkspaceName  string    `json:"workspaceName"`
	CreatedBy      string    `json:"createdBy,omitempty"`
	CreatedOn      time.Time `json:"createdOn,omitzero"`
}

func toWorkspaceJSON(w compute.Workspace) workspaceJSON {
	return workspaceJSON{Alias: w.Alias, ID: w.ResourceID(), SubscriptionID: w.SubscriptionID, ResourceGroup: w.ResourceGroup,
		WorkspaceName: w.Name, CreatedBy: w.CreatedBy, CreatedOn: w.CreatedAt}
}

// APIListWorkspaces handles GET /api/v1/workspaces: the registered Azure ML
// workspaces (the built-in local workspace is not listed: it is always there).
func (h *Handlers) APIListWorkspaces(w http.ResponseWriter, r *http.Request) error {
	all, err := h.cfg.Store.Workspaces(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Value []workspaceJSON `json:"value"`
	}{Value: []workspaceJSON{}}
	for _, ws := range all {
		out.Value = append(out.Value, toWorkspaceJSON(ws))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// APIGetWorkspace handles GET /api/v1/workspaces/{alias}.
func (h *Handlers) APIGetWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := h.cfg.Store.Workspace(r.Context(), chi.URLParam(r, "alias"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWorkspaceJSON(ws))
	return nil
}

// APIPutWorkspace handles PUT /api/v1/workspaces/{alias} {"subscriptionId",
// "resourceGroup", "workspaceName"} (Admin): 201 with the workspace. An alias
// in use, or the same workspace under another alias, is 409.
func (h *Handlers) APIPutWorkspace(w http.ResponseWriter, r *http.Request) (err error) {
	alias := chi.URLParam(r, "alias")
	defer func() { h.audit(r, "register", auditObject("workspace", alias), err) }()
	var req workspaceJSON
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	ws, err := h.cfg.Store.AddWorkspace(r.Context(), compute.Workspace{Alias: alias, SubscriptionID: req.SubscriptionID,
		ResourceGroup: req.ResourceGroup, Name: req.WorkspaceName, CreatedBy: actor(r)})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/workspaces/"+alias)
	writeJSON(w, http.StatusCreated, toWorkspaceJSON(ws))
	return nil
}

// APIDeleteWorkspace handles DELETE /api/v1/workspaces/{alias} (Admin): the
// registration and the cached computes go; nothing in Azure is touched.
func (h *Handlers) APIDeleteWorkspace(w http.ResponseWriter, r *http.Request) (err error) {
	alias := chi.URLParam(r, "alias")
	defer func() { h.audit(r, "remove", auditObject("workspace", alias), err) }()
	if err := h.cfg.Store.RemoveWorkspace(r.Context(), alias); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// workspaceOf returns the registered workspace the route names, and that
// Azure is configured at all.
func (h *Handlers) workspaceOf(r *http.Request) (compute.Workspace, error) {
	ws, err := h.cfg.Store.Workspace(r.Context(), chi.URLParam(r, "alias"))
	if err != nil {
		return ws, err
	}
	if h.cfg.Azure == nil {
		return ws, &compute.CodedError{Kind: compute.ErrUnavailable, Code: "AzureNotConfigured", Message: "This server has no Azure configuration."}
	}
	return ws, nil
}

// readRaw reads a request body of at most limit bytes that must be JSON.
func readRaw(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, err
	}
	if !json.Valid(data) {
		return nil, compute.Invalid("body", "The body is not JSON.")
	}
	return data, nil
}
