package azure

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

// ToTarget reads ARM's JSON of one compute into the domain's Target, for
// the pages (lists, details): what ARM says, states and errors verbatim.
// Kinds Trainyard does not model (AKS, Kubernetes, DataFactory…) keep
// their computeType as Kind and show on the Attached tab.
func ToTarget(raw []byte) (*compute.Target, error) {
	var c arm.Compute
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return nil, compute.Invalid("properties", "Azure sent a compute Trainyard cannot read: %v", err)
	}
	kind, _ := arm.KindOf(c.Properties.ComputeType)
	t := &compute.Target{
		Name: c.Name, Kind: kind, Description: c.Properties.Description, Location: c.Location,
		ProvisioningState: compute.ProvisioningState(c.Properties.ProvisioningState),
		CreatedAt:         c.Properties.CreatedOn, ModifiedAt: c.Properties.ModifiedOn,
		ResourceID: c.Properties.ResourceID,
	}
	if t.ProvisioningState == "" {
		t.ProvisioningState = compute.ProvisioningUnknown
	}
	for _, e := range c.Properties.ProvisioningErrors {
		msg := e.Error.Message
		if e.Error.Code != "" {
			msg = e.Error.Code + ": " + msg
		}
		t.ProvisioningErrors = append(t.ProvisioningErrors, msg)
	}
	inner, err := c.Properties.Inner()
	if err != nil {
		// An inner object of a newer shape than Trainyard's: show the
		// envelope rather than nothing.
		inner = nil
	}
	switch p := inner.(type) {
	case *arm.AmlComputeProperties:
		cs := &compute.ClusterSpec{VMSize: p.VMSize, VMPriority: compute.VMPriority(p.VMPriority), VMType: p.VMType,
			AllocationState: p.AllocationState, TargetNodeCount: p.TargetNodeCount}
		if s := p.ScaleSettings; s != nil {
			cs.MinNodes, cs.MaxNodes = s.MinNodeCount, s.MaxNodeCount
			if d, err := arm.ParseDuration(s.NodeIdleTimeBeforeScaleDown); err == nil {
				cs.IdleSecondsBeforeScaleDown = int(d / time.Second)
			}
		}
		if u := p.UserAccountCredentials; u != nil {
			cs.AdminUserName = u.AdminUserName
		}
		t.Cluster = cs
		if n := p.NodeStateCounts; n != nil {
			t.Nodes = compute.NodeCounts{Current: p.CurrentNodeCount, Target: p.TargetNodeCount, Idle: n.IdleNodeCount, Running: n.RunningNodeCount, Preparing: n.PreparingNodeCount,
				Unusable: n.UnusableNodeCount, Leaving: n.LeavingNodeCount, Preempted: n.PreemptedNodeCount}
		}
	case *arm.ComputeInstanceProperties:
		is := &compute.InstanceSpec{VMSize: p.VMSize, VMType: p.VMType, State: compute.InstanceState(p.State)}
		if is.State == "" {
			is.State = compute.InstanceUnknown
		}
		if s := p.SSHSettings; s != nil {
			is.SSHEnabled = s.SSHPublicAccess == "Enabled"
			is.AdminUserName = s.AdminUserName
		}
		if ps := p.PersonalComputeInstanceSettings; ps != nil && ps.AssignedUser != nil {
			is.AssignedUser = ps.AssignedUser.TenantID + "/" + ps.AssignedUser.ObjectID
		}
		if d, err := arm.ParseDuration(p.IdleTimeBeforeShutdown); err == nil && p.IdleTimeBeforeShutdown != "" {
			is.IdleShutdownMinutes = int(d / time.Minute)
		}
		if lo := p.LastOperation; lo != nil {
			t.LastOperation = compute.Operation{Name: lo.OperationName, Status: lo.OperationStatus, Trigger: lo.OperationTrigger, Time: lo.OperationTime}
		}
		t.Instance = is
	default:
		if kind.IsAttached() {
			t.Attach = &compute.AttachSpec{Checked: true}
		}
	}
	return t, nil
}
