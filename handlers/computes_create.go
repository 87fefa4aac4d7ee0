package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// createTarget validates a request, records the target as Creating and wakes
// the controller, which provisions it. Forms and the API both come here.
func (h *Handlers) createTarget(ctx context.Context, req *compute.CreateRequest) (_ *compute.Target, err error) {
	defer func() {
		h.auditCtx(ctx, "", map[bool]string{true: "attach", false: "create"}[req.Kind.IsAttached()], auditObject("compute", req.Name), err)
	}()
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := h.checkAttachAddress(ctx, req); err != nil {
		return nil, err
	}
	if req.Kind == compute.KindVirtualMachine || req.Kind == compute.KindHDInsight {
		// The same machine attached twice the same way is refused (see
		// compute.DuplicateAttach for what counts as the same).
		ssh, _, err := h.cfg.Store.ListTargets(ctx, compute.TargetFilter{Kinds: []compute.Kind{compute.KindVirtualMachine, compute.KindHDInsight}})
		if err != nil {
			return nil, err
		}
		if err := compute.DuplicateAttach(ssh, req); err != nil {
			return nil, err
		}
	}
	now := h.cfg.Now()
	t := &compute.Target{
		Name: req.Name, Kind: req.Kind, Description: req.Description, Location: req.Location,
		ProvisioningState: compute.ProvisioningCreating, CreatedBy: req.CreatedBy,
		CreatedAt: now, ModifiedAt: now, StateSince: now, ResourceID: req.ResourceID,
		Cluster: req.Cluster, Instance: req.Instance, Attach: req.Attach,
		LastOperation: compute.Operation{Name: "Create", Status: "InProgress", Trigger: "User", Time: now},
	}
	if t.Location == "" {
		t.Location = h.cfg.Location
	}
	if t.Kind.IsAttached() {
		t.LastOperation.Name = "Attach"
	}
	if t.Cluster != nil {
		t.Cluster.AllocationState = "Steady"
		t.Cluster.TargetNodeCount = t.Cluster.MinNodes
	}
	if t.Instance != nil {
		t.Instance.State = compute.InstanceCreating
		// An instance is single-user: unassigned, it is its creator's (by ID).
		if u := compute.UserFrom(ctx); u != nil && t.Instance.AssignedUser == "" {
			t.Instance.AssignedUser = u.ID
		}
	}
	secrets := map[string]string{}
	for k, v := range req.Secrets {
		if v != "" {
			secrets[k] = v
		}
	}
	if err := h.cfg.Store.CreateTarget(ctx, t, secrets); err != nil {
		return nil, err
	}
	h.cfg.Controller.Kick()
	return t, nil
}

// checkAttachAddress refuses an attach whose machine (VM, HDInsight head
// node) or slurmrestd is not in the networks an Admin allowed, or is
// link-local: the server would connect there with the credentials given.
// The message names the address and the allowed networks.
func (h *Handlers) checkAttachAddress(ctx context.Context, req *compute.CreateRequest) error {
	var field, host string
	switch {
	case req.Attach == nil:
		return nil
	case req.Kind == compute.KindVirtualMachine || req.Kind == compute.KindHDInsight:
		field, host = compute.FieldAddress, req.Attach.Address
	case req.Kind == compute.KindSlurm:
		u, err := url.Parse(req.Attach.RESTURL)
		if err != nil {
			return nil // Validate said so already
		}
		field, host = compute.FieldRESTURL, u.Hostname()
	default:
		return nil // no backend connects to the other kinds
	}
	policy := h.cfg.AttachNetworks
	if policy == nil {
		policy = compute.DefaultNetPolicy()
	}
	var refused *compute.AddressRefusedError
	if err := policy.CheckHost(ctx, host); errors.As(err, &refused) {
		return compute.Invalid(field, "Trainyard may not connect to %s: %s.", refused.Address, refused.Reason)
	}
	return nil
}

// nameTaken returns the field error for a name that exists already.
func (h *Handlers) nameTaken(ctx context.Context, name string) (string, error) {
	if compute.ValidateName(name) != "" {
		return "", nil
	}
	_, err := h.cfg.Store.GetTarget(ctx, name)
	switch {
	case err == nil:
		return fmt.Sprintf("Compute name '%s' is not available. Reason: AlreadyExists", name), nil
	case errors.Is(err, compute.ErrNotFound):
		return "", nil
	}
	return "", err
}

// asValidation turns err into field errors when it is one, else nil.
func asValidation(err error) *compute.ValidationError {
	var v *compute.ValidationError
	if errors.As(err, &v) {
		return v
	}
	return nil
}

func trimmed(s string) string { return strings.TrimSpace(s) }
