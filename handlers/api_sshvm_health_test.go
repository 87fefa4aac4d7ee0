package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/compute/sshvm/sshvmtest"
	"github.com/trainyard/trainyard/web/webtest"
)

// attachVM attaches the test sshd as name with the unencrypted client key,
// pinning its host key up front, and waits until it is usable.
func attachVM(t *testing.T, env *webtest.Env, s *sshvmtest.SSHD, name string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"properties": map[string]any{"computeType": "VirtualMachine", "properties": map[string]any{
		"address": "127.0.0.1", "sshPort": s.Port, "hostKeyFingerprint": s.Fingerprint(),
		"administratorAccount": map[string]any{"username": s.User, "privateKeyData": s.ReadKey(s.Key)}}}})
	if status, b := api(t, env, "PUT", "/api/v1/computes/"+name, string(body)); status != http.StatusCreated {
		t.Fatalf("attach %s: %d %s", name, status, b)
	}
	v := waitVM(t, env, name, "to be checked", func(v vmStatus) bool { return v.state != "Creating" })
	if v.state != "Succeeded" {
		t.Fatalf("attach %s: %+v", name, v)
	}
}

// attachState reads an attached target's Trainyard state ("Unusable" or "")
// and status message through the API.
func attachState(t *testing.T, env *webtest.Env, name string) (provisioning, state, message string) {
	t.Helper()
	status, b := api(t, env, "GET", "/api/v1/computes/"+name, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", name, status, b)
	}
	var c arm.Compute
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	var p arm.VirtualMachineProperties
	if err := json.Unmarshal(c.Properties.Properties, &p); err != nil {
		t.Fatal(err)
	}
	return c.Properties.ProvisioningState, p.State, p.StatusMessage
}

// countingScript prints n numbered lines, one every interval seconds.
func countingScript(n int, interval string) string {
	return fmt.Sprintf(`import time
for i in range(%d):
    print("line", i, flush=True)
    time.sleep(%s)
print("done", flush=True)
`, n, interval)
}

// TestSSHRunSurvivesSSHDRestart: sshd is killed in the middle of a run (its
// connections with it) and restarted a few seconds later: the server
// reconnects, finds the job by its pid and the run completes with its whole
// log. Meanwhile the Nodes tab shows the VM running the run.
func TestSSHRunSurvivesSSHDRestart(t *testing.T) {
	t.Parallel()
	needPython(t)
	s := sshvmtest.Start(t)
	env := webtest.New(t, webtest.Options{})
	attachVM(t, env, s, "vm1")
	snap := uploadFolder(t, env, map[string]string{"count.py": countingScript(10, "0.5")})
	run := submit(t, env, "vm", snap, "count.py", nil, map[string]any{"target": "vm1"})
	waitStatus(t, env, run.RunID, 90*time.Second, "to run", func(s string) bool { return s == "Running" })
	time.Sleep(1500 * time.Millisecond) // a few lines in

	browser := env.Browser(t)
	_, page, _ := webtest.Do(t, browser, "GET", env.URL+"/computes/vm1?tab=nodes", nil, nil)
	d := doc(t, page)
	var heads []string
	d.Find(`[data-testid=nodes-table] th`).Each(func(_ int, s *goquery.Selection) { heads = append(heads, strings.TrimSpace(s.Text())) })
	if strings.Join(heads, ",") != "Node,State,Reason,Address,CPUs,Memory,GPUs,Run" {
		t.Errorf("nodes table columns %q", heads)
	}
	row := d.Find(`[data-testid=node-row]`)
	conn := fmt.Sprintf("ssh -p %d %s@127.0.0.1", s.Port, s.User)
	if row.Length() != 1 || !strings.Contains(row.Find(`[data-testid=node-state]`).Text(), "running") ||
		row.Find(`[data-testid=node-run] a`).AttrOr("href", "") != "/runs/"+run.RunID ||
		strings.TrimSpace(row.Find(`[data-testid=node-connection]`).Text()) != conn ||
		!strings.Contains(row.Find(`[data-testid=node-address]`).Text(), fmt.Sprintf("127.0.0.1:%d", s.Port)) ||
		strings.TrimSpace(row.Find(`[data-testid=node-cpus]`).Text()) == "–" {
		t.Errorf("node row: %q", row.Text())
	}

	s.Stop()
	time.Sleep(3 * time.Second)
	s.Start()
	got := waitStatus(t, env, run.RunID, 60*time.Second, "to end", terminal)
	if got.Status != "Completed" {
		t.Fatalf("run after sshd restarted: %s %q", got.Status, got.Error)
	}
	l := readLog(t, env, run.RunID)
	for i := range 10 {
		if !strings.Contains(l, fmt.Sprintf("line %d\n", i)) {
			t.Fatalf("log lacks line %d: %q", i, l)
		}
	}
	if !strings.Contains(l, "done") {
		t.Fatalf("log lacks the end: %q", l)
	}
}

// TestSSHRunFailsWhenVMStaysDown: sshd is killed in the middle of a run and
// stays down: the run is Failed with the reason once the lost grace has
// passed (a test grace of 5 s; 45 s by default), the target
// shows Unusable with the last error (page and API) and, when sshd is back,
// recovers by itself.
func TestSSHRunFailsWhenVMStaysDown(t *testing.T) {
	t.Parallel()
	needPython(t)
	s := sshvmtest.Start(t)
	// A grace of 5 s, not the default 45: the test waited 40 s for nothing.
	env := webtest.New(t, webtest.Options{HealthInterval: time.Second, SSHLostGrace: 5 * time.Second})
	attachVM(t, env, s, "vm1")
	snap := uploadFolder(t, env, map[string]string{"count.py": countingScript(600, "0.5")})
	run := submit(t, env, "vm", snap, "count.py", nil, map[string]any{"target": "vm1"})
	waitStatus(t, env, run.RunID, 90*time.Second, "to run", func(s string) bool { return s == "Running" })

	s.Stop()
	t0 := time.Now()
	webtest.WaitFor(t, 50*time.Second, "vm1 to be Unusable", func() bool {
		_, state, _ := attachState(t, env, "vm1")
		return state == "Unusable"
	})
	prov, _, msg := attachState(t, env, "vm1")
	if prov != "Succeeded" || !strings.Contains(msg, "does not answer") || !strings.Contains(msg, "127.0.0.1") {
		t.Errorf("vm1 while down: %s %q", prov, msg)
	}
	browser := env.Browser(t)
	_, page, _ := webtest.Do(t, browser, "GET", env.URL+"/computes/vm1", nil, nil)
	d := doc(t, page)
	if !strings.Contains(d.Find(`[data-testid=provisioning-state]`).Text(), "Unusable") || !strings.Contains(d.Find(`[data-testid=unusable]`).Text(), "127.0.0.1") {
		t.Errorf("details page while down: state %q unusable %q", d.Find(`[data-testid=provisioning-state]`).Text(), d.Find(`[data-testid=unusable]`).Text())
	}
	_, page, _ = webtest.Do(t, browser, "GET", env.URL+"/computes?tab=attached", nil, nil)
	if row := doc(t, page).Find(`tr[data-name=vm1]`).Text(); !strings.Contains(row, "Unusable") {
		t.Errorf("list row while down: %q", row)
	}
	_, page, _ = webtest.Do(t, browser, "GET", env.URL+"/computes/vm1?tab=nodes", nil, nil)
	if st := doc(t, page).Find(`[data-testid=node-state]`).Text(); !strings.Contains(st, "unusable") {
		t.Errorf("node while down: %q", st)
	}

	got := waitStatus(t, env, run.RunID, 60*time.Second, "to fail", terminal)
	took := time.Since(t0)
	if got.Status != "Failed" || !strings.Contains(got.Error, "lost the connection to vm1") || took > 60*time.Second*computetest.Slack {
		t.Fatalf("run with the VM gone: %s %q after %s", got.Status, got.Error, took)
	}
	t.Logf("run Failed %s after sshd was killed: %s", took.Round(time.Second), got.Error)

	s.Start()
	webtest.WaitFor(t, 30*time.Second, "vm1 to recover", func() bool {
		prov, state, _ := attachState(t, env, "vm1")
		return prov == "Succeeded" && state == ""
	})
	if _, _, msg := attachState(t, env, "vm1"); !strings.Contains(msg, "python3") {
		t.Errorf("vm1 after it recovered: %q", msg)
	}
	// The orphaned job is still on the VM: stop it (its folder has its pid).
	killRemoteJobs(t, env)
}

// killRemoteJobs kills the jobs the test VM still runs (by their recorded pids).
func killRemoteJobs(t *testing.T, env *webtest.Env) {
	pids, _ := filepath.Glob(filepath.Join(env.DataDir, "ssh-remote", "jobs", "*", "pid"))
	for _, p := range pids {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var pid, start int
		if _, err := fmt.Sscan(string(b), &pid, &start); err == nil && pid > 1 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// TestSSHVMInNetworkNamespace attaches a "remote VM" with its own address
// (sshd in a network namespace, port 22 at 10.200.N.2) and runs a job there,
// which sees the connection come from the host's side of the link. It skips
// when network namespaces cannot be made here.
func TestSSHVMInNetworkNamespace(t *testing.T) {
	needPython(t)
	s := sshvmtest.StartInNetns(t)
	env := webtest.New(t, webtest.Options{})
	body, _ := json.Marshal(map[string]any{"properties": map[string]any{"computeType": "VirtualMachine", "properties": map[string]any{
		"address": s.Host, "sshPort": s.Port, "hostKeyFingerprint": s.Fingerprint(),
		"administratorAccount": map[string]any{"username": s.User, "privateKeyData": s.ReadKey(s.Key)}}}})
	if status, b := api(t, env, "PUT", "/api/v1/computes/nsvm", string(body)); status != http.StatusCreated {
		t.Fatalf("attach: %d %s", status, b)
	}
	if v := waitVM(t, env, "nsvm", "to be checked", func(v vmStatus) bool { return v.state != "Creating" }); v.state != "Succeeded" {
		t.Fatalf("attach at %s: %+v", s.Host, v)
	}
	snap := uploadFolder(t, env, map[string]string{"where.py": "import os\nprint('SSH_CONNECTION', os.environ.get('SSH_CONNECTION'), flush=True)\n"})
	run := submit(t, env, "vm", snap, "where.py", nil, map[string]any{"target": "nsvm"})
	if got := waitStatus(t, env, run.RunID, 60*time.Second, "to end", terminal); got.Status != "Completed" {
		t.Fatalf("run in the namespace: %s %q", got.Status, got.Error)
	}
	l := readLog(t, env, run.RunID)
	if want := s.HostSide() + " "; !strings.Contains(l, "SSH_CONNECTION "+want) || !strings.Contains(l, " "+s.Host+" 22") {
		t.Fatalf("the job did not run behind %s: %q", s.Host, l)
	}
}
