package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/trainyard/trainyard/compute"
)

// Every object a submit names is checked against the submitter, not only
// the route's role (docs/design/security.md §5, "check the object on every
// row"): the target when it is a compute instance, and the parent run.
// Experiments and snapshots are shared by the workspace, as in Azure ML
// (docs/DECISIONS.md, "Who may name what in a submit").

// instanceOwner is the ID of the user an instance belongs to: its assigned
// user, or its creator for instances from before assignment was recorded.
func instanceOwner(t *compute.Target) string {
	if t.Instance == nil {
		return ""
	}
	if t.Instance.AssignedUser != "" {
		return t.Instance.AssignedUser
	}
	return t.CreatedBy
}

// maySubmitTo refuses a run on a compute instance by anyone but the user it
// is assigned to, or an Admin: an instance has exactly one user. Shared
// targets (clusters, attached machines, local) are open to every submitter.
// The refusal names the instance and its user, so the caller knows whom to
// ask.
func (h *Handlers) maySubmitTo(ctx context.Context, t *compute.Target) error {
	if t.Kind != compute.KindInstance || t.Instance == nil {
		return nil
	}
	u := compute.UserFrom(ctx)
	owner := instanceOwner(t)
	if u.Can(compute.RoleAdmin) || (u != nil && owner != "" && owner == u.ID) {
		return nil
	}
	msg := fmt.Sprintf("Compute instance %s is assigned to nobody; only an Admin can run jobs on it.", t.Name)
	if owner != "" {
		who, short := owner, owner
		if rec, err := h.cfg.Store.GetUser(ctx, owner); err == nil && rec.Name != "" && rec.Name != owner {
			who, short = rec.Name+" ("+owner+")", rec.Name
		}
		msg = fmt.Sprintf("Compute instance %s is assigned to %s; only %s or an Admin can run jobs on it.", t.Name, who, short)
	}
	return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed", Target: "target", Message: msg}
}

// mayAdoptChild refuses a parentRunId naming a run or sweep the submitter
// did not submit (Admins may name any): a child shows on its parent's page
// and counts among its children, so only the parent's owner may add one.
func mayAdoptChild(ctx context.Context, parent *compute.Run) error {
	u := compute.UserFrom(ctx)
	if u.Can(compute.RoleAdmin) || (u != nil && u.ID != "" && u.ID == parent.SubmittedByID) {
		return nil
	}
	owner := parent.SubmittedBy
	if owner == "" {
		owner = "someone else"
	}
	return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed", Target: "parentRunId",
		Message: fmt.Sprintf("Run %s was submitted by %s; only they or an Admin can add child runs to it.", parent.ID, owner)}
}

// formStatus is the status of a submit form shown again with its problems:
// 403 when the submitter may not use what the form named (the refusal is
// audited like every 403), else 422.
func (h *Handlers) formStatus(r *http.Request, err error) int {
	if errors.Is(err, compute.ErrForbidden) {
		h.auditRefusal(r, http.StatusForbidden, err)
		return http.StatusForbidden
	}
	return http.StatusUnprocessableEntity
}
