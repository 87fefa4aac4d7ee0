package handlers_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/web/webtest"
)

// trainPy is the acceptance check's training script (shared/acceptance/runs):
// it POSTs a param, three accuracy points and a log-batch metric to the
// tracking API with plain urllib, prints, and writes outputs/argv.json.
const trainPy = `import json, os, sys, time, urllib.request
def post(path, body):
    req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/" + path,
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ.get("MLFLOW_TRACKING_TOKEN", "")})
    urllib.request.urlopen(req, timeout=10).read()
rid = os.environ["MLFLOW_RUN_ID"]
args = sys.argv[1:]
sleep = float(args[args.index("--sleep") + 1]) if "--sleep" in args else 0
os.makedirs("outputs", exist_ok=True)
open("outputs/argv.json", "w").write(json.dumps(args))
post("runs/log-parameter", {"run_id": rid, "key": "lr", "value": "0.01"})
for epoch in range(3):
    acc = [0.81, 0.88, 0.93][epoch]
    print("epoch %d accuracy %.2f" % (epoch, acc), flush=True)
    post("runs/log-metric", {"run_id": rid, "key": "accuracy", "value": acc, "timestamp": int(time.time() * 1000), "step": epoch})
    time.sleep(sleep / 3)
post("runs/log-batch", {"run_id": rid, "metrics": [{"key": "loss", "value": 0.2, "timestamp": int(time.time() * 1000), "step": 0}]})
print("done training", flush=True)
`

// needPython skips a test when Debian's python3 is missing (outside CI).
func needPython(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
}

// apiDo sends a request with the login token and returns status, body and headers.
func apiDo(t testing.TB, env *webtest.Env, method, path, contentType string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+webtest.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// apiJSON sends v as JSON and decodes a 2xx answer into out (when not nil).
func apiJSON(t testing.TB, env *webtest.Env, method, path string, v any, want int, out any) []byte {
	t.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	status, b, _ := apiDo(t, env, method, path, "application/json", body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

type fileEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Mode   int    `json:"mode"`
}

// uploadFolder stores files (path → content) as a snapshot the way the CLI
// does: ask which blobs are missing, PUT them, create the manifest.
func uploadFolder(t testing.TB, env *webtest.Env, files map[string]string) string {
	t.Helper()
	var entries []fileEntry
	blobs := map[string]string{}
	for _, p := range slices.Sorted(mapKeys(files)) {
		sum := sha256.Sum256([]byte(files[p]))
		h := hex.EncodeToString(sum[:])
		entries = append(entries, fileEntry{Path: p, SHA256: h, Size: int64(len(files[p])), Mode: 0o644})
		blobs[h] = files[p]
	}
	var missing struct {
		Missing []string `json:"missing"`
	}
	apiJSON(t, env, "POST", "/api/v1/snapshots/missing", map[string]any{"files": entries}, 200, &missing)
	for _, h := range missing.Missing {
		status, b, _ := apiDo(t, env, "PUT", "/api/v1/blobs/"+h, "application/octet-stream", []byte(blobs[h]))
		if status != 201 && status != 200 {
			t.Fatalf("PUT blob: %d %s", status, b)
		}
	}
	var snap struct {
		ID string `json:"id"`
	}
	apiJSON(t, env, "POST", "/api/v1/snapshots", map[string]any{"files": entries}, 201, &snap)
	return snap.ID
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// runJSON is the part of a run the tests read.
type runJSON struct {
	RunID         string              `json:"runId"`
	Status        string              `json:"status"`
	StatusReason  string              `json:"statusReason"`
	Target        string              `json:"target"`
	Experiment    string              `json:"experimentName"`
	ExperimentID  string              `json:"experimentId"`
	StartTimeUtc  string              `json:"startTimeUtc"`
	EndTimeUtc    string              `json:"endTimeUtc"`
	Metrics       map[string]*float64 `json:"metrics"`
	Params        map[string]string   `json:"params"`
	Tags          map[string]string   `json:"tags"`
	Error         string              `json:"error"`
	Attempt       int                 `json:"attempt"`
	Arguments     []string            `json:"arguments"`
	StatusHistory []struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	} `json:"statusHistory"`
}

// submit posts a run of script in snapshot snap on the local target.
func submit(t testing.TB, env *webtest.Env, exp, snap, script string, args []string, extra map[string]any) runJSON {
	t.Helper()
	body := map[string]any{"experimentName": exp, "snapshotId": snap, "script": script, "arguments": args, "target": "local",
		"environment": map[string]any{"python": map[string]any{"userManagedDependencies": true}}}
	for k, v := range extra {
		body[k] = v
	}
	var run runJSON
	apiJSON(t, env, "POST", "/api/v1/runs", body, 201, &run)
	return run
}

func getRun(t testing.TB, env *webtest.Env, id string) runJSON {
	t.Helper()
	var run runJSON
	apiJSON(t, env, "GET", "/api/v1/runs/"+id, nil, 200, &run)
	return run
}

func terminal(s string) bool { return s == "Completed" || s == "Failed" || s == "Canceled" }

// waitStatus waits until the run's status satisfies ok and returns the run.
func waitStatus(t testing.TB, env *webtest.Env, id string, timeout time.Duration, what string, ok func(string) bool) runJSON {
	t.Helper()
	var run runJSON
	webtest.WaitFor(t, timeout, "run "+id+" "+what, func() bool {
		run = getRun(t, env, id)
		return ok(run.Status)
	})
	return run
}

// readLog follows a run's log like `run monitor-logs` until it has ended.
func readLog(t testing.TB, env *webtest.Env, id string) string {
	t.Helper()
	var all strings.Builder
	offset := "0"
	deadline := time.Now().Add(30 * time.Second * computetest.Slack)
	for time.Now().Before(deadline) {
		status, b, h := apiDo(t, env, "GET", "/api/v1/runs/"+id+"/logs?offset="+offset, "", nil)
		if status != 200 {
			t.Fatalf("logs: %d %s", status, b)
		}
		all.Write(b)
		offset = h.Get("X-Log-Offset")
		if terminal(h.Get("X-Run-Status")) && len(b) == 0 {
			return all.String()
		}
		if len(b) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Fatalf("log of %s did not end", id)
	return ""
}
