// Package compute holds Trainyard's domain: compute targets, their states and
// rules, nodes, the Backend contract every backend implements, and the
// controller that moves targets through their state machines. It knows no
// HTTP and no SQL.
package compute

import (
	"time"
)

// Kind is the type of a compute target. The values are Azure's
// properties.computeType discriminators, plus Local and Slurm of our own.
type Kind string

// The kinds of compute target.
const (
	KindLocal             Kind = "Local"             // the built-in target: processes on this machine
	KindCluster           Kind = "AmlCompute"        // compute cluster: an autoscaling pool of nodes
	KindInstance          Kind = "ComputeInstance"   // a single-user workstation
	KindVirtualMachine    Kind = "VirtualMachine"    // an attached Linux VM over SSH
	KindHDInsight         Kind = "HDInsight"         // an attached HDInsight cluster (SSH to its head node)
	KindDatabricks        Kind = "Databricks"        // an attached Databricks workspace
	KindDataLakeAnalytics Kind = "DataLakeAnalytics" // an attached ADLA account
	KindBatch             Kind = "AzureBatch"        // an attached Azure Batch account
	KindSlurm             Kind = "Slurm"             // an attached Slurm cluster (slurmrestd)
)

// Kinds lists every kind, in the order the UI offers them.
func Kinds() []Kind {
	return []Kind{KindLocal, KindCluster, KindInstance, KindVirtualMachine, KindHDInsight, KindDatabricks, KindDataLakeAnalytics, KindBatch, KindSlurm}
}

// IsAttached reports whether targets of this kind are brought by the user
// rather than created by Trainyard.
func (k Kind) IsAttached() bool {
	switch k {
	case KindVirtualMachine, KindHDInsight, KindDatabricks, KindDataLakeAnalytics, KindBatch, KindSlurm:
		return true
	}
	return false
}

// Label is the name the UI shows for the kind.
func (k Kind) Label() string {
	switch k {
	case KindLocal:
		return "Local"
	case KindCluster:
		return "Compute cluster"
	case KindInstance:
		return "Compute instance"
	case KindVirtualMachine:
		return "Virtual machine"
	case KindHDInsight:
		return "HDInsight"
	case KindDatabricks:
		return "Azure Databricks"
	case KindDataLakeAnalytics:
		return "Data Lake Analytics"
	case KindBatch:
		return "Azure Batch"
	case KindSlurm:
		return "Slurm cluster"
	}
	return string(k)
}

// Tab is the Compute page tab a kind is listed under.
func (k Kind) Tab() string {
	switch k {
	case KindInstance:
		return TabInstances
	case KindCluster, KindLocal:
		return TabClusters
	case KindSlurm:
		return TabSlurm
	}
	return TabAttached
}

// The Compute page tabs, as used in ?tab=.
const (
	TabInstances = "instances"
	TabClusters  = "clusters"
	TabSlurm     = "slurm"
	TabAttached  = "attached"
)

// Target is one compute target: a cluster, an instance, an attached machine or
// the built-in local target.
type Target struct {
	Name              string
	Kind              Kind
	Description       string
	Location          string
	ProvisioningState ProvisioningState
	// ProvisioningErrors are shown verbatim (Azure's provisioningErrors).
	ProvisioningErrors []string
	CreatedBy          string
	CreatedAt          time.Time
	ModifiedAt         time.Time
	// StateSince is when ProvisioningState (or the instance state) last changed,
	// so the UI can say how long a transitional state has lasted.
	StateSince    time.Time
	LastOperation Operation
	// ResourceID is the ARM ID of the underlying resource, when known.
	ResourceID string

	Cluster  *ClusterSpec  // set for KindCluster
	Instance *InstanceSpec // set for KindInstance
	Attach   *AttachSpec   // set for attached kinds

	// SecretsSet names the secrets stored for the target (never their values).
	SecretsSet []string
	// Nodes summarises the target's nodes; filled by the store on reads.
	Nodes NodeCounts
}

// IsBuiltin reports whether the target is the always-present local target.
func (t *Target) IsBuiltin() bool { return t.Kind == KindLocal }

// VMSizeName returns the VM size of a cluster or instance, or "".
func (t *Target) VMSizeName() string {
	switch {
	case t.Cluster != nil:
		return t.Cluster.VMSize
	case t.Instance != nil:
		return t.Instance.VMSize
	}
	return ""
}

// Operation records the last user or system action on a target (Azure's lastOperation).
type Operation struct {
	Name    string // Create, Start, Stop, Restart, Delete, Attach, Detach, Update
	Status  string // InProgress, Succeeded, Failed
	Trigger string // User, Schedule, IdleShutdown
	Time    time.Time
}

// VMPriority is a cluster's tier.
type VMPriority string

// The cluster tiers.
const (
	Dedicated   VMPriority = "Dedicated"
	LowPriority VMPriority = "LowPriority"
)

// ClusterSpec is what a compute cluster is created with.
type ClusterSpec struct {
	VMSize     string
	VMPriority VMPriority
	VMType     string // CPU or GPU
	MinNodes   int
	MaxNodes   int
	// IdleSecondsBeforeScaleDown is how long a node above MinNodes may stay idle.
	IdleSecondsBeforeScaleDown int
	AdminUserName              string
	SSHPublicKey               string // public, so not a secret
	IdentityType               string // "", SystemAssigned, UserAssigned
	UserAssignedIdentity       string
	AllocationState            string // Steady, Resizing
	TargetNodeCount            int
}

// InstanceSpec is what a compute instance is created with, and its power state.
type InstanceSpec struct {
	VMSize string
	VMType string // CPU or GPU
	State  InstanceState
	// IdleShutdownMinutes is 0 when idle shutdown is off.
	IdleShutdownMinutes int
	Schedules           []Schedule
	SSHEnabled          bool
	SSHPublicKey        string
	AdminUserName       string
	AssignedUser        string // user ID the instance belongs to ("" = creator)
	WorkDir             string // local workspace folder, set by the local backend
	// SetupScript runs once, at creation; StartupScript at every start
	// (creation included). Both are the script's text, run by bash as the
	// instance's user in its home (Studio's creation and startup scripts).
	SetupScript   string
	StartupScript string
	// SetupLog and StartupLog are the end of the last run of each script's
	// output, for the details page.
	SetupLog   string
	StartupLog string
	// StartupWarning says that the last startup script failed, and how;
	// the instance runs anyway (a failed creation script fails the create).
	StartupWarning string
	// StopReason says when and why the instance stopped by itself (idle
	// shutdown); cleared when it runs again.
	StopReason string
}

// Schedule starts or stops an instance at a time on some weekdays.
type Schedule struct {
	Action   string   // Start or Stop
	Time     string   // HH:MM, 24-hour
	TimeZone string   // IANA name, e.g. UTC or Europe/Stockholm
	Days     []string // Monday..Sunday
}

// AttachSpec is what an attached target is recorded with. Secrets (password,
// private key, passphrase, access tokens) are stored sealed, apart from it.
type AttachSpec struct {
	Address       string // host name or IP (VM, HDInsight)
	SSHPort       int
	UserName      string
	Workspace     string // Databricks workspace name
	ResourceGroup string
	AccountName   string // ADLA or Batch account
	RESTURL       string // slurmrestd URL
	SlurmUser     string
	// SlurmPartition is the partition jobs go to; "" means the cluster's default partition.
	SlurmPartition string
	// SharedDir is a directory that this server and every Slurm node see at
	// the same path; run snapshots are staged and job logs written there.
	SharedDir string
	// SlurmConf is the cluster's slurm.conf as this server sees it (the
	// server then runs on the head node or a host sharing /etc/slurm). It
	// is optional: with it, a partition of power-saving (CLOUD) nodes has
	// editable min/max nodes and idle seconds, written to the
	// Trainyard-owned include file next to it (compute/slurm.PowerConfName)
	// and applied with scontrol reconfigure.
	SlurmConf string
	// Checked is false until a backend has connected to the target; the UI says so.
	Checked bool
	// StatusMessage is the last word from the backend about the attach, shown verbatim.
	StatusMessage      string
	HostKeyFingerprint string
	// PendingHostKeyFingerprint is the SSH host key the machine presented
	// while no key, or another key, was pinned: it waits for an operator's
	// approval (approve-host-key) and no work is done on the target until then.
	PendingHostKeyFingerprint string
	// Unreachable is set while the machine does not answer (the controller's
	// health probe, or a run that lost its connection): the target shows
	// Unusable with StatusMessage as the last error, and the flag clears by
	// itself when a probe reaches the machine again.
	Unreachable bool
}

// Secret names used by attach forms.
const (
	SecretPassword    = "password"
	SecretPrivateKey  = "privateKey"
	SecretPassphrase  = "privateKeyPassphrase"
	SecretAccessToken = "accessToken"
	SecretSlurmToken  = "slurmToken"
	// SecretSlurmJWTKey is slurmctld's HS256 key (jwt_hs256.key); with it the
	// server mints short-lived tokens for the Slurm user itself.
	SecretSlurmJWTKey   = "slurmJWTKey"
	SecretAdminPassword = "adminPassword"
)
