package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// wrapperScript starts every rank of every job. It is fixed text: the status
// file and the user's argv arrive as positional parameters ($1 and "$@"), so
// no user value is ever parsed by a shell. The working folder is set by
// exec.Cmd.Dir rather than a cd in the script, so a missing folder fails
// Submit instead of a job, and no OLDPWD leaks the server's folder (sh does
// export PWD, which then names the work dir, as programs expect).
//
// Why a wrapper at all: the server is the parent of what it starts, and a
// parent that dies takes its children's exit statuses with it. The wrapper
// outlives the server (it runs in its own session, with no terminal to hang
// up), waits for the program and writes the exit code to a file. The code and
// its newline go out in one write(2) of a few bytes, and readExit takes only
// a line that ends in its newline, so a reader never takes half a number (an
// empty file, seen between the shell's open and its write, is "not yet").
// No temporary file and mv: mv was a fork and an exec of its own per rank,
// a tenth of what a sandboxed no-op run cost (docs/BENCHMARKS.md).
//
// Why /bin/sh rather than re-executing the server binary: sh is on every Linux
// machine (the SSH backend can run the same script on a remote host), it does
// not depend on the server binary staying at its path across an upgrade while
// old jobs still run, and test binaries need no special main.
//
// The program runs as (exec "$@"): exec always runs a program file found on
// PATH, as execve would, so an argv[0] such as "eval", "exit" or "exec" is
// not taken as a shell builtin that would run its arguments as shell code or
// end the wrapper before it records a status.
//
// The trap makes the wrapper survive the SIGTERM sent to the whole group on
// cancel or timeout, so it can still record the program's status (143); the
// program itself gets default signal handling, since caught signals are reset
// on exec. SIGKILL ends the wrapper too; the stop marker then tells the story.
const wrapperScript = `st=$1
shift
read -r _
exec </dev/null
trap : HUP INT TERM
(exec "$@")
echo $? >"$st"
`

// Both scripts first wait for one line on standard input: Submit sends it
// once the wrapper is in the cgroup that bounds its rank, so that nothing
// the job starts escapes the limits (on cgroup v1 a process cannot be
// started inside a cgroup, only moved there). A server that dies before it
// sends the line closes the pipe, and the job starts unbounded rather than
// never.

// sandboxedWrapperScript is wrapperScript for a job under bubblewrap. The
// one difference: bubblewrap itself ignores HUP, INT and TERM (the subshell
// ignores them before it execs bubblewrap, and ignored signals stay ignored
// across exec), because the TERM that Cancel sends to the whole process
// group would otherwise end bubblewrap, and with it every process of the
// sandbox at once, leaving the job no grace to save its work. The job gets
// default handling back from env --default-signal inside the sandbox (see
// sandbox.argv); SIGKILL after the grace ends bubblewrap and the sandbox.
const sandboxedWrapperScript = `st=$1
shift
read -r _
exec </dev/null
trap : HUP INT TERM
(trap '' HUP INT TERM; exec "$@")
echo $? >"$st"
`

// wrapperName is $0 of the wrapper; the shell prefixes its own messages
// ("trainyard-job: 1: train.py: not found") with it.
const wrapperName = "trainyard-job"

// Files in a job's folder, DataDir/jobs/<run-id>/.
const (
	outputFile = "output.log" // stdout and stderr of every rank, appended
	recordFile = "job.json"   // jobRecord, written once after all ranks started
	stopFile   = "stop.json"  // stopMarker, created once by whoever stops the job first
)

func exitFile(rank int) string { return "rank-" + strconv.Itoa(rank) + ".exit" }

// jobRecord is what Submit leaves on disk so that the job can be found and
// judged after a restart. The environment is not kept: it may hold tokens.
type jobRecord struct {
	RunID       string        `json:"runId"`
	Target      string        `json:"target"`
	Kind        compute.Kind  `json:"kind"`
	Ranks       []rankProc    `json:"ranks"`
	Nodes       []string      `json:"nodes,omitempty"` // cluster nodes claimed, by ID
	SubmittedAt time.Time     `json:"submittedAt"`
	Deadline    time.Time     `json:"deadline,omitzero"`
	MaxDuration time.Duration `json:"maxDuration,omitempty"`
	Limits      Limits        `json:"limits"` // of each rank
	// PidNamespace: each rank ran under bubblewrap in a pid namespace of
	// its own, which the kernel empties when bubblewrap ends, so once a
	// rank's wrapper has written its exit status nothing of the rank is left.
	PidNamespace bool `json:"pidNamespace,omitempty"`
}

// Why a job was stopped; the first stop wins.
const (
	stopCancel     = "cancel"      // Cancel was called → Canceled
	stopTimeout    = "timeout"     // MaxDuration passed → Failed
	stopRankFailed = "rank-failed" // one rank of a multi-node job failed, the others were stopped → Failed
)

// stopMarker records that the backend is stopping a job, why and since when,
// so the outcome is reported right and SIGKILL follows SIGTERM even if the
// server restarts in between.
type stopMarker struct {
	Reason string        `json:"reason"`
	Rank   int           `json:"rank,omitempty"`
	Limit  time.Duration `json:"limit,omitempty"`
	At     time.Time     `json:"at"`
}

// job is a parsed handle: where the job's files are and which sessions are its ranks.
type job struct {
	runID string
	dir   string
	ranks []rankProc
}

// Submit starts job.Argv as NodeCount ranks, each in its own session under
// the wrapper, and returns once all have started. The handle ID is
// "<pid>.<start>[,<pid>.<start>...]:<run-id>": per rank the wrapper's pid
// (also its process group and session id) and its kernel start time, then the
// run id naming the job folder.
//
// Submit is idempotent per RunID: if the run's job already exists, its handle
// is returned and nothing new is started, so a retry after a crash between
// Submit and persisting the handle cannot run the job twice.
//
// On a cluster the job claims NodeCount idle nodes (marked running with the
// run id; Scale frees them when the job has ended). Too few idle nodes is an
// ErrUnavailable error: keep the run queued and try again after Scale. Rule
// violations are ErrInvalid; a stopped instance is ErrConflict.
func (b *Backend) Submit(ctx context.Context, t *compute.Target, spec compute.JobSpec) (compute.Handle, error) {
	n, err := b.checkSpec(t, &spec)
	if err != nil {
		return compute.Handle{}, err
	}
	if b.sandbox.err != nil && !b.sandbox.cfg.Off {
		return compute.Handle{}, b.sandbox.err
	}
	if t.Kind == compute.KindLocal {
		defer b.runs.lock(spec.RunID)()
	} else {
		b.mu.Lock()
		defer b.mu.Unlock()
	}

	dir := filepath.Join(b.jobsDir(), spec.RunID)
	if rec, err := readRecord(dir); err == nil {
		return handleFor(rec.Ranks, rec.RunID), nil
	}
	// A folder without a record is what a crash in the middle of a start
	// leaves behind; start over in a clean one.
	if err := os.RemoveAll(dir); err != nil {
		return compute.Handle{}, fmt.Errorf("clearing the job folder of %s: %w", spec.RunID, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return compute.Handle{}, fmt.Errorf("creating the job folder of %s: %w", spec.RunID, err)
	}
	workDir := spec.WorkDir
	if workDir == "" {
		// Not the job folder itself: a sandboxed job must not reach the
		// exit files its wrapper writes there.
		workDir = filepath.Join(dir, "work")
		if err := os.Mkdir(workDir, 0o700); err != nil {
			return compute.Handle{}, fmt.Errorf("creating the working folder of %s: %w", spec.RunID, err)
		}
	}

	var claimed []string
	if t.Kind == compute.KindCluster {
		if claimed, err = b.claimNodes(ctx, t, spec.RunID, n); err != nil {
			_ = os.RemoveAll(dir)
			return compute.Handle{}, err
		}
	}
	fail := func(err error, cmds []*exec.Cmd) (compute.Handle, error) {
		for _, c := range cmds {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			_ = c.Wait()
		}
		if claimed != nil {
			b.releaseNodes(ctx, t.Name, spec.RunID)
		}
		_ = os.RemoveAll(dir)
		return compute.Handle{}, err
	}

	out, err := os.OpenFile(filepath.Join(dir, outputFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fail(fmt.Errorf("creating the output log of %s: %w", spec.RunID, err), nil)
	}
	// The ranks hold their own descriptors; ours is not needed once they started.
	defer out.Close()

	env, argv := jobEnv(spec.Env), spec.Argv
	if !b.sandbox.cfg.Off {
		uid := b.sandbox.uid("run/" + spec.RunID)
		if t.Kind == compute.KindInstance {
			uid = b.instanceUID(t)
		}
		if b.sandbox.root {
			if err := own(workDir, uid); err != nil {
				return fail(fmt.Errorf("giving the working folder of %s to its sandbox user: %w", spec.RunID, err), nil)
			}
		}
		vars := b.sandbox.env(workDir, spec.Env)
		env, argv = envList(vars), b.sandbox.argv(uid, workDir, vars, spec.Argv)
	}
	lim := b.limitsFor(t)
	masterPort := 0
	if n > 1 {
		if masterPort, err = freePort(); err != nil {
			return fail(err, nil)
		}
	}
	cmds := make([]*exec.Cmd, 0, n)
	ranks := make([]rankProc, 0, n)
	for i := range n {
		script := wrapperScript
		if !b.sandbox.cfg.Off {
			script = sandboxedWrapperScript
		}
		args := append([]string{"-c", script, wrapperName, filepath.Join(dir, exitFile(i))}, argv...)
		cmd := exec.Command("/bin/sh", args...)
		cmd.Dir = workDir
		cmd.Env = env
		if n > 1 {
			cmd.Env = append(slices.Clone(env),
				"MASTER_ADDR=127.0.0.1",
				"MASTER_PORT="+strconv.Itoa(masterPort),
				"WORLD_SIZE="+strconv.Itoa(n),
				"RANK="+strconv.Itoa(i),
				"NODE_RANK="+strconv.Itoa(i),
				"LOCAL_RANK=0",
			)
		}
		cmd.Stdout, cmd.Stderr = out, out
		gateR, gate, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("starting rank %d of %s: %w", i, spec.RunID, err), cmds)
		}
		cmd.Stdin = gateR
		// Setsid: the rank's pid becomes its process group and session id,
		// so one signal reaches everything it starts, and no terminal hangup
		// or Ctrl-C aimed at the server reaches it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		err = cmd.Start()
		gateR.Close()
		if err != nil {
			gate.Close()
			return fail(fmt.Errorf("starting rank %d of %s: %w", i, spec.RunID, err), cmds)
		}
		cmds = append(cmds, cmd)
		if err := b.limiter.place(cgroupName(spec.RunID, i), cmd.Process.Pid, lim); err != nil {
			b.log.Warn("a rank runs without its limits: its cgroup could not be made", "run", spec.RunID, "rank", i, "err", err)
		}
		_, _ = gate.Write([]byte("\n"))
		gate.Close()
		start, err := processStart(cmd.Process.Pid)
		if err != nil {
			return fail(fmt.Errorf("reading the start time of rank %d of %s: %w", i, spec.RunID, err), cmds)
		}
		ranks = append(ranks, rankProc{PID: cmd.Process.Pid, Start: start})
	}

	now := time.Now()
	rec := jobRecord{
		RunID: spec.RunID, Target: t.Name, Kind: t.Kind, Ranks: ranks, Nodes: claimed,
		SubmittedAt: now, MaxDuration: spec.MaxDuration, Limits: lim, PidNamespace: !b.sandbox.cfg.Off,
	}
	if spec.MaxDuration > 0 {
		rec.Deadline = now.Add(spec.MaxDuration)
	}
	if err := writeJSON(filepath.Join(dir, recordFile), rec); err != nil {
		return fail(fmt.Errorf("recording job %s: %w", spec.RunID, err), cmds)
	}
	if t.Kind == compute.KindInstance {
		idx := b.instanceRunsDir(t.Name)
		err := os.MkdirAll(idx, 0o700)
		if err == nil {
			err = os.WriteFile(filepath.Join(idx, spec.RunID), nil, 0o600)
		}
		if err != nil {
			return fail(fmt.Errorf("recording job %s on instance %s: %w", spec.RunID, t.Name, err), cmds)
		}
	}

	j := &job{runID: spec.RunID, dir: dir, ranks: ranks}
	b.watch.add(spec.RunID, len(cmds))
	for i, cmd := range cmds {
		go b.reap(j, i, cmd)
	}
	if spec.MaxDuration > 0 {
		// Status enforces the deadline too (after a restart nothing else
		// would); the timer only makes it punctual while the server lives.
		time.AfterFunc(spec.MaxDuration, func() { b.expire(j, spec.MaxDuration) })
	}
	h := handleFor(ranks, spec.RunID)
	b.log.Info("job started", "run", spec.RunID, "target", t.Name, "handle", h.ID, "ranks", n)
	return h, nil
}

// checkSpec enforces the rules a job must meet on this target and returns
// the number of ranks to start.
func (b *Backend) checkSpec(t *compute.Target, spec *compute.JobSpec) (int, error) {
	v := spec.Check()
	n := max(spec.NodeCount, 1)
	switch t.Kind {
	case compute.KindLocal:
		if n > 4*runtime.NumCPU() {
			v.Add("nodeCount", "the local machine runs at most %d processes per job", 4*runtime.NumCPU())
		}
	case compute.KindCluster:
		if t.Cluster == nil {
			v.Add("properties", "cluster %s has no cluster settings", t.Name)
		} else if n > t.Cluster.MaxNodes {
			v.Add("nodeCount", "the job needs %d nodes but cluster %s has at most %d", n, t.Name, t.Cluster.MaxNodes)
		}
	case compute.KindInstance:
		if n > 1 {
			v.Add("nodeCount", "a compute instance is one node; the job asks for %d", n)
		}
		if err := v.Err(); err != nil {
			return 0, err
		}
		if t.Instance != nil && t.Instance.State != "" &&
			t.Instance.State != compute.InstanceRunning && t.Instance.State != compute.InstanceJobRunning {
			return 0, compute.Conflictf("ComputeInstanceNotRunning", "state",
				"instance %s is %s; start it before submitting a job", t.Name, t.Instance.State)
		}
	default:
		return 0, unsupported(t)
	}
	return n, v.Err()
}

// jobEnv is the environment of a job: a minimal base, so the server's own
// variables (secrets among them) do not leak into user code, plus the job's.
func jobEnv(extra map[string]string) []string {
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"}
	for k := range env {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	for k, v := range extra {
		env[k] = v
	}
	return envList(env)
}

// envList is env as exec.Cmd.Env wants it, sorted.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// freePort asks the kernel for a free TCP port on loopback for rank 0 to
// listen on. Another process could take it before rank 0 does; PyTorch then
// fails loudly, which is the usual risk of MASTER_PORT.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port for MASTER_PORT: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// reap waits for a rank's wrapper so it does not linger as a zombie of the
// server, tells the job's end once every rank's wrapper is gone, and stops
// the other ranks of a multi-node job when this one failed: they would
// otherwise wait for it forever.
//
// A wrapper that exited cleanly has written its rank's status: that write is
// its last command. If the status is not there to read, the job's folder is
// being removed (the job ended and is being cleared), and the rank did not
// fail; a stop marker would only land in a folder on its way out and keep it
// from going.
func (b *Backend) reap(j *job, rank int, cmd *exec.Cmd) {
	waitErr := cmd.Wait()
	defer b.watch.rankEnded(j.runID)
	if len(j.ranks) < 2 {
		return
	}
	code, ok := readExit(j.dir, rank)
	if (ok && code == 0) || (!ok && waitErr == nil) {
		return
	}
	if b.requestStop(j, stopMarker{Reason: stopRankFailed, Rank: rank}) {
		b.log.Info("rank failed; stopping the other ranks", "run", j.runID, "rank", rank)
		_ = b.terminate(context.Background(), j)
	}
}

// expire stops a job that outlived its MaxDuration.
func (b *Backend) expire(j *job, limit time.Duration) {
	pt, err := scanProcesses(j.sessions())
	if err != nil || !j.running(pt) {
		return
	}
	if b.requestStop(j, stopMarker{Reason: stopTimeout, Limit: limit}) {
		b.log.Info("job exceeded its maximum run duration", "run", j.runID, "limit", limit)
		_ = b.terminate(context.Background(), j)
	}
}

// Status reports a job's phase. A job is Running while any rank's wrapper has
// not written its exit status and the rank still has processes; then
// Canceled if it was cancelled, Failed with the duration reason if it timed
// out, Failed with "exit code N" if a rank exited non-zero, Failed with a
// "without an exit status" reason if its processes vanished (a reboot, a
// SIGKILL from outside), else Completed. Status also carries out what a
// restart may have interrupted: it stops a job past its deadline, escalates to
// SIGKILL once a stop is older than the grace period, and kills processes a
// finished job left behind.
func (b *Backend) Status(ctx context.Context, h compute.Handle) (compute.JobState, error) {
	j, err := b.parseHandle(h)
	if err != nil {
		return compute.JobState{}, err
	}
	if _, err := os.Stat(j.dir); err != nil {
		return compute.JobState{}, fmt.Errorf("job %s: %w", j.runID, compute.ErrNotFound)
	}
	return b.observe(j)
}

func (b *Backend) observe(j *job) (compute.JobState, error) {
	if surelyRunning(j) {
		return compute.JobState{Phase: compute.JobRunning}, nil
	}
	if st, ok := b.endedContained(j); ok {
		return st, nil
	}
	pt, err := scanProcesses(j.sessions())
	if err != nil {
		return compute.JobState{}, err
	}
	stop, _ := readStop(j.dir)
	codes := make([]int, len(j.ranks))
	exited := make([]bool, len(j.ranks))
	running := false
	for i, r := range j.ranks {
		codes[i], exited[i] = readExit(j.dir, i)
		if !exited[i] && pt.alive(r) {
			running = true
		}
	}

	if running {
		now := time.Now()
		switch {
		case stop != nil:
			if now.Sub(stop.At) > b.cfg.KillGrace {
				j.signal(pt, syscall.SIGKILL)
			}
		default:
			if rec, err := readRecord(j.dir); err == nil && !rec.Deadline.IsZero() && now.After(rec.Deadline) {
				if b.requestStop(j, stopMarker{Reason: stopTimeout, Limit: rec.MaxDuration}) {
					j.signal(pt, syscall.SIGTERM)
				}
				break
			}
			if len(j.ranks) > 1 {
				for i, r := range j.ranks {
					if (exited[i] && codes[i] != 0) || (!exited[i] && !pt.alive(r)) {
						if b.requestStop(j, stopMarker{Reason: stopRankFailed, Rank: i}) {
							j.signal(pt, syscall.SIGTERM)
						}
						break
					}
				}
			}
		}
		return compute.JobState{Phase: compute.JobRunning}, nil
	}

	// Every rank has ended. Whatever the program left running in its session
	// (a forgotten background process) goes too, so that the job's nodes are
	// really free.
	j.signal(pt, syscall.SIGKILL)
	st := ended(j, stop, codes, exited)
	b.explainOutOfMemory(j, &st)
	return st, nil
}

// surelyRunning reports, without a scan of /proc, a job the scan would find
// running with nothing to enforce: no rank has an exit status, every rank's
// wrapper is alive (so its session has a live process), no stop is under
// way (it may be due for SIGKILL) and the deadline, if any, has not passed.
// A scan reads every process on the machine and costs milliseconds; this
// reads a few files. Anything else takes the scan.
func surelyRunning(j *job) bool {
	if _, err := os.Stat(filepath.Join(j.dir, stopFile)); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	buf := make([]byte, statBufSize)
	for i, r := range j.ranks {
		if _, done := readExit(j.dir, i); done {
			return false
		}
		p, err := readProcInto(r.PID, buf)
		if err != nil || p.start != r.Start || p.state == 'Z' {
			return false
		}
	}
	rec, err := readRecord(j.dir)
	return err == nil && (rec.Deadline.IsZero() || time.Now().Before(rec.Deadline))
}

// endedContained is how a job came out when every rank has its exit
// status and ran in a pid namespace of its own: nothing of it can be left
// to kill (see jobRecord.PidNamespace), so the scan of /proc that looks for
// leftovers in its sessions is not needed. ok is false for any other job.
func (b *Backend) endedContained(j *job) (st compute.JobState, ok bool) {
	codes := make([]int, len(j.ranks))
	exited := make([]bool, len(j.ranks))
	for i := range j.ranks {
		if codes[i], exited[i] = readExit(j.dir, i); !exited[i] {
			return compute.JobState{}, false
		}
	}
	if rec, err := readRecord(j.dir); err != nil || !rec.PidNamespace {
		return compute.JobState{}, false
	}
	stop, _ := readStop(j.dir)
	st = ended(j, stop, codes, exited)
	b.explainOutOfMemory(j, &st)
	return st, true
}

// ended words how a job whose ranks have all ended came out.
func ended(j *job, stop *stopMarker, codes []int, exited []bool) compute.JobState {
	first := -1
	if exited[0] {
		first = codes[0]
	}
	if stop != nil {
		switch stop.Reason {
		case stopCancel:
			return compute.JobState{Phase: compute.JobCanceled, ExitCode: first, Reason: "canceled on request"}
		case stopTimeout:
			return compute.JobState{Phase: compute.JobFailed, ExitCode: first,
				Reason: "exceeded the maximum run duration of " + compute.FormatLimit(stop.Limit)}
		case stopRankFailed:
			if r := stop.Rank; r >= 0 && r < len(j.ranks) {
				return rankFailure(j, r, codes[r], exited[r])
			}
		}
	}
	for i := range j.ranks {
		if exited[i] && codes[i] != 0 {
			return rankFailure(j, i, codes[i], true)
		}
	}
	for i := range j.ranks {
		if !exited[i] {
			return rankFailure(j, i, -1, false)
		}
	}
	return compute.JobState{Phase: compute.JobCompleted}
}

// oomFile marks, in a job's folder, the rank the kernel killed for running
// out of memory, so the reason outlives the rank's cgroup.
const oomFile = "oom.json"

// explainOutOfMemory turns a failed job whose rank the kernel killed for
// running out of memory into a reason that says so and names the limit, and
// removes the ranks' cgroups (the verdict is kept in oomFile first).
//
// Only a failed job is looked into: the kernel's out-of-memory kill of a
// rank fails it, so a job that completed has nothing to explain. Reading a
// group's counters on cgroup v1 reads every controller's statistics; doing
// it for every job that ended was 5% of the server's work in a sweep of
// no-op runs (docs/BENCHMARKS.md).
func (b *Backend) explainOutOfMemory(j *job, st *compute.JobState) {
	rank := -1
	if st.Phase == compute.JobFailed {
		rank = b.outOfMemoryRank(j)
	}
	// A group whose last processes are not released yet is removed as soon
	// as they are.
	for i := range j.ranks {
		b.limiter.removeEventually(cgroupName(j.runID, i))
	}
	if rank < 0 {
		return
	}
	rec, err := readRecord(j.dir)
	if err != nil || rec.Limits.MemoryBytes <= 0 {
		st.Reason = "ran out of memory"
	} else {
		st.Reason = "ran out of memory: limit " + formatBytes(rec.Limits.MemoryBytes) + " of " + rec.Limits.Of
	}
	if len(j.ranks) > 1 {
		st.Reason = "rank " + strconv.Itoa(rank) + ": " + st.Reason
	}
}

// outOfMemoryRank is the rank of a job the kernel killed for running out of
// memory, or -1; the verdict is kept in oomFile, since the rank's cgroup,
// which tells it, is removed.
func (b *Backend) outOfMemoryRank(j *job) int {
	var mark struct{ Rank int }
	if data, err := os.ReadFile(filepath.Join(j.dir, oomFile)); err == nil && json.Unmarshal(data, &mark) == nil {
		return mark.Rank
	}
	for i := range j.ranks {
		if b.limiter.oomKilled(cgroupName(j.runID, i)) {
			mark.Rank = i
			_ = writeJSON(filepath.Join(j.dir, oomFile), mark)
			return i
		}
	}
	return -1
}

// rankFailure words a failed rank; multi-node jobs name the rank.
func rankFailure(j *job, rank, code int, exited bool) compute.JobState {
	st := compute.JobState{Phase: compute.JobFailed, ExitCode: code,
		Reason: "exit code " + strconv.Itoa(code)}
	if !exited {
		st.ExitCode = -1
		st.Reason = "the process ended without an exit status (the machine restarted?)"
	}
	if len(j.ranks) > 1 {
		st.Reason = "rank " + strconv.Itoa(rank) + ": " + st.Reason
	}
	return st
}

// Logs returns the job's combined output (all ranks) from byte offset on, up
// to what has been written so far. An offset past the end reads nothing.
func (b *Backend) Logs(ctx context.Context, h compute.Handle, offset int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, compute.Invalid("offset", "the log offset cannot be negative")
	}
	j, err := b.parseHandle(h)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(j.dir, outputFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("output of job %s: %w", j.runID, compute.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Cancel stops every process of every rank: SIGTERM to each rank's group,
// SIGKILL after the grace period (sooner if ctx ends). It returns when the
// processes are gone. Cancelling an ended job, or cancelling twice, is a
// successful no-op; an ended job keeps its outcome.
func (b *Backend) Cancel(ctx context.Context, h compute.Handle) error {
	j, err := b.parseHandle(h)
	if err != nil {
		return err
	}
	return b.cancelJob(ctx, j)
}

func (b *Backend) cancelJob(ctx context.Context, j *job) error {
	pt, err := scanProcesses(j.sessions())
	if err != nil {
		return err
	}
	if !j.running(pt) {
		return nil
	}
	if _, err := os.Stat(j.dir); err == nil {
		b.requestStop(j, stopMarker{Reason: stopCancel})
	}
	b.log.Info("cancelling job", "run", j.runID)
	return b.terminate(ctx, j)
}

// cancelRun cancels the job of a run id, found through its record; used when
// the target under a job goes away.
func (b *Backend) cancelRun(ctx context.Context, runID string) {
	if !compute.SafeName(runID) {
		return
	}
	dir := filepath.Join(b.jobsDir(), runID)
	rec, err := readRecord(dir)
	if err != nil {
		return
	}
	if err := b.cancelJob(ctx, &job{runID: runID, dir: dir, ranks: rec.Ranks}); err != nil {
		b.log.Warn("cancelling a job of a target going away", "run", runID, "err", err)
	}
}

// terminate sends SIGTERM, waits up to the grace period for the job's
// processes to go, then sends SIGKILL and waits briefly for them to vanish.
func (b *Backend) terminate(ctx context.Context, j *job) error {
	sessions := j.sessions()
	step := func(sig syscall.Signal, within time.Duration) (bool, error) {
		deadline := time.Now().Add(within)
		for first := true; ; first = false {
			pt, err := scanProcesses(sessions)
			if err != nil {
				return false, err
			}
			if !j.anyAlive(pt) {
				return true, nil
			}
			if first {
				if err := j.signal(pt, sig); err != nil {
					return false, err
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return false, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if gone, err := step(syscall.SIGTERM, b.cfg.KillGrace); gone || err != nil {
		return err
	}
	b.log.Info("job ignored SIGTERM; killing it", "run", j.runID)
	if gone, err := step(syscall.SIGKILL, time.Second); gone || err != nil {
		return err
	}
	return fmt.Errorf("job %s: processes still present after SIGKILL", j.runID)
}

// requestStop records why the job is being stopped, unless a reason is
// recorded already; it reports whether this call recorded it. os.Link makes
// the marker appear whole and only once, even with concurrent callers.
func (b *Backend) requestStop(j *job, m stopMarker) bool {
	m.At = time.Now()
	data, err := json.Marshal(m)
	if err != nil {
		return false
	}
	tmp, err := os.CreateTemp(j.dir, stopFile+".*")
	if err != nil {
		return false
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false
	}
	return os.Link(tmp.Name(), filepath.Join(j.dir, stopFile)) == nil
}

func (j *job) sessions() []int {
	s := make([]int, len(j.ranks))
	for i, r := range j.ranks {
		s[i] = r.PID
	}
	return s
}

// running reports whether a rank is still running its program (no exit status yet).
func (j *job) running(pt *processTable) bool {
	for i, r := range j.ranks {
		if _, done := readExit(j.dir, i); !done && pt.alive(r) {
			return true
		}
	}
	return false
}

// anyAlive reports whether any process of any rank is left, exit status or not.
func (j *job) anyAlive(pt *processTable) bool {
	return slices.ContainsFunc(j.ranks, pt.alive)
}

func (j *job) signal(pt *processTable, sig syscall.Signal) error {
	var errs []error
	for _, r := range j.ranks {
		errs = append(errs, pt.signal(r, sig))
	}
	return errors.Join(errs...)
}

// handleFor builds the handle of a job; see Submit for the format.
func handleFor(ranks []rankProc, runID string) compute.Handle {
	parts := make([]string, len(ranks))
	for i, r := range ranks {
		parts[i] = strconv.Itoa(r.PID) + "." + strconv.FormatUint(r.Start, 10)
	}
	return compute.Handle{Backend: BackendName, ID: strings.Join(parts, ",") + ":" + runID}
}

func (b *Backend) parseHandle(h compute.Handle) (*job, error) {
	bad := func() (*job, error) {
		return nil, fmt.Errorf("%q is not a handle of the local backend: %w", h.Backend+"/"+h.ID, compute.ErrInvalid)
	}
	if h.Backend != BackendName {
		return bad()
	}
	procs, runID, ok := strings.Cut(h.ID, ":")
	if !ok || !compute.SafeName(runID) || procs == "" {
		return bad()
	}
	j := &job{runID: runID, dir: filepath.Join(b.jobsDir(), runID)}
	for _, p := range strings.Split(procs, ",") {
		pidText, startText, ok := strings.Cut(p, ".")
		pid, err1 := strconv.Atoi(pidText)
		start, err2 := strconv.ParseUint(startText, 10, 64)
		if !ok || err1 != nil || err2 != nil || pid <= 1 {
			return bad()
		}
		j.ranks = append(j.ranks, rankProc{PID: pid, Start: start})
	}
	return j, nil
}

// readExit reads the exit status the wrapper wrote for a rank: a whole
// line, or nothing yet (see wrapperScript).
func readExit(dir string, rank int) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, exitFile(rank)))
	if err != nil {
		return 0, false
	}
	return parseExit(b)
}

// parseExit reads an exit file's content: a decimal status ended by a
// newline. Anything else (empty, cut short, not a number) is no status.
func parseExit(b []byte) (int, bool) {
	line, ok := bytes.CutSuffix(b, []byte("\n"))
	if !ok {
		return 0, false
	}
	code, err := strconv.Atoi(string(line))
	if err != nil || code < 0 || code > 255 {
		return 0, false
	}
	return code, true
}

func readStop(dir string) (*stopMarker, error) {
	var m stopMarker
	if err := readJSON(filepath.Join(dir, stopFile), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func readRecord(dir string) (*jobRecord, error) {
	var rec jobRecord
	if err := readJSON(filepath.Join(dir, recordFile), &rec); err != nil {
		return nil, err
	}
	if len(rec.Ranks) == 0 {
		return nil, fmt.Errorf("%s: no ranks", filepath.Join(dir, recordFile))
	}
	return &rec, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeJSON writes via a temporary file and rename, so a crash leaves either
// no file or a whole one.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// liveInstanceRuns returns the run ids of the jobs still running on an
// instance, forgetting those that have ended.
func (b *Backend) liveInstanceRuns(name string) []string {
	idx := b.instanceRunsDir(name)
	ents, err := os.ReadDir(idx)
	if err != nil {
		return nil
	}
	var live []string
	for _, e := range ents {
		runID := e.Name()
		dir := filepath.Join(b.jobsDir(), runID)
		rec, err := readRecord(dir)
		if compute.SafeName(runID) && err == nil {
			if st, err := b.observe(&job{runID: runID, dir: dir, ranks: rec.Ranks}); err == nil && !st.Phase.Terminal() {
				live = append(live, runID)
				continue
			}
		}
		_ = os.Remove(filepath.Join(idx, runID))
	}
	return live
}

func (b *Backend) cancelInstanceRuns(ctx context.Context, name string) {
	for _, runID := range b.liveInstanceRuns(name) {
		b.cancelRun(ctx, runID)
	}
}
