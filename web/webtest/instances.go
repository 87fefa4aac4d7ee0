package webtest

import (
	"context"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// RunningInstance records a compute instance that is created and Running,
// assigned to the user with ID owner, with its workspace made by the local
// backend, as if the controller had provisioned it.
func (e *Env) RunningInstance(tb testing.TB, name, owner string) *compute.Target {
	tb.Helper()
	return e.RunningInstanceWith(tb, name, owner, func(*compute.InstanceSpec) {})
}

// RunningInstanceWith is RunningInstance with the instance's settings
// changed by edit first (SSH access and key, idle shutdown).
func (e *Env) RunningInstanceWith(tb testing.TB, name, owner string, edit func(*compute.InstanceSpec)) *compute.Target {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	t := &compute.Target{Name: name, Kind: compute.KindInstance, ProvisioningState: compute.ProvisioningSucceeded,
		CreatedBy: owner, CreatedAt: now, ModifiedAt: now, StateSince: now,
		Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceRunning, AssignedUser: owner}}
	edit(t.Instance)
	if err := e.Local.Provision(ctx, t); err != nil {
		tb.Fatal(err)
	}
	if err := e.Store.CreateTarget(ctx, t, nil); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Local.EndSessions(context.Background(), name) })
	got, err := e.Store.GetTarget(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}
