package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
)

// ComputeAction handles POST /computes/{name}/{action} from the pages:
// start, stop, restart, delete, detach, approve-host-key. htmx gets an
// event that refreshes the live parts; a plain form post is redirected back
// (PRG).
func (h *Handlers) ComputeAction(w http.ResponseWriter, r *http.Request) error {
	name, action := chi.URLParam(r, "name"), chi.URLParam(r, "action")
	if alias := workspaceParam(r); alias != "" {
		return h.workspaceComputeAction(w, r, alias, name, action)
	}
	var err error
	flash := ""
	switch action {
	case "start", "stop", "restart":
		err = h.power(r, name, compute.PowerAction(action))
		flash = name + ": " + action + " requested."
	case "approve-host-key":
		_, err = h.approveHostKey(r, name, r.PostFormValue("fingerprint"))
		flash = "Host key approved; checking " + name + " with it."
	case "delete", "detach":
		err = h.remove(r, name, action == "detach")
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
	back := "/computes/" + url.PathEscape(name)
	if action == "delete" || action == "detach" {
		back = "/computes"
	}
	setFlash(w, flash)
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// power starts a start/stop/restart of an instance.
func (h *Handlers) power(r *http.Request, name string, a compute.PowerAction) (err error) {
	defer func() { h.audit(r, string(a), auditObject("compute", name), err) }()
	if u := compute.UserFrom(r.Context()); !u.Can(compute.RoleDataScientist) && !u.Can(compute.RoleComputeOperator) {
		// Readers never start or stop anything; decided before the object is looked at.
		if err := require(r, compute.RoleDataScientist); err != nil {
			return err
		}
	}
	t, err := h.cfg.Store.GetTarget(r.Context(), name)
	if err != nil {
		return err
	}
	if t.Instance == nil {
		return compute.Conflictf("OperationNotSupported", "name", "%s is a %s; only compute instances can be started, stopped or restarted.", name, t.Kind.Label())
	}
	if err := h.mayUseInstance(r, t); err != nil {
		return err
	}
	_, err = h.cfg.Store.UpdateTarget(r.Context(), name, func(t *compute.Target) error {
		if t.ProvisioningState != compute.ProvisioningSucceeded {
			return compute.Conflictf("OperationNotAllowed", "state", "%s is %s; wait until it has been created.", name, t.ProvisioningState)
		}
		next, err := compute.BeginPower(t.Instance.State, a)
		if err != nil {
			return err
		}
		t.Instance.State = next
		t.LastOperation = compute.Operation{Name: opName(a), Status: "InProgress", Trigger: "User", Time: h.cfg.Now()}
		return nil
	})
	if err != nil {
		return err
	}
	h.cfg.Controller.Kick()
	return nil
}

// mayUseInstance enforces that an instance is used by its assigned user
// (or its creator when unassigned); operators and admins are excepted.
func (h *Handlers) mayUseInstance(r *http.Request, t *compute.Target) error {
	if !canUseInstance(compute.UserFrom(r.Context()), t) {
		return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed", Message: "Only the user this compute instance is assigned to can use it."}
	}
	return nil
}

// canUseInstance reports whether u may use (start, stop, restart) the
// instance t: its assigned user by stable user ID (tid/oid), never by display
// name; instances from before assignment was recorded fall back to their
// creator. Operators and admins may use every instance.
func canUseInstance(u *compute.User, t *compute.Target) bool {
	if u.Can(compute.RoleComputeOperator) {
		return true
	}
	if u == nil || !u.Can(compute.RoleDataScientist) || t.Instance == nil {
		return false
	}
	owner := instanceOwner(t)
	return owner != "" && owner == u.ID
}

func opName(a compute.PowerAction) string {
	switch a {
	case compute.ActionStart:
		return "Start"
	case compute.ActionStop:
		return "Stop"
	}
	return "Restart"
}

// remove marks a target Deleting; the controller deprovisions and removes it.
// detach must be true for attached targets and false for the rest, as ARM's
// underlyingResourceAction=Detach|Delete.
func (h *Handlers) remove(r *http.Request, name string, detach bool) (err error) {
	defer func() {
		h.audit(r, map[bool]string{true: "detach", false: "delete"}[detach], auditObject("compute", name), err)
	}()
	if err := require(r, compute.RoleComputeOperator); err != nil {
		return err
	}
	_, err = h.cfg.Store.UpdateTarget(r.Context(), name, func(t *compute.Target) error {
		if t.IsBuiltin() {
			return compute.Conflictf("OperationNotAllowed", "name", "The local target is built in and cannot be deleted.")
		}
		if detach && !t.Kind.IsAttached() {
			return compute.Conflictf("OperationNotAllowed", "underlyingResourceAction", "%s was created by Trainyard; delete it instead of detaching it.", name)
		}
		if !detach && t.Kind.IsAttached() {
			return compute.Conflictf("OperationNotAllowed", "underlyingResourceAction", "%s is attached; detach it (the machine itself is not deleted).", name)
		}
		if t.ProvisioningState == compute.ProvisioningDeleting {
			return nil
		}
		t.ProvisioningState = compute.ProvisioningDeleting
		if t.Instance != nil {
			t.Instance.State = compute.InstanceDeleting
		}
		t.LastOperation = compute.Operation{Name: map[bool]string{true: "Detach", false: "Delete"}[detach], Status: "InProgress", Trigger: "User", Time: h.cfg.Now()}
		return nil
	})
	if err != nil {
		return err
	}
	h.cfg.Controller.Kick()
	return nil
}

// approveHostKey pins fingerprint as the SSH host key of an attached target
// after the backend has seen the machine present exactly that key, clears
// the pending key and has the controller check the target again.
func (h *Handlers) approveHostKey(r *http.Request, name, fingerprint string) (_ *compute.Target, err error) {
	defer func() { h.audit(r, "approveHostKey", auditObject("compute", name), err) }()
	if err := require(r, compute.RoleComputeOperator); err != nil {
		return nil, err
	}
	fingerprint = strings.TrimSpace(fingerprint)
	if fingerprint == "" {
		return nil, compute.Invalid("fingerprint", "Give the SHA256 fingerprint of the host key to approve.")
	}
	t, err := h.cfg.Store.GetTarget(r.Context(), name)
	if err != nil {
		return nil, err
	}
	approver := h.cfg.Backends.Capabilities(t.Kind).HostKeys
	if approver == nil || t.Attach == nil {
		return nil, compute.Conflictf("OperationNotSupported", "name", "%s is a %s; only machines reached over SSH have a host key.", name, t.Kind.Label())
	}
	if t.ProvisioningState == compute.ProvisioningDeleting {
		return nil, compute.Conflictf("OperationNotAllowed", "state", "%s is being detached.", name)
	}
	if err := approver.ApproveHostKey(r.Context(), t, fingerprint); err != nil {
		return nil, err
	}
	pinned := t.Attach.HostKeyFingerprint
	t, err = h.cfg.Store.UpdateTarget(r.Context(), name, func(cur *compute.Target) error {
		if cur.Attach == nil {
			return compute.Conflictf("OperationNotSupported", "name", "%s has no attach settings.", name)
		}
		cur.Attach.HostKeyFingerprint = pinned
		cur.Attach.PendingHostKeyFingerprint = ""
		switch cur.ProvisioningState {
		case compute.ProvisioningUnknown, compute.ProvisioningFailed:
			// Check the machine again, now with the key pinned.
			cur.ProvisioningState = compute.ProvisioningCreating
			cur.ProvisioningErrors = nil
			cur.Attach.StatusMessage = "Host key " + pinned + " approved; checking the machine."
			cur.LastOperation = compute.Operation{Name: "Attach", Status: "InProgress", Trigger: "User", Time: h.cfg.Now()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.cfg.Controller.Kick()
	return t, nil
}
