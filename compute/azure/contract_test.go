package azure_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure"
	"github.com/trainyard/trainyard/compute/azure/armreplay"
	"github.com/trainyard/trainyard/compute/computetest"
)

// TestBackendContract runs the shared contract suite over the replaying
// ARM (armreplay: the 2025-12-01 REST examples over HTTPS).
func TestBackendContract(t *testing.T) {
	srv := armreplay.New(t)
	b := azure.New(armreplay.Workspace("replay"), newClient(t, srv))
	var n atomic.Int64
	provisioned := func(t *testing.T, tgt *compute.Target) *compute.Target {
		t.Helper()
		if err := b.Provision(context.Background(), tgt); err != nil {
			t.Fatalf("Provision %s: %v", tgt.Name, err)
		}
		return tgt
	}
	computetest.RunBackendContract(t, computetest.Harness{
		Registration: b.Registration(),
		NoJobs:       "runs on Azure ML computes are Azure ML jobs",
		Target: func(t *testing.T) *compute.Target {
			return provisioned(t, cluster(fmt.Sprintf("ct-cluster-%d", n.Add(1)), "STANDARD_NC6"))
		},
		InstanceTarget: func(t *testing.T) *compute.Target {
			tgt := &compute.Target{Name: fmt.Sprintf("ct-ci-%d", n.Add(1)), Kind: compute.KindInstance, Location: "eastus",
				Instance: &compute.InstanceSpec{VMSize: "STANDARD_DS3_V2", State: compute.InstanceCreating}}
			provisioned(t, tgt)
			tgt.Instance.State = compute.InstanceRunning
			return tgt
		},
	})
}

func asCoded(err error, c **compute.CodedError) bool { return errors.As(err, c) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }
