package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/azure/armreplay"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestAzureWorkspaceEndToEnd runs a real `trainyard serve` whose Azure
// Resource Manager and authority are the replay server (TRAINYARD_ARM_ENDPOINT,
// TRAINYARD_AZURE_AUTHORITY_HOST, a service principal, SSL_CERT_FILE naming
// the replay server's certificate) and drives it with the CLI as a user
// would. Contract: the 2025-12-01 REST examples replayed by armreplay, and
// the identity platform's client-credentials grant.
func TestAzureWorkspaceEndToEnd(t *testing.T) {
	t.Parallel() // its own server, data folder and ports: nothing shared with other tests
	replay := armreplay.New(t)
	const quotaMsg = "Operation could not be completed as it results in exceeding approved standardNCFamily Cores quota. Additional details - Location: eastus, Current Limit: 24, Current Usage: 12, Additional Required: 48."
	replay.ExceedQuota("Standard_NC24", quotaMsg)
	replay.Throttle(http.MethodGet, "/computes", 1)
	// The server polls operations at its production interval (5 s) unless
	// ARM says when to look again, as it does here: two InProgress answers
	// per operation then cost 2 s, not 10.
	replay.SetRetryAfter(1)
	serverURL := startServe(t, map[string]string{
		"TRAINYARD_ARM_ENDPOINT":         replay.URL,
		"TRAINYARD_AZURE_AUTHORITY_HOST": replay.URL,
		"TRAINYARD_AZURE_TENANT_ID":      armreplay.TenantID,
		"TRAINYARD_AZURE_CLIENT_ID":      armreplay.ClientID,
		"TRAINYARD_AZURE_CLIENT_SECRET":  armreplay.ClientSecret,
		"SSL_CERT_FILE":                  replay.CAFile(t),
	})
	cli := func(args ...string) cliResult {
		t.Helper()
		return runCLI(t, serverURL, "", args...)
	}
	must := func(r cliResult) cliResult {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		return r
	}

	must(cli("workspace", "add", "-n", "replay", "--subscription-id", armreplay.Subscription, "--resource-group", armreplay.ResourceGroup, "--workspace-name", armreplay.WorkspaceName))
	if r := must(cli("workspace", "list", "-o", "json")); !strings.Contains(r.stdout, `"alias": "replay"`) {
		t.Errorf("workspace list: %s", r.stdout)
	}

	// The list: every page, after the 429 was waited out.
	r := must(cli("computetarget", "list", "--workspace", "replay", "-o", "json"))
	var list struct {
		Value []struct {
			Name string `json:"name"`
		} `json:"value"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Value) != 4 {
		t.Fatalf("list: %v %s; want the 4 computes of the replayed workspace", err, r.stdout)
	}
	var throttled, listed time.Time
	for _, q := range replay.Requests() {
		if q.Method == http.MethodGet && strings.HasSuffix(q.Path, "/computes") {
			if q.Status == http.StatusTooManyRequests && throttled.IsZero() {
				throttled = q.At
			} else if q.Status == http.StatusOK && listed.IsZero() {
				listed = q.At
			}
		}
	}
	if throttled.IsZero() || listed.Sub(throttled) < time.Second {
		t.Errorf("the 429 at %v was retried at %v; want it retried after its Retry-After (1 s)", throttled, listed)
	}
	// The local workspace is unchanged.
	if r := must(cli("computetarget", "list", "-o", "json")); strings.Contains(r.stdout, "cpu-cluster") {
		t.Errorf("the local list shows the Azure workspace's computes: %s", r.stdout)
	}

	// Create a cluster and watch it go Creating → Succeeded.
	r = must(cli("computetarget", "create", "amlcompute", "--workspace", "replay", "--name", "gpu-e2e", "--vm-size", "STANDARD_NC6", "--max-nodes", "2", "-o", "json"))
	if got := field(t, []byte(r.stdout), "properties.provisioningState"); got != "Creating" {
		t.Errorf("create answered %v; want Creating while ARM's operation runs", got)
	}
	waitState(t, serverURL, "gpu-e2e", "properties.provisioningState", "Succeeded")

	// Over quota: ARM's error, verbatim.
	must(cli("computetarget", "create", "amlcompute", "--workspace", "replay", "--name", "too-big", "--vm-size", "Standard_NC24", "--max-nodes", "2"))
	waitState(t, serverURL, "too-big", "properties.provisioningState", "Failed")
	r = must(cli("computetarget", "show", "--workspace", "replay", "-n", "too-big", "-o", "json"))
	if !strings.Contains(r.stdout, quotaMsg) {
		t.Errorf("show of the compute that failed on quota: %s; want ARM's message verbatim", r.stdout)
	}

	// Stop and start an instance.
	must(cli("computetarget", "stop", "--workspace", "replay", "-n", "ci-replay"))
	waitState(t, serverURL, "ci-replay", "properties.properties.state", "Stopped")
	must(cli("computetarget", "start", "--workspace", "replay", "-n", "ci-replay"))
	waitState(t, serverURL, "ci-replay", "properties.properties.state", "Running")

	// Nodes, through the example's nextLink.
	r = must(cli("computetarget", "list-nodes", "--workspace", "replay", "-n", "cpu-cluster", "-o", "json"))
	if !strings.Contains(r.stdout, "tvm-3601533753_1-20170719t162906z") || !strings.Contains(r.stdout, "tvm-3601533753_2-20170719t162906z") {
		t.Errorf("list-nodes: %s; want both nodes of listNodes.json", r.stdout)
	}

	// Delete the cluster: gone once ARM's operation ends.
	must(cli("computetarget", "delete", "--workspace", "replay", "-n", "gpu-e2e", "--yes"))
	webtest.WaitFor(t, 30*time.Second, "gpu-e2e to be gone", func() bool {
		return cli("computetarget", "show", "--workspace", "replay", "-n", "gpu-e2e").code != 0
	})
	if _, ok := replay.Compute("gpu-e2e"); ok {
		t.Error("ARM still holds gpu-e2e after the delete ended")
	}
}

// waitState polls `computetarget show` until the JSON at path is want.
func waitState(t *testing.T, serverURL, name, path, want string) {
	t.Helper()
	var last any
	webtest.WaitFor(t, 30*time.Second, name+" "+path+" = "+want, func() bool {
		r := runCLI(t, serverURL, "", "computetarget", "show", "--workspace", "replay", "-n", name, "-o", "json")
		if r.code != 0 {
			return false
		}
		last = field(t, []byte(r.stdout), path)
		return last == want
	})
}

// startServe builds and starts `trainyard serve` with env (and the test
// login token) on a free loopback port, and returns its URL.
func startServe(t *testing.T, env map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "trainyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	addr := freeLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, bin, "serve", "--addr", addr, "--data", filepath.Join(dir, "data"))
	srv.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TRAINYARD_TOKEN=" + webtest.Token}
	for k, v := range env {
		srv.Env = append(srv.Env, k+"="+v)
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("server log:\n%s", b)
		}
	})
	url := "http://" + addr
	webtest.WaitFor(t, 60*time.Second, "the server to answer", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return url
}
