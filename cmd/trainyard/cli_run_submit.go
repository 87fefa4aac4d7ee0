package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trainyard/trainyard/compute/runconfig"
	"github.com/trainyard/trainyard/compute/snapshot"
)

// experimentNameRe is the experiment name rule of the runs API.
var experimentNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)

// checkExperimentName returns why name is not a valid experiment name, or "".
func checkExperimentName(name string) string {
	if experimentNameRe.MatchString(name) {
		return ""
	}
	return fmt.Sprintf("experiment name %q is not valid: use 1–255 letters, digits, '_', '-' or '.', starting with a letter or digit", name)
}

// uploadWorkers is how many blobs are uploaded at once.
const uploadWorkers = 4

// progressMinBytes is the upload size from which progress is shown (on a terminal).
const progressMinBytes = 4 << 20

// submitRequest is the body of POST /api/v1/runs.
type submitRequest struct {
	ExperimentName        string               `json:"experimentName"`
	SnapshotID            string               `json:"snapshotId"`
	Script                string               `json:"script"`
	Arguments             []string             `json:"arguments"`
	Target                string               `json:"target"`
	NodeCount             int                  `json:"nodeCount"`
	MaxRunDurationSeconds *int64               `json:"maxRunDurationSeconds,omitempty"`
	Environment           submitEnvironment    `json:"environment"`
	RunConfiguration      *runconfig.RunConfig `json:"runConfiguration,omitempty"`
}

type submitEnvironment struct {
	EnvironmentVariables map[string]string `json:"environmentVariables,omitempty"`
	Python               submitPython      `json:"python"`
	Docker               submitDocker      `json:"docker"`
}

type submitPython struct {
	InterpreterPath         string `json:"interpreterPath,omitempty"`
	UserManagedDependencies bool   `json:"userManagedDependencies"`
	CondaDependencies       any    `json:"condaDependencies"`
	CondaDependenciesFile   string `json:"condaDependenciesFile,omitempty"`
}

type submitDocker struct {
	Enabled   bool   `json:"enabled"`
	BaseImage string `json:"baseImage"`
}

// environmentOf turns a run configuration's environment into the API's.
// Without a python section the run is user-managed with the target's python3.
func environmentOf(rc *runconfig.RunConfig) submitEnvironment {
	env := submitEnvironment{Python: submitPython{UserManagedDependencies: true}}
	if rc == nil || rc.Environment == nil {
		return env
	}
	e := rc.Environment
	env.EnvironmentVariables = e.EnvironmentVariables
	if py := e.Python; py != nil {
		env.Python = submitPython{InterpreterPath: py.InterpreterPath, UserManagedDependencies: py.UserManagedDependencies,
			CondaDependencies: py.CondaDependencies, CondaDependenciesFile: py.CondaDependenciesFile}
	}
	if d := e.Docker; d != nil {
		env.Docker = submitDocker{Enabled: d.Enabled, BaseImage: d.BaseImage}
	}
	return env
}

const submitAbout = `Snapshot the source directory and run SCRIPT in it on a compute target, as 'az ml run submit-script' does.

Options come before the script. Everything after the script name is passed to the script unchanged, as its own argv (never through a shell): in 'trainyard run submit-script -e exp -c local train.py --lr 0.1', --lr and 0.1 go to train.py. The run configuration's arguments come first, then these.

-c NAME reads .azureml/NAME.runconfig (or aml_config/NAME.runconfig) in the source directory; a path to a file works too. Without -c the run is user-managed Python on the target (local unless --target). --target, --node-count and --max-run-duration-seconds override the run configuration. Without -e, the experiment recorded by 'trainyard folder attach -e' is used.

Only files the server does not have yet are uploaded (.amlignore, else .gitignore, is honoured; limits 300 MB and 2000 files). Prints the run: -o json gives the server's run JSON with runId and status.`

func (c *cli) runSubmitScript(args []string) error { return c.submitRun(args, false) }

// runSubmitHyperdrive is 'trainyard run submit-hyperdrive': submit-script
// plus --hyperdrive-configuration-name, posted to /api/v1/sweeps.
func (c *cli) runSubmitHyperdrive(args []string) error { return c.submitRun(args, true) }

const submitHyperdriveAbout = `Snapshot the source directory and start a HyperDrive sweep of SCRIPT, as 'az ml run submit-hyperdrive' does.

The sweep (sampling and parameter space, early-termination policy, primary metric and goal, max_total_runs, max_concurrent_runs, max_duration_minutes) is read from --hyperdrive-configuration-name: 'hd' means .azureml/hd.yml in the source directory; a path to a file works too. Every child runs SCRIPT with the run configuration's arguments, then ARGS, then its sampled values as '--name value' (the parameter space wins over duplicates).

Options come before the script; -c, --target, -e and the rest are as for submit-script. Prints the parent run: -o json gives the server's run JSON with runId and status. Follow the children with 'trainyard run list --parent RUN_ID'.`

func (c *cli) submitRun(args []string, sweep bool) error {
	var (
		exp, rcName, target, srcDir, out, hdName string
		nodeCount, maxSeconds                    int
	)
	name, usage, about := "trainyard run submit-script", "-e EXPERIMENT [-c RUNCONFIG] [--target TARGET] [-d DIR] [flags] SCRIPT [ARGS...]", submitAbout
	if sweep {
		name, usage, about = "trainyard run submit-hyperdrive", "-e EXPERIMENT [-c RUNCONFIG] --hyperdrive-configuration-name HDCONFIG [-d DIR] [flags] SCRIPT [ARGS...]", submitHyperdriveAbout
	}
	f := newFlagSet(name, usage, about)
	if sweep {
		f.String(&hdName, "hyperdrive-configuration-name", "", "HDCONFIG", "", "the sweep: a name in .azureml/ (hd means .azureml/hd.yml) or a path to an hdconfig file")
	}
	f.String(&exp, "experiment-name", "e", "NAME", "", "experiment to run in; created on first use")
	f.String(&rcName, "run-configuration-name", "c", "RUNCONFIG", "", "run configuration: a name in .azureml/ (e.g. local) or a path to a .runconfig file")
	f.String(&target, "target", "", "TARGET", "", "compute target; overrides the run configuration's (default local)")
	f.String(&srcDir, "source-directory", "d", "DIR", ".", "folder to snapshot; the script path is relative to it")
	f.Int(&nodeCount, "node-count", "N", 0, "nodes to run on; overrides the run configuration's nodeCount (default 1)")
	f.Int(&maxSeconds, "max-run-duration-seconds", "S", 0, "cancel the run after S seconds; overrides maxRunDurationSeconds (default: no limit)")
	f.Output(&out)
	rest, err := f.parseArgs(args, c.stdout)
	if err != nil {
		return err
	}
	if f.Set("node-count") && nodeCount < 1 {
		return f.usageErr("--node-count must be at least 1")
	}
	if f.Set("max-run-duration-seconds") && maxSeconds < 1 {
		return f.usageErr("--max-run-duration-seconds must be at least 1")
	}
	info, err := os.Stat(srcDir)
	if err != nil {
		return fmt.Errorf("--source-directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("--source-directory: %s is not a directory", srcDir)
	}
	if exp == "" {
		exp = attachedExperiment(srcDir)
	}
	if exp == "" {
		return f.usageErr("--experiment-name is required (or attach the folder with 'trainyard folder attach -e NAME')")
	}
	if msg := checkExperimentName(exp); msg != "" {
		return f.usageErr("%s", msg)
	}
	var hdText []byte
	if sweep {
		if hdName == "" {
			return f.usageErr("--hyperdrive-configuration-name is required (e.g. hd for .azureml/hd.yml)")
		}
		p, err := findHDConfig(srcDir, hdName)
		if err != nil {
			return err
		}
		if hdText, err = os.ReadFile(p); err != nil {
			return err
		}
		if _, err := runconfig.ParseHDConfig(p, hdText); err != nil {
			return err
		}
	}

	var rc *runconfig.RunConfig
	if rcName != "" {
		p, err := findRunConfig(srcDir, rcName)
		if err != nil {
			return err
		}
		if rc, err = runconfig.ReadFile(p); err != nil {
			return err
		}
	}
	script := ""
	var scriptArgs []string
	if len(rest) > 0 {
		script, scriptArgs = rest[0], rest[1:]
	} else if rc != nil {
		script = rc.Script
	}
	if strings.TrimSpace(script) == "" {
		return f.usageErr("give the script to run, e.g. train.py")
	}
	script, err = scriptPath(srcDir, script)
	if err != nil {
		return err
	}
	arguments := []string{}
	if rc != nil {
		arguments = append(arguments, rc.Arguments...)
	}
	arguments = append(arguments, scriptArgs...)
	if rc != nil {
		rc.Script = script
		if target != "" {
			rc.Target = target
		}
		if f.Set("node-count") {
			rc.NodeCount = &nodeCount
		}
		if f.Set("max-run-duration-seconds") {
			s := int64(maxSeconds)
			rc.MaxRunDurationSeconds = &s
		}
		if err := rc.Validate(); err != nil {
			return err
		}
	}
	req := submitRequest{ExperimentName: exp, Script: script, Arguments: arguments, Target: runconfig.LocalTarget, NodeCount: 1,
		Environment: environmentOf(rc), RunConfiguration: rc}
	if rc != nil {
		req.Target = rc.EffectiveTarget()
		if rc.NodeCount != nil {
			req.NodeCount = *rc.NodeCount
		}
		req.MaxRunDurationSeconds = rc.MaxRunDurationSeconds
	}
	if target != "" {
		req.Target = target
	}
	if f.Set("node-count") {
		req.NodeCount = nodeCount
	}
	if f.Set("max-run-duration-seconds") {
		s := int64(maxSeconds)
		req.MaxRunDurationSeconds = &s
	}

	api, snapID, uploadSummary, err := c.snapshotAndUpload(srcDir, script)
	if err != nil {
		return err
	}
	req.SnapshotID = snapID
	var body any = req
	endpoint := runsPath
	if sweep {
		endpoint = sweepsPath
		body = struct {
			submitRequest
			HyperdriveConfiguration string `json:"hyperdriveConfiguration"`
		}{req, string(hdText)}
	}
	resp, err := api.do(c.ctx, http.MethodPost, endpoint, nil, body, nil)
	if err != nil {
		return err
	}
	var r runInfo
	if err := resp.decode(&r); err != nil {
		return err
	}
	if out == "json" {
		return printRaw(c.stdout, resp.body)
	}
	fmt.Fprintln(c.stderr, uploadSummary)
	if err := printRunTable(c.stdout, []runInfo{r}, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "Follow it with: trainyard run monitor-logs -r %s\n", r.RunID)
	return nil
}

// findHDConfig finds an hdconfig as az ml does: a path to an existing
// file, else NAME (or NAME.yml) in .azureml/ or aml_config/ of srcDir.
func findHDConfig(srcDir, name string) (string, error) {
	if info, err := os.Stat(name); err == nil && !info.IsDir() {
		return name, nil
	}
	var tried []string
	for _, dir := range []string{".azureml", "aml_config"} {
		for _, n := range []string{name + ".yml", name + ".yaml", name} {
			p := filepath.Join(srcDir, dir, n)
			if info, err := os.Stat(p); err == nil && !info.IsDir() {
				return p, nil
			}
			tried = append(tried, p)
		}
	}
	return "", fmt.Errorf("hyperdrive configuration %q not found (looked for %s)", name, strings.Join(tried[:2], ", "))
}

// attachedExperiment reads the experiment 'folder attach -e' recorded.
func attachedExperiment(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, ".azureml", projectFile))
	if err != nil {
		return ""
	}
	var p projectConfig
	if json.Unmarshal(data, &p) != nil {
		return ""
	}
	return strings.TrimSpace(p.ExperimentName)
}

// findRunConfig resolves -c: a path to an existing file, else
// .azureml/NAME.runconfig, else aml_config/NAME.runconfig, in the source
// directory.
func findRunConfig(srcDir, name string) (string, error) {
	if strings.ContainsAny(name, `/\`) || strings.Contains(name, ".") {
		if st, err := os.Stat(name); err == nil && !st.IsDir() {
			return name, nil
		}
	}
	base := strings.TrimSuffix(name, ".runconfig")
	var tried []string
	if !strings.ContainsAny(base, `/\`) && base != "" && base != "." && base != ".." {
		for _, dir := range []string{".azureml", "aml_config"} {
			p := filepath.Join(srcDir, dir, base+".runconfig")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
			tried = append(tried, p)
		}
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("run configuration %s not found", name)
	}
	return "", fmt.Errorf("run configuration %q not found: looked for %s (run 'trainyard folder attach' to write templates)", name, strings.Join(tried, " and "))
}

// scriptPath makes the script a clean slash path relative to the source
// directory. A path that exists relative to the working directory and lies
// inside the source directory is taken relative to it too.
func scriptPath(srcDir, script string) (string, error) {
	s := filepath.ToSlash(script)
	if filepath.IsAbs(script) || strings.HasPrefix(s, "../") {
		abs, err := filepath.Abs(script)
		if err == nil {
			if root, err := filepath.Abs(srcDir); err == nil {
				if rel, err := filepath.Rel(root, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					return filepath.ToSlash(rel), nil
				}
			}
		}
		return "", fmt.Errorf("script %s is not inside the source directory %s", script, srcDir)
	}
	s = path.Clean(s)
	if err := snapshot.ValidatePath(s); err != nil {
		return "", fmt.Errorf("script: %w", err)
	}
	return s, nil
}

// uploadSnapshot asks the server which blobs it lacks, uploads those, and
// creates the snapshot. It returns the snapshot ID, how many files were

// snapshotAndUpload builds the snapshot of srcDir (saying what it left
// out), checks that script is in it and uploads only the files the server
// lacks. It returns the API client, the snapshot's ID and a one-line
// summary of the upload.
func (c *cli) snapshotAndUpload(srcDir, script string) (*apiClient, string, string, error) {
	m, err := snapshot.Build(c.ctx, srcDir, snapshot.Options{})
	if err != nil {
		return nil, "", "", err
	}
	for _, s := range m.Skipped {
		fmt.Fprintf(c.stderr, "trainyard: left out of the snapshot: %s: %s\n", s.Path, s.Reason)
	}
	if m.Lookup(script) == nil {
		return nil, "", "", fmt.Errorf("script %s is not in the snapshot of %s: it does not exist there, or .amlignore/.gitignore leaves it out", script, srcDir)
	}
	api, err := c.client()
	if err != nil {
		return nil, "", "", err
	}
	snapID, uploaded, upBytes, err := c.uploadSnapshot(api, m)
	if err != nil {
		return nil, "", "", err
	}
	summary := fmt.Sprintf("Snapshot %s: %d files (%s); uploaded %d (%s).", snapID, len(m.Files), humanBytes(m.TotalBytes()), uploaded, humanBytes(upBytes))
	return api, snapID, summary, nil
}

// uploaded and their bytes.
func (c *cli) uploadSnapshot(api *apiClient, m *snapshot.Manifest) (string, int, int64, error) {
	resp, err := api.do(c.ctx, http.MethodPost, snapshotsPath+"/missing", nil, map[string]any{"files": m.Files}, nil)
	if err != nil {
		return "", 0, 0, err
	}
	var missing struct {
		Missing []string `json:"missing"`
	}
	if err := resp.decode(&missing); err != nil {
		return "", 0, 0, err
	}
	bySHA := make(map[string]*snapshot.File, len(m.Files))
	for i := range m.Files {
		if _, ok := bySHA[m.Files[i].SHA256]; !ok {
			bySHA[m.Files[i].SHA256] = &m.Files[i]
		}
	}
	var todo []*snapshot.File
	var total int64
	seen := map[string]bool{}
	for _, sha := range missing.Missing {
		f, ok := bySHA[sha]
		if !ok {
			return "", 0, 0, fmt.Errorf("the server asked for blob %s, which is not in this snapshot", sha)
		}
		if seen[sha] {
			continue
		}
		seen[sha] = true
		todo = append(todo, f)
		total += f.Size
	}
	if err := c.uploadBlobs(api, todo, total); err != nil {
		return "", 0, 0, err
	}
	resp, err = api.do(c.ctx, http.MethodPost, snapshotsPath, nil, m, nil)
	if err != nil {
		return "", 0, 0, err
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := resp.decode(&created); err != nil {
		return "", 0, 0, err
	}
	if created.ID == "" {
		return "", 0, 0, errors.New("the server created the snapshot but sent no id")
	}
	return created.ID, len(todo), total, nil
}

// uploadBlobs PUTs each file's content under its hash, a few at a time,
// with progress on stderr when it is a terminal and the upload is large.
func (c *cli) uploadBlobs(api *apiClient, files []*snapshot.File, total int64) error {
	if len(files) == 0 {
		return nil
	}
	var sent atomic.Int64
	var done atomic.Int64
	stop := func() {}
	if total >= progressMinBytes && c.stderrTerminal() {
		stop = c.showProgress(&sent, &done, total, len(files))
	}
	g, ctx := errgroup.WithContext(c.ctx)
	g.SetLimit(uploadWorkers)
	for _, f := range files {
		g.Go(func() error {
			if err := api.putBlob(ctx, f, &sent); err != nil {
				return err
			}
			done.Add(1)
			return nil
		})
	}
	err := g.Wait()
	stop()
	return err
}

// showProgress redraws one progress line on stderr until the returned stop is called.
func (c *cli) showProgress(sent, done *atomic.Int64, total int64, files int) func() {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	draw := func() {
		s := sent.Load()
		fmt.Fprintf(c.stderr, "\rUploading %d/%d files, %s of %s (%d%%)   ", done.Load(), files, humanBytes(s), humanBytes(total), s*100/max(total, 1))
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				draw()
				fmt.Fprintln(c.stderr)
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// putBlob uploads one file under its hash. The content is hashed again as it
// is sent; a file that changed since the snapshot was built is an error.
func (c *apiClient) putBlob(ctx context.Context, f *snapshot.File, sent *atomic.Int64) error {
	fh, err := os.Open(f.Source)
	if err != nil {
		return err
	}
	defer fh.Close()
	body := &hashingReader{r: io.LimitReader(fh, f.Size), h: sha256.New(), want: f.SHA256, path: f.Path, sent: sent}
	target := c.base.String() + blobsPath + "/" + url.PathEscape(f.SHA256)
	_, _, err = c.raw(ctx, http.MethodPut, target, body, "application/octet-stream", f.Size, "application/json")
	if body.err != nil {
		return body.err
	}
	return err
}

// hashingReader hashes what it reads and fails at the end when the hash is
// not the expected one.
type hashingReader struct {
	r    io.Reader
	h    hash.Hash
	want string
	path string
	sent *atomic.Int64
	n    int64
	err  error
}

// Read passes bytes on, hashing them and counting them for the progress line.
func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	h.sent.Add(int64(n))
	if err == io.EOF && hex.EncodeToString(h.h.Sum(nil)) != h.want {
		h.err = fmt.Errorf("%s changed while it was uploaded; submit again", h.path)
		return n, h.err
	}
	return n, err
}

// humanBytes formats a size: 512 B, 1.2 KB, 3.4 MB (1 KB = 1024 B).
func humanBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
}
