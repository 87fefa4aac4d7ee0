package sshvm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/sftp"

	"github.com/trainyard/trainyard/compute"
)

const (
	osCreate = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
)

func fileMode(m uint32) os.FileMode { return os.FileMode(m) }

// maxCommandBytes keeps the remote command line below Linux's 128 KiB limit
// on one execve argument (sshd runs it as `$SHELL -c <command>`).
const maxCommandBytes = 96 << 10

func checkSpec(t *compute.Target, spec *compute.JobSpec) error {
	v := spec.Check()
	if t.Attach == nil {
		v.Add("properties", "target %s has no attach settings", t.Name)
	}
	if strings.Contains(t.Name, ":") || t.Name == "" {
		v.Add("name", "the target name %q cannot be used in a handle", t.Name)
	}
	if len(spec.Argv) > 0 && strings.Contains(spec.Argv[0], "=") {
		// env(1) would take it for a variable.
		v.Add("command", "the program name %q contains '='", spec.Argv[0])
	}
	size := 0
	for _, a := range spec.Argv {
		size += len(a) + 3
	}
	for k, val := range spec.Env {
		size += len(k) + len(val) + 4
	}
	if size > maxCommandBytes {
		v.Add("command", "the command and its environment take %d bytes; a VM accepts at most %d (put large values in files)", size, maxCommandBytes)
	}
	if spec.NodeCount > 1 {
		v.Add("nodeCount", "a virtual machine is one node; the job asks for %d", spec.NodeCount)
	}
	return v.Err()
}

// Submit uploads the job's WorkDir (only files the VM's blob store lacks),
// and starts the job under the fixed wrapper in its own session on the VM.
// The handle ID is "<target>:<run-id>:<pid>.<start>" (the wrapper's pid, also
// its process group and session, and its kernel start time).
//
// Submit is idempotent per RunID: if the run's job was started already, its
// handle is returned and nothing new starts. An unreachable VM gives an error
// matching compute.ErrUnavailable (keep the run queued); a changed or
// unapproved host key an error matching compute.ErrConflict.
func (b *Backend) Submit(ctx context.Context, t *compute.Target, spec compute.JobSpec) (compute.Handle, error) {
	if err := checkSpec(t, &spec); err != nil {
		return compute.Handle{}, err
	}
	if t.Kind == compute.KindHDInsight {
		spec.Argv = SparkArgv(b.cfg.SparkSubmit, spec.Argv)
	}
	var h compute.Handle
	err := b.withConn(ctx, t, func(c *conn) error {
		var err error
		h, err = b.submit(ctx, c, t, spec)
		return err
	})
	return h, err
}

// SparkArgv is the command a run on an HDInsight head node runs: the
// dispatcher's [interpreter, script, args...] becomes
//
//	spark-submit --master yarn --deploy-mode client <script> <args...>
//
// The interpreter is dropped (the cluster's Spark configuration says which
// Python runs PySpark); client mode keeps the driver, and so the script's
// output, on the head node, where it streams into the run's log like any
// VM job. A command of one element is left alone. Quoting stays where it is:
// the result is an argv, quoted once by the wrapper's launch like any other.
func SparkArgv(sparkSubmit string, argv []string) []string {
	if len(argv) < 2 {
		return argv
	}
	if sparkSubmit == "" {
		sparkSubmit = "spark-submit"
	}
	out := []string{sparkSubmit, "--master", "yarn", "--deploy-mode", "client", argv[1]}
	return append(out, argv[2:]...)
}

func (b *Backend) submit(ctx context.Context, c *conn, t *compute.Target, spec compute.JobSpec) (compute.Handle, error) {
	dir := c.jobsDir() + "/" + spec.RunID
	if pid, err := readRemote(c.sftp, dir+"/pid", 100); err == nil {
		if h, ok := handleFrom(t.Name, spec.RunID, string(pid)); ok {
			return h, nil
		}
	}
	if _, err := c.sftp.Stat(dir + "/launched"); err == nil {
		// Launched before, by a call whose answer was lost: the launcher
		// waits for that job's pid rather than starting it again.
		return b.launch(ctx, c, t, spec, dir)
	}
	// A folder never launched is what a crash in the middle of an upload
	// leaves: start over in a clean one.
	if _, err := c.sftp.Stat(dir); err == nil {
		if err := c.sftp.RemoveAll(dir); err != nil {
			return compute.Handle{}, fmt.Errorf("clearing %s on the VM: %w", dir, err)
		}
	}
	if err := c.sftp.MkdirAll(dir + "/work"); err != nil {
		return compute.Handle{}, fmt.Errorf("creating %s on the VM: %w", dir, err)
	}
	if err := c.sftp.MkdirAll(c.blobsDir()); err != nil {
		return compute.Handle{}, fmt.Errorf("creating %s on the VM: %w", c.blobsDir(), err)
	}
	if spec.WorkDir != "" {
		if err := b.upload(c, spec.WorkDir, dir); err != nil {
			return compute.Handle{}, fmt.Errorf("uploading the files of %s: %w", spec.RunID, err)
		}
	}
	return b.launch(ctx, c, t, spec, dir)
}

// launch runs the wrapper's launch mode and returns the job's handle.
func (b *Backend) launch(ctx context.Context, c *conn, t *compute.Target, spec compute.JobSpec, dir string) (compute.Handle, error) {
	limit, ceil, text := "0", "0", ""
	if spec.MaxDuration > 0 {
		limit = strconv.FormatFloat(spec.MaxDuration.Seconds(), 'f', 3, 64)
		ceil = strconv.FormatInt(int64(math.Ceil(spec.MaxDuration.Seconds())), 10)
		text = compute.FormatLimit(spec.MaxDuration)
	}
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	args := []string{dir, limit, ceil, text, b.graceSeconds()}
	for _, k := range keys {
		args = append(args, k+"="+spec.Env[k])
	}
	args = append(args, spec.Argv...)
	out, err := b.script(ctx, c, "launch", args...)
	if err != nil {
		return compute.Handle{}, fmt.Errorf("starting %s: %w", spec.RunID, err)
	}
	// Only the marked line counts: a chatty shell startup file may print too.
	h, ok := handleFrom(t.Name, spec.RunID, markedLine(out, "trainyard-pid "))
	if !ok {
		return compute.Handle{}, fmt.Errorf("starting %s: the VM answered %q instead of a pid", spec.RunID, out)
	}
	b.log.Info("job started", "run", spec.RunID, "target", t.Name, "handle", h.ID)
	return h, nil
}

func (b *Backend) graceSeconds() string {
	return strconv.FormatInt(int64(math.Ceil(b.cfg.KillGrace.Seconds())), 10)
}

// markedLine returns the rest of the last line of out starting with prefix.
func markedLine(out []byte, prefix string) string {
	found := ""
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			found = rest
		}
	}
	return found
}

// handleFrom builds a handle from the wrapper's "pid start" line.
func handleFrom(target, runID, pidLine string) (compute.Handle, bool) {
	f := strings.Fields(pidLine)
	if len(f) != 2 {
		return compute.Handle{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	_, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 1 {
		return compute.Handle{}, false
	}
	return compute.Handle{Backend: BackendName, ID: target + ":" + runID + ":" + f[0] + "." + f[1]}, true
}

// job is a parsed handle.
type job struct {
	target, runID, pid, start string
}

func parseHandle(h compute.Handle) (job, error) {
	bad := func() (job, error) {
		return job{}, fmt.Errorf("%q is not a handle of the SSH backend: %w", h.Backend+"/"+h.ID, compute.ErrInvalid)
	}
	if h.Backend != BackendName {
		return bad()
	}
	i := strings.LastIndexByte(h.ID, ':')
	if i < 0 {
		return bad()
	}
	rest, proc := h.ID[:i], h.ID[i+1:]
	j := strings.LastIndexByte(rest, ':')
	if j <= 0 {
		return bad()
	}
	target, runID := rest[:j], rest[j+1:]
	pid, start, ok := strings.Cut(proc, ".")
	p, err1 := strconv.Atoi(pid)
	_, err2 := strconv.ParseUint(start, 10, 64)
	if !ok || err1 != nil || err2 != nil || p <= 1 || !compute.SafeName(runID) {
		return bad()
	}
	return job{target: target, runID: runID, pid: pid, start: start}, nil
}

// target finds the target a job runs on.
func (b *Backend) target(ctx context.Context, j job) (*compute.Target, error) {
	if b.cfg.Targets == nil {
		return nil, errors.New("sshvm: no Targets function configured")
	}
	t, err := b.cfg.Targets(ctx, j.target)
	if err != nil {
		return nil, fmt.Errorf("finding target %s of job %s: %w", j.target, j.runID, err)
	}
	if t.Attach == nil {
		return nil, compute.Invalid("properties", "target %s has no attach settings", t.Name)
	}
	return t, nil
}

// withJob finds the handle's target and runs f with a connection to it.
func (b *Backend) withJob(ctx context.Context, h compute.Handle, f func(c *conn, j job, dir string) error) error {
	j, err := parseHandle(h)
	if err != nil {
		return err
	}
	t, err := b.target(ctx, j)
	if err != nil {
		return err
	}
	return b.withConn(ctx, t, func(c *conn) error {
		return f(c, j, c.jobsDir()+"/"+j.runID)
	})
}

// Status reports a job's phase from the wrapper's files and process on the
// VM: Running while the wrapper lives and has written no exit code; then
// Canceled, Failed ("exceeded the maximum run duration of ..."), Failed
// ("exit code N"), Failed (ended without an exit status) or Completed. It
// also escalates a stop older than the kill grace to SIGKILL.
//
// Lost connections: while the VM does not answer, Status returns the error
// (the caller tries again) and remembers since when; a VM that answers again
// with the job alive simply reports it Running, and its log carries on from
// where it was. After Config.LostGrace without an answer the job is reported
// Failed ("lost the connection to <vm>: <err>"), for good.
func (b *Backend) Status(ctx context.Context, h compute.Handle) (compute.JobState, error) {
	if st := b.lostOutcome(h.ID); st != nil {
		return *st, nil
	}
	started := time.Now()
	var st compute.JobState
	err := b.withJob(ctx, h, func(c *conn, j job, dir string) error {
		var err error
		st, err = b.observe(ctx, c, j, dir)
		return err
	})
	if j, perr := parseHandle(h); perr == nil {
		switch {
		case err == nil:
			b.noteReached(h, j.target)
		case unreachable(err) && ctx.Err() == nil:
			if final := b.noteLost(h, j.target, started, err); final != nil {
				return *final, nil
			}
		}
	}
	return st, err
}

// observe reads the job's files and the wrapper's /proc entry over SFTP,
// which costs no process on the VM; only a stop that needs escalating runs
// the wrapper's status mode (which judges the grace by the VM's clock).
func (b *Backend) observe(ctx context.Context, c *conn, j job, dir string) (compute.JobState, error) {
	if _, err := c.sftp.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return compute.JobState{}, fmt.Errorf("job %s: %w", j.runID, compute.ErrNotFound)
	} else if err != nil {
		return compute.JobState{}, err
	}
	var out strings.Builder
	read := func(name string) (string, bool, error) {
		data, err := readRemote(c.sftp, name, 4096)
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		return string(data), err == nil, err
	}
	exit, exited, err := read(dir + "/exit")
	if err != nil {
		return compute.JobState{}, err
	}
	stop, stopped, err := read(dir + "/stop")
	if err != nil {
		return compute.JobState{}, err
	}
	procStat, _, err := read("/proc/" + j.pid + "/stat")
	if err != nil {
		return compute.JobState{}, err
	}
	alive := procStart(procStat) == j.start
	if !exited && !alive {
		// Looks dead without an exit code. Before saying so for good, ask
		// the VM itself (its /proc may be hidden from SFTP, e.g. chrooted).
		out, err := b.script(ctx, c, "status", dir, j.pid, j.start, b.graceSeconds())
		if err != nil {
			return compute.JobState{}, err
		}
		return judge(j, out)
	}
	if exited {
		out.WriteString("exit " + strings.TrimSpace(exit) + "\n")
	}
	if stopped {
		out.WriteString("stop " + strings.TrimSpace(stop) + "\n")
	}
	if alive {
		out.WriteString("alive\n")
		if stopped && !exited {
			if _, err := b.script(ctx, c, "status", dir, j.pid, j.start, b.graceSeconds()); err != nil {
				b.log.Warn("escalating a stop", "run", j.runID, "err", err)
			}
		}
	}
	return judge(j, []byte(out.String()))
}

// procStart returns field 22 (start time) of a /proc/<pid>/stat line, or "".
func procStart(stat string) string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

func judge(j job, out []byte) (compute.JobState, error) {
	var (
		exited, alive bool
		code          = -1
		stop          []string
	)
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "missing":
			return compute.JobState{}, fmt.Errorf("job %s: %w", j.runID, compute.ErrNotFound)
		case "exit":
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				code, exited = n, true
			}
		case "stop":
			stop = strings.Fields(v)
		case "alive":
			alive = true
		}
	}
	if !exited && alive {
		return compute.JobState{Phase: compute.JobRunning}, nil
	}
	if len(stop) > 0 {
		switch stop[0] {
		case "cancel":
			return compute.JobState{Phase: compute.JobCanceled, ExitCode: code, Reason: "canceled on request"}, nil
		case "timeout":
			limit := ""
			if len(stop) > 2 {
				limit = stop[1]
			}
			return compute.JobState{Phase: compute.JobFailed, ExitCode: code,
				Reason: "exceeded the maximum run duration of " + limit}, nil
		}
	}
	switch {
	case !exited:
		return compute.JobState{Phase: compute.JobFailed, ExitCode: -1,
			Reason: "the process ended without an exit status (the VM restarted?)"}, nil
	case code != 0:
		return compute.JobState{Phase: compute.JobFailed, ExitCode: code, Reason: "exit code " + strconv.Itoa(code)}, nil
	}
	return compute.JobState{Phase: compute.JobCompleted}, nil
}

// Logs returns the job's combined output from byte offset on, up to what the
// VM had written when Logs was called. It streams from the remote file over
// SFTP; the caller must Close the reader.
func (b *Backend) Logs(ctx context.Context, h compute.Handle, offset int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, compute.Invalid("offset", "the log offset cannot be negative")
	}
	if st := b.lostOutcome(h.ID); st != nil {
		return nil, errGaveUp(st)
	}
	j, err := parseHandle(h)
	if err != nil {
		return nil, err
	}
	t, err := b.target(ctx, j)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		c, err := b.connect(ctx, t)
		if err != nil {
			return nil, err
		}
		r, err := openLog(c, j, c.jobsDir()+"/"+j.runID+"/output.log", offset)
		if err == nil {
			return r, nil // r releases c when closed
		}
		c.release()
		if attempt > 0 || !connBroken(c, err) {
			return nil, err
		}
		c.close()
	}
}

// logReader is a slice of a remote log; Close releases its connection.
type logReader struct {
	io.Reader
	f    *sftp.File
	c    *conn
	once bool
}

func (r *logReader) Close() error {
	if r.once {
		return nil
	}
	r.once = true
	err := r.f.Close()
	r.c.release()
	return err
}

func openLog(c *conn, j job, name string, offset int64) (io.ReadCloser, error) {
	f, err := c.sftp.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("output of job %s: %w", j.runID, compute.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && offset < fi.Size() {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logReader{Reader: io.LimitReader(f, max(fi.Size()-offset, 0)), f: f, c: c}, nil
}

// Cancel stops the job's process group on the VM: SIGTERM, SIGKILL after the
// kill grace, and returns when the group is gone. Cancelling an ended job, or
// twice, succeeds and leaves its outcome as it was.
func (b *Backend) Cancel(ctx context.Context, h compute.Handle) error {
	return b.withJob(ctx, h, func(c *conn, j job, dir string) error {
		out, err := b.script(ctx, c, "cancel", dir, j.pid, j.start, b.graceSeconds())
		if err != nil {
			return err
		}
		answer := markedLine(out, "trainyard-cancel ")
		if answer == "stuck" {
			return fmt.Errorf("job %s: processes still present after SIGKILL", j.runID)
		}
		b.log.Info("job cancelled", "run", j.runID, "answer", answer)
		return nil
	})
}

// FetchOutputs copies the job's ./outputs and ./logs folders from the VM
// into localDir/outputs and localDir/logs (created as needed). Only regular
// files and folders are copied, and nothing lands outside localDir (os.Root).
// An empty localDir means Config.StagingDir/<run-id>.
func (b *Backend) FetchOutputs(ctx context.Context, h compute.Handle, localDir string) error {
	if st := b.lostOutcome(h.ID); st != nil {
		return errGaveUp(st)
	}
	return b.withJob(ctx, h, func(c *conn, j job, dir string) error {
		if localDir == "" {
			if b.cfg.StagingDir == "" {
				return compute.Invalid("localDir", "no folder to fetch outputs into")
			}
			localDir = filepath.Join(b.cfg.StagingDir, j.runID)
		}
		if err := os.MkdirAll(localDir, 0o700); err != nil {
			return err
		}
		root, err := os.OpenRoot(localDir)
		if err != nil {
			return err
		}
		defer root.Close()
		for _, sub := range []string{"outputs", "logs"} {
			if err := fetchTree(ctx, c.sftp, dir+"/work/"+sub, sub, root); err != nil {
				return fmt.Errorf("fetching %s of %s: %w", sub, j.runID, err)
			}
		}
		return nil
	})
}

func fetchTree(ctx context.Context, sc *sftp.Client, remote, local string, root *os.Root) error {
	if _, err := sc.Lstat(remote); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	w := sc.Walk(remote)
	for w.Step() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.Err(); err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(w.Path(), remote), "/")
		name := local
		if rel != "" {
			if !filepath.IsLocal(rel) || strings.Contains(rel, `\`) {
				continue
			}
			name = filepath.Join(local, filepath.FromSlash(rel))
		}
		fi := w.Stat()
		switch {
		case fi.IsDir():
			if err := root.MkdirAll(name, 0o700); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := fetchFile(sc, w.Path(), name, root); err != nil {
				return err
			}
		}
	}
	return nil
}

func fetchFile(sc *sftp.Client, remote, name string, root *os.Root) error {
	src, err := sc.Open(remote)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = src.WriteTo(dst)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

// localFile is one entry of a job's work folder.
type localFile struct {
	rel  string // slash-separated
	dir  bool
	size int64
	sum  string
	mode uint32
}

// upload sends the files of workDir the VM's blob store lacks (by sha256 and
// size; the store's listing is the manifest and cannot go stale) and writes
// the plan the launcher copies them out by. Files whose path holds a newline
// go straight into the work folder. Symlinks and special files are skipped.
func (b *Backend) upload(c *conn, workDir, dir string) error {
	var files []localFile
	err := filepath.WalkDir(workDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(workDir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			files = append(files, localFile{rel: rel, dir: true})
		case d.Type().IsRegular():
			sum, size, err := hashFile(p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, localFile{rel: rel, size: size, sum: sum, mode: uint32(fi.Mode().Perm())})
		default:
			b.log.Warn("skipping a file that is not regular", "path", rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	have := map[string]int64{}
	ents, err := c.sftp.ReadDir(c.blobsDir())
	if err != nil {
		return fmt.Errorf("listing %s on the VM: %w", c.blobsDir(), err)
	}
	for _, e := range ents {
		have[e.Name()] = e.Size()
	}
	var plan bytes.Buffer
	sent := 0
	for _, f := range files {
		if strings.ContainsAny(f.rel, "\n\r") {
			if err := b.putDirect(c, workDir, dir, f); err != nil {
				return err
			}
			continue
		}
		if f.dir {
			fmt.Fprintf(&plan, "d - %s\n", f.rel)
			continue
		}
		if size, ok := have[f.sum]; !ok || size != f.size {
			if err := b.putBlob(c, filepath.Join(workDir, filepath.FromSlash(f.rel)), f); err != nil {
				return err
			}
			have[f.sum] = f.size
			sent++
		}
		fmt.Fprintf(&plan, "%s %o %s\n", f.sum, f.mode&0o777|0o600, f.rel)
	}
	b.log.Info("files uploaded", "dir", dir, "files", len(files), "sent", sent)
	return putFile(c.sftp, dir+"/plan", &plan, 0o600)
}

func (b *Backend) putBlob(c *conn, local string, f localFile) error {
	src, err := os.Open(local)
	if err != nil {
		return err
	}
	defer src.Close()
	// Check while sending that the file did not change since it was hashed:
	// a blob must hold exactly the content its name says.
	h := sha256.New()
	tmp := c.blobsDir() + "/.tmp-" + randHex()
	dst, err := c.sftp.OpenFile(tmp, osCreate)
	if err != nil {
		return fmt.Errorf("creating %s on the VM: %w", tmp, err)
	}
	_, err = dst.ReadFrom(io.TeeReader(src, h))
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != f.sum {
		err = fmt.Errorf("%s changed while it was uploaded", f.rel)
	}
	if err == nil {
		err = c.sftp.PosixRename(tmp, c.blobsDir()+"/"+f.sum)
	}
	if err != nil {
		_ = c.sftp.Remove(tmp)
		return err
	}
	b.uploads.Add(1)
	return nil
}

func (b *Backend) putDirect(c *conn, workDir, dir string, f localFile) error {
	remote := dir + "/work/" + f.rel
	if f.dir {
		return c.sftp.MkdirAll(remote)
	}
	if err := c.sftp.MkdirAll(path.Dir(remote)); err != nil {
		return err
	}
	src, err := os.Open(filepath.Join(workDir, filepath.FromSlash(f.rel)))
	if err != nil {
		return err
	}
	defer src.Close()
	b.uploads.Add(1)
	return putFile(c.sftp, remote, src, f.mode|0o600)
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func readRemote(sc *sftp.Client, p string, limit int64) ([]byte, error) {
	f, err := sc.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

func randHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
