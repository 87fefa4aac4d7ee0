package slurm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// handleData is what Handle.ID carries (as compact JSON): everything Status,
// Logs, Cancel and FetchOutputs need after a restart, without reading the
// target again. Job comes first so the id reads well in logs.
type handleData struct {
	Job    string `json:"job"`    // Slurm job id
	Target string `json:"target"` // for Credentials
	URL    string `json:"url"`    // slurmrestd base URL
	User   string `json:"user"`   // X-SLURM-USER-NAME
	Dir    string `json:"dir"`    // the run folder on the shared directory
	Run    string `json:"run"`
}

func (h handleData) endpoint() endpoint {
	return endpoint{target: h.Target, url: h.URL, user: h.User}
}

func encodeHandle(h handleData) compute.Handle {
	data, _ := json.Marshal(h)
	return compute.Handle{Backend: BackendName, ID: string(data)}
}

func decodeHandle(h compute.Handle) (handleData, error) {
	var d handleData
	if h.Backend != BackendName {
		return d, fmt.Errorf("handle of backend %q is not a Slurm job: %w", h.Backend, compute.ErrInvalid)
	}
	if err := json.Unmarshal([]byte(h.ID), &d); err != nil || d.Job == "" || d.URL == "" || d.Dir == "" || !filepath.IsAbs(d.Dir) {
		return d, fmt.Errorf("unreadable Slurm job handle %q: %w", h.ID, compute.ErrInvalid)
	}
	if _, err := strconv.ParseUint(d.Job, 10, 64); err != nil {
		return d, fmt.Errorf("the Slurm job handle %q has no job id: %w", h.ID, compute.ErrInvalid)
	}
	return d, nil
}

// JobID returns the Slurm job id a handle stands for (for pages and logs).
func JobID(h compute.Handle) (string, error) {
	d, err := decodeHandle(h)
	return d.Job, err
}

// runIDPattern keeps run ids usable as one path component and a job name.
var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// runDir is the run's folder on the shared directory.
func runDir(sharedDir, runID string) string {
	return filepath.Join(sharedDir, "trainyard", "runs", runID)
}

// Submit stages the job's files into the shared directory and submits the
// wrapper through slurmrestd. It is idempotent per run id: a job already
// submitted for the run (found by its job.json or its Slurm job name) is
// adopted instead of submitted again.
func (b *Backend) Submit(ctx context.Context, t *compute.Target, job compute.JobSpec) (compute.Handle, error) {
	check := job.Check()
	if !runIDPattern.MatchString(job.RunID) {
		check.Add("runId", "run id %q cannot name a Slurm job folder", job.RunID)
	}
	if err := check.Err(); err != nil {
		return compute.Handle{}, err
	}
	ep, err := endpointOf(t)
	if err != nil {
		return compute.Handle{}, err
	}
	shared := t.Attach.SharedDir
	if shared == "" || !filepath.IsAbs(shared) {
		return compute.Handle{}, compute.Invalid("sharedDir", "the Slurm target %s has no absolute shared directory to stage runs in", t.Name)
	}
	nodes := max(job.NodeCount, 1)
	dir := runDir(shared, job.RunID)
	hd := handleData{Target: t.Name, URL: ep.url, User: ep.user, Dir: dir, Run: job.RunID}

	if id, ok, err := b.existingJob(ctx, ep, dir, job.RunID); err != nil {
		return compute.Handle{}, err
	} else if ok {
		hd.Job = id
		b.log.Info("adopted the Slurm job submitted before for this run", "run", job.RunID, "job", id)
		return encodeHandle(hd), nil
	}
	// Check the partition first: a typo there is the most common mistake
	// and Slurm's own message ("Invalid partition name specified") names
	// no partition.
	part, err := b.partition(ctx, ep, t.Attach.SlurmPartition)
	if err != nil {
		return compute.Handle{}, err
	}
	if err := stage(job.WorkDir, dir, ep.user); err != nil {
		return compute.Handle{}, fmt.Errorf("staging the run's files in %s: %w", shared, err)
	}

	limitSec, limitText, minutes := "0", "", 0
	if job.MaxDuration > 0 {
		limitSec = strconv.FormatFloat(job.MaxDuration.Seconds(), 'f', 3, 64)
		limitText = compute.FormatLimit(job.MaxDuration)
		minutes = int((job.MaxDuration + time.Minute - 1) / time.Minute)
	}
	script := batchScript(dir, limitSec, limitText, killGrace, nodes, job.Argv)
	env := jobEnv(job.Env)
	v, err := b.c.version(ctx, ep)
	if err != nil {
		return compute.Handle{}, err
	}
	body := submitBody(v.api, submitSpec{
		name: jobName(job.RunID), partition: part.Name, nodes: nodes, cwd: filepath.Join(dir, "work"),
		output: filepath.Join(dir, "output.log"), env: env, minutes: minutes,
		comment: "trainyard run " + job.RunID, script: script,
	})
	var sr submitResponse
	if err := b.c.call(ctx, ep, http.MethodPost, "job/submit", body, &sr); err != nil {
		return compute.Handle{}, fmt.Errorf("submitting to Slurm: %w", err)
	}
	id := sr.id()
	if id <= 0 {
		return compute.Handle{}, errors.New("slurmrestd accepted the job but returned no job id")
	}
	hd.Job = strconv.FormatInt(id, 10)
	if err := writeFileAtomic(filepath.Join(dir, "job.json"), []byte(`{"job":"`+hd.Job+`"}`+"\n")); err != nil {
		b.log.Warn("could not record the job id in the run folder", "run", job.RunID, "err", err)
	}
	b.log.Info("slurm job submitted", "run", job.RunID, "target", t.Name, "job", hd.Job, "nodes", nodes, "partition", part.Name)
	return encodeHandle(hd), nil
}

// existingJob finds a job submitted before for the run: by the id in its
// job.json when Slurm still knows it, else by its job name (a crash between
// the submit and writing job.json).
//
// A run whose folder does not exist yet was never staged, so never
// submitted (staging comes before the submit): no need to list every job
// Slurm knows, which cost a sweep's burst of submissions a full listing
// each, growing with the cluster's history (docs/BENCHMARKS.md, "Slurm
// bursts").
func (b *Backend) existingJob(ctx context.Context, ep endpoint, dir, runID string) (string, bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if data, err := os.ReadFile(filepath.Join(dir, "job.json")); err == nil {
		var rec struct {
			Job string `json:"job"`
		}
		if json.Unmarshal(data, &rec) == nil && rec.Job != "" {
			if _, err := b.getJob(ctx, ep, rec.Job); err == nil {
				return rec.Job, true, nil
			} else if !isUnknownJob(err) {
				return "", false, err
			}
		}
	}
	var jr jobsResponse
	if err := b.c.call(ctx, ep, http.MethodGet, "jobs", nil, &jr); err != nil {
		return "", false, err
	}
	for _, j := range jr.Jobs {
		if run, ok := runOfJob(j); ok && run == runID && j.JobID.Set {
			return strconv.FormatInt(j.JobID.Value, 10), true, nil
		}
	}
	return "", false, nil
}

// jobEnv is the job's environment as sent to Slurm: slurmrestd passes only
// what it is given (v0.0.38 requires the object), so a PATH is added when
// the run has none. SLURM_JWT is never sent: in a job it switches srun to
// auth/jwt, which slurmd refuses.
func jobEnv(env map[string]string) map[string]string {
	out := maps.Clone(env)
	if out == nil {
		out = map[string]string{}
	}
	delete(out, "SLURM_JWT")
	if _, ok := out["PATH"]; !ok {
		out["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	return out
}

type submitSpec struct {
	name, partition, cwd, output, comment, script string
	nodes, minutes                                int
	env                                           map[string]string
}

// submitBody builds the job/submit request for an API version. v0.0.38:
// nodes is a string ("3"; the array form is silently ignored), environment
// an object, time_limit plain minutes. v0.0.39+: environment a list of
// K=V, time_limit a {"set","number"} object, the script inside the job
// from v0.0.40 on.
func submitBody(api string, s submitSpec) map[string]any {
	jobd := map[string]any{
		"name":                      s.name,
		"nodes":                     strconv.Itoa(s.nodes),
		"tasks":                     s.nodes,
		"tasks_per_node":            1,
		"current_working_directory": s.cwd,
		"standard_output":           s.output,
		"standard_error":            s.output,
		"comment":                   s.comment,
		// Requeued attempts append to the same log instead of replacing it.
		"open_mode": "append",
		// Let Slurm requeue the job on node failure or preemption; the
		// attempts are bounded by Status (maxRequeues).
		"requeue": true,
	}
	if s.partition != "" {
		jobd["partition"] = s.partition
	}
	if api == "v0.0.38" {
		// Whole nodes per run, as on Azure ML compute clusters: a run never
		// shares a node's CPUs, memory or GPUs with another run, and a run
		// that needs busy nodes waits in Slurm's queue with the reason.
		// slurmrestd 22.05 reads this key with sbatch's --exclusive
		// option parser, so the value is the option's word, not a boolean.
		// (Newer API versions spell it differently; only v0.0.38 is tested
		// here, so they keep Slurm's default.)
		jobd["exclusive"] = "exclusive"
		jobd["environment"] = s.env
		if s.minutes > 0 {
			jobd["time_limit"] = s.minutes
		}
		return map[string]any{"job": jobd, "script": s.script}
	}
	keys := slices.Sorted(maps.Keys(s.env))
	list := make([]string, 0, len(keys))
	for _, k := range keys {
		list = append(list, k+"="+s.env[k])
	}
	jobd["environment"] = list
	if s.minutes > 0 {
		jobd["time_limit"] = map[string]any{"set": true, "infinite": false, "number": s.minutes}
	}
	jobd["open_mode"] = []string{"APPEND"}
	if api == "v0.0.39" {
		jobd["open_mode"] = "append"
		return map[string]any{"job": jobd, "script": s.script}
	}
	jobd["script"] = s.script
	return map[string]any{"job": jobd}
}

// getJob reads one job.
func (b *Backend) getJob(ctx context.Context, ep endpoint, id string) (jobInfo, error) {
	var jr jobsResponse
	if err := b.c.call(ctx, ep, http.MethodGet, "job/"+id, nil, &jr); err != nil {
		return jobInfo{}, err
	}
	for _, j := range jr.Jobs {
		if j.JobID.Set && strconv.FormatInt(j.JobID.Value, 10) == id {
			return j, nil
		}
	}
	if len(jr.Jobs) == 1 {
		return jr.Jobs[0], nil
	}
	return jobInfo{}, &apiError{codes: []int{esInvalidJobID}, msg: "slurmrestd: job " + id + " not found"}
}

func isUnknownJob(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.has(esInvalidJobID)
}

// Status reports where the job is. A job Slurm has forgotten is judged by
// the exit code the wrapper left in the run folder.
func (b *Backend) Status(ctx context.Context, h compute.Handle) (compute.JobState, error) {
	hd, err := decodeHandle(h)
	if err != nil {
		return compute.JobState{}, err
	}
	m, dirExists := readMarkers(hd.Dir)
	if m.gaveUp != "" {
		return compute.JobState{Phase: compute.JobFailed, ExitCode: -1, Reason: m.gaveUp}, nil
	}
	ep := hd.endpoint()
	j, err := b.getJob(ctx, ep, hd.Job)
	if isUnknownJob(err) {
		return forgottenState(hd.Job, m, dirExists), nil
	}
	if err != nil {
		return compute.JobState{}, err
	}
	st, giveUp := jobState(j, m)
	if giveUp {
		// Record the verdict first: the cancel below ends the job as
		// CANCELLED, which must still read as this failure.
		if err := writeFileAtomic(filepath.Join(hd.Dir, "gaveup"), []byte(st.Reason+"\n")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return compute.JobState{}, fmt.Errorf("recording the end of job %s: %w", hd.Job, err)
		}
		b.log.Warn("slurm job requeued too often; canceling it", "run", hd.Run, "job", hd.Job, "restarts", j.RestartCnt.Int())
		if err := b.cancelJob(ctx, ep, hd.Job); err != nil {
			return compute.JobState{}, err
		}
	}
	return st, nil
}

// readMarkers reads the small files the wrapper, Cancel and Status leave in
// the run folder. They are read through an os.Root: the job can write in
// the folder, and a symlink it planted must not make the server read
// anything outside.
func readMarkers(dir string) (markers, bool) {
	var m markers
	root, err := os.OpenRoot(dir)
	if err != nil {
		return m, !errors.Is(err, fs.ErrNotExist)
	}
	defer root.Close()
	read := func(name string) (string, bool) {
		f, err := root.Open(name)
		if err != nil {
			return "", false
		}
		defer f.Close()
		data, _ := io.ReadAll(io.LimitReader(f, 4096))
		return strings.TrimSpace(string(data)), true
	}
	if s, ok := read("exit"); ok {
		if n, err := strconv.Atoi(s); err == nil {
			m.exit = &n
		}
	}
	if s, ok := read("stop"); ok {
		m.timeout = strings.TrimSpace(strings.TrimPrefix(s, "timeout"))
		if m.timeout == "" {
			m.timeout = "its limit"
		}
	}
	if s, ok := read("failed/rank"); ok {
		if r, _, _ := strings.Cut(s, " "); r != "" {
			m.rank = r
		}
	}
	_, m.canceled = read("cancel")
	m.gaveUp, _ = read("gaveup")
	return m, true
}

// Logs returns the job's output (every rank, every attempt) from offset on,
// read straight from the shared directory; empty before the job starts.
func (b *Backend) Logs(ctx context.Context, h compute.Handle, offset int64) (io.ReadCloser, error) {
	hd, err := decodeHandle(h)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(hd.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return io.NopCloser(strings.NewReader("")), nil
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open("output.log")
	if errors.Is(err, fs.ErrNotExist) {
		return io.NopCloser(strings.NewReader("")), nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening the log of job %s: %w", hd.Job, err)
	}
	if offset < 0 {
		f.Close()
		return nil, compute.Invalid("offset", "the log offset cannot be negative")
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening the log of job %s: %w", hd.Job, err)
	}
	if offset >= fi.Size() {
		// Past the end (up to 2^63-1): nothing yet. Seeking there would
		// fail on most file systems.
		f.Close()
		return io.NopCloser(strings.NewReader("")), nil
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Cancel stops the job: the run folder records that it was asked for, then
// slurmrestd cancels it (Slurm signals every process of every step, then
// kills them after KillWait). Ended or unknown jobs are left alone.
func (b *Backend) Cancel(ctx context.Context, h compute.Handle) error {
	hd, err := decodeHandle(h)
	if err != nil {
		return err
	}
	ep := hd.endpoint()
	j, err := b.getJob(ctx, ep, hd.Job)
	if isUnknownJob(err) {
		return nil
	}
	if err != nil {
		return err
	}
	base, completing := jobBaseState(j.JobState)
	switch base {
	case "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED":
		return nil
	}
	if completing {
		return nil
	}
	if err := writeFileAtomic(filepath.Join(hd.Dir, "cancel"), []byte("canceled on request\n")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Warn("could not mark the run folder canceled", "job", hd.Job, "err", err)
	}
	if err := b.cancelJob(ctx, ep, hd.Job); err != nil {
		return err
	}
	b.log.Info("slurm job canceled", "run", hd.Run, "job", hd.Job)
	return nil
}

func (b *Backend) cancelJob(ctx context.Context, ep endpoint, id string) error {
	err := b.c.call(ctx, ep, http.MethodDelete, "job/"+id, nil, nil)
	if err != nil && !isUnknownJob(err) {
		return fmt.Errorf("canceling Slurm job %s: %w", id, err)
	}
	return nil
}

// FetchOutputs copies the job's ./outputs and ./logs from the shared
// directory into localDir/outputs and localDir/logs. Only regular files and
// folders are copied, through os.Root on both sides: the job wrote these
// folders and a symlink it left must not reach outside either tree.
func (b *Backend) FetchOutputs(ctx context.Context, h compute.Handle, localDir string) error {
	hd, err := decodeHandle(h)
	if err != nil {
		return err
	}
	if localDir == "" {
		return compute.Invalid("localDir", "no folder to fetch outputs into")
	}
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		return err
	}
	src, err := os.OpenRoot(filepath.Join(hd.Dir, "work"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenRoot(localDir)
	if err != nil {
		return err
	}
	defer dst.Close()
	for _, sub := range []string{"outputs", "logs"} {
		if err := copyTree(ctx, src, dst, sub); err != nil {
			return fmt.Errorf("fetching %s of run %s: %w", sub, hd.Run, err)
		}
	}
	return nil
}

func copyTree(ctx context.Context, src, dst *os.Root, top string) error {
	fi, err := src.Lstat(top)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return nil
	}
	if err != nil {
		return err
	}
	return fs.WalkDir(src.FS(), top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return dst.MkdirAll(p, 0o755)
		case d.Type().IsRegular():
			return copyFile(src, dst, p)
		}
		return nil // symlinks, devices, sockets: not outputs
	})
}

func copyFile(src, dst *os.Root, p string) error {
	in, err := src.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return err
	}
	out, err := dst.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// stage copies the job's folder into dir/work through a temporary sibling
// renamed into place, so a job never starts in a half-copied folder and a
// retry after a crash starts clean. Folders are handed to the Slurm user
// when this server runs as root (chown), else opened up (0777) when the
// jobs run as another user than the server, since the job writes its log,
// exit code and outputs there.
func stage(workDir, dir, slurmUser string) error {
	if workDir == "" {
		return compute.Invalid("workDir", "the job has no work folder")
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	tmp := filepath.Join(parent, "."+filepath.Base(dir)+".tmp-"+hex.EncodeToString(suffix[:]))
	if err := os.MkdirAll(filepath.Join(tmp, "work"), 0o755); err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := copyIn(workDir, filepath.Join(tmp, "work")); err != nil {
		return err
	}
	if err := handOver(tmp, slurmUser); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	ok = true
	return nil
}

// copyIn copies a local folder (ours: the run's materialized snapshot).
// Symlinks are recreated as symlinks.
func copyIn(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return copyRegular(p, target, fi.Mode().Perm())
		}
		return nil
	})
}

func copyRegular(from, to string, perm fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm|0o400)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// handOver makes the staged tree usable by the Slurm user.
func handOver(tree, slurmUser string) error {
	uid, gid, chown := -1, -1, false
	if os.Geteuid() == 0 {
		if u, err := user.Lookup(slurmUser); err == nil {
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
			chown = uid != 0
		}
	}
	same := false
	if me, err := user.Current(); err == nil && me.Username == slurmUser {
		same = true
	}
	return filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case chown:
			return os.Lchown(p, uid, gid)
		case same || os.Geteuid() == 0 && slurmUser == "root":
			return nil
		case d.IsDir():
			return os.Chmod(p, 0o777)
		}
		return nil
	})
}

// writeFileAtomic writes a small file via a temporary name and rename.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
