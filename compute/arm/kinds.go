package arm

import (
	"time"

	"github.com/trainyard/trainyard/compute"
)

// The per-type objects of properties.properties. Fields marked write-only
// are read from request bodies and never filled by FromTarget; fields marked
// read-only are filled by FromTarget and ignored in request bodies. Fields
// marked "Trainyard" are not in Azure's API.

// AmlComputeProperties is a compute cluster (computeType AmlCompute).
type AmlComputeProperties struct {
	OSType     string `json:"osType,omitempty"` // Linux
	VMSize     string `json:"vmSize,omitempty"`
	VMPriority string `json:"vmPriority,omitempty"` // Dedicated, LowPriority
	// VMType is CPU or GPU (Trainyard); derived from the size when empty.
	VMType                 string                  `json:"vmType,omitempty"`
	ScaleSettings          *ScaleSettings          `json:"scaleSettings,omitempty"`
	UserAccountCredentials *UserAccountCredentials `json:"userAccountCredentials,omitempty"`
	AllocationState        string                  `json:"allocationState,omitempty"` // read-only: Steady, Resizing
	CurrentNodeCount       int                     `json:"currentNodeCount"`          // read-only
	TargetNodeCount        int                     `json:"targetNodeCount"`           // read-only
	NodeStateCounts        *NodeStateCounts        `json:"nodeStateCounts,omitempty"` // read-only
}

// ScaleSettings bounds a cluster's autoscaling.
type ScaleSettings struct {
	MaxNodeCount int `json:"maxNodeCount"`
	MinNodeCount int `json:"minNodeCount"`
	// NodeIdleTimeBeforeScaleDown is an ISO-8601 duration such as PT120S;
	// absent means compute.DefaultIdleSeconds.
	NodeIdleTimeBeforeScaleDown string `json:"nodeIdleTimeBeforeScaleDown,omitempty"`
}

// UserAccountCredentials is a cluster's admin account for SSH to its nodes.
type UserAccountCredentials struct {
	AdminUserName         string `json:"adminUserName,omitempty"`
	AdminUserSSHPublicKey string `json:"adminUserSshPublicKey,omitempty"` // write-only
	AdminUserPassword     string `json:"adminUserPassword,omitempty"`     // write-only
}

// NodeStateCounts counts a cluster's nodes by state.
type NodeStateCounts struct {
	IdleNodeCount      int `json:"idleNodeCount"`
	RunningNodeCount   int `json:"runningNodeCount"`
	PreparingNodeCount int `json:"preparingNodeCount"`
	UnusableNodeCount  int `json:"unusableNodeCount"`
	LeavingNodeCount   int `json:"leavingNodeCount"`
	PreemptedNodeCount int `json:"preemptedNodeCount"`
}

// ComputeInstanceProperties is a compute instance (computeType ComputeInstance).
type ComputeInstanceProperties struct {
	VMSize string `json:"vmSize,omitempty"`
	// VMType is CPU or GPU (Trainyard); derived from the size when empty.
	VMType        string         `json:"vmType,omitempty"`
	State         string         `json:"state,omitempty"`         // read-only
	LastOperation *LastOperation `json:"lastOperation,omitempty"` // read-only
	SSHSettings   *SSHSettings   `json:"sshSettings,omitempty"`
	// ComputeInstanceAuthorizationType is "personal" when the instance is assigned to a user.
	ComputeInstanceAuthorizationType string                           `json:"computeInstanceAuthorizationType,omitempty"`
	PersonalComputeInstanceSettings  *PersonalComputeInstanceSettings `json:"personalComputeInstanceSettings,omitempty"`
	// IdleTimeBeforeShutdown is an ISO-8601 duration in whole minutes, e.g.
	// PT30M; absent means idle shutdown is off.
	IdleTimeBeforeShutdown string            `json:"idleTimeBeforeShutdown,omitempty"`
	Schedules              *ComputeSchedules `json:"schedules,omitempty"`
	// SetupScripts are the creation and startup scripts (inline only).
	SetupScripts *SetupScripts `json:"setupScripts,omitempty"`
	// Applications are the instance's applications with their addresses
	// (read-only; see SetInstanceApps).
	Applications []ComputeInstanceApplication `json:"applications,omitempty"`
	// ConnectivityEndpoints says where the instance is reached (read-only).
	ConnectivityEndpoints *ConnectivityEndpoints `json:"connectivityEndpoints,omitempty"`
}

// SetupScripts is ARM's setupScripts of an instance.
type SetupScripts struct {
	Scripts *ScriptsToExecute `json:"scripts,omitempty"`
}

// ScriptsToExecute are the scripts run at creation and at every start.
type ScriptsToExecute struct {
	CreationScript *ScriptReference `json:"creationScript,omitempty"`
	StartupScript  *ScriptReference `json:"startupScript,omitempty"`
}

// ScriptReference is one script. Trainyard takes scriptSource "inline"
// with scriptData the script's text in base64, as ARM does for inline
// scripts; a script in a workspace datastore cannot be reached here.
type ScriptReference struct {
	ScriptSource string `json:"scriptSource,omitempty"`
	ScriptData   string `json:"scriptData,omitempty"`
}

// ComputeInstanceApplication is one application of an instance.
type ComputeInstanceApplication struct {
	DisplayName string `json:"displayName"`
	EndpointURI string `json:"endpointUri"`
}

// ConnectivityEndpoints is where an instance is reached. SSHPort is
// Trainyard's (Azure has it only in sshSettings, where Trainyard sets it too).
type ConnectivityEndpoints struct {
	PublicIPAddress  string `json:"publicIpAddress,omitempty"`
	PrivateIPAddress string `json:"privateIpAddress,omitempty"`
	SSHPort          int    `json:"sshPort,omitempty"`
}

// LastOperation is the last action on an instance.
type LastOperation struct {
	OperationName    string    `json:"operationName,omitempty"` // Create, Start, Stop, Restart, Delete
	OperationTime    time.Time `json:"operationTime,omitzero"`
	OperationStatus  string    `json:"operationStatus,omitempty"`  // InProgress, Succeeded, Failed
	OperationTrigger string    `json:"operationTrigger,omitempty"` // User, Schedule, IdleShutdown
}

// SSHSettings is an instance's SSH access.
type SSHSettings struct {
	SSHPublicAccess string `json:"sshPublicAccess,omitempty"` // Enabled, Disabled (default)
	AdminUserName   string `json:"adminUserName,omitempty"`
	SSHPort         int    `json:"sshPort,omitempty"`        // read-only
	AdminPublicKey  string `json:"adminPublicKey,omitempty"` // write-only
}

// PersonalComputeInstanceSettings names the user an instance belongs to.
type PersonalComputeInstanceSettings struct {
	AssignedUser *AssignedUser `json:"assignedUser,omitempty"`
}

// AssignedUser is an Entra ID user: object ID and tenant ID.
type AssignedUser struct {
	ObjectID string `json:"objectId"`
	TenantID string `json:"tenantId,omitempty"`
}

// ComputeSchedules holds an instance's start/stop schedules.
type ComputeSchedules struct {
	ComputeStartStop []StartStopSchedule `json:"computeStartStop"`
}

// StartStopSchedule is Azure's ComputeStartStopSchedule. Trainyard supports
// weekly (or daily) recurrences at one time of day, not cron expressions.
type StartStopSchedule struct {
	Status      string      `json:"status,omitempty"` // Enabled (default) or Disabled
	Action      string      `json:"action"`           // Start, Stop
	TriggerType string      `json:"triggerType,omitempty"`
	Recurrence  *Recurrence `json:"recurrence,omitempty"`
	Cron        *Cron       `json:"cron,omitempty"` // accepted in bodies only to be refused clearly
}

// Recurrence is when a schedule fires.
type Recurrence struct {
	Frequency string `json:"frequency"` // Week or Day
	Interval  int    `json:"interval"`
	// TimeZone is an IANA name (Azure uses Windows names); empty means UTC.
	TimeZone string             `json:"timeZone,omitempty"`
	Schedule RecurrenceSchedule `json:"schedule"`
}

// RecurrenceSchedule is the time of day and the weekdays of a recurrence.
type RecurrenceSchedule struct {
	Hours    []int    `json:"hours"`
	Minutes  []int    `json:"minutes"`
	WeekDays []string `json:"weekDays,omitempty"`
}

// Cron is a cron-triggered schedule (not supported by Trainyard).
type Cron struct {
	Expression string `json:"expression,omitempty"`
	TimeZone   string `json:"timeZone,omitempty"`
}

// AttachStatus is what Trainyard knows about an attached target (Trainyard).
type AttachStatus struct {
	// Checked is false until a backend has connected to the target.
	Checked bool `json:"checked"`
	// StatusMessage is the backend's last word about the attach.
	StatusMessage string `json:"statusMessage,omitempty"`
	// PendingHostKeyFingerprint is the SSH host key the machine presents and
	// an operator has not approved yet (Trainyard, read-only).
	PendingHostKeyFingerprint string `json:"pendingHostKeyFingerprint,omitempty"`
	// State is "Unusable" while the machine does not answer (Trainyard,
	// read-only); StatusMessage then holds the last error.
	State string `json:"state,omitempty"`
}

// AdministratorAccount is the SSH account of an attached machine. Only the
// user name is ever rendered.
type AdministratorAccount struct {
	Username       string `json:"username,omitempty"`
	Password       string `json:"password,omitempty"`       // write-only
	PublicKeyData  string `json:"publicKeyData,omitempty"`  // write-only, ignored
	PrivateKeyData string `json:"privateKeyData,omitempty"` // write-only
	// PrivateKeyPassphrase unlocks PrivateKeyData (Trainyard, write-only).
	PrivateKeyPassphrase string `json:"privateKeyPassphrase,omitempty"`
}

// VirtualMachineProperties is an attached Linux VM (computeType VirtualMachine).
type VirtualMachineProperties struct {
	VirtualMachineSize   string                `json:"virtualMachineSize,omitempty"`
	Address              string                `json:"address,omitempty"`
	SSHPort              int                   `json:"sshPort,omitempty"`
	AdministratorAccount *AdministratorAccount `json:"administratorAccount,omitempty"`
	// HostKeyFingerprint is the pinned SSH host key (Trainyard); given at
	// attach ("SHA256:…") it is pinned up front, without a separate approval.
	HostKeyFingerprint string `json:"hostKeyFingerprint,omitempty"`
	AttachStatus
}

// HDInsightProperties is an attached HDInsight cluster, reached over SSH to
// its head node (computeType HDInsight).
type HDInsightProperties struct {
	Address              string                `json:"address,omitempty"`
	SSHPort              int                   `json:"sshPort,omitempty"`
	AdministratorAccount *AdministratorAccount `json:"administratorAccount,omitempty"`
	// HostKeyFingerprint is the pinned SSH host key (Trainyard); given at
	// attach ("SHA256:…") it is pinned up front, without a separate approval.
	HostKeyFingerprint string `json:"hostKeyFingerprint,omitempty"`
	AttachStatus
}

// DatabricksProperties is an attached Databricks workspace (computeType Databricks).
type DatabricksProperties struct {
	DatabricksAccessToken string `json:"databricksAccessToken,omitempty"` // write-only
	WorkspaceURL          string `json:"workspaceUrl,omitempty"`
	WorkspaceName         string `json:"workspaceName,omitempty"` // Trainyard
	ResourceGroup         string `json:"resourceGroup,omitempty"` // Trainyard
	AttachStatus
}

// DataLakeAnalyticsProperties is an attached ADLA account (computeType DataLakeAnalytics).
type DataLakeAnalyticsProperties struct {
	DataLakeStoreAccountName string `json:"dataLakeStoreAccountName,omitempty"`
	ResourceGroup            string `json:"resourceGroup,omitempty"` // Trainyard
	AttachStatus
}

// AzureBatchProperties is an attached Azure Batch account (computeType AzureBatch).
type AzureBatchProperties struct {
	AccountName   string `json:"accountName,omitempty"`
	ResourceGroup string `json:"resourceGroup,omitempty"`
	AttachStatus
}

// SlurmProperties is an attached Slurm cluster reached through slurmrestd
// (computeType Slurm, Trainyard).
type SlurmProperties struct {
	RestURL string `json:"restUrl,omitempty"`
	User    string `json:"user,omitempty"`  // the Slurm user jobs run as
	Token   string `json:"token,omitempty"` // write-only: a slurmrestd JWT
	// JWTKey is the cluster's JWT signing key (jwt_hs256.key), base64
	// (standard encoding) because the key is usually binary; write-only.
	// With it the server makes its own short-lived tokens for User, so
	// Token may be left out.
	JWTKey string `json:"jwtKey,omitempty"`
	// Partition is the partition jobs go to; empty means the cluster's default.
	Partition string `json:"partition,omitempty"`
	// SharedDir is an absolute path that this server and every node see
	// alike: run folders are staged and job logs written there.
	SharedDir string `json:"sharedDir,omitempty"`
	// SlurmConf is the absolute path of slurm.conf on the server's host;
	// with it the power-saving settings of a CLOUD partition are editable
	// (updateScaleSettings).
	SlurmConf string `json:"slurmConf,omitempty"`
	// Version is the Slurm version slurmrestd reports (read-only).
	Version string `json:"version,omitempty"`
	// Partitions and Nodes are the cluster as last seen (read-only).
	Partitions []SlurmPartition `json:"partitions,omitempty"`
	Nodes      []SlurmNode      `json:"nodes,omitempty"`
	// CheckedOn is when Partitions and Nodes were read (read-only).
	CheckedOn time.Time `json:"checkedOn,omitzero"`
	AttachStatus
}

// SlurmPartition is one partition of an attached Slurm cluster (read-only).
type SlurmPartition struct {
	Name       string   `json:"name"`
	State      string   `json:"state,omitempty"` // UP, DOWN, DRAIN, INACTIVE
	Nodes      []string `json:"nodes,omitempty"`
	TotalNodes int      `json:"totalNodes"`
	TotalCPUs  int      `json:"totalCpus"`
	Default    bool     `json:"isDefault,omitempty"`
	MaxTime    string   `json:"maxTime,omitempty"`
}

// SlurmNode is one node of an attached Slurm cluster with its state mapped
// onto Studio's (idle, running, preparing, unusable, leaving, preempted)
// and Slurm's reason (read-only).
type SlurmNode struct {
	NodeID    string `json:"nodeId"`
	NodeState string `json:"nodeState"`
	Reason    string `json:"reason,omitempty"`
	CPUs      int    `json:"cpus,omitempty"`
	MemoryMB  int    `json:"memoryMb,omitempty"`
	GPUs      int    `json:"gpus,omitempty"`
	RunID     string `json:"runId,omitempty"`
	PrivateIP string `json:"privateIpAddress,omitempty"`
}

// SecretSlurmJWTKey is the secret name a Slurm JWT signing key is stored
// under (compute.SecretSlurmJWTKey).
const SecretSlurmJWTKey = compute.SecretSlurmJWTKey
