package azure_test

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure"
	"github.com/trainyard/trainyard/compute/azure/armreplay"
)

// TestQuotaBeforeCreate stands on the VirtualMachineSize, Usage and Quota
// list examples of 2025-12-01, replayed verbatim: Standard_DS3_v2 is a
// standardDSv2Family size of 4 vCPUs; the family's dedicated vCPUs are 2 of
// 24 in use in the region, the regional dedicated total 14 of 24;
// demo_workspace1 (resource group rg) has a quota of 24 for the family,
// demo_workspace2 of 12.
func TestQuotaBeforeCreate(t *testing.T) {
	srv := armreplay.New(t)
	ws := func(name string) compute.Workspace {
		return compute.Workspace{Alias: "q", SubscriptionID: "00000000-0000-0000-0000-000000000000", ResourceGroup: "rg", Name: name}
	}
	tests := []struct {
		name      string
		workspace string
		nodes     int
		lowPrio   bool
		wsLimit   int
		exceeds   string // part of the warning, "" for none
	}{
		{"fits", "demo_workspace1", 2, false, 24, ""},
		{"over the regional total", "demo_workspace1", 3, false, 24, "regional Dedicated vCPU limit in eastus: 14 of 24"},
		{"over the workspace quota", "demo_workspace2", 4, false, 12, "workspace's quota of 12"},
		{"low priority: the regional low-priority total", "demo_workspace1", 9, true, -1, "regional LowPriority vCPU limit in eastus: 18 of 50"},
		{"a workspace without its own quota", "other", 1, false, -1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := replayConfig(srv)
			hc := trusting(srv)
			cred, _ := azure.ServicePrincipal(cfg, hc)
			c, err := azure.NewClient(cfg, ws(tc.workspace), cred, hc, azure.ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			q, err := c.Quota(context.Background(), "eastus", "standard_ds3_v2", tc.lowPrio, tc.nodes)
			if err != nil {
				t.Fatal(err)
			}
			if q.VMSize != "Standard_DS3_v2" || q.Family != "standardDSv2Family" || q.VCPUs != 4 || q.Requested != 4*tc.nodes {
				t.Errorf("size %+v", q)
			}
			if !tc.lowPrio && (q.FamilyUsed != 2 || q.FamilyLimit != 24 || q.TotalUsed != 14 || q.TotalLimit != 24) {
				t.Errorf("usages %+v; want 2/24 for the family, 14/24 in total", q)
			}
			if q.WorkspaceLimit != tc.wsLimit {
				t.Errorf("workspace limit %d, want %d", q.WorkspaceLimit, tc.wsLimit)
			}
			got := q.Exceeds()
			if (tc.exceeds == "") != (got == "") || !strings.Contains(got, tc.exceeds) {
				t.Errorf("Exceeds() = %q, want %q", got, tc.exceeds)
			}
		})
	}
	c, _ := azure.NewClient(replayConfig(srv), ws("demo_workspace1"), mustCred(t, srv), trusting(srv), azure.ClientOptions{})
	if _, err := c.Quota(context.Background(), "eastus", "Standard_NC6", false, 1); err == nil {
		t.Error("a size the region does not offer: no error")
	}
}

func mustCred(t *testing.T, srv *armreplay.Server) azcore.TokenCredential {
	t.Helper()
	cred, err := azure.ServicePrincipal(replayConfig(srv), trusting(srv))
	if err != nil {
		t.Fatal(err)
	}
	return cred
}
