package slurm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// nodeState maps a Slurm node's base state and flags onto Studio's node
// states. listed is false for a power-saving node that is powered down and
// idle: it is capacity the cluster may grow into, not a current node (as
// Azure lists only allocated nodes); Partitions counts it.
func nodeState(state, flags []string, reason string) (s compute.NodeState, why string, listed bool) {
	set := map[string]bool{}
	for _, x := range append(slices.Clone(state), flags...) {
		// v0.0.38 sends the base state lower case ("idle"); sinfo-style
		// suffixes (idle~, mixed#) may appear in hand-made input.
		x = strings.ToUpper(strings.TrimSpace(x))
		switch {
		case strings.HasSuffix(x, "~"):
			set["POWERED_DOWN"] = true
		case strings.HasSuffix(x, "#"):
			set["POWERING_UP"] = true
		case strings.HasSuffix(x, "%"):
			set["POWERING_DOWN"] = true
		}
		x = strings.TrimRight(x, "~#%*$@!^-+")
		set[x] = true
	}
	has := func(ks ...string) bool {
		for _, k := range ks {
			if set[k] {
				return true
			}
		}
		return false
	}
	words := func(ks ...string) string {
		var ws []string
		for _, k := range ks {
			if set[k] {
				ws = append(ws, strings.ReplaceAll(strings.ToLower(k), "_", " "))
			}
		}
		return strings.Join(ws, ", ")
	}
	busy := has("ALLOCATED", "MIXED", "ALLOC", "MIX")
	powering := has("POWERING_UP", "POWER_UP", "REBOOT_ISSUED", "REBOOT_REQUESTED")
	if powering {
		// A node that is booting does not answer yet: measured as
		// mixed+CLOUD+NOT_RESPONDING+POWERING_UP. That is preparing, not broken.
		delete(set, "NOT_RESPONDING")
	}
	switch {
	case has("FUTURE"):
		return "", "", false
	case has("DOWN", "FAIL", "FAILING", "DRAIN", "DRAINING", "DRAINED", "NOT_RESPONDING", "ERROR", "INVALID_REG", "INVALID"):
		w := words("DOWN", "DRAIN", "DRAINING", "DRAINED", "FAIL", "FAILING", "NOT_RESPONDING", "ERROR", "INVALID_REG", "INVALID")
		if reason != "" {
			w += ": " + reason
		}
		return compute.NodeUnusable, w, true
	case powering:
		return compute.NodePreparing, "powering up", true
	case has("POWERED_DOWN", "POWER_DOWN") && busy:
		// A job was given a powered-down node: it is about to boot.
		return compute.NodePreparing, "powering up for a job", true
	case has("POWERING_DOWN"):
		return compute.NodeLeaving, "powering down", true
	case has("POWERED_DOWN", "POWER_DOWN"):
		return "", "", false
	case has("COMPLETING"):
		return compute.NodeLeaving, "a job is finishing", true
	case busy:
		return compute.NodeRunning, "", true
	case has("IDLE"):
		return compute.NodeIdle, "", true
	case has("UNKNOWN"):
		return compute.NodePreparing, "not registered with slurmctld yet", true
	}
	return compute.NodeUnusable, "unknown Slurm state " + strings.Join(append(slices.Clone(state), flags...), "+"), true
}

// jobBaseState returns a job's base state and whether it has the
// COMPLETING flag (v0.0.39+ send ["CANCELLED","COMPLETING"]; v0.0.38
// sends "COMPLETING" alone while a job's processes are being cleaned up).
func jobBaseState(states []string) (base string, completing bool) {
	for _, s := range states {
		s = strings.ToUpper(s)
		if s == "COMPLETING" {
			completing = true
			continue
		}
		if base == "" && isBaseJobState(s) {
			base = s
		}
	}
	if base == "" && completing {
		base = "COMPLETING"
	}
	return base, completing
}

func isBaseJobState(s string) bool {
	switch s {
	case "PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL",
		"PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD",
		"REQUEUE_FED", "RESIZING", "SPECIAL_EXIT", "REVOKED", "STOPPED", "SIGNALING", "STAGE_OUT":
		return true
	}
	return false
}

// jobNamePrefix starts the Slurm job name of every Trainyard job; the rest
// is the run id, which is how Nodes tells the run on a node.
const jobNamePrefix = "trainyard-"

func jobName(runID string) string { return jobNamePrefix + runID }

func runOfJob(j jobInfo) (string, bool) {
	run, ok := strings.CutPrefix(j.Name, jobNamePrefix)
	return run, ok && run != ""
}

// pendingWords explains Slurm's pending reasons (squeue's %r) in words.
var pendingWords = map[string]string{
	"Priority":                    "other jobs come first",
	"Resources":                   "waiting for nodes to be free",
	"BeginTime":                   "waiting for its start time",
	"Dependency":                  "waiting for another job",
	"DependencyNeverSatisfied":    "a job it depends on failed",
	"PartitionDown":               "the partition is down",
	"PartitionInactive":           "the partition is inactive",
	"PartitionNodeLimit":          "it asks for more nodes than the partition allows",
	"PartitionTimeLimit":          "it asks for more time than the partition allows",
	"PartitionConfig":             "it asks for more than the partition has",
	"NodeDown":                    "a node it needs is down",
	"ReqNodeNotAvail":             "the nodes it needs are not available",
	"Reservation":                 "waiting for its reservation",
	"JobHeldUser":                 "held by its user",
	"JobHeldAdmin":                "held by an administrator",
	"Licenses":                    "waiting for licenses",
	"QOSMaxNodePerJobLimit":       "it asks for more nodes than its QOS allows",
	"QOSResourceLimit":            "its QOS limits are reached",
	"AssocGrpNodeLimit":           "its account's node limit is reached",
	"AssociationJobLimit":         "its account's job limit is reached",
	"launch failed requeued held": "its launch failed; Slurm requeued and held it",
	"BadConstraints":              "no node can satisfy it",
	"Cleaning":                    "waiting for its previous attempt to be cleaned up",
	"NodeNotAvail":                "a node it needs is not available",
	"PowerUpNode":                 "waiting for nodes to power up",
	"Prolog":                      "its prolog is running",
}

// readableReason turns Slurm's state_reason (+ description) into words,
// keeping Slurm's word first: "Resources: waiting for nodes to be free".
func readableReason(reason, description string) string {
	if reason == "" || reason == "None" {
		return description
	}
	s := reason
	if w, ok := pendingWords[reason]; ok {
		s += ": " + w
	}
	if description != "" && description != reason {
		s += " (" + description + ")"
	}
	return s
}

// failure explains a Slurm end state that is a failure, or "" for a state
// that is not one.
func failure(base string, j jobInfo) string {
	switch base {
	case "TIMEOUT":
		lim := j.TimeLimit.Int()
		// An end time moved by an administrator leaves a meaningless
		// limit behind (millions of minutes): say none then.
		if lim > 0 && lim < 366*24*60 {
			return fmt.Sprintf("the job exceeded its Slurm time limit of %s and was stopped (TIMEOUT)", plural(lim, "minute"))
		}
		return "the job exceeded its Slurm time limit and was stopped (TIMEOUT)"
	case "NODE_FAIL":
		return "a node of the job failed (NODE_FAIL)" + detail(j)
	case "OUT_OF_MEMORY":
		return "the job ran out of memory (OUT_OF_MEMORY)"
	case "BOOT_FAIL":
		return "the job's nodes failed to boot (BOOT_FAIL)" + detail(j)
	case "DEADLINE":
		return "the job reached its deadline before it could run (DEADLINE)"
	case "PREEMPTED":
		return "the job was preempted (PREEMPTED)"
	case "SPECIAL_EXIT":
		return "the job ended with a special exit state (SPECIAL_EXIT)"
	case "REVOKED":
		return "the job was revoked by a federated cluster (REVOKED)"
	}
	return ""
}

func detail(j jobInfo) string {
	if r := readableReason(j.StateReason, j.StateDescription); r != "" {
		return ": " + r
	}
	return ""
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// exitReason says how a program ended: "exit code 3" or "killed by signal 9".
func exitReason(e exitStatus) (code int, why string) {
	switch {
	case e.Signal != 0:
		return 128 + e.Signal, "killed by signal " + strconv.Itoa(e.Signal)
	case e.Code > 128 && e.Code < 128+65:
		// The wrapper exits with 128+N when the program died of signal N.
		return e.Code, "exit code " + strconv.Itoa(e.Code) + " (killed by signal " + strconv.Itoa(e.Code-128) + ")"
	}
	return e.Code, "exit code " + strconv.Itoa(e.Code)
}

// markers is what the run folder says about a job (see the package doc).
type markers struct {
	exit     *int   // the wrapper's exit code
	rank     string // the first rank that failed, for multi-node jobs
	timeout  string // the limit, when the wrapper stopped the job at it
	canceled bool   // Cancel was asked for
	gaveUp   string // why Trainyard gave up on the job
}

// jobState maps a Slurm job and the run folder's markers onto a JobState.
// giveUp is true when the job has been requeued maxRequeues times and is
// not over: the caller cancels it and records why.
func jobState(j jobInfo, m markers) (st compute.JobState, giveUp bool) {
	st, giveUp = jobPhase(j, m)
	st.Attempt = j.RestartCnt.Int() + 1
	return st, giveUp
}

// jobPhase is jobState without the attempt number.
func jobPhase(j jobInfo, m markers) (st compute.JobState, giveUp bool) {
	if m.gaveUp != "" {
		return compute.JobState{Phase: compute.JobFailed, ExitCode: -1, Reason: m.gaveUp}, false
	}
	base, completing := jobBaseState(j.JobState)
	restarts := j.RestartCnt.Int()
	attempt := ""
	if restarts > 0 {
		attempt = fmt.Sprintf("attempt %d: ", restarts+1)
	}
	terminal := false
	switch base {
	case "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE",
		"SPECIAL_EXIT", "REVOKED":
		terminal = true
	}
	if !terminal && restarts >= maxRequeues {
		return compute.JobState{Phase: compute.JobFailed, ExitCode: -1, Reason: giveUpReason(restarts)}, true
	}
	if completing {
		// Slurm is still stopping the job's processes (a cancel, the end
		// of the batch script): not over until they are gone.
		return compute.JobState{Phase: compute.JobFinalizing, Reason: attemptOnly(attempt)}, false
	}
	switch base {
	case "PENDING":
		why := readableReason(j.StateReason, j.StateDescription)
		if restarts > 0 {
			why = fmt.Sprintf("attempt %d: requeued by Slurm (preempted or a node failed), restarting from the beginning; %s", restarts+1, why)
		}
		return compute.JobState{Phase: compute.JobQueued, Reason: strings.TrimSuffix(why, "; ")}, false
	case "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "PREEMPTED":
		return compute.JobState{Phase: compute.JobQueued, Reason: fmt.Sprintf(
			"attempt %d: requeued by Slurm (%s), restarting from the beginning", restarts+1, strings.ToLower(base))}, false
	case "CONFIGURING":
		return compute.JobState{Phase: compute.JobStarting, Reason: attempt + "Slurm is preparing its nodes (powering them up)"}, false
	case "RUNNING", "SIGNALING", "RESIZING", "STAGE_OUT":
		return compute.JobState{Phase: compute.JobRunning, Reason: attemptOnly(attempt)}, false
	case "SUSPENDED", "STOPPED":
		return compute.JobState{Phase: compute.JobRunning, Reason: "suspended by Slurm"}, false
	case "COMPLETING":
		return compute.JobState{Phase: compute.JobFinalizing, Reason: attemptOnly(attempt)}, false
	case "COMPLETED":
		return compute.JobState{Phase: compute.JobCompleted}, false
	case "CANCELLED":
		code, _ := exitReason(j.ExitCode)
		if m.canceled {
			return compute.JobState{Phase: compute.JobCanceled, ExitCode: code, Reason: "canceled on request"}, false
		}
		return compute.JobState{Phase: compute.JobCanceled, ExitCode: code, Reason: "canceled in Slurm (scancel or an administrator)"}, false
	case "FAILED":
		if m.timeout != "" {
			return compute.JobState{Phase: compute.JobFailed, ExitCode: exitOr(m.exit, 124), Reason: "exceeded the maximum run duration of " + m.timeout}, false
		}
		code, why := exitReason(j.ExitCode)
		if m.exit != nil && j.ExitCode.Signal == 0 {
			code, why = exitReason(exitStatus{Code: *m.exit})
		}
		if m.rank != "" {
			why = "rank " + m.rank + ": " + why
		}
		if code == 0 {
			// FAILED with exit 0: the batch step could not even start.
			why = readableReason(j.StateReason, j.StateDescription)
			if why == "" {
				why = "Slurm could not start the job"
			}
			code = -1
		}
		return compute.JobState{Phase: compute.JobFailed, ExitCode: code, Reason: why}, false
	}
	if why := failure(base, j); why != "" {
		if m.timeout != "" {
			why = "exceeded the maximum run duration of " + m.timeout
		}
		code, _ := exitReason(j.ExitCode)
		if code == 0 {
			code = -1
		}
		return compute.JobState{Phase: compute.JobFailed, ExitCode: code, Reason: why}, false
	}
	return compute.JobState{Phase: compute.JobQueued, Reason: "Slurm reports the job as " + strings.Join(j.JobState, ",")}, false
}

func attemptOnly(a string) string { return strings.TrimSuffix(a, ": ") }

func exitOr(p *int, def int) int {
	if p != nil && *p != 0 {
		return *p
	}
	return def
}

func giveUpReason(restarts int) string {
	return fmt.Sprintf("Slurm requeued the job %d times (preempted or its node failed); Trainyard gives up after %d requeues",
		restarts, maxRequeues)
}

// forgottenState is the state of a job Slurm no longer knows (it forgets
// finished jobs after MinJobAge): the run folder's markers decide.
func forgottenState(jobID string, m markers, dirExists bool) compute.JobState {
	switch {
	case m.gaveUp != "":
		return compute.JobState{Phase: compute.JobFailed, ExitCode: -1, Reason: m.gaveUp}
	case m.canceled:
		return compute.JobState{Phase: compute.JobCanceled, ExitCode: exitOr(m.exit, 0), Reason: "canceled on request"}
	case m.timeout != "":
		return compute.JobState{Phase: compute.JobFailed, ExitCode: exitOr(m.exit, 124), Reason: "exceeded the maximum run duration of " + m.timeout}
	case m.exit != nil && *m.exit == 0:
		return compute.JobState{Phase: compute.JobCompleted}
	case m.exit != nil:
		code, why := exitReason(exitStatus{Code: *m.exit})
		if m.rank != "" {
			why = "rank " + m.rank + ": " + why
		}
		return compute.JobState{Phase: compute.JobFailed, ExitCode: code, Reason: why}
	case !dirExists:
		return compute.JobState{Phase: compute.JobFailed, ExitCode: -1,
			Reason: "Slurm no longer knows job " + jobID + " and its run folder on the shared directory is gone"}
	}
	return compute.JobState{Phase: compute.JobFailed, ExitCode: -1,
		Reason: "Slurm no longer knows job " + jobID + " (it forgets finished jobs after MinJobAge) and the job left no exit status"}
}
