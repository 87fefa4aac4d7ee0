package azure_test

import (
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure"
)

func TestToTargetReadsTheExamples(t *testing.T) {
	// Bodies of Compute/get/AmlCompute.json and ComputeInstance.json
	// (2025-12-01), trimmed to the fields read.
	tests := []struct {
		name, body string
		check      func(t *testing.T, tgt *compute.Target)
	}{
		{"cluster", `{"name":"compute123","location":"eastus2","properties":{"computeType":"AmlCompute","provisioningState":"Succeeded","createdOn":"2021-04-01T22:00:00.0000000+00:00",
			"properties":{"vmSize":"STANDARD_NC6","vmPriority":"Dedicated","scaleSettings":{"maxNodeCount":1,"minNodeCount":0,"nodeIdleTimeBeforeScaleDown":"PT5M"},"allocationState":"Resizing","currentNodeCount":0,"targetNodeCount":1,"nodeStateCounts":{"idleNodeCount":0}}}}`,
			func(t *testing.T, tgt *compute.Target) {
				c := tgt.Cluster
				if tgt.Kind != compute.KindCluster || c == nil || c.VMSize != "STANDARD_NC6" || c.MaxNodes != 1 || c.IdleSecondsBeforeScaleDown != 300 || c.AllocationState != "Resizing" || tgt.Nodes.Target != 1 {
					t.Errorf("%+v %+v", tgt, c)
				}
			}},
		{"instance", `{"name":"compute123","properties":{"computeType":"ComputeInstance","provisioningState":"Succeeded","properties":{"vmSize":"STANDARD_NC6","state":"Running","sshSettings":{"sshPublicAccess":"Enabled","adminUserName":"azureuser","sshPort":22},
			"personalComputeInstanceSettings":{"assignedUser":{"objectId":"oid","tenantId":"tid"}}}}}`,
			func(t *testing.T, tgt *compute.Target) {
				i := tgt.Instance
				if i == nil || i.State != compute.InstanceRunning || !i.SSHEnabled || i.AssignedUser != "tid/oid" {
					t.Errorf("%+v", i)
				}
			}},
		{"failed with errors", `{"name":"big","properties":{"computeType":"AmlCompute","provisioningState":"Failed","provisioningErrors":[{"error":{"code":"QuotaExceeded","message":"Operation results in exceeding quota limits of Core."}}]}}`,
			func(t *testing.T, tgt *compute.Target) {
				if tgt.ProvisioningState != compute.ProvisioningFailed || len(tgt.ProvisioningErrors) != 1 || tgt.ProvisioningErrors[0] != "QuotaExceeded: Operation results in exceeding quota limits of Core." {
					t.Errorf("%s %q", tgt.ProvisioningState, tgt.ProvisioningErrors)
				}
			}},
		{"kind Trainyard does not model", `{"name":"compute1234","properties":{"computeType":"AKS","provisioningState":"Succeeded"}}`,
			func(t *testing.T, tgt *compute.Target) {
				if tgt.Kind != "AKS" || tgt.Kind.Tab() != compute.TabAttached {
					t.Errorf("kind %q tab %q", tgt.Kind, tgt.Kind.Tab())
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tgt, err := azure.ToTarget([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, tgt)
		})
	}
}

func FuzzToTarget(f *testing.F) {
	f.Add([]byte(`{"name":"a","properties":{"computeType":"AmlCompute","properties":{"scaleSettings":{"nodeIdleTimeBeforeScaleDown":"PT5M"}}}}`))
	f.Add([]byte(`{"name":"b","properties":{"computeType":"ComputeInstance","properties":{"idleTimeBeforeShutdown":"PT30M","state":"Stopped"}}}`))
	f.Add([]byte(`{"properties":{"provisioningErrors":[{"error":{"code":"X","message":"y"}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tgt, err := azure.ToTarget(data)
		if err != nil {
			return
		}
		if tgt.ProvisioningState == "" {
			t.Errorf("a target without a provisioning state: %+v", tgt)
		}
		if tgt.Instance != nil && tgt.Instance.State == "" {
			t.Errorf("an instance without a state: %+v", tgt.Instance)
		}
	})
}
