package azure

import (
	"context"
	"fmt"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// Quota is what Azure says about creating compute of one VM size in a
// region, before anything is created (Studio shows it only as an error after
// the fact): the size's family and vCPUs (VirtualMachineSizes), the family's
// vCPUs in use and their limit in the region, and the regional total for the
// tier (Usages), and the workspace's own quota for the family (Quotas), if
// one is set. Limits of -1 mean none of their own.
type Quota struct {
	VMSize, Family, Region, Tier string
	VCPUs                        int
	FamilyUsage                  string // e.g. "Standard DSv2 Family Cluster Dedicated vCPUs"
	FamilyUsed, FamilyLimit      int
	TotalUsed, TotalLimit        int
	WorkspaceLimit               int // -1: the workspace has no quota of its own for the family
	Requested                    int // vCPUs the request would take at most
}

// Exceeds says why the request would go over a limit, or "".
func (q Quota) Exceeds() string {
	switch {
	case q.WorkspaceLimit >= 0 && q.Requested > q.WorkspaceLimit:
		return fmt.Sprintf("%d vCPUs would exceed the workspace's quota of %d %s.", q.Requested, q.WorkspaceLimit, q.FamilyUsage)
	case q.FamilyLimit >= 0 && q.FamilyUsed+q.Requested > q.FamilyLimit:
		return fmt.Sprintf("%d more vCPUs would exceed the %s limit in %s: %d of %d are in use.", q.Requested, q.FamilyUsage, q.Region, q.FamilyUsed, q.FamilyLimit)
	case q.TotalLimit >= 0 && q.TotalUsed+q.Requested > q.TotalLimit:
		return fmt.Sprintf("%d more vCPUs would exceed the regional %s vCPU limit in %s: %d of %d are in use.", q.Requested, q.Tier, q.Region, q.TotalUsed, q.TotalLimit)
	}
	return ""
}

// familyUsageName is the usage and quota name of a VM family and tier:
// "standardDSv2Family", "Dedicated" → "Standard DSv2 Family Cluster
// Dedicated vCPUs" (the names the Usages and Quotas examples use).
func familyUsageName(family, tier string) string {
	f := strings.TrimSuffix(strings.TrimPrefix(family, "standard"), "Family")
	return "Standard " + f + " Family Cluster " + tier + " vCPUs"
}

// Quota reads what creating nodes nodes of vmSize in region would meet
// (lowPriority: the LowPriority tier).
func (c *Client) Quota(ctx context.Context, region, vmSize string, lowPriority bool, nodes int) (Quota, error) {
	q := Quota{VMSize: vmSize, Region: region, Tier: "Dedicated", FamilyLimit: -1, TotalLimit: -1, WorkspaceLimit: -1}
	if lowPriority {
		q.Tier = "LowPriority"
	}
	sizes, err := c.sizes.List(ctx, region, nil)
	if err != nil {
		return q, fromSDK(err)
	}
	for _, s := range sizes.Value {
		if s != nil && strings.EqualFold(deref(s.Name), vmSize) {
			q.VMSize, q.Family = deref(s.Name), deref(s.Family)
			if s.VCPUs != nil {
				q.VCPUs = int(*s.VCPUs)
			}
		}
	}
	if q.Family == "" {
		return q, compute.Invalid(compute.FieldVMSize, "Azure offers no size %s in %s.", vmSize, region)
	}
	q.Requested = q.VCPUs * max(nodes, 1)
	q.FamilyUsage = familyUsageName(q.Family, q.Tier)
	total := "Total Cluster " + q.Tier + " Regional vCPUs"
	usages := c.usages.NewListPager(region, nil)
	for usages.More() {
		page, err := usages.NextPage(ctx)
		if err != nil {
			return q, fromSDK(err)
		}
		for _, u := range page.Value {
			if u == nil || u.Name == nil || strings.Contains(strings.ToLower(deref(u.ID)), "/workspaces/") {
				continue // per-workspace and per-compute usages are parts of the regional ones
			}
			used, limit := int(derefInt64(u.CurrentValue)), int(derefInt64(u.Limit))
			switch deref(u.Name.Value) {
			case q.FamilyUsage:
				q.FamilyUsed, q.FamilyLimit = used, limit
			case total:
				q.TotalUsed, q.TotalLimit = used, limit
			}
		}
	}
	mine := strings.ToLower("/resourceGroups/" + c.ws.ResourceGroup + "/providers/Microsoft.MachineLearningServices/workspaces/" + c.ws.Name + "/quotas/")
	quotas := c.quotas.NewListPager(region, nil)
	for quotas.More() {
		page, err := quotas.NextPage(ctx)
		if err != nil {
			return q, fromSDK(err)
		}
		for _, r := range page.Value {
			if r != nil && r.Name != nil && deref(r.Name.Value) == q.FamilyUsage && strings.Contains(strings.ToLower(deref(r.ID)), mine) {
				q.WorkspaceLimit = int(derefInt64(r.Limit))
			}
		}
	}
	return q, nil
}

func derefInt64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
