package handlers_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestSlurmScaleSettings attaches a real Slurm cluster's power-saving
// partition with its slurm.conf, shows min/max/idle and the node counts on
// the details page, refuses bad values (field by field, values kept) and
// roles below compute operator, and applies good ones through the API and
// the form.
func TestSlurmScaleSettings(t *testing.T) {
	t.Parallel()
	sc := slurmtest.Start(t, slurmtest.Options{Nodes: 1, CloudNodes: 2, SuspendTime: 40, PowerInclude: true})
	env := webtest.New(t, webtest.Options{Slurm: true, NoDispatcher: true})
	apiJSON(t, env, "PUT", "/api/v1/computes/hpc", map[string]any{"properties": map[string]any{"computeType": "Slurm", "properties": map[string]any{
		"restUrl": sc.RESTURL, "user": sc.User, "jwtKey": base64.StdEncoding.EncodeToString([]byte(sc.JWTKey())),
		"partition": sc.CloudPartition, "sharedDir": sc.SharedDir, "slurmConf": sc.Conf}}}, http.StatusCreated, nil)
	waitState(t, env, "hpc", func(t *compute.Target) bool { return t.ProvisioningState == compute.ProvisioningSucceeded })

	c := env.Browser(t)
	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/hpc", nil, nil)
	d := doc(t, body)
	for sel, want := range map[string]string{"scale-min": "0", "scale-max": "2", "scale-idle": "40"} {
		if got := strings.TrimSpace(d.Find(`[data-testid=` + sel + `]`).Text()); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	if got := d.Find(`[data-testid=scale-counts]`).Text(); !strings.Contains(got, "2 powered down") {
		t.Errorf("counts %q", got)
	}
	if d.Find(`[data-testid=scale-form] input[name=maxNodes]`).AttrOr("value", "") != "2" {
		t.Error("the form does not show max 2")
	}
	if !strings.Contains(d.Find(`[data-testid=attributes]`).Text(), sc.Conf) {
		t.Error("slurm.conf path not in the attributes")
	}

	// The form: every field's error under it, the values as typed.
	formTests := []struct {
		name string
		form url.Values
		errs map[string]string
	}{
		{"min above max, idle not a number", url.Values{"minNodes": {"2"}, "maxNodes": {"1"}, "idleSeconds": {"soon"}},
			map[string]string{"idleSeconds": "whole number"}},
		{"min above max", url.Values{"minNodes": {"2"}, "maxNodes": {"1"}, "idleSeconds": {"30"}},
			map[string]string{"minNodes": "cannot be more than the maximum"}},
		{"max above the CLOUD nodes, idle 0", url.Values{"minNodes": {"0"}, "maxNodes": {"5"}, "idleSeconds": {"0"}},
			map[string]string{"maxNodes": "2 power-saving nodes", "idleSeconds": "between 1 and"}},
	}
	for _, tc := range formTests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/hpc/scale-settings", tc.form, nil)
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", status)
			}
			d := doc(t, body)
			for field, msg := range tc.errs {
				if got := d.Find(`[data-testid=error-` + field + `]`).Text(); !strings.Contains(got, msg) {
					t.Errorf("error under %s = %q, want %q", field, got, msg)
				}
			}
			for field, v := range tc.form {
				if got := d.Find(`[data-testid=scale-form] input[name=`+field+`]`).AttrOr("value", ""); got != v[0] {
					t.Errorf("%s kept as %q, want %q", field, got, v[0])
				}
			}
		})
	}

	tokens := map[compute.Role]string{}
	for _, r := range []compute.Role{compute.RoleReader, compute.RoleDataScientist, compute.RoleComputeOperator} {
		tokens[r] = env.TokenFor(t, "scale/"+r.String(), r)
	}
	good := map[string]any{"scaleSettings": map[string]any{"minNodeCount": 1, "maxNodeCount": 2, "nodeIdleTimeBeforeScaleDown": "PT30S"}}
	apiTests := []struct {
		name   string
		role   compute.Role
		body   any
		status int
		want   string
	}{
		{"reader", compute.RoleReader, good, http.StatusForbidden, ""},
		{"data scientist", compute.RoleDataScientist, good, http.StatusForbidden, ""},
		{"nothing given", compute.RoleComputeOperator, map[string]any{}, http.StatusBadRequest, "Give scaleSettings"},
		{"bad duration", compute.RoleComputeOperator, map[string]any{"scaleSettings": map[string]any{"nodeIdleTimeBeforeScaleDown": "2 minutes"}}, http.StatusBadRequest, "scaleSettings.nodeIdleTimeBeforeScaleDown"},
		{"max above CLOUD nodes", compute.RoleComputeOperator, map[string]any{"scaleSettings": map[string]any{"maxNodeCount": 3}}, http.StatusBadRequest, "scaleSettings.maxNodeCount"},
		{"min above max", compute.RoleComputeOperator, map[string]any{"scaleSettings": map[string]any{"minNodeCount": 2, "maxNodeCount": 1}}, http.StatusBadRequest, "scaleSettings.minNodeCount"},
		{"operator", compute.RoleComputeOperator, good, http.StatusOK, `"minNodeCount":1,"maxNodeCount":2,"nodeIdleTimeBeforeScaleDown":"PT30S"`},
		{"only idle, the rest kept", compute.RoleComputeOperator, map[string]any{"scaleSettings": map[string]any{"nodeIdleTimeBeforeScaleDown": "PT45S"}}, http.StatusOK, `"minNodeCount":1,"maxNodeCount":2,"nodeIdleTimeBeforeScaleDown":"PT45S"`},
	}
	for _, tc := range apiTests {
		t.Run("api "+tc.name, func(t *testing.T) {
			status, body := apiAs(t, env, tokens[tc.role], "POST", "/api/v1/computes/hpc/updateScaleSettings", tc.body)
			if (status != tc.status && !(tc.status == http.StatusBadRequest && status == http.StatusUnprocessableEntity)) || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s, want %d %q", status, body, tc.status, tc.want)
			}
		})
	}
	inc, err := os.ReadFile(sc.PowerConf)
	if err != nil || !strings.Contains(string(inc), "SuspendTime=45\n") || !strings.Contains(string(inc), "SuspendExcNodes=cloud[1-2]:1,") {
		t.Errorf("include file: %s %v", inc, err)
	}
	// min 1 powers a node up; the page shows it.
	webtest.WaitFor(t, 30*time.Second, "a node powered up", func() bool {
		_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/hpc", nil, nil)
		return strings.Contains(doc(t, body).Find(`[data-testid=scale-counts]`).Text(), "1 powered up")
	})
	// The form applies too (and the redirect flashes it).
	status, _, hdr := webtest.Do(t, c, "POST", env.URL+"/computes/hpc/scale-settings", url.Values{"minNodes": {"0"}, "maxNodes": {"1"}, "idleSeconds": {"45"}}, nil)
	if status != http.StatusSeeOther || hdr.Get("Location") != "/computes/hpc" {
		t.Fatalf("form: %d %v", status, hdr)
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes/hpc", nil, nil)
	d = doc(t, body)
	if got := strings.TrimSpace(d.Find(`[data-testid=scale-max]`).Text()); got != "1" || !strings.Contains(d.Find(`[data-testid=scale-counts]`).Text(), "1 held back") {
		t.Errorf("after max 1: max %q, counts %q", got, d.Find(`[data-testid=scale-counts]`).Text())
	}
	// Audited.
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/audit", nil, nil)
	if !strings.Contains(body, "updateScaleSettings") {
		t.Error("updateScaleSettings not in the audit log")
	}
}
