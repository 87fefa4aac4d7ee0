package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

// BackendNamePrefix starts the name of every workspace's backend
// ("azure:ALIAS"): one backend value per registered workspace.
const BackendNamePrefix = "azure:"

// Backend is one Azure ML workspace's computes as a compute.Backend: a
// target is a compute of the workspace, Provision is its PUT followed to
// the end, Deprovision its DELETE, Nodes its listNodes, Power its start,
// stop and restart. It runs no jobs: runs on Azure ML computes are Azure
// ML jobs, whose logs live in the workspace's storage, out of reach here.
type Backend struct {
	ws     compute.Workspace
	client *Client
}

// New returns the backend of ws calling ARM through client.
func New(ws compute.Workspace, client *Client) *Backend {
	return &Backend{ws: ws, client: client}
}

// Name is "azure:" and the workspace's alias.
func (b *Backend) Name() string { return BackendNamePrefix + b.ws.Alias }

// Provision creates the compute in ARM unless it is there already, and
// follows the operation until it ends: ARM's error, verbatim, when it
// failed. A compute already Succeeded is left alone; one that Failed
// reports its provisioningErrors.
func (b *Backend) Provision(ctx context.Context, t *compute.Target) error {
	raw, err := b.client.Get(ctx, t.Name)
	switch {
	case err == nil:
		got, derr := ToTarget(raw)
		if derr != nil {
			return derr
		}
		switch got.ProvisioningState {
		case compute.ProvisioningSucceeded:
			t.ProvisioningState = got.ProvisioningState
			return nil
		case compute.ProvisioningFailed:
			return provisioningFailed(got)
		}
	case !errors.Is(err, compute.ErrNotFound):
		return err
	}
	body, err := json.Marshal(arm.FromTarget(t, b.ws.ComputesID()))
	if err != nil {
		return fmt.Errorf("encoding %s: %w", t.Name, err)
	}
	op, err := b.client.CreateOrUpdate(ctx, t.Name, body)
	if err != nil {
		return err
	}
	if err := op.Wait(ctx); err != nil {
		return err
	}
	t.ProvisioningState = compute.ProvisioningSucceeded
	return nil
}

// provisioningFailed is the error of a compute ARM reports Failed.
func provisioningFailed(t *compute.Target) error {
	msg := "Azure reports the compute Failed."
	if len(t.ProvisioningErrors) > 0 {
		msg = t.ProvisioningErrors[0]
	}
	return &compute.CodedError{Kind: compute.ErrConflict, Code: "ProvisioningFailed", Message: msg, Target: t.Name}
}

// Deprovision deletes the compute (detaches an attached one: ARM's
// underlyingResourceAction) and follows the operation; a compute that is
// gone already is fine.
func (b *Backend) Deprovision(ctx context.Context, t *compute.Target) error {
	action := "Delete"
	if t.Kind.IsAttached() {
		action = "Detach"
	}
	op, err := b.client.Delete(ctx, t.Name, action)
	if errors.Is(err, compute.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := op.Wait(ctx); err != nil && !errors.Is(err, compute.ErrNotFound) {
		return err
	}
	return nil
}

// Nodes lists the compute's nodes as ARM reports them.
func (b *Backend) Nodes(ctx context.Context, t *compute.Target) ([]compute.Node, error) {
	return b.client.Nodes(ctx, t.Name)
}

// Power starts, stops or restarts a compute instance and follows the
// operation until it ends.
func (b *Backend) Power(ctx context.Context, t *compute.Target, a compute.PowerAction) error {
	op, err := b.client.Power(ctx, t.Name, a)
	if err != nil {
		return err
	}
	return op.Wait(ctx)
}

// errNoJobs is Submit's answer: runs go to Azure ML computes through
// Azure ML itself.
func (b *Backend) errNoJobs(target string) error {
	return &compute.CodedError{Kind: compute.ErrConflict, Code: "JobsNotSupported", Target: target,
		Message: fmt.Sprintf("%s is a compute of the Azure ML workspace %s: Trainyard shows and manages it, but runs on it are submitted through Azure ML (az ml job create), not Trainyard.", target, b.ws.Alias)}
}

// Submit refuses every job (see Backend).
func (b *Backend) Submit(_ context.Context, t *compute.Target, _ compute.JobSpec) (compute.Handle, error) {
	return compute.Handle{}, b.errNoJobs(t.Name)
}

// Status knows no job: this backend never started one.
func (b *Backend) Status(_ context.Context, h compute.Handle) (compute.JobState, error) {
	return compute.JobState{}, compute.NotFoundf(h.ID, "%s started no job %s", b.Name(), h.ID)
}

// Logs knows no job.
func (b *Backend) Logs(_ context.Context, h compute.Handle, _ int64) (io.ReadCloser, error) {
	return nil, compute.NotFoundf(h.ID, "%s started no job %s", b.Name(), h.ID)
}

// Cancel of a job this backend never started has nothing to do.
func (b *Backend) Cancel(context.Context, compute.Handle) error { return nil }
