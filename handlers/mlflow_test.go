package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// mlClient replays the requests the real MLflow client sends
// (docs/design/mlflow-api.md): Bearer token, its User-Agent, JSON POSTs,
// GET fields in the query string.
type mlClient struct {
	t     *testing.T
	env   *webtest.Env
	auth  string // the Authorization header
	calls int
}

func (c *mlClient) do(method, path, contentType, body string) (int, map[string]any) {
	c.t.Helper()
	c.calls++
	target := c.env.URL + path
	if !strings.HasPrefix(path, "/") {
		target = c.env.URL + "/api/2.0/mlflow/" + path
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("User-Agent", "mlflow-python-client/3.11.2.dev0")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		c.t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// ok sends a request that must answer 200.
func (c *mlClient) ok(method, path, body string) map[string]any {
	c.t.Helper()
	ct := ""
	if method == "POST" {
		ct = "application/json"
	}
	status, out := c.do(method, path, ct, body)
	if status != 200 {
		c.t.Fatalf("%s %s %s: %d %v", method, path, body, status, out)
	}
	return out
}

// mlErr checks an MLflow error answer.
func (c *mlClient) mlErr(method, path, body string, wantStatus int, wantCode string) {
	c.t.Helper()
	status, out := c.do(method, path, "application/json", body)
	if status != wantStatus || out["error_code"] != wantCode || out["message"] == "" {
		c.t.Fatalf("%s %s: %d %v, want %d %s", method, path, status, out, wantStatus, wantCode)
	}
}

func info(run map[string]any) map[string]any {
	return run["run"].(map[string]any)["info"].(map[string]any)
}

// newTrackedRun stores a running script run in the Default experiment
// (ID 0, as in the recording) and issues its tracking token.
func newTrackedRun(t *testing.T, env *webtest.Env) (string, string) {
	t.Helper()
	ctx := context.Background()
	r := &compute.Run{ExperimentID: compute.DefaultExperimentID, Status: compute.RunRunning, Target: "local", Script: "train.py",
		SubmittedBy: "local", SubmittedByID: "local"}
	if err := env.Store.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	tok, err := env.Store.IssueRunToken(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID, tok
}

// replaySteps4to11 sends calls 4–11 of recording A for run rid.
func replaySteps4to11(c *mlClient, rid, exp string) map[string]any {
	ms := strconv.FormatInt(time.Now().UnixMilli(), 10)
	c.ok("POST", "runs/log-parameter", `{"run_uuid":"`+rid+`","key":"lr","value":"0.1","run_id":"`+rid+`"}`)
	c.ok("POST", "runs/log-metric", `{"run_uuid":"`+rid+`","key":"acc","value":0.5,"timestamp":`+ms+`,"step":1,"run_id":"`+rid+`"}`)
	c.ok("POST", "runs/log-batch", `{"run_id":"`+rid+`","metrics":[{"key":"a","value":1.0,"timestamp":`+ms+`,"step":2,"run_id":"`+rid+`"},{"key":"b","value":2.0,"timestamp":`+ms+`,"step":2,"run_id":"`+rid+`"}]}`)
	c.ok("POST", "runs/set-tag", `{"run_uuid":"`+rid+`","key":"t","value":"v","run_id":"`+rid+`"}`)
	got := c.ok("GET", "runs/get?run_uuid="+rid+"&run_id="+rid, "")
	uri := info(got)["artifact_uri"]
	if uri != "mlflow-artifacts:/"+exp+"/"+rid+"/artifacts" {
		c.t.Fatalf("artifact_uri %v", uri)
	}
	status, out := c.do("PUT", "/api/2.0/mlflow-artifacts/artifacts/"+exp+"/"+rid+"/artifacts/notes/hello.txt", "text/plain", "hello")
	if status != 200 {
		c.t.Fatalf("artifact PUT: %d %v", status, out)
	}
	c.ok("GET", "runs/get?run_uuid="+rid+"&run_id="+rid, "")
	return c.ok("POST", "runs/update", `{"run_uuid":"`+rid+`","status":"FINISHED","end_time":`+ms+`,"run_id":"`+rid+`"}`)
}

// TestMLflowRecordingA replays recording A (and B, which is the same): a
// script with MLFLOW_RUN_ID set resumes the run with its run token.
func TestMLflowRecordingA(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	rid, tok := newTrackedRun(t, env)
	c := &mlClient{t: t, env: env, auth: "Bearer " + tok}
	got := c.ok("GET", "runs/get?run_uuid="+rid+"&run_id="+rid, "")
	if in := info(got); in["run_id"] != rid || in["experiment_id"] != "0" || in["status"] != "RUNNING" || in["lifecycle_stage"] != "active" {
		t.Fatalf("runs/get info %v", in)
	}
	upd := c.ok("POST", "runs/update", `{"run_uuid":"`+rid+`","status":"RUNNING","run_id":"`+rid+`"}`)
	if upd["run_info"].(map[string]any)["run_id"] != rid {
		t.Fatalf("runs/update %v", upd)
	}
	c.ok("GET", "runs/get?run_uuid="+rid+"&run_id="+rid, "")
	replaySteps4to11(c, rid, "0")
	if c.calls != 11 {
		t.Fatalf("%d calls, the recording has 11", c.calls)
	}

	r, err := env.Store.GetRun(context.Background(), rid)
	if err != nil {
		t.Fatal(err)
	}
	if r.Params["lr"] != "0.1" || r.Metrics["acc"] != 0.5 || r.Metrics["a"] != 1 || r.Metrics["b"] != 2 || r.Tags["t"] != "v" {
		t.Fatalf("logged: params %v metrics %v tags %v", r.Params, r.Metrics, r.Tags)
	}
	// A submitted run's status is the dispatcher's: FINISHED from the
	// client does not end it.
	if r.Status != compute.RunRunning {
		t.Fatalf("status %s after the client's FINISHED", r.Status)
	}
	b, err := os.ReadFile(filepath.Join(env.Store.RunDir(rid), "artifacts", "notes", "hello.txt"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("artifact: %v %q", err, b)
	}
	var outs struct {
		Value []struct{ Path string } `json:"value"`
	}
	apiJSON(t, env, "GET", "/api/v1/runs/"+rid+"/outputs", nil, 200, &outs)
	if len(outs.Value) != 1 || outs.Value[0].Path != "artifacts/notes/hello.txt" {
		t.Fatalf("outputs %+v", outs)
	}
}

// TestMLflowRecordingC replays recording C: no MLFLOW_RUN_ID, the client
// creates the run (no run_name: the server names it) with the user's token.
func TestMLflowRecordingC(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	c := &mlClient{t: t, env: env, auth: "Bearer " + webtest.Token}
	ms := strconv.FormatInt(time.Now().UnixMilli(), 10)
	created := c.ok("POST", "runs/create", `{"experiment_id":"0","user_id":"root","start_time":`+ms+`,"tags":[{"key":"mlflow.user","value":"root"},{"key":"mlflow.source.name","value":"/tmp/x/train.py"},{"key":"mlflow.source.type","value":"LOCAL"}]}`)
	in := info(created)
	rid, _ := in["run_id"].(string)
	if rid == "" || in["run_name"] == "" || in["status"] != "RUNNING" || in["experiment_id"] != "0" {
		t.Fatalf("runs/create info %v", in)
	}
	upd := replaySteps4to11(c, rid, "0")
	if c.calls != 9 {
		t.Fatalf("%d calls, the recording has 9", c.calls)
	}
	if st := upd["run_info"].(map[string]any)["status"]; st != "FINISHED" {
		t.Fatalf("status after FINISHED: %v", st)
	}
	r, err := env.Store.GetRun(context.Background(), rid)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != compute.RunCompleted || r.Kind != compute.RunKindTracking || time.Since(r.EndedAt) > time.Minute || r.StartedAt.UnixMilli() != mustAtoi(t, ms) ||
		r.Tags["mlflow.source.type"] != "LOCAL" || r.Tags["mlflow.runName"] != r.DisplayName || r.ExperimentName != "Default" {
		t.Fatalf("tracking run %+v", r)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMLflowRecordingD replays recording D's extras: set_experiment,
// start_run(run_name=…), log_params/set_tags as log-batch, a metric without
// a step, and Basic auth (not accepted: a clean 401 in MLflow's shape).
func TestMLflowRecordingD(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	c := &mlClient{t: t, env: env, auth: "Bearer " + webtest.Token}
	c.mlErr("GET", "experiments/get-by-name?experiment_name=new-exp", "", 404, "RESOURCE_DOES_NOT_EXIST")
	created := c.ok("POST", "experiments/create", `{"name":"new-exp"}`)
	if created["experiment_id"] != "1" {
		t.Fatalf("experiments/create %v", created)
	}
	exp := c.ok("GET", "experiments/get?experiment_id=1", "")["experiment"].(map[string]any)
	if exp["name"] != "new-exp" || exp["experiment_id"] != "1" || exp["lifecycle_stage"] != "active" {
		t.Fatalf("experiments/get %v", exp)
	}
	if got := c.ok("GET", "experiments/get-by-name?experiment_name=new-exp", "")["experiment"].(map[string]any); got["experiment_id"] != "1" {
		t.Fatalf("get-by-name %v", got)
	}
	c.mlErr("POST", "experiments/create", `{"name":"new-exp"}`, 400, "RESOURCE_ALREADY_EXISTS")

	ms := strconv.FormatInt(time.Now().UnixMilli(), 10)
	run := c.ok("POST", "runs/create", `{"experiment_id":"1","user_id":"u","start_time":`+ms+`,"run_name":"r1","tags":[{"key":"mlflow.runName","value":"r1"},{"key":"mlflow.user","value":"u"}]}`)
	rid := info(run)["run_id"].(string)
	if info(run)["run_name"] != "r1" {
		t.Fatalf("run_name %v", info(run))
	}
	c.ok("POST", "runs/log-batch", `{"run_id":"`+rid+`","params":[{"key":"p1","value":"1"},{"key":"p2","value":"2"}]}`)
	c.ok("POST", "runs/log-batch", `{"run_id":"`+rid+`","tags":[{"key":"k1","value":"v1"}]}`)
	c.ok("POST", "runs/log-metric", `{"run_uuid":"`+rid+`","key":"m","value":3.5,"timestamp":`+ms+`,"step":0,"run_id":"`+rid+`"}`)
	got := c.ok("GET", "runs/get?run_uuid="+rid+"&run_id="+rid, "")
	data := got["run"].(map[string]any)["data"].(map[string]any)
	if len(data["params"].([]any)) != 2 || len(data["metrics"].([]any)) != 1 {
		t.Fatalf("run data %v", data)
	}
	// Changing a param is refused, as MLflow does.
	c.mlErr("POST", "runs/log-parameter", `{"run_id":"`+rid+`","key":"p1","value":"9"}`, 400, "INVALID_PARAMETER_VALUE")

	basic := &mlClient{t: t, env: env, auth: "Basic dTpw"}
	basic.mlErr("GET", "runs/get?run_uuid="+rid+"&run_id="+rid, "", 401, "UNAUTHENTICATED")
	anon := &mlClient{t: t, env: env}
	anon.mlErr("GET", "runs/get?run_uuid="+rid+"&run_id="+rid, "", 401, "UNAUTHENTICATED")
	c.mlErr("GET", "runs/get?run_id=nope_1_2", "", 404, "RESOURCE_DOES_NOT_EXIST")
}

// TestMLflowRunTokenScope: a run's token works for its own run's tracking
// calls only, and only until the run ends.
func TestMLflowRunTokenScope(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	rid, tok := newTrackedRun(t, env)
	other, _ := newTrackedRun(t, env)
	c := &mlClient{t: t, env: env, auth: "Bearer " + tok}
	c.ok("POST", "runs/log-metric", `{"run_id":"`+rid+`","key":"x","value":1,"timestamp":1,"step":0}`)
	c.mlErr("POST", "runs/log-metric", `{"run_id":"`+other+`","key":"x","value":1,"timestamp":1,"step":0}`, 403, "PERMISSION_DENIED")
	c.mlErr("GET", "runs/get?run_id="+other, "", 403, "PERMISSION_DENIED")
	c.mlErr("POST", "runs/create", `{"experiment_id":"0"}`, 403, "PERMISSION_DENIED")
	status, _ := c.do("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/"+other+"/artifacts/x.txt", "text/plain", "x")
	if status != 403 {
		t.Fatalf("artifact PUT to another run: %d", status)
	}
	// Outside the tracking API the token is refused.
	req, _ := http.NewRequest("GET", env.URL+"/api/v1/runs/"+rid, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("run token on the runs API: %d", resp.StatusCode)
	}
	// Path traversal in artifact paths is refused; nothing lands outside.
	for _, p := range []string{"../escape.txt", "a/../../escape.txt", "%2e%2e/escape.txt", "..%2fescape.txt", "/abs.txt"} {
		status, out := c.do("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/"+rid+"/artifacts/"+p, "text/plain", "x")
		if status != 400 && status != 404 {
			t.Errorf("artifact path %q: %d %v", p, status, out)
		}
	}
	if _, err := os.Stat(filepath.Join(env.Store.RunDir(rid), "escape.txt")); err == nil {
		t.Fatal("an artifact escaped its folder")
	}
	// Once the run has ended, its token is dead.
	if _, err := env.Store.UpdateRun(context.Background(), rid, func(r *compute.Run) error {
		r.Status = compute.RunFailed
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.mlErr("POST", "runs/log-metric", `{"run_id":"`+rid+`","key":"x","value":2,"timestamp":2,"step":1}`, 401, "UNAUTHENTICATED")
	// The user's own token still works on the run, with the user's rights.
	u := &mlClient{t: t, env: env, auth: "Bearer " + webtest.Token}
	u.ok("POST", "runs/log-metric", `{"run_id":"`+rid+`","key":"x","value":2,"timestamp":2,"step":1}`)
}
