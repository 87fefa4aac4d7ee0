package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

// fakeRunsAPI is a test double of the runs JSON API contract
// (docs/API-runs.md), not the server: snapshots (missing, blobs, create),
// experiments, runs (submit, list with paging, get, cancel, logs), plus GET
// /api/v1/computes for folder attach. It checks the bearer token, verifies
// blob hashes as the contract says, and records every request so tests can
// check what the CLI sent.
type fakeRunsAPI struct {
	mu          sync.Mutex
	requests    []recorded
	blobs       map[string][]byte
	snapshots   map[string]map[string]any // id → body
	experiments []map[string]any
	runs        []map[string]any // newest last
	// logs holds, per run, the answers GET …/logs gives in turn: each a
	// chunk and the status reported with it; the last one repeats.
	logs     map[string][]logStep
	logCalls map[string]int
	pageSize int // run list page size (default 100)
	computes []arm.Compute
}

type logStep struct {
	chunk, status string
}

func newFakeRunsAPI(t *testing.T) (*fakeRunsAPI, *httptest.Server) {
	t.Helper()
	f := &fakeRunsAPI{blobs: map[string][]byte{}, snapshots: map[string]map[string]any{}, logs: map[string][]logStep{}, logCalls: map[string]int{}, pageSize: 100}
	for _, tg := range []*compute.Target{
		{Name: "local", Kind: compute.KindLocal, ProvisioningState: compute.ProvisioningSucceeded, CreatedAt: testTime()},
		{Name: "gpu-cluster", Kind: compute.KindCluster, ProvisioningState: compute.ProvisioningSucceeded, CreatedAt: testTime(),
			Cluster: &compute.ClusterSpec{VMSize: "Standard_NC6", VMPriority: compute.Dedicated, MaxNodes: 4}},
	} {
		f.computes = append(f.computes, arm.FromTarget(tg, ""))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/computes", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, arm.ComputeList{Value: f.computes})
	})
	mux.HandleFunc("POST /api/v1/snapshots/missing", f.missing)
	mux.HandleFunc("PUT /api/v1/blobs/{sha}", f.putBlob)
	mux.HandleFunc("POST /api/v1/snapshots", f.createSnapshot)
	mux.HandleFunc("POST /api/v1/experiments", f.createExperiment)
	mux.HandleFunc("GET /api/v1/experiments", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		reply(w, http.StatusOK, map[string]any{"value": f.experiments})
	})
	mux.HandleFunc("POST /api/v1/runs", f.submit)
	mux.HandleFunc("GET /api/v1/runs", f.listRuns)
	mux.HandleFunc("GET /api/v1/runs/{id}", f.getRun)
	mux.HandleFunc("POST /api/v1/runs/{id}/cancel", f.cancel)
	mux.HandleFunc("GET /api/v1/runs/{id}/logs", f.getLogs)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.requests = append(f.requests, recorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body})
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			fail(w, compute.ErrUnauthenticated)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func apiErr(w http.ResponseWriter, status int, code, target, msg string) {
	reply(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "target": target}})
}

func (f *fakeRunsAPI) missing(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Files []struct {
			SHA256 string `json:"sha256"`
		} `json:"files"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		apiErr(w, 400, "BadRequest", "", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []string{}
	for _, fl := range body.Files {
		if _, ok := f.blobs[fl.SHA256]; !ok && !slices.Contains(out, fl.SHA256) {
			out = append(out, fl.SHA256)
		}
	}
	reply(w, http.StatusOK, map[string]any{"missing": out})
}

func (f *fakeRunsAPI) putBlob(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != r.PathValue("sha") {
		apiErr(w, 422, "HashMismatch", "sha256", "The content does not hash to the name.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	status := http.StatusCreated
	if _, ok := f.blobs[r.PathValue("sha")]; ok {
		status = http.StatusOK
	}
	f.blobs[r.PathValue("sha")] = data
	w.WriteHeader(status)
}

func (f *fakeRunsAPI) createSnapshot(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		apiErr(w, 400, "BadRequest", "", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	files, _ := body["files"].([]any)
	for _, x := range files {
		fl := x.(map[string]any)
		if _, ok := f.blobs[fl["sha256"].(string)]; !ok {
			apiErr(w, 422, "ValidationError", fl["path"].(string), "The blob is missing.")
			return
		}
	}
	id := fmt.Sprintf("snap-%d", len(f.snapshots)+1)
	f.snapshots[id] = body
	reply(w, http.StatusCreated, map[string]any{"id": id, "fileCount": len(files)})
}

func (f *fakeRunsAPI) createExperiment(w http.ResponseWriter, r *http.Request) {
	var body struct{ Name string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.experiments {
		if e["name"] == body.Name {
			reply(w, http.StatusOK, e)
			return
		}
	}
	e := map[string]any{"name": body.Name, "id": "exp-" + strconv.Itoa(len(f.experiments)+1), "createdTimeUtc": "2026-11-27T13:39:00Z", "runCount": 0}
	f.experiments = append(f.experiments, e)
	reply(w, http.StatusCreated, e)
}

func (f *fakeRunsAPI) submit(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		apiErr(w, 400, "BadRequest", "", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	snap, ok := f.snapshots[fmt.Sprint(body["snapshotId"])]
	if !ok {
		apiErr(w, 422, "ValidationError", "snapshotId", "No such snapshot.")
		return
	}
	found := false
	for _, x := range snap["files"].([]any) {
		found = found || x.(map[string]any)["path"] == body["script"]
	}
	if !found {
		apiErr(w, 422, "ValidationError", "script", "The script is not in the snapshot.")
		return
	}
	if t := body["target"]; t != "local" && t != "gpu-cluster" {
		apiErr(w, 404, "NotFound", "target", fmt.Sprintf("Compute '%v' was not found.", t))
		return
	}
	id := fmt.Sprintf("%s_1764250000_%08x", body["experimentName"], len(f.runs)+1)
	run := map[string]any{"runId": id, "experimentName": body["experimentName"], "status": "NotStarted", "target": body["target"],
		"script": body["script"], "arguments": body["arguments"], "nodeCount": body["nodeCount"], "snapshotId": body["snapshotId"],
		"createdTimeUtc": "2026-11-27T13:39:00Z", "submittedBy": "local", "metrics": map[string]any{}}
	f.runs = append(f.runs, run)
	reply(w, http.StatusCreated, run)
}

func (f *fakeRunsAPI) addRun(run map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, run)
}

func (f *fakeRunsAPI) findRun(id string) map[string]any {
	for _, r := range f.runs {
		if r["runId"] == id {
			return r
		}
	}
	return nil
}

func (f *fakeRunsAPI) listRuns(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	var match []map[string]any
	for i := len(f.runs) - 1; i >= 0; i-- {
		run := f.runs[i]
		if (q.Get("experiment") == "" || run["experimentName"] == q.Get("experiment")) &&
			(q.Get("parent") == "" || run["parentRunId"] == q.Get("parent")) &&
			(q.Get("status") == "" || run["status"] == q.Get("status")) &&
			(q.Get("target") == "" || run["target"] == q.Get("target")) {
			match = append(match, run)
		}
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))
	top := f.pageSize
	if t, err := strconv.Atoi(q.Get("$top")); err == nil && t < top {
		top = t
	}
	end := min(skip+top, len(match))
	out := map[string]any{"value": match[min(skip, end):end]}
	if end < len(match) {
		q.Set("$skip", strconv.Itoa(end))
		out["nextLink"] = "/api/v1/runs?" + q.Encode()
	}
	reply(w, http.StatusOK, out)
}

func (f *fakeRunsAPI) getRun(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	run := f.findRun(r.PathValue("id"))
	if run == nil {
		apiErr(w, 404, "NotFound", "runId", fmt.Sprintf("Run '%s' was not found.", r.PathValue("id")))
		return
	}
	reply(w, http.StatusOK, run)
}

func (f *fakeRunsAPI) cancel(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	run := f.findRun(r.PathValue("id"))
	switch {
	case run == nil:
		apiErr(w, 404, "NotFound", "runId", "Run not found.")
	case terminalStatus(fmt.Sprint(run["status"])):
		apiErr(w, 409, "RunFinished", "runId", fmt.Sprintf("Run '%s' has already finished (%s).", run["runId"], run["status"]))
	default:
		run["status"] = "CancelRequested"
		reply(w, http.StatusAccepted, run)
	}
}

func (f *fakeRunsAPI) getLogs(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.PathValue("id")
	run := f.findRun(id)
	if run == nil {
		apiErr(w, 404, "NotFound", "runId", "Run not found.")
		return
	}
	steps := f.logs[id]
	var full string
	n := min(f.logCalls[id], len(steps)-1)
	for _, s := range steps[:n+1] {
		full += s.chunk
	}
	f.logCalls[id]++
	run["status"] = steps[n].status
	off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	off = min(off, len(full))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Log-Offset", strconv.Itoa(len(full)))
	w.Header().Set("X-Run-Status", steps[n].status)
	io.WriteString(w, full[off:])
}

// byPath returns the requests to path, optionally only those with a method.
func (f *fakeRunsAPI) sent(method, prefix string) []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.requests {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeRunsAPI) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// srcFolder writes a source folder for submit tests.
func srcFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range map[string]string{
		"train.py":                 "import sys\nprint(sys.argv)\n",
		"lib/util.py":              "X = 1\n",
		"same.py":                  "X = 1\n", // same content as lib/util.py: one blob
		".amlignore":               "data/\n",
		"data/big.csv":             "1,2,3\n",
		".azureml/local.runconfig": "script: train.py\narguments: [--epochs, 3]\ntarget: local\nframework: python\nenvironment:\n  environmentVariables: {SEED: 7}\n  python:\n    userManagedDependencies: true\n",
		".azureml/bad.runconfig":   "script: train.py\nnodeCount: zero\n",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSubmitScript(t *testing.T) {
	api, srv := newFakeRunsAPI(t)
	dir := srcFolder(t)
	// Options come first; everything after the script goes to it as written.
	args := []string{"run", "submit-script", "-e", "exp", "-c", "local", "-d", dir, "-o", "json", "train.py",
		"--lr", "0.1", "--msg", "$(touch /tmp/pwned); echo hi", "--quote", `it's "x"`, "-c", "notaflag", "-o", "table", "--", ""}
	res := runCLI(t, srv, "", args...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if field(t, []byte(res.stdout), "runId") != "exp_1764250000_00000001" || field(t, []byte(res.stdout), "status") != "NotStarted" {
		t.Errorf("stdout is not the run JSON:\n%s", res.stdout)
	}
	var order []string
	api.mu.Lock()
	for _, r := range api.requests {
		order = append(order, r.Method+" "+strings.Split(r.Path, "/")[3])
	}
	api.mu.Unlock()
	// 6 files in the snapshot (data/ is ignored), 5 distinct blobs.
	want := []string{"POST snapshots", "PUT blobs", "PUT blobs", "PUT blobs", "PUT blobs", "PUT blobs", "POST snapshots", "POST runs"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("requests %q\nwant %q", order, want)
	}
	for _, put := range api.sent("PUT", "/api/v1/blobs/") {
		if put.ContentType != "application/octet-stream" || put.Auth != "Bearer "+testToken {
			t.Errorf("blob upload headers: %+v", put)
		}
	}
	sub := api.sent("POST", "/api/v1/runs")[0].Body
	wantArgs := []any{"--epochs", "3", "--lr", "0.1", "--msg", "$(touch /tmp/pwned); echo hi", "--quote", `it's "x"`, "-c", "notaflag", "-o", "table", "--", ""}
	for path, want := range map[string]any{
		"experimentName":             "exp",
		"snapshotId":                 "snap-1",
		"script":                     "train.py",
		"arguments":                  wantArgs,
		"target":                     "local",
		"nodeCount":                  1.0,
		"environment":                map[string]any{"environmentVariables": map[string]any{"SEED": "7"}, "python": map[string]any{"userManagedDependencies": true, "condaDependencies": nil}, "docker": map[string]any{"enabled": false, "baseImage": ""}},
		"runConfiguration.framework": "Python",
		"runConfiguration.arguments": []any{"--epochs", "3"},
	} {
		if got := field(t, sub, path); !reflect.DeepEqual(got, want) {
			t.Errorf("run body %s = %#v, want %#v", path, got, want)
		}
	}
	if field(t, sub, "maxRunDurationSeconds") != nil {
		t.Errorf("maxRunDurationSeconds sent without being set: %s", sub)
	}
	snap := api.sent("POST", "/api/v1/snapshots")[1].Body
	var paths []string
	for _, x := range field(t, snap, "files").([]any) {
		paths = append(paths, x.(map[string]any)["path"].(string))
	}
	if !reflect.DeepEqual(paths, []string{".amlignore", ".azureml/bad.runconfig", ".azureml/local.runconfig", "lib/util.py", "same.py", "train.py"}) {
		t.Errorf("snapshot paths %q", paths)
	}

	// Resubmit after changing one file: only that file is uploaded.
	api.reset()
	if err := os.WriteFile(filepath.Join(dir, "train.py"), []byte("print('v2')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, srv, "", "run", "submit-script", "-e", "exp", "-d", dir, "train.py")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	puts := api.sent("PUT", "/api/v1/blobs/")
	sum := sha256.Sum256([]byte("print('v2')\n"))
	if len(puts) != 1 || puts[0].Path != "/api/v1/blobs/"+hex.EncodeToString(sum[:]) {
		t.Errorf("resubmit uploaded %d blobs: %+v", len(puts), puts)
	}
	if !strings.Contains(res.stdout, "exp_1764250000_00000002  exp         NotStarted  local") || !strings.Contains(res.stderr, "uploaded 1 (12 B)") {
		t.Errorf("table output:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	}
	// Without -c: user-managed Python on local, no runConfiguration, no script args.
	sub = api.sent("POST", "/api/v1/runs")[0].Body
	if field(t, sub, "runConfiguration") != nil || !reflect.DeepEqual(field(t, sub, "arguments"), []any{}) || field(t, sub, "environment.python.userManagedDependencies") != true {
		t.Errorf("submit without a runconfig: %s", sub)
	}
	// Nothing changed: nothing uploaded.
	api.reset()
	if res := runCLI(t, srv, "", "run", "submit-script", "-e", "exp", "-d", dir, "train.py"); res.code != 0 || len(api.sent("PUT", "/")) != 0 {
		t.Errorf("unchanged resubmit: exit %d, %d uploads", res.code, len(api.sent("PUT", "/")))
	}
}

func TestSubmitOverrides(t *testing.T) {
	dir := srcFolder(t)
	rcPath := filepath.Join(t.TempDir(), "gpu.runconfig")
	os.WriteFile(rcPath, []byte("script: lib/util.py\narguments: [a]\ntarget: local\nnodeCount: 4\nmaxRunDurationSeconds: 100\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".azureml", "project.json"), []byte(`{"experimentName":"attached"}`), 0o644)
	tests := []struct {
		name string
		args []string
		want map[string]any
	}{
		{"flags override the runconfig", []string{"-e", "exp", "-c", rcPath, "--target", "gpu-cluster", "--node-count", "2", "--max-run-duration-seconds", "60", "train.py", "b"},
			map[string]any{"target": "gpu-cluster", "nodeCount": 2.0, "maxRunDurationSeconds": 60.0, "script": "train.py", "arguments": []any{"a", "b"},
				"runConfiguration.target": "gpu-cluster", "runConfiguration.nodeCount": 2.0, "runConfiguration.script": "train.py"}},
		{"runconfig values and script", []string{"-e", "exp", "-c", rcPath},
			map[string]any{"target": "local", "nodeCount": 4.0, "maxRunDurationSeconds": 100.0, "script": "lib/util.py", "arguments": []any{"a"}}},
		{"--target without runconfig", []string{"-e", "exp", "--target", "gpu-cluster", "lib/util.py"},
			map[string]any{"target": "gpu-cluster", "nodeCount": 1.0, "script": "lib/util.py"}},
		{"experiment from folder attach", []string{"train.py"}, map[string]any{"experimentName": "attached"}},
		{"-c with the .runconfig suffix", []string{"-e", "exp", "-c", "local.runconfig", "train.py"}, map[string]any{"arguments": []any{"--epochs", "3"}}},
		{"script given by path inside the source dir", []string{"-e", "exp", filepath.Join(dir, "lib", "util.py")}, map[string]any{"script": "lib/util.py"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api, srv := newFakeRunsAPI(t)
			res := runCLI(t, srv, "", append([]string{"run", "submit-script", "-d", dir}, tc.args...)...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			sub := api.sent("POST", "/api/v1/runs")[0].Body
			for path, want := range tc.want {
				if got := field(t, sub, path); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v\n%s", path, got, want, sub)
				}
			}
		})
	}
}

func TestSubmitErrors(t *testing.T) {
	dir := srcFolder(t)
	empty := t.TempDir()
	tests := []struct {
		name      string
		args      []string
		code      int
		stderr    string
		noRequest bool
	}{
		{"no experiment", []string{"-d", empty, "train.py"}, 2, "--experiment-name is required", true},
		{"bad experiment name", []string{"-e", "-bad name", "-d", dir, "train.py"}, 2, `experiment name "-bad name" is not valid`, true},
		{"no script", []string{"-e", "exp", "-d", dir}, 2, "give the script to run", true},
		{"runconfig not found", []string{"-e", "exp", "-d", dir, "-c", "nope", "train.py"}, 1, `run configuration "nope" not found: looked for ` + filepath.Join(dir, ".azureml", "nope.runconfig"), true},
		{"bad runconfig", []string{"-e", "exp", "-d", dir, "-c", "bad", "train.py"}, 1, filepath.Join(dir, ".azureml", "bad.runconfig") + `:2: nodeCount: must be a whole number, not "zero"`, true},
		{"script missing", []string{"-e", "exp", "-d", dir, "nothere.py"}, 1, "script nothere.py is not in the snapshot", true},
		{"script ignored", []string{"-e", "exp", "-d", dir, "data/big.csv"}, 1, "script data/big.csv is not in the snapshot", true},
		{"script outside", []string{"-e", "exp", "-d", dir, "../x.py"}, 1, "is not inside the source directory", true},
		{"no such folder", []string{"-e", "exp", "-d", filepath.Join(dir, "nope"), "train.py"}, 1, "--source-directory: ", true},
		{"node count", []string{"-e", "exp", "-d", dir, "--node-count", "0", "train.py"}, 2, "--node-count must be at least 1", true},
		{"unknown flag before the script", []string{"-e", "exp", "--lr", "0.1", "train.py"}, 2, "flag provided but not defined: -lr", true},
		{"unknown target", []string{"-e", "exp", "-d", dir, "--target", "nope", "train.py"}, 1, "trainyard: NotFound: target: Compute 'nope' was not found.", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api, srv := newFakeRunsAPI(t)
			res := runCLI(t, srv, "", append([]string{"run", "submit-script"}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", res.code, res.stderr, tc.code, tc.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout: %s", res.stdout)
			}
			if tc.noRequest && len(api.requests) != 0 {
				t.Errorf("%d requests sent", len(api.requests))
			}
		})
	}
}

func seedRuns(api *fakeRunsAPI) {
	api.addRun(map[string]any{"runId": "exp_1_00000001", "experimentName": "exp", "status": "Completed", "target": "local",
		"createdTimeUtc": "2026-11-27T10:00:00Z", "startTimeUtc": "2026-11-27T10:00:01Z", "endTimeUtc": "2026-11-27T10:01:03Z",
		"script": "train.py", "arguments": []any{"--lr", "0.1", "--msg", "hello world"}, "nodeCount": 1, "submittedBy": "alice",
		"metrics": map[string]any{"accuracy": 0.93, "loss": 0.2}, "params": map[string]any{"lr": "0.01"},
		"git": map[string]any{"repository": "https://example.com/r.git", "branch": "main", "commit": "abc123", "dirty": true}, "snapshotId": "snap-9"})
	api.addRun(map[string]any{"runId": "exp_1_00000002", "experimentName": "exp", "status": "Failed", "target": "gpu-cluster",
		"createdTimeUtc": "2026-11-27T11:00:00Z", "startTimeUtc": "2026-11-27T11:00:00Z", "endTimeUtc": "2026-11-27T11:00:05Z",
		"error": "exit code 3", "parentRunId": "hd_1_00000000"})
	api.addRun(map[string]any{"runId": "other_1_00000003", "experimentName": "other", "status": "Queued", "statusReason": "waiting for a node: 4/4 busy",
		"target": "gpu-cluster", "createdTimeUtc": "2026-11-27T12:00:00Z"})
}

func TestRunListShowCancel(t *testing.T) {
	api, srv := newFakeRunsAPI(t)
	seedRuns(api)
	tests := []struct {
		name  string
		args  []string
		code  int
		want  string
		query string
	}{
		{"list", []string{"run", "list"}, 0, "" +
			"RUN ID            EXPERIMENT  STATUS     TARGET       CREATED               DURATION\n" +
			"other_1_00000003  other       Queued     gpu-cluster  2026-11-27T12:00:00Z  -\n" +
			"exp_1_00000002    exp         Failed     gpu-cluster  2026-11-27T11:00:00Z  5s\n" +
			"exp_1_00000001    exp         Completed  local        2026-11-27T10:00:00Z  1m2s\n", ""},
		{"list filters", []string{"run", "list", "-e", "exp", "--parent", "hd_1_00000000", "--status", "Failed", "--target", "gpu-cluster"}, 0, "exp_1_00000002", "experiment=exp&parent=hd_1_00000000&status=Failed&target=gpu-cluster"},
		{"list --last", []string{"run", "list", "--last", "1"}, 0, "other_1_00000003", "%24top=1"},
		{"show", []string{"run", "show", "-r", "exp_1_00000001"}, 0, "" +
			"Run ID:        exp_1_00000001\n" +
			"Experiment:    exp\n" +
			"Status:        Completed\n" +
			"Target:        local\n" +
			"Script:        train.py --lr 0.1 --msg 'hello world'\n" +
			"Submitted by:  alice\n" +
			"Created:       2026-11-27T10:00:00Z\n" +
			"Started:       2026-11-27T10:00:01Z\n" +
			"Ended:         2026-11-27T10:01:03Z\n" +
			"Duration:      1m2s\n" +
			"Snapshot:      snap-9\n" +
			"Git:           https://example.com/r.git main @ abc123 (dirty)\n" +
			"Metrics:\n" +
			"  accuracy  0.93\n" +
			"  loss      0.2\n" +
			"Params:\n" +
			"  lr  0.01\n", ""},
		{"show queued with reason", []string{"run", "show", "--run-id", "other_1_00000003"}, 0, "Status:      Queued (waiting for a node: 4/4 busy)\n", ""},
		{"show failed", []string{"run", "show", "-r", "exp_1_00000002"}, 0, "Parent run:  hd_1_00000000\n", ""},
		{"show wrong experiment", []string{"run", "show", "-r", "exp_1_00000002", "-e", "other"}, 1, "", ""},
		{"show missing", []string{"run", "show", "-r", "nope"}, 1, "", ""},
		{"cancel", []string{"run", "cancel", "-r", "other_1_00000003"}, 0, "Cancel requested for other_1_00000003 (status CancelRequested).\n", ""},
		{"cancel finished", []string{"run", "cancel", "-r", "exp_1_00000001"}, 1, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api.reset()
			res := runCLI(t, srv, "", tc.args...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tc.code, res.stdout, res.stderr)
			}
			if tc.code == 0 && !strings.Contains(res.stdout, tc.want) {
				t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, tc.want)
			}
			if tc.query != "" && api.sent("GET", "/api/v1/runs")[0].Query != tc.query {
				t.Errorf("query %q, want %q", api.sent("GET", "/api/v1/runs")[0].Query, tc.query)
			}
		})
	}
	if res := runCLI(t, srv, "", "run", "cancel", "-r", "exp_1_00000001"); !strings.Contains(res.stderr, "trainyard: RunFinished: runId: Run 'exp_1_00000001' has already finished (Completed).") {
		t.Errorf("409: %s", res.stderr)
	}
	if res := runCLI(t, srv, "", "run", "show", "-r", "exp_1_00000002", "-e", "other"); !strings.Contains(res.stderr, `belongs to experiment "exp", not "other"`) {
		t.Errorf("experiment check: %s", res.stderr)
	}

	t.Run("show json is the server's run", func(t *testing.T) {
		res := runCLI(t, srv, "", "run", "show", "-r", "exp_1_00000001", "-o", "json")
		for path, want := range map[string]any{"runId": "exp_1_00000001", "status": "Completed", "target": "local", "experimentName": "exp",
			"startTimeUtc": "2026-11-27T10:00:01Z", "endTimeUtc": "2026-11-27T10:01:03Z", "metrics.accuracy": 0.93} {
			if got := field(t, []byte(res.stdout), path); !reflect.DeepEqual(got, want) {
				t.Errorf("%s = %#v, want %#v", path, got, want)
			}
		}
		if !strings.Contains(res.stdout, `"accuracy": 0.93`) {
			t.Errorf("not indented raw JSON:\n%s", res.stdout)
		}
	})
	t.Run("list json follows nextLink", func(t *testing.T) {
		api.pageSize = 2
		defer func() { api.pageSize = 100 }()
		api.reset()
		res := runCLI(t, srv, "", "run", "list", "-o", "json")
		var body struct{ Value []runInfo }
		if err := json.Unmarshal([]byte(res.stdout), &body); err != nil || len(body.Value) != 3 || body.Value[2].RunID != "exp_1_00000001" {
			t.Errorf("%v %s", err, res.stdout)
		}
		if n := len(api.sent("GET", "/api/v1/runs")); n != 2 {
			t.Errorf("%d pages fetched", n)
		}
	})
}

func TestMonitorLogs(t *testing.T) {
	api, srv := newFakeRunsAPI(t)
	seedRuns(api)
	api.addRun(map[string]any{"runId": "exp_1_00000004", "experimentName": "exp", "status": "Running", "target": "local"})
	api.logs["exp_1_00000004"] = []logStep{
		{"epoch 0 accuracy 0.81\n", "Running"},
		{"", "Running"}, // nothing new yet: the CLI waits and asks again
		{"epoch 1 accuracy 0.88\nepoch 2 acc", "Running"},
		{"uracy 0.93\ndone training\n", "Finalizing"},
		{"", "Completed"},
	}
	res := runCLI(t, srv, "", "run", "monitor-logs", "-r", "exp_1_00000004")
	if res.code != 0 || res.stdout != "epoch 0 accuracy 0.81\nepoch 1 accuracy 0.88\nepoch 2 accuracy 0.93\ndone training\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr, "Run exp_1_00000004 Completed.") {
		t.Errorf("stderr %q", res.stderr)
	}
	var offsets []string
	for _, r := range api.sent("GET", "/api/v1/runs/exp_1_00000004/logs") {
		offsets = append(offsets, r.Query)
	}
	if !reflect.DeepEqual(offsets, []string{"offset=0", "offset=22", "offset=22", "offset=55", "offset=80"}) {
		t.Errorf("offsets %q", offsets)
	}

	api.logs["exp_1_00000002"] = []logStep{{"Traceback (most recent call last):\nValueError\n", "Failed"}, {"", "Failed"}}
	res = runCLI(t, srv, "", "run", "monitor-logs", "-r", "exp_1_00000002")
	if res.code != 1 || !strings.Contains(res.stdout, "ValueError") || !strings.Contains(res.stderr, "trainyard: run exp_1_00000002 Failed: exit code 3") {
		t.Errorf("failed run: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if res := runCLI(t, srv, "", "run", "monitor-logs", "-r", "nope"); res.code != 1 || !strings.Contains(res.stderr, "NotFound") {
		t.Errorf("unknown run: %d %s", res.code, res.stderr)
	}
}

func TestFolderAttach(t *testing.T) {
	api, srv := newFakeRunsAPI(t)
	dir := t.TempDir()
	res := runCLI(t, srv, "", "folder", "attach", "--path", dir)
	want := "Wrote .azureml/gpu-cluster.runconfig\nWrote .azureml/local.runconfig\nSubmit a run with: trainyard run submit-script -e <experiment> -c local train.py\n"
	if res.code != 0 || res.stdout != want {
		t.Fatalf("exit %d\n%s\nwant\n%s\n%s", res.code, res.stdout, want, res.stderr)
	}
	for _, name := range []string{"gpu-cluster", "local"} {
		p := filepath.Join(dir, ".azureml", name+".runconfig")
		v := runCLI(t, nil, "", "validate", p)
		if v.code != 0 || !strings.Contains(v.stdout, "target "+name) {
			t.Errorf("the %s template is not valid: %s%s", name, v.stdout, v.stderr)
		}
	}
	// Existing files are kept, unless --force.
	local := filepath.Join(dir, ".azureml", "local.runconfig")
	os.WriteFile(local, []byte("script: mine.py\n"), 0o644)
	res = runCLI(t, srv, "", "folder", "attach", "-p", dir, "-e", "exp1")
	if res.code != 0 || !strings.Contains(res.stdout, "Kept .azureml/local.runconfig (it exists; --force overwrites it)") || !strings.Contains(res.stdout, "Wrote .azureml/project.json") {
		t.Errorf("second attach:\n%s%s", res.stdout, res.stderr)
	}
	if data, _ := os.ReadFile(local); string(data) != "script: mine.py\n" {
		t.Errorf("overwrote without --force")
	}
	if got := attachedExperiment(dir); got != "exp1" || len(api.sent("POST", "/api/v1/experiments")) != 1 {
		t.Errorf("attached experiment %q", got)
	}
	res = runCLI(t, srv, "", "folder", "attach", "-p", dir, "-e", "exp2", "--force")
	if data, _ := os.ReadFile(local); res.code != 0 || !strings.Contains(string(data), "target: local") || attachedExperiment(dir) != "exp2" {
		t.Errorf("--force: %s", res.stderr)
	}
	if res := runCLI(t, srv, "", "folder", "attach", "-p", filepath.Join(dir, "nope")); res.code != 1 {
		t.Errorf("missing folder: %d", res.code)
	}
}

func TestExperiments(t *testing.T) {
	api, srv := newFakeRunsAPI(t)
	res := runCLI(t, srv, "", "experiment", "create", "-n", "exp")
	if res.code != 0 || res.stdout != "NAME  RUNS  LAST RUN  CREATED\nexp   0     -         2026-11-27T13:39:00Z\n" {
		t.Errorf("create: %d %q %s", res.code, res.stdout, res.stderr)
	}
	if got := field(t, api.sent("POST", "/api/v1/experiments")[0].Body, "name"); got != "exp" {
		t.Errorf("body name %v", got)
	}
	res = runCLI(t, srv, "", "experiment", "create", "-n", "exp", "-o", "json")
	if field(t, []byte(res.stdout), "id") != "exp-1" {
		t.Errorf("create json: %s", res.stdout)
	}
	runCLI(t, srv, "", "experiment", "create", "--name", "b.2")
	res = runCLI(t, srv, "", "experiment", "list")
	if res.code != 0 || !strings.Contains(res.stdout, "exp   0") || !strings.Contains(res.stdout, "b.2") {
		t.Errorf("list: %s", res.stdout)
	}
	res = runCLI(t, srv, "", "experiment", "list", "-o", "json")
	if field(t, []byte(res.stdout), "value.1.name") != "b.2" {
		t.Errorf("list json: %s", res.stdout)
	}
	if res := runCLI(t, srv, "", "experiment", "create", "-n", "bad name"); res.code != 2 {
		t.Errorf("bad name: %d", res.code)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "local.runconfig")
	os.WriteFile(good, []byte("script: train.py\ntarget: local\nframework: Python\nenvironment:\n  python:\n    userManagedDependencies: true\n"), 0o644)
	broken := filepath.Join(dir, "broken.runconfig")
	os.WriteFile(broken, []byte("script: train.py\ntarget: [unclosed\n"), 0o644)
	job := filepath.Join(dir, "job.yml")
	os.WriteFile(job, []byte("type: command\ncommand: python train.py --lr ${{inputs.lr}}\ninputs:\n  lr: 0.1\nenvironment: azureml:sklearn:1\ncompute: azureml:gpu-cluster\n"), 0o644)
	hd := filepath.Join(dir, "hdconfig.yml")
	os.WriteFile(hd, []byte("sampling:\n  type: random\n  parameter_space:\n  - {name: --lr, expression: uniform, values: [0.01, 0.1]}\nprimary_metric_name: Accuracy\nprimary_metric_goal: Maximize\nmax_total_runs: 8\n"), 0o644)
	sweep := filepath.Join(dir, "sweep.yml")
	os.WriteFile(sweep, []byte("$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json\ntype: sweep\n"), 0o644)

	res := runCLIEnv(t, map[string]string{}, "", "validate", good, job, hd)
	want := "OK " + good + ": runconfig, script train.py, target local, framework Python, user-managed Python (the target's python3)\n" +
		"OK " + job + `: command job, command "python train.py --lr ${{inputs.lr}}", compute gpu-cluster, environment azureml:sklearn:1, 1 input` + "\n" +
		"OK " + hd + ": hdconfig, random sampling of 1 parameter (--lr uniform), no early termination, maximize Accuracy, 8 runs\n"
	if res.code != 0 || res.stdout != want || res.stderr != "" {
		t.Errorf("exit %d\n%s\nwant\n%s\nstderr %s", res.code, res.stdout, want, res.stderr)
	}
	res = runCLIEnv(t, map[string]string{}, "", "validate", good, broken, sweep)
	if res.code != 1 || !strings.Contains(res.stderr, broken+":2: sequence end token ']' not found\n") ||
		!strings.Contains(res.stderr, sweep+":1: trial: required: the command each trial runs") ||
		!strings.HasSuffix(res.stderr, "trainyard: 2 of 3 files are not valid\n") || !strings.HasPrefix(res.stdout, "OK ") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	res = runCLIEnv(t, map[string]string{}, "", "validate", "-o", "json", good, broken)
	if res.code != 1 || field(t, []byte(res.stdout), "0.valid") != true || field(t, []byte(res.stdout), "1.error.line") != 2.0 {
		t.Errorf("json: %d %s", res.code, res.stdout)
	}
	if res := runCLIEnv(t, map[string]string{}, "", "validate"); res.code != 2 {
		t.Errorf("no files: %d", res.code)
	}
	if res := runCLIEnv(t, map[string]string{}, "", "validate", filepath.Join(dir, "nope")); res.code != 1 || !strings.Contains(res.stderr, "no such file") {
		t.Errorf("missing file: %d %s", res.code, res.stderr)
	}
}

func TestRunHelp(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--help"}, "Usage: trainyard run <command>"},
		{[]string{"help", "run"}, "submit-script"},
		{[]string{"run", "submit-script", "--help"}, "-c, --run-configuration-name RUNCONFIG"},
		{[]string{"run", "submit-script", "-e", "x", "-h"}, "Options come before the script."},
		{[]string{"run", "list", "--help"}, "--parent RUN_ID"},
		{[]string{"run", "show", "--help"}, "-r, --run RUN_ID"},
		{[]string{"run", "cancel", "--help"}, "CancelRequested"},
		{[]string{"run", "monitor-logs", "--help"}, "Exits 0 when the run Completed"},
		{[]string{"experiment", "--help"}, "Usage: trainyard experiment <command>"},
		{[]string{"experiment", "create", "--help"}, "-n, --name NAME"},
		{[]string{"experiment", "list", "--help"}, "run counts"},
		{[]string{"folder", "--help"}, "Usage: trainyard folder <command>"},
		{[]string{"folder", "attach", "--help"}, "-f, --force"},
		{[]string{"validate", "--help"}, "Exits 0 only when every file is valid."},
		{[]string{"help"}, "trainyard run <command>"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := runCLIEnv(t, map[string]string{}, "", tc.args...)
			if res.code != 0 || !strings.Contains(res.stdout, tc.want) || res.stderr != "" {
				t.Errorf("exit %d, stdout lacks %q:\n%s\nstderr: %s", res.code, tc.want, res.stdout, res.stderr)
			}
		})
	}
	for _, args := range [][]string{{"run"}, {"run", "explode"}, {"experiment"}, {"experiment", "drop"}, {"folder"}, {"folder", "detach"}} {
		if res := runCLIEnv(t, map[string]string{}, "", args...); res.code != 2 {
			t.Errorf("%v: exit %d", args, res.code)
		}
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{"train.py": "train.py", "--lr=0.1": "--lr=0.1", "hello world": "'hello world'", "it's": `'it'\''s'`, "": "''", "$(x)": "'$(x)'"} {
		if got := quoteArg(in); got != want {
			t.Errorf("quoteArg(%q) = %s, want %s", in, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KB", 5 << 20: "5.0 MB", 3 << 30: "3.0 GB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %s, want %s", n, got, want)
		}
	}
	var errb bytes.Buffer
	c := &cli{stderr: &errb}
	var sent, done atomic.Int64
	stop := c.showProgress(&sent, &done, 10<<20, 3)
	sent.Store(5 << 20)
	done.Store(1)
	stop()
	if !strings.HasSuffix(errb.String(), "\rUploading 1/3 files, 5.0 MB of 10.0 MB (50%)   \n") {
		t.Errorf("progress %q", errb.String())
	}
	if checkExperimentName("a.b-c_1") != "" || checkExperimentName("_a") == "" || checkExperimentName(strings.Repeat("a", 256)) == "" {
		t.Error("experiment name rule")
	}
}
