package compute

import (
	"context"
	"io"
	"time"
)

// Backend is the contract between Trainyard and one way of reaching compute:
// the local machine, Linux VMs over SSH, Slurm clusters through slurmrestd.
// Every backend passes the same contract test suite (compute/computetest).
//
// Concurrency: methods may be called from several goroutines at once, for
// different targets and different jobs. A backend keeps no state that a
// server restart would lose: everything needed to find a job again is in its
// Handle, which the caller persists before doing anything else with it.
//
// Idempotency: Provision, Deprovision and Cancel may be called again after a
// crash or a retry; calling them twice has the effect of calling them once.
// Deprovision of a target that is already gone and Cancel of a job that has
// already ended succeed.
//
// Intended flow for a target: Provision (create or attach and check) →
// Nodes (any number of times) → Deprovision (delete or detach).
// For a job: Submit → persist the Handle → Status until Terminal, Logs at any
// time → Cancel at most once it is no longer wanted.
type Backend interface {
	// Name names the backend ("local", "ssh", "slurm") for logs and errors.
	Name() string

	// Provision makes a new target usable: creates a cluster's pool or an
	// instance's workspace, or checks that an attached machine answers. It
	// returns a user-readable error (shown verbatim as a provisioning error)
	// when the target cannot be used.
	Provision(ctx context.Context, t *Target) error
	// Deprovision deletes what Provision made, or detaches without touching the
	// underlying machine.
	Deprovision(ctx context.Context, t *Target) error
	// Nodes lists the machines (or slots) of a target as the backend sees them.
	Nodes(ctx context.Context, t *Target) ([]Node, error)

	// Submit starts a job and returns its handle as soon as the job exists.
	Submit(ctx context.Context, t *Target, job JobSpec) (Handle, error)
	// Status reports where a job is; it works for handles from before a restart.
	Status(ctx context.Context, h Handle) (JobState, error)
	// Logs returns the job's combined output from byte offset on.
	Logs(ctx context.Context, h Handle, offset int64) (io.ReadCloser, error)
	// Cancel stops the job and everything it started.
	Cancel(ctx context.Context, h Handle) error
}

// The capabilities below are what a backend may do beyond Backend. A backend
// declares the ones it has in its Registration (registry.go), by setting the
// matching Capabilities field, and asserts each at compile time
// (var _ compute.Scaler = (*Backend)(nil)). Nothing asks a backend at run
// time what it implements: callers ask the Registry.

// PowerController starts, stops and restarts compute instances.
type PowerController interface {
	// Power carries out start, stop or restart of an instance and returns when
	// the instance has reached its settled state.
	Power(ctx context.Context, t *Target, a PowerAction) error
}

// Scaler grows and shrinks the nodes of clusters that Trainyard manages.
//
// Scale is called on every controller tick with how many nodes work wants
// now; it takes one step toward clamp(min, demand, max) and returns the nodes
// after that step. It updates t.Cluster's TargetNodeCount and AllocationState;
// the caller persists t.
type Scaler interface {
	Scale(ctx context.Context, t *Target, demand int) ([]Node, error)
}

// HealthChecker probes attached machines that can go away and come back
// (SSH VMs): CheckHealth connects to the target and returns what it found
// (for Attach.StatusMessage), or why it could not. An error matching
// ErrUnavailable makes the target Unusable until a later probe succeeds; an
// UntrustedHostKey makes it refuse work as at provisioning.
type HealthChecker interface {
	CheckHealth(ctx context.Context, t *Target) (message string, err error)
}

// UnreachableNotifier tells, while a job runs, that its machine stopped
// answering, so the controller can mark the target Unusable and probe it at
// once. The callback is set after the controller exists.
type UnreachableNotifier interface {
	NotifyUnreachable(f func(target string, err error))
}

// JobWatcher serves backends that see their jobs end (the local backend
// waits for the processes it started): the dispatcher need not poll such a
// job every pass while it runs, and hears of its end at once rather than at
// the next pass, which for short jobs was most of a run's time.
type JobWatcher interface {
	// NotifyJobEnded sets f, called with the run ID once a watched job's
	// processes have ended (f must not block). Set before the first Submit.
	NotifyJobEnded(f func(runID string))
	// Watching reports whether the end of the job under h will be told to
	// f: true from its Submit by this process until its end is told; false
	// for a job started before a restart, which is polled as usual.
	Watching(h Handle) bool
}

// OutputFetcher serves backends whose jobs run away from this server (over
// SSH, on a cluster's nodes): FetchOutputs copies the job's ./outputs and
// ./logs into localDir/outputs and localDir/logs before they are collected.
type OutputFetcher interface {
	FetchOutputs(ctx context.Context, h Handle, localDir string) error
}

// HostKeyApprover pins SSH host keys: ApproveHostKey checks that the machine
// presents exactly fingerprint now, records the pin in
// t.Attach.HostKeyFingerprint and drops connections made under an older pin.
type HostKeyApprover interface {
	ApproveHostKey(ctx context.Context, t *Target, fingerprint string) error
}

// ConnectionResetter serves secret rotation: after a target's credentials
// were replaced, the pooled connection to it is dropped so that the next one
// signs in with the new ones.
type ConnectionResetter interface {
	ResetConnection(ctx context.Context, t *Target)
}

// PowerManager serves clusters that scale by powering nodes up and down
// (Slurm power saving): their scale settings are read and changed on the
// scheduler.
type PowerManager interface {
	// PowerStatus reads the target's power-saving settings and node counts.
	PowerStatus(ctx context.Context, t *Target) (PowerStatus, error)
	// UpdateScale applies new settings; a *ValidationError names the field
	// at fault.
	UpdateScale(ctx context.Context, t *Target, s ScaleSettings) error
}

// Describer serves scheduler-backed targets whose nodes Trainyard does not
// manage (Slurm): the node refresher reads their version and partitions, and
// saves their nodes, every few seconds.
type Describer interface {
	Describe(ctx context.Context, t *Target) (version string, partitions []Partition, err error)
}

// NodeSampler serves backends that know more about their nodes' states than
// Nodes tells (Slurm: powered-down nodes, which Nodes leaves out, and nodes
// booting for a job); the node refresher records its sample instead of
// counting Nodes. At is left for the caller to set.
type NodeSampler interface {
	NodeSample(ctx context.Context, t *Target) (NodeSample, error)
}

// SessionOpener serves compute instances people work on: it opens an
// interactive process on the instance (a terminal's login shell, an SSH
// session, Jupyter) contained exactly as the instance's runs are — the
// instance's user, its limits, its home as working folder — and ends every
// such process when the instance stops. It is the one way into an
// instance's machine; the terminal, SSH and Jupyter all go through it.
type SessionOpener interface {
	// OpenSession starts spec on the running instance t. A stopped
	// instance is ErrConflict (code ComputeInstanceNotRunning).
	OpenSession(ctx context.Context, t *Target, spec SessionSpec) (Session, error)
	// LastActivity is when a session of the instance last showed activity:
	// terminal input or output, or now while a session that keeps the
	// instance awake is open. Zero when there was none since the server
	// started.
	LastActivity(instance string) time.Time
	// Touch records activity on the instance seen outside its sessions'
	// own input and output (a Jupyter kernel busy, a request to Jupyter).
	Touch(instance string, at time.Time)
	// EndSessions ends every session of the instance and everything they
	// started (the instance stops or is deleted).
	EndSessions(ctx context.Context, instance string)
}

// SessionSpec is one interactive process on an instance: an argv, never a
// shell string.
type SessionSpec struct {
	// Purpose names the session in logs ("terminal", "ssh", "jupyter").
	Purpose string
	// Argv is the program; empty means the user's login shell.
	Argv []string
	// Env is added to the sandbox's own environment (TERM, LANG).
	Env map[string]string
	// TTY gives the session a terminal of this size; nil runs it on pipes
	// (an SSH exec, sftp-server, Jupyter).
	TTY *TTYSize
	// KeepsAwake makes the instance count as active for as long as the
	// session is open (an SSH connection), not only while it has I/O.
	KeepsAwake bool
}

// TTYSize is a terminal's size in character cells.
type TTYSize struct {
	Rows, Cols uint16
}

// Session is one running SessionSpec. Read returns its output (with a TTY
// everything the terminal shows; without, standard output), Write feeds its
// input. It is safe to Read, Write, Resize and Close from different
// goroutines.
type Session interface {
	io.ReadWriter
	// Stderr is the standard error of a session without a TTY (nil with one).
	Stderr() io.Reader
	// CloseInput ends the input (EOF on standard input; no-op with a TTY).
	CloseInput() error
	// Resize changes the terminal's size (no-op without a TTY).
	Resize(size TTYSize) error
	// Wait returns when the session's program has exited, with its exit code.
	Wait() (exitCode int, err error)
	// Close ends the session and every process it started; it may be
	// called more than once.
	Close() error
}

// Node is one machine, or one worker slot, of a target.
type Node struct {
	ID        string
	State     NodeState
	PrivateIP string
	PublicIP  string
	Port      int
	RunID     string // the run on the node, if any
	Since     time.Time
	Reason    string // why the node is unusable, drained or preparing
	CPUs      int
	MemoryMB  int
	GPUs      int
}

// JobSpec is one job handed to a backend: an argv, never a shell string.
type JobSpec struct {
	RunID       string
	Argv        []string
	Env         map[string]string
	WorkDir     string // a directory on this server holding the job's files
	NodeCount   int
	MaxDuration time.Duration // 0 = no limit
}

// Handle finds a job again, also after a restart. Backend is the backend's
// Name; ID is a pid, a Slurm job id, a remote pid.
type Handle struct {
	Backend string
	ID      string
}

// JobPhase is where a job is, as a backend sees it.
type JobPhase string

// The job phases; the run dispatcher maps them onto run statuses.
const (
	JobQueued     JobPhase = "Queued"
	JobStarting   JobPhase = "Starting"
	JobRunning    JobPhase = "Running"
	JobFinalizing JobPhase = "Finalizing"
	JobCompleted  JobPhase = "Completed"
	JobFailed     JobPhase = "Failed"
	JobCanceled   JobPhase = "Canceled"
)

// Terminal reports whether the job has ended.
func (p JobPhase) Terminal() bool {
	return p == JobCompleted || p == JobFailed || p == JobCanceled
}

// JobState is a job's phase with the details a user wants to see.
type JobState struct {
	Phase    JobPhase
	ExitCode int
	Reason   string // why queued, why failed
	// Attempt counts the times the backend has started the job, from 1;
	// above 1 it restarted it from the beginning (a Slurm requeue after
	// preemption or a node failure). 0: the backend never restarts jobs.
	Attempt int
}
