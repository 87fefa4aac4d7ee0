package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/compute/sshvm/sshvmtest"
	"github.com/trainyard/trainyard/web/webtest"
)

// vmStatus is what the SSH tests read of an attached VM through the API.
type vmStatus struct {
	state, pending, pinned, message string
	errors                          []string
}

func getVM(t *testing.T, env *webtest.Env, name string) vmStatus {
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
		t.Fatalf("%v: %s", err, b)
	}
	v := vmStatus{state: c.Properties.ProvisioningState, pending: p.PendingHostKeyFingerprint, pinned: p.HostKeyFingerprint, message: p.StatusMessage}
	for _, e := range c.Properties.ProvisioningErrors {
		v.errors = append(v.errors, e.Error.Message)
	}
	return v
}

func waitVM(t *testing.T, env *webtest.Env, name, what string, ok func(vmStatus) bool) vmStatus {
	t.Helper()
	var v vmStatus
	// A bound, not a speed goal: every SSH login here runs the machine's
	// rc files (root's start pyenv), slow when the whole suite shares two
	// cores.
	webtest.WaitFor(t, 90*time.Second, name+" "+what, func() bool { v = getVM(t, env, name); return ok(v) })
	return v
}

// TestSSHVirtualMachine runs the SSH-VM flow against a real sshd: attach
// without a fingerprint shows the pending host key, a wrong approval is
// refused, the right one makes the VM usable, a run there completes with its
// output fetched back, and a changed host key refuses work until approved.
func TestSSHVirtualMachine(t *testing.T) {
	t.Parallel()
	needPython(t)
	s := sshvmtest.Start(t)
	env := webtest.New(t, webtest.Options{})
	body, _ := json.Marshal(map[string]any{"properties": map[string]any{"computeType": "VirtualMachine", "properties": map[string]any{
		"address": "127.0.0.1", "sshPort": s.Port,
		"administratorAccount": map[string]any{"username": s.User, "privateKeyData": s.ReadKey(s.Key)}}}})
	if status, b := api(t, env, "PUT", "/api/v1/computes/vm1", string(body)); status != http.StatusCreated {
		t.Fatalf("attach: %d %s", status, b)
	}
	fp := s.Fingerprint()
	v := waitVM(t, env, "vm1", "to show its host key", func(v vmStatus) bool { return v.state != "Creating" })
	if v.state != "Unknown" || v.pending != fp || v.pinned != "" || !strings.Contains(v.message, fp) {
		t.Fatalf("after attach: %+v, want Unknown with pending %s", v, fp)
	}

	browser := env.Browser(t)
	_, page, _ := webtest.Do(t, browser, "GET", env.URL+"/computes/vm1", nil, nil)
	d := doc(t, page)
	if d.Find(`[data-testid=pending-fingerprint]`).Text() != fp || d.Find(`[data-testid=pending-host-key] button:contains("Approve host key")`).Length() != 1 {
		t.Fatalf("details page does not offer %s for approval: %s", fp, d.Find(`#compute-live`).Text())
	}

	approve := func(fingerprint string) (int, []byte) {
		b, _ := json.Marshal(map[string]string{"fingerprint": fingerprint})
		return api(t, env, "POST", "/api/v1/computes/vm1/approveHostKey", string(b))
	}
	if status, b := approve("SHA256:AAAAwrongwrongwrongwrongwrongwrongwrongwrongA"); status != http.StatusUnprocessableEntity || !strings.Contains(string(b), fp) {
		t.Fatalf("wrong fingerprint: %d %s", status, b)
	}
	if v := getVM(t, env, "vm1"); v.pinned != "" || v.state != "Unknown" {
		t.Fatalf("after a refused approval: %+v", v)
	}
	if status, b := approve(fp); status != http.StatusOK {
		t.Fatalf("approve: %d %s", status, b)
	}
	v = waitVM(t, env, "vm1", "to be checked", func(v vmStatus) bool { return v.state != "Creating" })
	if v.state != "Succeeded" || v.pinned != fp || v.pending != "" || !strings.Contains(v.message, "python3") {
		t.Fatalf("after approval: %+v", v)
	}

	script := `import json, os, sys
os.makedirs("outputs", exist_ok=True)
json.dump({"argv": sys.argv[1:]}, open("outputs/who.json", "w"))
print("hello from the VM", flush=True)
`
	snap := uploadFolder(t, env, map[string]string{"who.py": script})
	run := submit(t, env, "vm", snap, "who.py", []string{"$(touch /tmp/nope)", "a'b"}, map[string]any{"target": "vm1"})
	got := waitStatus(t, env, run.RunID, 60*time.Second, "to end", terminal)
	if got.Status != "Completed" {
		t.Fatalf("run on vm1: %s %s", got.Status, got.Error)
	}
	status, b, _ := apiDo(t, env, "GET", "/api/v1/runs/"+run.RunID+"/outputs/outputs/who.json", "", nil)
	if status != http.StatusOK || !strings.Contains(string(b), `"a'b"`) {
		t.Fatalf("fetched output: %d %s", status, b)
	}
	if l := readLog(t, env, run.RunID); !strings.Contains(l, "hello from the VM") {
		t.Fatalf("log: %q", l)
	}

	// The VM is down at submit: the run stays Queued with the reason, and
	// runs once the VM is back.
	s.Stop()
	run = submit(t, env, "vm", snap, "who.py", nil, map[string]any{"target": "vm1"})
	webtest.WaitFor(t, 30*time.Second, "the run to wait for the VM", func() bool {
		got = getRun(t, env, run.RunID)
		return got.Status == "Queued" && strings.Contains(got.StatusReason, "waiting for vm1 to be reachable")
	})
	s.Start()
	if got = waitStatus(t, env, run.RunID, 60*time.Second, "to end", terminal); got.Status != "Completed" {
		t.Fatalf("run after the VM came back: %s %s", got.Status, got.Error)
	}

	// The VM comes back with another host key: work is refused, with the warning.
	s.NewHostKey()
	fp2 := s.Fingerprint()
	run = submit(t, env, "vm", snap, "who.py", nil, map[string]any{"target": "vm1"})
	got = waitStatus(t, env, run.RunID, 30*time.Second, "to end", terminal)
	if got.Status != "Failed" || !strings.Contains(got.Error, "host key changed") {
		t.Fatalf("run after the key change: %s %q", got.Status, got.Error)
	}
	v = waitVM(t, env, "vm1", "to refuse work", func(v vmStatus) bool { return v.state == "Failed" })
	if v.pending != fp2 || v.pinned != fp || len(v.errors) == 0 || !strings.Contains(v.errors[0], "host key changed") {
		t.Fatalf("after the key change: %+v", v)
	}
	// This time from the details page's button.
	if status, _, _ := webtest.Do(t, browser, "POST", env.URL+"/computes/vm1/approve-host-key", url.Values{"fingerprint": {fp2}}, nil); status != http.StatusSeeOther {
		t.Fatalf("approve the new key from the page: %d", status)
	}
	v = waitVM(t, env, "vm1", "to be checked again", func(v vmStatus) bool { return v.state != "Creating" })
	if v.state != "Succeeded" || v.pinned != fp2 || v.pending != "" {
		t.Fatalf("after approving the new key: %+v", v)
	}
}
