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

// PowerController is implemented by backends whose targets can be started and
// stopped (compute instances). Checked with a type assertion.
type PowerController interface {
	// Power carries out start, stop or restart of an instance and returns when
	// the instance has reached its settled state.
	Power(ctx context.Context, t *Target, a PowerAction) error
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
