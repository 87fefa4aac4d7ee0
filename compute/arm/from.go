package arm

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// FromTarget renders a target as an ARM compute resource. idPrefix is the
// computes collection's ARM ID (DefaultIDPrefix when empty); the resource ID
// is idPrefix + "/" + name. Secrets are never rendered: a target holds only
// their names. Public SSH keys are write-only too, as in Azure.
func FromTarget(t *compute.Target, idPrefix string) Compute {
	if idPrefix == "" {
		idPrefix = DefaultIDPrefix
	}
	c := Compute{
		ID:       strings.TrimSuffix(idPrefix, "/") + "/" + t.Name,
		Name:     t.Name,
		Type:     ResourceType,
		Location: t.Location,
		Properties: Properties{
			ComputeType:        string(t.Kind),
			ComputeLocation:    t.Location,
			ProvisioningState:  string(t.ProvisioningState),
			Description:        t.Description,
			CreatedOn:          t.CreatedAt.UTC(),
			ModifiedOn:         t.ModifiedAt.UTC(),
			ResourceID:         t.ResourceID,
			ProvisioningErrors: provisioningErrors(t.ProvisioningErrors),
			IsAttachedCompute:  t.Kind.IsAttached(),
		},
	}
	story := compute.StoryOf(t)
	c.Properties.TrainyardStatus = &story
	if t.CreatedAt.IsZero() {
		c.Properties.CreatedOn = time.Time{}
	}
	if t.ModifiedAt.IsZero() {
		c.Properties.ModifiedOn = time.Time{}
	}
	var inner any
	switch t.Kind {
	case compute.KindCluster:
		inner = fromCluster(t)
		c.Identity = clusterIdentity(t.Cluster)
	case compute.KindInstance:
		inner = fromInstance(t)
	case compute.KindVirtualMachine:
		a := attachOf(t)
		inner = &VirtualMachineProperties{Address: a.Address, SSHPort: a.SSHPort, AdministratorAccount: adminAccount(a), HostKeyFingerprint: a.HostKeyFingerprint, AttachStatus: attachStatus(a)}
	case compute.KindHDInsight:
		a := attachOf(t)
		inner = &HDInsightProperties{Address: a.Address, SSHPort: a.SSHPort, AdministratorAccount: adminAccount(a), HostKeyFingerprint: a.HostKeyFingerprint, AttachStatus: attachStatus(a)}
	case compute.KindDatabricks:
		a := attachOf(t)
		inner = &DatabricksProperties{WorkspaceName: a.Workspace, ResourceGroup: a.ResourceGroup, AttachStatus: attachStatus(a)}
	case compute.KindDataLakeAnalytics:
		a := attachOf(t)
		inner = &DataLakeAnalyticsProperties{DataLakeStoreAccountName: a.AccountName, ResourceGroup: a.ResourceGroup, AttachStatus: attachStatus(a)}
	case compute.KindBatch:
		a := attachOf(t)
		inner = &AzureBatchProperties{AccountName: a.AccountName, ResourceGroup: a.ResourceGroup, AttachStatus: attachStatus(a)}
	case compute.KindSlurm:
		a := attachOf(t)
		inner = &SlurmProperties{RestURL: a.RESTURL, User: a.SlurmUser, Partition: a.SlurmPartition, SharedDir: a.SharedDir, SlurmConf: a.SlurmConf, AttachStatus: attachStatus(a)}
	}
	if inner != nil {
		raw, err := json.Marshal(inner)
		if err == nil { // these structs always marshal
			c.Properties.Properties = raw
		}
	}
	return c
}

func fromCluster(t *compute.Target) *AmlComputeProperties {
	s := t.Cluster
	if s == nil {
		s = &compute.ClusterSpec{}
	}
	p := &AmlComputeProperties{
		OSType:           "Linux",
		VMSize:           s.VMSize,
		VMPriority:       string(s.VMPriority),
		VMType:           s.VMType,
		ScaleSettings:    &ScaleSettings{MaxNodeCount: s.MaxNodes, MinNodeCount: s.MinNodes},
		AllocationState:  s.AllocationState,
		CurrentNodeCount: t.Nodes.Current,
		TargetNodeCount:  s.TargetNodeCount,
		NodeStateCounts: &NodeStateCounts{
			IdleNodeCount:      t.Nodes.Idle,
			RunningNodeCount:   t.Nodes.Running,
			PreparingNodeCount: t.Nodes.Preparing,
			UnusableNodeCount:  t.Nodes.Unusable,
			LeavingNodeCount:   t.Nodes.Leaving,
			PreemptedNodeCount: t.Nodes.Preempted,
		},
	}
	if p.VMPriority == "" {
		p.VMPriority = string(compute.Dedicated)
	}
	if p.TargetNodeCount == 0 {
		p.TargetNodeCount = t.Nodes.Target
	}
	if s.IdleSecondsBeforeScaleDown > 0 {
		p.ScaleSettings.NodeIdleTimeBeforeScaleDown = secondsDuration(s.IdleSecondsBeforeScaleDown)
	}
	if s.AdminUserName != "" {
		p.UserAccountCredentials = &UserAccountCredentials{AdminUserName: s.AdminUserName}
	}
	return p
}

func clusterIdentity(s *compute.ClusterSpec) *Identity {
	if s == nil {
		return nil
	}
	switch s.IdentityType {
	case "SystemAssigned":
		return &Identity{Type: "SystemAssigned"}
	case "UserAssigned":
		id := &Identity{Type: "UserAssigned"}
		if s.UserAssignedIdentity != "" {
			id.UserAssignedIdentities = map[string]UserAssignedIdentity{s.UserAssignedIdentity: {}}
		}
		return id
	}
	return nil
}

func fromInstance(t *compute.Target) *ComputeInstanceProperties {
	s := t.Instance
	if s == nil {
		s = &compute.InstanceSpec{}
	}
	p := &ComputeInstanceProperties{
		VMSize: s.VMSize,
		VMType: s.VMType,
		State:  string(s.State),
		SSHSettings: &SSHSettings{
			SSHPublicAccess: "Disabled",
			AdminUserName:   s.AdminUserName,
		},
	}
	if s.SSHEnabled {
		p.SSHSettings.SSHPublicAccess = "Enabled"
	}
	if op := t.LastOperation; op.Name != "" {
		p.LastOperation = &LastOperation{OperationName: op.Name, OperationStatus: op.Status, OperationTrigger: op.Trigger, OperationTime: op.Time.UTC()}
		if op.Time.IsZero() {
			p.LastOperation.OperationTime = time.Time{}
		}
	}
	if s.AssignedUser != "" {
		p.ComputeInstanceAuthorizationType = "personal"
		p.PersonalComputeInstanceSettings = &PersonalComputeInstanceSettings{AssignedUser: splitUser(s.AssignedUser)}
	}
	if s.IdleShutdownMinutes > 0 {
		p.IdleTimeBeforeShutdown = minutesDuration(s.IdleShutdownMinutes)
	}
	if s.SetupScript != "" || s.StartupScript != "" {
		p.SetupScripts = &SetupScripts{Scripts: &ScriptsToExecute{CreationScript: fromScript(s.SetupScript), StartupScript: fromScript(s.StartupScript)}}
	}
	if len(s.Schedules) > 0 {
		p.Schedules = &ComputeSchedules{}
		for _, sc := range s.Schedules {
			p.Schedules.ComputeStartStop = append(p.Schedules.ComputeStartStop, fromSchedule(sc))
		}
	}
	return p
}

func fromSchedule(s compute.Schedule) StartStopSchedule {
	r := &Recurrence{Frequency: "Week", Interval: 1, TimeZone: s.TimeZone, Schedule: RecurrenceSchedule{Hours: []int{}, Minutes: []int{}, WeekDays: s.Days}}
	if at, err := time.Parse("15:04", s.Time); err == nil {
		r.Schedule.Hours = []int{at.Hour()}
		r.Schedule.Minutes = []int{at.Minute()}
	}
	return StartStopSchedule{Status: "Enabled", Action: s.Action, TriggerType: "Recurrence", Recurrence: r}
}

// splitUser turns a user ID into Azure's assignedUser. Entra user IDs are
// "<tenantId>/<objectId>"; any other ID is taken as the object ID.
func splitUser(id string) *AssignedUser {
	if tid, oid, ok := strings.Cut(id, "/"); ok {
		return &AssignedUser{ObjectID: oid, TenantID: tid}
	}
	return &AssignedUser{ObjectID: id}
}

func attachOf(t *compute.Target) *compute.AttachSpec {
	if t.Attach == nil {
		return &compute.AttachSpec{}
	}
	return t.Attach
}

func adminAccount(a *compute.AttachSpec) *AdministratorAccount {
	if a.UserName == "" {
		return nil
	}
	return &AdministratorAccount{Username: a.UserName}
}

func attachStatus(a *compute.AttachSpec) AttachStatus {
	st := AttachStatus{Checked: a.Checked, StatusMessage: a.StatusMessage, PendingHostKeyFingerprint: a.PendingHostKeyFingerprint}
	if a.Unreachable {
		st.State = compute.StateUnusable
	}
	return st
}

// provisioningErrors wraps the backend's messages as ARM error responses;
// a message that starts with an Azure-style code ("OutOfQuota: …") keeps it.
func provisioningErrors(msgs []string) []ErrorResponse {
	var out []ErrorResponse
	for _, m := range msgs {
		code := "ProvisioningFailed"
		if c, _, ok := strings.Cut(m, ": "); ok && isCode(c) {
			code = c
		}
		out = append(out, ErrorResponse{Error: ErrorDetail{Code: code, Message: m}})
	}
	return out
}

// isCode reports whether s looks like an Azure error code: a capitalised
// word of letters and digits.
func isCode(s string) bool {
	if len(s) < 2 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// SetClusterInfo adds what was last read from a Slurm cluster (its version,
// partitions and nodes, with states mapped onto Studio's) to a rendered
// Slurm compute. Other computes are left as they are.
func SetClusterInfo(c *Compute, ci compute.ClusterInfo) error {
	inner, err := c.Properties.Inner()
	if err != nil {
		return err
	}
	p, ok := inner.(*SlurmProperties)
	if !ok {
		return nil
	}
	p.Version = ci.Version
	p.Partitions, p.Nodes = nil, nil
	for _, pt := range ci.Partitions {
		p.Partitions = append(p.Partitions, SlurmPartition{Name: pt.Name, State: pt.State, Nodes: pt.Nodes,
			TotalNodes: pt.TotalNodes, TotalCPUs: pt.TotalCPUs, Default: pt.Default, MaxTime: pt.MaxTime})
	}
	for _, n := range ci.Nodes {
		p.Nodes = append(p.Nodes, SlurmNode{NodeID: n.ID, NodeState: string(n.State), Reason: n.Reason,
			CPUs: n.CPUs, MemoryMB: n.MemoryMB, GPUs: n.GPUs, RunID: n.RunID, PrivateIP: n.PrivateIP})
	}
	if !ci.At.IsZero() {
		p.CheckedOn = ci.At.UTC()
	}
	return c.Properties.SetInner(p)
}

func fromScript(text string) *ScriptReference {
	if text == "" {
		return nil
	}
	return &ScriptReference{ScriptSource: "inline", ScriptData: base64.StdEncoding.EncodeToString([]byte(text))}
}
