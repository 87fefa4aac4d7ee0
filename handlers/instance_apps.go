package handlers

import (
	"context"
	"fmt"
	"net/http"

	"github.com/trainyard/trainyard/compute"
)

// An instance's applications (Terminal, Jupyter, SSH) run code as the
// instance's user, in its home. Studio's rule is stricter than the one for
// starting and stopping: only the user the instance is assigned to opens
// them, not an operator and not even an Admin (docs/design/security.md;
// docs/SECURITY.md, "What an app session can reach").

// appsOpener returns the instance t and what opens its sessions, after
// checking that the signed-in user may open its applications now. Every
// refusal is audited.
func (h *Handlers) appsOpener(r *http.Request, name, app string) (*compute.Target, compute.SessionOpener, error) {
	t, so, err := h.appsTarget(r.Context(), compute.UserFrom(r.Context()), name)
	if err != nil {
		h.audit(r, "open "+app, auditObject("compute", name), err)
	}
	return t, so, err
}

// appsTarget is the check of appsOpener for one user, also used by the SSH
// server, which has no request.
func (h *Handlers) appsTarget(ctx context.Context, u *compute.User, name string) (*compute.Target, compute.SessionOpener, error) {
	t, err := h.cfg.Store.GetTarget(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if t.Kind != compute.KindInstance || t.Instance == nil {
		return nil, nil, compute.NotFoundf("name", "%s is a %s; only compute instances have applications.", name, t.Kind.Label())
	}
	if err := mayOpenApps(u, t); err != nil {
		return nil, nil, err
	}
	so := h.cfg.Backends.Capabilities(t.Kind).Sessions
	if so == nil {
		return nil, nil, compute.Conflictf("OperationNotSupported", "name", "Compute instance %s has no applications on this server.", name)
	}
	if st := t.Instance.State; st != compute.InstanceRunning && st != compute.InstanceJobRunning {
		return nil, nil, compute.Conflictf("ComputeInstanceNotRunning", "state", "Compute instance %s is %s; start it to open its applications.", name, st)
	}
	return t, so, nil
}

// mayOpenApps lets only the instance's own user through.
func mayOpenApps(u *compute.User, t *compute.Target) error {
	owner := instanceOwner(t)
	if u != nil && u.ID != "" && owner != "" && owner == u.ID {
		return nil
	}
	return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed", Target: "name",
		Message: fmt.Sprintf("Only the user compute instance %s is assigned to can open its applications (terminal, Jupyter, SSH); not even an Admin opens another user's.", t.Name)}
}
