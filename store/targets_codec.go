package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// The JSON columns of targets use these private mirrors of the compute
// structs, so that the stored field names stay put when Go names change.
//
// The *Shape types have exactly the fields of their compute counterparts; the
// conversions below stop compiling when a field is added to, removed from or
// retyped in compute, which is the reminder to update the mirror and its
// conversion functions.
var (
	_ = clusterJSON(compute.ClusterSpec{})
	_ = attachJSON(compute.AttachSpec{})
	_ = scheduleJSON(compute.Schedule{})
	_ = instanceShape(compute.InstanceSpec{})
	_ = operationShape(compute.Operation{})
)

type clusterJSON struct {
	VMSize                     string             `json:"vmSize,omitempty"`
	VMPriority                 compute.VMPriority `json:"vmPriority,omitempty"`
	VMType                     string             `json:"vmType,omitempty"`
	MinNodes                   int                `json:"minNodes"`
	MaxNodes                   int                `json:"maxNodes"`
	IdleSecondsBeforeScaleDown int                `json:"idleSecondsBeforeScaleDown"`
	AdminUserName              string             `json:"adminUserName,omitempty"`
	SSHPublicKey               string             `json:"sshPublicKey,omitempty"`
	IdentityType               string             `json:"identityType,omitempty"`
	UserAssignedIdentity       string             `json:"userAssignedIdentity,omitempty"`
	AllocationState            string             `json:"allocationState,omitempty"`
	TargetNodeCount            int                `json:"targetNodeCount"`
}

type attachJSON struct {
	Address            string `json:"address,omitempty"`
	SSHPort            int    `json:"sshPort,omitempty"`
	UserName           string `json:"userName,omitempty"`
	Workspace          string `json:"workspace,omitempty"`
	ResourceGroup      string `json:"resourceGroup,omitempty"`
	AccountName        string `json:"accountName,omitempty"`
	RESTURL            string `json:"restUrl,omitempty"`
	SlurmUser          string `json:"slurmUser,omitempty"`
	SlurmPartition     string `json:"slurmPartition,omitempty"`
	SharedDir          string `json:"sharedDir,omitempty"`
	SlurmConf          string `json:"slurmConf,omitempty"`
	Checked            bool   `json:"checked,omitempty"`
	StatusMessage      string `json:"statusMessage,omitempty"`
	HostKeyFingerprint string `json:"hostKeyFingerprint,omitempty"`
	// PendingHostKeyFingerprint waits for an operator's approval.
	PendingHostKeyFingerprint string `json:"pendingHostKeyFingerprint,omitempty"`
	// Unreachable: the machine did not answer the last probe (shown Unusable).
	Unreachable bool `json:"unreachable,omitempty"`
}

type scheduleJSON struct {
	Action   string   `json:"action"`
	Time     string   `json:"time"`
	TimeZone string   `json:"timeZone"`
	Days     []string `json:"days,omitempty"`
}

type instanceShape struct {
	VMSize              string
	VMType              string
	State               compute.InstanceState
	IdleShutdownMinutes int
	Schedules           []compute.Schedule
	SSHEnabled          bool
	SSHPublicKey        string
	AdminUserName       string
	AssignedUser        string
	WorkDir             string
	SetupScript         string
	StartupScript       string
	SetupLog            string
	StartupLog          string
	StartupWarning      string
	StopReason          string
}

type instanceJSON struct {
	VMSize              string                `json:"vmSize,omitempty"`
	VMType              string                `json:"vmType,omitempty"`
	State               compute.InstanceState `json:"state,omitempty"`
	IdleShutdownMinutes int                   `json:"idleShutdownMinutes,omitempty"`
	Schedules           []scheduleJSON        `json:"schedules,omitempty"`
	SSHEnabled          bool                  `json:"sshEnabled,omitempty"`
	SSHPublicKey        string                `json:"sshPublicKey,omitempty"`
	AdminUserName       string                `json:"adminUserName,omitempty"`
	AssignedUser        string                `json:"assignedUser,omitempty"`
	WorkDir             string                `json:"workDir,omitempty"`
	SetupScript         string                `json:"setupScript,omitempty"`
	StartupScript       string                `json:"startupScript,omitempty"`
	SetupLog            string                `json:"setupLog,omitempty"`
	StartupLog          string                `json:"startupLog,omitempty"`
	StartupWarning      string                `json:"startupWarning,omitempty"`
	StopReason          string                `json:"stopReason,omitempty"`
}

type operationShape struct {
	Name    string
	Status  string
	Trigger string
	Time    time.Time
}

type operationJSON struct {
	Name    string `json:"name,omitempty"`
	Status  string `json:"status,omitempty"`
	Trigger string `json:"trigger,omitempty"`
	TimeMS  int64  `json:"timeMs,omitempty"` // unix milliseconds, like every stored time
}

type specJSON struct {
	Cluster  *clusterJSON  `json:"cluster,omitempty"`
	Instance *instanceJSON `json:"instance,omitempty"`
	Attach   *attachJSON   `json:"attach,omitempty"`
}

func encodeSpec(t *compute.Target) (string, error) {
	var s specJSON
	if t.Cluster != nil {
		c := clusterJSON(*t.Cluster)
		s.Cluster = &c
	}
	if t.Attach != nil {
		a := attachJSON(*t.Attach)
		s.Attach = &a
	}
	if in := t.Instance; in != nil {
		j := &instanceJSON{
			VMSize: in.VMSize, VMType: in.VMType, State: in.State,
			IdleShutdownMinutes: in.IdleShutdownMinutes, SSHEnabled: in.SSHEnabled,
			SSHPublicKey: in.SSHPublicKey, AdminUserName: in.AdminUserName,
			AssignedUser: in.AssignedUser, WorkDir: in.WorkDir,
			SetupScript: in.SetupScript, StartupScript: in.StartupScript,
			SetupLog: in.SetupLog, StartupLog: in.StartupLog, StartupWarning: in.StartupWarning,
			StopReason: in.StopReason,
		}
		for _, sc := range in.Schedules {
			j.Schedules = append(j.Schedules, scheduleJSON(sc))
		}
		s.Instance = j
	}
	b, err := json.Marshal(s)
	return string(b), err
}

func decodeSpec(data string, t *compute.Target) error {
	var s specJSON
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	t.Cluster, t.Instance, t.Attach = nil, nil, nil
	if s.Cluster != nil {
		c := compute.ClusterSpec(*s.Cluster)
		t.Cluster = &c
	}
	if s.Attach != nil {
		a := compute.AttachSpec(*s.Attach)
		t.Attach = &a
	}
	if j := s.Instance; j != nil {
		in := &compute.InstanceSpec{
			VMSize: j.VMSize, VMType: j.VMType, State: j.State,
			IdleShutdownMinutes: j.IdleShutdownMinutes, SSHEnabled: j.SSHEnabled,
			SSHPublicKey: j.SSHPublicKey, AdminUserName: j.AdminUserName,
			AssignedUser: j.AssignedUser, WorkDir: j.WorkDir,
			SetupScript: j.SetupScript, StartupScript: j.StartupScript,
			SetupLog: j.SetupLog, StartupLog: j.StartupLog, StartupWarning: j.StartupWarning,
			StopReason: j.StopReason,
		}
		for _, sc := range j.Schedules {
			in.Schedules = append(in.Schedules, compute.Schedule(sc))
		}
		t.Instance = in
	}
	return nil
}

func encodeOperation(op compute.Operation) (string, error) {
	b, err := json.Marshal(operationJSON{Name: op.Name, Status: op.Status, Trigger: op.Trigger, TimeMS: toMS(op.Time)})
	return string(b), err
}

func decodeOperation(data string) (compute.Operation, error) {
	var j operationJSON
	if err := json.Unmarshal([]byte(data), &j); err != nil {
		return compute.Operation{}, fmt.Errorf("last_operation: %w", err)
	}
	return compute.Operation{Name: j.Name, Status: j.Status, Trigger: j.Trigger, Time: fromMS(j.TimeMS)}, nil
}

func encodeErrors(errs []string) (string, error) {
	if len(errs) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(errs)
	return string(b), err
}

func decodeErrors(data string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(data), &out); err != nil {
		return nil, fmt.Errorf("provisioning_errors: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// instanceState is the value of the instance_state column.
func instanceState(t *compute.Target) compute.InstanceState {
	if t.Instance == nil {
		return ""
	}
	return t.Instance.State
}

// targetRow is a target as written to the targets table.
type targetRow struct {
	lastOp, provErrs, spec string
}

func encodeTarget(t *compute.Target) (targetRow, error) {
	var r targetRow
	var err error
	if r.spec, err = encodeSpec(t); err != nil {
		return r, err
	}
	if r.lastOp, err = encodeOperation(t.LastOperation); err != nil {
		return r, err
	}
	r.provErrs, err = encodeErrors(t.ProvisioningErrors)
	return r, err
}

// targetCols are the columns scanTarget reads, in order.
const targetCols = `id, name, kind, provisioning_state, description, location, created_by,
	created_at, modified_at, state_since, resource_id, last_operation, provisioning_errors, spec`

type scanner interface{ Scan(dest ...any) error }

// scanTarget reads one row of targetCols. It returns the internal row id too.
func scanTarget(sc scanner) (int64, *compute.Target, error) {
	var (
		id                     int64
		t                      compute.Target
		kind, state            string
		created, modified, ssn int64
		lastOp, provErrs, spec string
	)
	if err := sc.Scan(&id, &t.Name, &kind, &state, &t.Description, &t.Location, &t.CreatedBy,
		&created, &modified, &ssn, &t.ResourceID, &lastOp, &provErrs, &spec); err != nil {
		return 0, nil, err
	}
	t.Kind = compute.Kind(kind)
	t.ProvisioningState = compute.ProvisioningState(state)
	t.CreatedAt, t.ModifiedAt, t.StateSince = fromMS(created), fromMS(modified), fromMS(ssn)
	var err error
	if t.LastOperation, err = decodeOperation(lastOp); err != nil {
		return 0, nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	if t.ProvisioningErrors, err = decodeErrors(provErrs); err != nil {
		return 0, nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	if err := decodeSpec(spec, &t); err != nil {
		return 0, nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	return id, &t, nil
}
