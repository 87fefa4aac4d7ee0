package handlers_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/web/webtest"
)

// sweepPy logs the primary metric "score" = -(lr-0.3)² - 0.1·layers at each
// of --steps steps (sleeping --sleep seconds in between), and appends
// "start|end <unix ns> <run id> <argv>" lines to its outputs/spans.txt when $SPANS is set (a run sees only its own folder), so the test can
// see the real processes' overlap and argv. A post is retried for a while,
// as MLflow's client does, so a child lives through a server restart.
const sweepPy = `import json, os, sys, time, urllib.request
def post(path, body):
    for attempt in range(50):
        try:
            req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/" + path,
                data=json.dumps(body).encode(), method="POST",
                headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})
            urllib.request.urlopen(req, timeout=10).read()
            return
        except OSError:
            if attempt == 49:
                raise
            time.sleep(0.2)
rid = os.environ["MLFLOW_RUN_ID"]
a = dict(zip(sys.argv[1::2], sys.argv[2::2]))
spans = os.environ.get("SPANS")
def span(what):
    if spans:
        os.makedirs("outputs", exist_ok=True)
        with open("outputs/spans.txt", "a") as f:
            f.write("%s %d %s %s\n" % (what, time.time_ns(), rid, json.dumps(sys.argv[1:])))
span("start")
lr, layers, bad = float(a.get("--lr", 0)), float(a.get("--layers", 0)), float(a.get("--bad", 0))
score = -(lr - 0.3) ** 2 - 0.1 * layers - 10 * bad
for step in range(int(a.get("--steps", 3))):
    post("runs/log-metric", {"run_id": rid, "key": "score", "value": score, "timestamp": int(time.time() * 1000), "step": step})
    time.sleep(float(a.get("--sleep", 0.1)) * (1 + 3 * bad))
span("end")
`

// sweepRunJSON is a run with the sweep fields.
type sweepRunJSON struct {
	runJSON
	ParentRunID        string            `json:"parentRunId"`
	RunType            string            `json:"runType"`
	Hyperparameters    map[string]string `json:"hyperparameters"`
	PolicyCancelReason string            `json:"policyCancelReason"`
	BestChildRunID     string            `json:"bestChildRunId"`
}

// submitSweep posts a sweep of sweep.py with args and the hdconfig text.
func submitSweep(t testing.TB, env *webtest.Env, exp, snap string, args []string, hd string, vars map[string]string) sweepRunJSON {
	t.Helper()
	body := map[string]any{"experimentName": exp, "snapshotId": snap, "script": "sweep.py", "arguments": args, "target": "local",
		"environment":             map[string]any{"python": map[string]any{"userManagedDependencies": true}, "environmentVariables": vars},
		"hyperdriveConfiguration": hd, "seed": 7}
	var p sweepRunJSON
	apiJSON(t, env, "POST", "/api/v1/sweeps", body, 201, &p)
	if p.RunType != "hyperdrive" || p.Status != "Running" {
		t.Fatalf("parent: %+v", p)
	}
	return p
}

func sweepChildren(t testing.TB, env *webtest.Env, parent string) []sweepRunJSON {
	t.Helper()
	var list struct {
		Value []sweepRunJSON `json:"value"`
	}
	apiJSON(t, env, "GET", "/api/v1/runs?parent="+parent, nil, 200, &list)
	return list.Value
}

func getSweepRun(t testing.TB, env *webtest.Env, id string) sweepRunJSON {
	t.Helper()
	var r sweepRunJSON
	apiJSON(t, env, "GET", "/api/v1/runs/"+id, nil, 200, &r)
	return r
}

func waitSweep(t testing.TB, env *webtest.Env, id string, timeout time.Duration) sweepRunJSON {
	t.Helper()
	var p sweepRunJSON
	webtest.WaitFor(t, timeout, "sweep "+id+" to end", func() bool {
		p = getSweepRun(t, env, id)
		return terminal(p.Status)
	})
	return p
}

// TestSweepRandomEndToEnd: a random sweep of 4 children, 2 at a time, of a
// real script: 4 children, never more than 2 processes at once, the sampled
// values reach argv (and the metric computed from them), the best child is
// the one with the highest score.
func TestSweepRandomEndToEnd(t *testing.T) {
	needPython(t)
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	snap := uploadFolder(t, env, map[string]string{"sweep.py": sweepPy})
	hd := `sampling:
    type: random
    parameter_space:
    - name: --lr
      expression: uniform
      values: [0, 1]
    - name: --layers
      expression: choice
      values: [1, 2, 3]
policy:
    type: NoTerminationPolicy
primary_metric_name: score
primary_metric_goal: maximize
max_total_runs: 4
max_concurrent_runs: 2
`
	p := submitSweep(t, env, "sweep-random", snap, []string{"--steps", "3", "--sleep", "0.15", "--lr", "99"}, hd, map[string]string{"SPANS": "1"})
	got := waitSweep(t, env, p.RunID, 60*time.Second)
	if got.Status != "Completed" {
		t.Fatalf("sweep ended %s: %s %s", got.Status, got.StatusReason, got.Error)
	}
	kids := sweepChildren(t, env, p.RunID)
	if len(kids) != 4 {
		t.Fatalf("%d children, want 4", len(kids))
	}
	best, bestScore := "", math.Inf(-1)
	for _, k := range kids {
		if k.Status != "Completed" || k.ParentRunID != p.RunID {
			t.Fatalf("child %s: %s parent %q: %s", k.RunID, k.Status, k.ParentRunID, k.Error)
		}
		lr, err1 := strconv.ParseFloat(k.Hyperparameters["--lr"], 64)
		layers, err2 := strconv.Atoi(k.Hyperparameters["--layers"])
		if err1 != nil || err2 != nil || lr < 0 || lr >= 1 || layers < 1 || layers > 3 {
			t.Fatalf("child %s hyperparameters %v", k.RunID, k.Hyperparameters)
		}
		// The search space wins over the runconfig's --lr 99, and the
		// sampled values come last as --name value.
		want := []string{"--steps", "3", "--sleep", "0.15", "--lr", k.Hyperparameters["--lr"], "--layers", k.Hyperparameters["--layers"]}
		if !slices.Equal(k.Arguments, want) {
			t.Fatalf("child %s arguments %q, want %q", k.RunID, k.Arguments, want)
		}
		score := k.Metrics["score"]
		if score == nil || math.Abs(*score-(-(lr-0.3)*(lr-0.3)-0.1*float64(layers))) > 1e-9 {
			t.Fatalf("child %s score %v for lr %v layers %d: the values did not reach argv", k.RunID, score, lr, layers)
		}
		if *score > bestScore {
			best, bestScore = k.RunID, *score
		}
	}
	if got.BestChildRunID != best {
		t.Fatalf("bestChildRunId %s, want %s", got.BestChildRunID, best)
	}
	if n := maxOverlap(t, env, kids); n > 2 || n < 1 {
		t.Fatalf("at most %d processes ran at once, want 1..2", n)
	}
	// The parent's and a child's pages and the runs list render.
	c := env.Browser(t)
	for _, path := range []string{"/runs/" + p.RunID, "/runs/" + best, "/runs"} {
		if status, body, _ := webtest.Do(t, c, "GET", env.URL+path, nil, nil); status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
	}
}

// maxOverlap reads the spans the children wrote to their outputs and
// returns how many of their processes ran at once at most.
func maxOverlap(t testing.TB, env *webtest.Env, kids []sweepRunJSON) int {
	t.Helper()
	var b []byte
	for _, k := range kids {
		spans, err := os.ReadFile(filepath.Join(env.DataDir, "runs", k.RunID, "outputs", "spans.txt"))
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, spans...)
	}
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		at, _ := strconv.ParseInt(f[1], 10, 64)
		d := 1
		if f[0] == "end" {
			d = -1
		}
		evs = append(evs, ev{at, d})
	}
	slices.SortFunc(evs, func(a, b ev) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.delta - b.delta // ends first on a tie
	})
	n, most := 0, 0
	for _, e := range evs {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// TestSweepBanditCancelsBadChild: a grid of a good and a bad child running
// side by side (the bad one logs 4× slower, so the good one has always
// reached an interval when the bad one is judged at it); Bandit cancels the bad one with its reason, the good one
// completes and is the best child.
func TestSweepBanditCancelsBadChild(t *testing.T) {
	needPython(t)
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	snap := uploadFolder(t, env, map[string]string{"sweep.py": sweepPy})
	hd := `sampling:
    type: grid
    parameter_space:
    - name: --bad
      expression: choice
      values: [0, 1]
policy:
    type: BanditPolicy
    evaluation_interval: 1
    slack_factor: 0.1
primary_metric_name: score
primary_metric_goal: maximize
max_total_runs: 2
max_concurrent_runs: 2
`
	p := submitSweep(t, env, "sweep-bandit", snap, []string{"--steps", "12", "--sleep", "0.25"}, hd, nil)
	got := waitSweep(t, env, p.RunID, 60*time.Second)
	if got.Status != "Completed" {
		t.Fatalf("sweep ended %s: %s", got.Status, got.StatusReason)
	}
	kids := sweepChildren(t, env, p.RunID)
	if len(kids) != 2 {
		t.Fatalf("%d children", len(kids))
	}
	for _, k := range kids {
		switch k.Hyperparameters["--bad"] {
		case "0":
			if k.Status != "Completed" || got.BestChildRunID != k.RunID {
				t.Fatalf("good child %s: %s, best %s", k.RunID, k.Status, got.BestChildRunID)
			}
		case "1":
			if k.Status != "Canceled" || !strings.HasPrefix(k.Error, "Canceled by BanditPolicy") || k.PolicyCancelReason != k.Error ||
				!strings.HasPrefix(k.StatusReason, "Canceled by BanditPolicy") {
				t.Fatalf("bad child %s: %s reason %q error %q policy %q", k.RunID, k.Status, k.StatusReason, k.Error, k.PolicyCancelReason)
			}
			if s := getSweepRun(t, env, k.RunID); len(s.Metrics) == 0 || k.Metrics["score"] == nil {
				t.Fatalf("bad child logged nothing")
			}
		default:
			t.Fatalf("child %s hyperparameters %v", k.RunID, k.Hyperparameters)
		}
	}
}

// TestSweepParentCancelCancelsChildren: cancelling the parent cancels its
// running children, starts no more, and ends the parent Canceled.
func TestSweepParentCancelCancelsChildren(t *testing.T) {
	needPython(t)
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	snap := uploadFolder(t, env, map[string]string{"sweep.py": sweepPy})
	hd := "sampling:\n  type: random\n  parameter_space:\n  - name: --lr\n    expression: uniform\n    values: [0, 1]\n" +
		"primary_metric_name: score\nprimary_metric_goal: maximize\nmax_total_runs: 6\nmax_concurrent_runs: 2\n"
	p := submitSweep(t, env, "sweep-cancel", snap, []string{"--steps", "1", "--sleep", "60"}, hd, nil)
	webtest.WaitFor(t, 30*time.Second, "two running children", func() bool {
		n := 0
		for _, k := range sweepChildren(t, env, p.RunID) {
			if k.Status == "Running" && k.Metrics["score"] != nil {
				n++
			}
		}
		return n == 2
	})
	apiJSON(t, env, "POST", "/api/v1/runs/"+p.RunID+"/cancel", nil, 202, nil)
	got := waitSweep(t, env, p.RunID, 30*time.Second)
	if got.Status != "Canceled" {
		t.Fatalf("parent ended %s", got.Status)
	}
	kids := sweepChildren(t, env, p.RunID)
	if len(kids) != 2 {
		t.Fatalf("%d children after the cancel, want 2", len(kids))
	}
	for _, k := range kids {
		if k.Status != "Canceled" || !strings.Contains(k.Error, "sweep was canceled") || k.PolicyCancelReason != "" {
			t.Fatalf("child %s: %s %q policy %q", k.RunID, k.Status, k.Error, k.PolicyCancelReason)
		}
	}
}

// TestSweepSurvivesServerRestart: the server dies mid-sweep (as kill -9); a
// new server on the same data folder adopts the running child and carries
// the sweep on to max_total_runs, with no child index taken twice.
func TestSweepSurvivesServerRestart(t *testing.T) {
	needPython(t)
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	env := webtest.New(t, webtest.Options{DataDir: dir, Addr: addr})
	snap := uploadFolder(t, env, map[string]string{"sweep.py": sweepPy})
	hd := "sampling:\n  type: random\n  parameter_space:\n  - name: --lr\n    expression: uniform\n    values: [0, 1]\n" +
		"primary_metric_name: score\nprimary_metric_goal: maximize\nmax_total_runs: 3\nmax_concurrent_runs: 1\n"
	p := submitSweep(t, env, "sweep-restart", snap, []string{"--steps", "2", "--sleep", "0.75"}, hd, nil)
	webtest.WaitFor(t, 30*time.Second, "the first child running", func() bool {
		k := sweepChildren(t, env, p.RunID)
		return len(k) == 1 && k[0].Status == "Running"
	})
	env.Kill()

	env2 := webtest.New(t, webtest.Options{DataDir: dir, Addr: addr})
	got := waitSweep(t, env2, p.RunID, 60*time.Second)
	if got.Status != "Completed" || got.BestChildRunID == "" {
		t.Fatalf("sweep ended %s (%s), best %q", got.Status, got.StatusReason, got.BestChildRunID)
	}
	kids := sweepChildren(t, env2, p.RunID)
	var ids []string
	for _, k := range kids {
		if k.Status != "Completed" {
			t.Fatalf("child %s: %s %s", k.RunID, k.Status, k.Error)
		}
		ids = append(ids, k.RunID)
	}
	slices.Sort(ids)
	want := []string{fmt.Sprintf("%s_0", p.RunID), fmt.Sprintf("%s_1", p.RunID), fmt.Sprintf("%s_2", p.RunID)}
	if !slices.Equal(ids, want) {
		t.Fatalf("children %v, want %v", ids, want)
	}
}
