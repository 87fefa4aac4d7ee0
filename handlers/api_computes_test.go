package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/web/webtest"
)

// api sends a JSON API request with the bearer token, as the CLI does.
func api(t *testing.T, env *webtest.Env, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, env.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+webtest.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
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
	return resp.StatusCode, b
}

func TestAPIComputeLifecycle(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	const body = `{"location":"local","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_D2_V2","vmPriority":"LowPriority",
		"scaleSettings":{"minNodeCount":0,"maxNodeCount":4,"nodeIdleTimeBeforeScaleDown":"PT120S"}}}}`
	status, b := api(t, env, "PUT", "/api/v1/computes/cpu-cluster", body)
	if status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", status, b)
	}
	var created arm.Compute
	if err := json.Unmarshal(b, &created); err != nil || created.Properties.ProvisioningState != "Creating" {
		t.Fatalf("PUT body: %v %s", err, b)
	}
	webtest.WaitFor(t, 10*time.Second, "Succeeded", func() bool {
		_, b := api(t, env, "GET", "/api/v1/computes/cpu-cluster", "")
		var c arm.Compute
		_ = json.Unmarshal(b, &c)
		return c.Properties.ProvisioningState == "Succeeded"
	})
	_, b = api(t, env, "GET", "/api/v1/computes/cpu-cluster", "")
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	props := got["properties"].(map[string]any)
	inner := props["properties"].(map[string]any)
	scale := inner["scaleSettings"].(map[string]any)
	if props["computeType"] != "AmlCompute" || inner["vmPriority"] != "LowPriority" || inner["vmSize"] != "Standard_D2_v2" ||
		scale["maxNodeCount"] != float64(4) || scale["nodeIdleTimeBeforeScaleDown"] != "PT2M" && scale["nodeIdleTimeBeforeScaleDown"] != "PT120S" {
		t.Fatalf("ARM shape: %s", b)
	}
	_, b = api(t, env, "GET", "/api/v1/computes", "")
	var list arm.ComputeList
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range list.Value {
		names[c.Name] = true
	}
	if !names["local"] || !names["cpu-cluster"] {
		t.Fatalf("list names %v", names)
	}
	status, b = api(t, env, "POST", "/api/v1/computes/cpu-cluster/listNodes", "")
	if status != 200 || !strings.Contains(string(b), `"nodes"`) {
		t.Fatalf("listNodes: %d %s", status, b)
	}
	status, _ = api(t, env, "DELETE", "/api/v1/computes/cpu-cluster?underlyingResourceAction=Delete", "")
	if status != http.StatusAccepted {
		t.Fatalf("DELETE: %d", status)
	}
	webtest.WaitFor(t, 10*time.Second, "deleted", func() bool {
		status, _ := api(t, env, "GET", "/api/v1/computes/cpu-cluster", "")
		return status == http.StatusNotFound
	})
}

func TestAPIErrors(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string
		wantTarget               string
	}{
		{"negative max nodes", "PUT", "/api/v1/computes/neg", `{"properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_D2_V2","scaleSettings":{"maxNodeCount":-1}}}}`, 422, "ValidationError", "maxNodes"},
		{"bad name", "PUT", "/api/v1/computes/9_bad", `{"properties":{"computeType":"AmlCompute","properties":{"vmSize":"Standard_D2_v2","scaleSettings":{"maxNodeCount":1}}}}`, 422, "ValidationError", "name"},
		{"unknown size", "PUT", "/api/v1/computes/badsize", `{"properties":{"computeType":"AmlCompute","properties":{"vmSize":"Standard_B2s","scaleSettings":{"maxNodeCount":1}}}}`, 422, "ValidationError", "vmSize"},
		{"malformed JSON", "PUT", "/api/v1/computes/broken", `{"properties":`, 400, "", ""},
		{"duplicate", "PUT", "/api/v1/computes/local", `{"properties":{"computeType":"ComputeInstance","properties":{"vmSize":"Standard_DS3_v2"}}}`, 409, "AlreadyExists", ""},
		{"missing", "GET", "/api/v1/computes/nothere", ``, 404, "NotFound", ""},
		{"detach a cluster", "DELETE", "/api/v1/computes/local?underlyingResourceAction=Detach", ``, 409, "OperationNotAllowed", ""},
		{"bad action", "DELETE", "/api/v1/computes/local?underlyingResourceAction=Explode", ``, 422, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, b := api(t, env, tc.method, tc.path, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tc.wantStatus, b)
			}
			var e arm.ErrorBody
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" {
				t.Fatalf("error body %s (%v)", b, err)
			}
			if tc.wantCode != "" && e.Error.Code != tc.wantCode {
				t.Fatalf("code %q, want %q", e.Error.Code, tc.wantCode)
			}
			if tc.wantTarget != "" {
				found := e.Error.Target == tc.wantTarget
				for _, d := range e.Error.Details {
					found = found || d.Target == tc.wantTarget
				}
				if !found {
					t.Fatalf("no detail targets %q: %s", tc.wantTarget, b)
				}
			}
		})
	}
	if status, _ := api(t, env, "GET", "/api/v1/computes/neg", ""); status != 404 {
		t.Fatalf("a rejected PUT left something behind: %d", status)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	for _, method := range []string{"POST", "DELETE"} {
		req, _ := http.NewRequest(method, env.URL+"/computes/local/delete", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s cross-site: %d, want 403", method, resp.StatusCode)
		}
	}
}
