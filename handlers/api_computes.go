package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

// maxBodyBytes bounds an API request body.
const maxBodyBytes = 1 << 20

// API list paging, as ARM does it: a page and a nextLink to the next one.
const (
	defaultAPIPage = 100
	maxAPIPage     = 1000
)

// APIListComputes handles GET /api/v1/computes[?$top=N&$skip=M&q=text]. Like
// ARM it answers one page and a nextLink while more remain.
func (h *Handlers) APIListComputes(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	top, skip := defaultAPIPage, 0
	var err error
	if s := q.Get("$top"); s != "" {
		if top, err = strconv.Atoi(s); err != nil || top < 1 || top > maxAPIPage {
			return compute.Invalid("$top", "$top must be a whole number from 1 to %d.", maxAPIPage)
		}
	}
	if s := q.Get("$skip"); s != "" {
		if skip, err = strconv.Atoi(s); err != nil || skip < 0 {
			return compute.Invalid("$skip", "$skip must be a whole number, 0 or more.")
		}
	}
	targets, total, err := h.cfg.Store.ListTargets(r.Context(), compute.TargetFilter{Search: q.Get("q"), Offset: skip, Limit: top})
	if err != nil {
		return err
	}
	out := arm.ComputeList{Value: make([]arm.Compute, 0, len(targets))}
	for _, t := range targets {
		out.Value = append(out.Value, h.armCompute(t))
	}
	if skip+len(targets) < total {
		next := url.Values{"$skip": {strconv.Itoa(skip + len(targets))}, "$top": {strconv.Itoa(top)}}
		if s := q.Get("q"); s != "" {
			next.Set("q", s)
		}
		out.NextLink = "/api/v1/computes?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// APIGetCompute handles GET /api/v1/computes/{name}.
func (h *Handlers) APIGetCompute(w http.ResponseWriter, r *http.Request) error {
	t, err := h.cfg.Store.GetTarget(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		return err
	}
	c := h.armCompute(t)
	h.withClusterInfo(r.Context(), t, &c)
	cost, err := h.cfg.Store.CostOf(r.Context(), compute.LocalWorkspace, t)
	if err != nil {
		return err
	}
	c.Properties.TrainyardCost = &cost
	writeJSON(w, http.StatusOK, c)
	return nil
}

// APIPutCompute handles PUT /api/v1/computes/{name}: create or attach. As in
// ARM the answer is 201 with the resource in Creating; poll GET for the end.
// A PUT on an existing name is a conflict (Trainyard never silently replaces
// a target: Azure's "overwrite" surprised users, docs/design/studio-compute.md §5 #13).
func (h *Handlers) APIPutCompute(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	body, err := arm.DecodeCompute(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return err
	}
	req, err := arm.ToCreateRequest(name, body)
	if err != nil {
		return err
	}
	req.CreatedBy = actor(r)
	t, err := h.createTarget(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/computes/"+t.Name)
	writeJSON(w, http.StatusCreated, h.armCompute(t))
	return nil
}

// APIDeleteCompute handles DELETE /api/v1/computes/{name}?underlyingResourceAction=Delete|Detach.
func (h *Handlers) APIDeleteCompute(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	action := r.URL.Query().Get("underlyingResourceAction")
	if action == "" {
		// ARM requires the parameter; Trainyard infers it from the kind so a
		// plain DELETE does what the user means, and says which in the log.
		t, err := h.cfg.Store.GetTarget(r.Context(), name)
		if err != nil {
			return err
		}
		action = map[bool]string{true: "Detach", false: "Delete"}[t.Kind.IsAttached()]
	}
	if action != "Delete" && action != "Detach" {
		return compute.Invalid("underlyingResourceAction", "underlyingResourceAction must be Delete or Detach (got %q).", action)
	}
	if err := h.remove(r, name, action == "Detach"); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/computes/"+name)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// APIListNodes handles POST /api/v1/computes/{name}/listNodes.
func (h *Handlers) APIListNodes(w http.ResponseWriter, r *http.Request) error {
	t, err := h.cfg.Store.GetTarget(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		return err
	}
	b := h.cfg.Backends.Backend(t.Kind)
	if b == nil {
		return &compute.CodedError{Kind: compute.ErrUnavailable, Code: "NotChecked", Message: t.Name + " has not been connected to yet, so its nodes are unknown."}
	}
	nodes, err := b.Nodes(r.Context(), t)
	if err != nil {
		return errors.Join(compute.ErrUnavailable, err)
	}
	writeJSON(w, http.StatusOK, arm.FromNodes(nodes))
	return nil
}

// APIPower handles POST /api/v1/computes/{name}/start|stop|restart.
func (h *Handlers) APIPower(w http.ResponseWriter, r *http.Request) error {
	if err := h.power(r, chi.URLParam(r, "name"), compute.PowerAction(chi.URLParam(r, "action"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// approveHostKeyRequest is the body of POST /api/v1/computes/{name}/approveHostKey.
type approveHostKeyRequest struct {
	Fingerprint string `json:"fingerprint"`
}

// APIApproveHostKey handles POST /api/v1/computes/{name}/approveHostKey
// {"fingerprint":"SHA256:…"}: it pins the SSH host key of an attached VM
// once the machine is seen presenting exactly that key, and checks the
// target again with it. Any other fingerprint is refused (400).
func (h *Handlers) APIApproveHostKey(w http.ResponseWriter, r *http.Request) error {
	var req approveHostKeyRequest
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	t, err := h.approveHostKey(r, chi.URLParam(r, "name"), req.Fingerprint)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.armCompute(t))
	return nil
}
