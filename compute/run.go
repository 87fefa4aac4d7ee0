package compute

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/trainyard/trainyard/compute/hyperdrive"
)

// RunStatus is where a run is, with Azure ML's names (docs/design/hyperdrive.md §4.4).
type RunStatus string

// The run statuses, in Azure's order.
const (
	RunNotStarted      RunStatus = "NotStarted"      // accepted, nothing done yet
	RunQueued          RunStatus = "Queued"          // waiting for the target (e.g. for idle nodes)
	RunPreparing       RunStatus = "Preparing"       // the working folder is being built from the snapshot
	RunStarting        RunStatus = "Starting"        // handed to the backend
	RunRunning         RunStatus = "Running"         // the script runs on the target
	RunFinalizing      RunStatus = "Finalizing"      // the script ended; outputs and logs are being collected
	RunCompleted       RunStatus = "Completed"       // the script and output collection succeeded
	RunFailed          RunStatus = "Failed"          // see Run.Error
	RunCanceled        RunStatus = "Canceled"        // cancelled after a cancel request
	RunCancelRequested RunStatus = "CancelRequested" // cancellation asked for, not done yet
)

// RunStatuses lists every status in Azure's order (for filters and legends).
func RunStatuses() []RunStatus {
	return []RunStatus{RunNotStarted, RunQueued, RunPreparing, RunStarting, RunRunning,
		RunFinalizing, RunCompleted, RunFailed, RunCanceled, RunCancelRequested}
}

// Valid reports whether s is one of the statuses.
func (s RunStatus) Valid() bool {
	for _, v := range RunStatuses() {
		if v == s {
			return true
		}
	}
	return false
}

// Terminal reports whether a run in this status has ended: Completed,
// Failed or Canceled.
func (s RunStatus) Terminal() bool {
	return s == RunCompleted || s == RunFailed || s == RunCanceled
}

// Active reports whether a run in this status still wants its target (its
// nodes count as demand): every status that is not terminal.
func (s RunStatus) Active() bool { return s.Valid() && !s.Terminal() }

// CanMoveTo reports whether the run state machine allows from → to. Every
// non-terminal status may fail, and may be cancelled (directly to Canceled
// before anything runs, else through CancelRequested). Starting may fall back
// to Queued when the target turns out to have no free node, or when the
// submitted job waits in the backend's own queue (Slurm's PENDING); such a
// Queued run goes to Starting when its job starts. Running goes back to
// Queued when the backend requeues the job (preemption, a node failure): a
// new attempt. Terminal statuses never change.
func (s RunStatus) CanMoveTo(to RunStatus) bool {
	if s.Terminal() || !to.Valid() || s == to {
		return false
	}
	if to == RunFailed {
		return true
	}
	switch s {
	case RunNotStarted:
		return to == RunQueued || to == RunPreparing || to == RunCancelRequested || to == RunCanceled
	case RunQueued:
		return to == RunPreparing || to == RunStarting || to == RunCancelRequested || to == RunCanceled
	case RunPreparing:
		return to == RunStarting || to == RunQueued || to == RunCancelRequested || to == RunCanceled
	case RunStarting:
		return to == RunRunning || to == RunQueued || to == RunFinalizing || to == RunCancelRequested || to == RunCanceled
	case RunRunning:
		return to == RunFinalizing || to == RunQueued || to == RunCancelRequested || to == RunCompleted || to == RunCanceled
	case RunFinalizing:
		return to == RunCompleted || to == RunCanceled
	case RunCancelRequested:
		return to == RunCanceled || to == RunCompleted
	}
	return false
}

// RunKind says who drives a run's status.
type RunKind string

// The run kinds.
const (
	// RunKindScript is a submitted script that the dispatcher runs on a target.
	RunKindScript RunKind = "script"
	// RunKindTracking is a run created over the MLflow API (runs/create): it
	// only records what a client logs, and the client sets its status.
	RunKindTracking RunKind = "tracking"
	// RunKindHyperdrive is a HyperDrive sweep: a parent run whose children
	// (script runs) the sweep driver submits and judges (sweepdriver.go).
	RunKindHyperdrive RunKind = "hyperdrive"
)

// RunEvent is one status change in a run's history.
type RunEvent struct {
	Status RunStatus
	Time   time.Time
	Reason string // why, in words for the user ("waiting for a node: 4/4 busy", "exit code 3")
}

// GitInfo is what a snapshot recorded about the git checkout it came from.
type GitInfo struct {
	Repository string
	Branch     string
	Commit     string
	Dirty      bool
}

// RunEnvironment is the part of a runconfig's environment that Trainyard
// honours or keeps for display (docs/design/hyperdrive.md §5.2).
type RunEnvironment struct {
	// Variables are environment.environmentVariables, passed to the script.
	Variables map[string]string
	// InterpreterPath is environment.python.interpreterPath, used when
	// UserManagedDependencies is true.
	InterpreterPath         string
	UserManagedDependencies bool
	// CondaDependencies is kept as recorded (JSON), not installed.
	CondaDependencies []byte
	DockerEnabled     bool
	DockerBaseImage   string
}

// Run is one execution of a script (or one MLflow tracking run).
type Run struct {
	ID             string
	Kind           RunKind
	ExperimentID   int64
	ExperimentName string
	// DisplayName is the run's name in MLflow (run_name); "" shows the ID.
	DisplayName  string
	Status       RunStatus
	StatusReason string // why the run is in its status, for the user
	Target       string // compute target name
	ParentID     string // the parent run, for child runs ("" = none)
	// SubmittedBy is the submitter's display name, SubmittedByID their stable
	// user ID (used for "only the submitter may cancel").
	SubmittedBy   string
	SubmittedByID string
	CreatedAt     time.Time
	StartedAt     time.Time // when it reached Running (zero until then)
	EndedAt       time.Time // when it reached a terminal status

	Script         string
	Arguments      []string
	NodeCount      int
	MaxRunDuration time.Duration // 0 = no limit
	SnapshotID     string
	Git            *GitInfo
	Environment    RunEnvironment
	// RunConfiguration is the parsed .runconfig as JSON, kept for display.
	RunConfiguration []byte

	// Handle finds the backend job; it is persisted before anything else is
	// done with it, so the job is found again after a restart.
	Handle Handle
	// Attempt counts submissions to the backend (1 after the first Submit).
	Attempt int
	// Error is why a Failed run failed (the backend's reason).
	Error string

	// Sweep is a hyperdrive parent's definition (with its seed); nil for
	// other runs. BestChildID is its best child by primary metric so far.
	Sweep       *hyperdrive.Sweep
	BestChildID string
	// ChildIndex, Hyperparameters and PolicyCancelReason belong to a
	// sweep's child: its proposal order, its sampled values, and why the
	// early-termination policy cancelled it ("" when it did not).
	ChildIndex         int
	Hyperparameters    hyperdrive.Params
	PolicyCancelReason string

	// Filled on reads of one run (GetRun); lists fill Metrics only.
	Metrics map[string]float64 // latest value of each metric
	Params  map[string]string
	Tags    map[string]string
	History []RunEvent
}

// Metric is one logged point of a metric.
type Metric struct {
	Key   string
	Value float64
	Step  int64
	Time  time.Time
}

// Experiment groups runs. ID 0 is MLflow's "Default" experiment.
type Experiment struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	RunCount  int
	LastRunAt time.Time // zero when it has no runs
}

// DefaultExperimentID and DefaultExperimentName are MLflow's default experiment.
const (
	DefaultExperimentID   = 0
	DefaultExperimentName = "Default"
)

// RunFilter narrows the runs list. Zero values do not filter.
type RunFilter struct {
	Experiment  string      // experiment name
	Statuses    []RunStatus // any of these
	Target      string
	Parent      string
	SubmittedBy string // display name or user ID
	Since       time.Time
	Until       time.Time
	// After continues a list after the run with this paging key (keyset
	// paging, newest first); see RunPage.Next.
	After int64
	// Offset skips that many matching runs (used when After is 0).
	Offset int
	// Limit is the page size; 0 means the store's default.
	Limit int
	// ActiveOnly keeps runs whose status is not terminal.
	ActiveOnly bool
	// Kind keeps one kind of run ("" = all).
	Kind RunKind
}

// RunPage is one page of runs, newest first. Next is the paging key to pass
// as RunFilter.After for the next page; 0 when this is the last page.
type RunPage struct {
	Runs []*Run
	Next int64
}

// Experiment name rule.
const (
	ExperimentNameMaxLen = 255
	// runIDExperimentLen bounds the experiment part of a run ID, so that an
	// ID stays a usable file name.
	runIDExperimentLen = 100
)

// ValidateExperimentName checks an experiment name: 1–255 letters, digits,
// '_', '-' and '.', starting with a letter or digit. It returns "" when the
// name is fine.
func ValidateExperimentName(name string) string {
	if name == "" {
		return "Enter an experiment name."
	}
	if len(name) > ExperimentNameMaxLen {
		return fmt.Sprintf("An experiment name is at most %d characters long (it is %d).", ExperimentNameMaxLen, len(name))
	}
	if !isLetter(name[0]) && !isDigit(name[0]) {
		return "An experiment name must start with a letter or a digit."
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isLetter(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			return fmt.Sprintf("An experiment name may contain only letters, digits, '_', '-' and '.'; %q is not allowed.", string(rune(c)))
		}
	}
	return ""
}

// NewRunID names a run as Azure ML does: <experiment>_<unix seconds>_<8 hex>.
// Characters that cannot be part of a file name are replaced by '_', and a
// long experiment name is shortened, so the ID is always a safe folder name.
func NewRunID(experiment string, now time.Time) string {
	b := []byte(experiment)
	if len(b) > runIDExperimentLen {
		b = b[:runIDExperimentLen]
	}
	for i, c := range b {
		if !isLetter(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		b = append([]byte("run"), b...)
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	return string(b) + "_" + strconv.FormatInt(now.Unix(), 10) + "_" + hex.EncodeToString(r[:])
}

// ValidRunID reports whether id can name a run: 1–200 letters, digits, '_',
// '-' and '.', not starting with '.'. Run IDs become folder names.
func ValidRunID(id string) bool {
	if id == "" || len(id) > 200 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !isLetter(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// KeyValue is one param or tag.
type KeyValue struct {
	Key   string
	Value string
}

// Snapshot limits (docs/design/hyperdrive.md §5.4): Azure's defaults.
const (
	SnapshotMaxBytes = 300 << 20
	SnapshotMaxFiles = 2000
)

// Snapshot is a stored source folder: a manifest of files whose contents are
// content-addressed blobs.
type Snapshot struct {
	ID         string
	CreatedAt  time.Time
	CreatedBy  string
	FileCount  int
	TotalBytes int64
	Git        *GitInfo
	Files      []SnapshotFile // sorted by path
}

// SnapshotFile is one file of a snapshot.
type SnapshotFile struct {
	Path   string // slash-separated, relative, clean
	SHA256 string // lower-case hex of the content
	Size   int64
	Mode   uint32 // permission bits; only the executable bit is kept when materialised
}

// OutputFile is one file a run left: under outputs/, logs/, user_logs/ or
// artifacts/ of the run's folder.
type OutputFile struct {
	Path    string // slash-separated, relative to the run's folder
	Size    int64
	ModTime time.Time
}
