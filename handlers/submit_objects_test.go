package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/web/webtest"
)

// objectsHD is a small valid sweep for the per-object tests.
const objectsHD = `sampling:
    type: random
    parameter_space:
    - name: --lr
      expression: uniform
      values: [0, 1]
policy:
    type: NoTerminationPolicy
primary_metric_name: score
primary_metric_goal: maximize
max_total_runs: 2
max_concurrent_runs: 1
`

// asUser sends body (JSON when not nil) with a bearer token and returns the
// status and body.
func asUser(t *testing.T, env *webtest.Env, token, method, path string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSubmitChecksEveryObject: two data scientists, Alice and Bob, and an
// Admin. Alice's compute instance takes runs from Alice and the Admin only,
// on every submit path (API run and sweep, the submit and HyperDrive forms,
// resubmit); a parentRunId may name only the submitter's own run or sweep
// (any, for the Admin), and a refused child never shows among the parent's
// children. Each refusal is a 403 that names the instance and its user, or
// the parent and its submitter.
func TestSubmitChecksEveryObject(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	const aliceID, bobID = "tid-1/oid-alice", "tid-1/oid-bob"
	tok := map[string]string{
		"alice": env.TokenFor(t, aliceID, compute.RoleDataScientist),
		"bob":   env.TokenFor(t, bobID, compute.RoleDataScientist),
		"admin": env.TokenFor(t, "tid-1/oid-admin", compute.RoleAdmin),
	}
	now := time.Now()
	err := env.Store.CreateTarget(ctx, &compute.Target{Name: "ci-alice", Kind: compute.KindInstance, ProvisioningState: compute.ProvisioningSucceeded,
		CreatedBy: "User " + aliceID, CreatedAt: now, ModifiedAt: now, StateSince: now,
		Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceRunning, AssignedUser: aliceID}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Snapshots are shared by the workspace: one upload serves everybody.
	snap := uploadFolder(t, env, map[string]string{"train.py": "print('hi')\n"})
	run := func(target, parent string) map[string]any {
		b := map[string]any{"experimentName": "objects", "snapshotId": snap, "script": "train.py", "target": target}
		if parent != "" {
			b["parentRunId"] = parent
		}
		return b
	}
	sweep := func(target string) map[string]any {
		b := run(target, "")
		b["hyperdriveConfiguration"], b["seed"] = objectsHD, 7
		return b
	}
	const instanceRefusal = "Compute instance ci-alice is assigned to User tid-1/oid-alice (tid-1/oid-alice); only User tid-1/oid-alice or an Admin can run jobs on it."
	created := func(who, path string, body map[string]any) string {
		t.Helper()
		st, b := asUser(t, env, tok[who], "POST", path, body)
		if st != http.StatusCreated {
			t.Fatalf("%s POST %s: %d %s", who, path, st, b)
		}
		var out struct {
			RunID string `json:"runId"`
		}
		if err := json.Unmarshal([]byte(b), &out); err != nil {
			t.Fatal(err)
		}
		return out.RunID
	}
	refused := func(who, path string, body map[string]any, want string) {
		t.Helper()
		st, b := asUser(t, env, tok[who], "POST", path, body)
		var e struct {
			Error struct{ Code, Message, Target string } `json:"error"`
		}
		_ = json.Unmarshal([]byte(b), &e)
		if st != http.StatusForbidden || e.Error.Code != "AuthorizationFailed" || e.Error.Message != want {
			t.Errorf("%s POST %s: %d %s\nwant 403 AuthorizationFailed %q", who, path, st, b, want)
		}
	}

	// The instance: Alice and the Admin may, Bob may not (API runs and sweeps).
	aliceRun := created("alice", "/api/v1/runs", run("ci-alice", ""))
	created("admin", "/api/v1/runs", run("ci-alice", ""))
	refused("bob", "/api/v1/runs", run("ci-alice", ""), instanceRefusal)
	aliceSweep := created("alice", "/api/v1/sweeps", sweep("ci-alice"))
	created("admin", "/api/v1/sweeps", sweep("ci-alice"))
	refused("bob", "/api/v1/sweeps", sweep("ci-alice"), instanceRefusal)
	// Shared targets stay open to both.
	bobRun := created("bob", "/api/v1/runs", run("local", ""))

	// Resubmitting Alice's run (which used her instance) is a new run on it.
	if st, b := asUser(t, env, tok["bob"], "POST", "/runs/"+aliceRun+"/resubmit", nil); st != http.StatusForbidden || !strings.Contains(b, "is assigned to User tid-1/oid-alice") {
		t.Errorf("bob resubmits alice's run: %d %.300s", st, b)
	}
	if st, b := asUser(t, env, tok["alice"], "POST", "/runs/"+aliceRun+"/resubmit", nil); st != http.StatusSeeOther {
		t.Errorf("alice resubmits her run: %d %.300s", st, b)
	}

	// The forms show the refusal under the target field, as a 403.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	asBob := map[string]string{"Authorization": "Bearer " + tok["bob"]}
	st, body, _ := webtest.Do(t, noRedirect, "POST", env.URL+"/runs/new", submitFields(map[string]string{"snapshotId": snap, "target": "ci-alice"}), asBob)
	if got := doc(t, body).Find(`#` + components.ErrorID("target")).Text(); st != http.StatusForbidden || got != instanceRefusal {
		t.Errorf("bob's submit form to alice's instance: %d, target error %q", st, got)
	}
	st, body, _ = webtest.Do(t, noRedirect, "POST", env.URL+"/runs/new/hyperdrive",
		sweepFormFields(map[string]string{"snapshotId": snap, "script": "train.py", "target": "ci-alice"}), asBob)
	if got := doc(t, body).Find(`#` + components.ErrorID("target")).Text(); st != http.StatusForbidden || got != instanceRefusal {
		t.Errorf("bob's HyperDrive form to alice's instance: %d, target error %q", st, got)
	}
	st, body, _ = webtest.Do(t, noRedirect, "POST", env.URL+"/runs/new", submitFields(map[string]string{"snapshotId": snap, "target": "ci-alice"}),
		map[string]string{"Authorization": "Bearer " + tok["alice"]})
	if st != http.StatusSeeOther {
		t.Errorf("alice's submit form to her instance: %d %.500s", st, body)
	}

	// Parents: only one's own run or sweep, or any for the Admin; a refused
	// child is not among the parent's children.
	parentRefusal := func(id string) string {
		return "Run " + id + " was submitted by User " + aliceID + "; only they or an Admin can add child runs to it."
	}
	refused("bob", "/api/v1/runs", run("local", aliceRun), parentRefusal(aliceRun))
	refused("bob", "/api/v1/runs", run("local", aliceSweep), parentRefusal(aliceSweep))
	mine := created("alice", "/api/v1/runs", run("local", aliceRun))
	admins := created("admin", "/api/v1/runs", run("local", aliceRun))
	created("bob", "/api/v1/runs", run("local", bobRun))
	st, b := asUser(t, env, tok["alice"], "POST", "/api/v1/runs", run("local", bobRun))
	if st != http.StatusForbidden || !strings.Contains(b, "Run "+bobRun+" was submitted by User "+bobID+"; only they or an Admin") {
		t.Errorf("alice's child of bob's run: %d %s", st, b)
	}
	if got := childrenOf(t, env, tok["bob"], aliceRun); strings.Join(got, ",") != admins+","+mine {
		t.Errorf("children of %s: %v, want [%s %s] (newest first)", aliceRun, got, admins, mine)
	}
	if got := childrenOf(t, env, tok["bob"], aliceSweep); len(got) != 0 {
		t.Errorf("children of the sweep %s: %v, want none (the dispatcher is stopped)", aliceSweep, got)
	}
}

// childrenOf lists the IDs of a run's children.
func childrenOf(t *testing.T, env *webtest.Env, token, parent string) []string {
	t.Helper()
	st, b := asUser(t, env, token, "GET", "/api/v1/runs?parent="+url.QueryEscape(parent), nil)
	if st != http.StatusOK {
		t.Fatalf("children of %s: %d %s", parent, st, b)
	}
	var list struct {
		Value []struct {
			RunID string `json:"runId"`
		} `json:"value"`
	}
	if err := json.Unmarshal([]byte(b), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list.Value {
		ids = append(ids, r.RunID)
	}
	return ids
}
