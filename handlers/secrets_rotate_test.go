package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/compute/sshvm/sshvmtest"
	"github.com/trainyard/trainyard/web/webtest"
)

// apiAs sends a JSON request with a user's bearer token.
func apiAs(t *testing.T, env *webtest.Env, token, method, path string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, env.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// closedPort is a loopback port nothing listens on, reserved so that
// nothing starts listening there during the test.
func closedPort(t *testing.T) int {
	return computetest.ReservePortsT(t, 1)[0]
}

// TestAttachSameVMTwice: a second target for the same machine, user and
// kind of credential is refused through the API and the form, naming the
// target that has it; the same machine with the other kind of credential (as
// the acceptance check attaches vm2) is allowed.
func TestAttachSameVMTwice(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	port := closedPort(t)
	const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
	vm := func(user, fp string, account map[string]any) map[string]any {
		account["username"] = user
		return map[string]any{"properties": map[string]any{"computeType": "VirtualMachine", "properties": map[string]any{
			"address": "127.0.0.1", "sshPort": port, "hostKeyFingerprint": fp, "administratorAccount": account}}}
	}
	tests := []struct {
		name, target string
		body         map[string]any
		status       int
		want         string
	}{
		{"first attach", "vm1", vm("sshtest", "", map[string]any{"privateKeyData": key}), http.StatusCreated, ""},
		{"same user and key", "vm1b", vm("sshtest", "", map[string]any{"privateKeyData": key}), http.StatusConflict,
			fmt.Sprintf("vm1 already attaches sshtest@127.0.0.1:%d with a key; detach it first or use it", port)},
		{"same machine with a password", "vm2", vm("sshtest", "SHA256:AAAAwrongwrongwrongwrongwrongwrongwrongwrongA", map[string]any{"password": "pw"}), http.StatusCreated, ""},
		{"then a password again", "vm3", vm("sshtest", "", map[string]any{"password": "pw2"}), http.StatusConflict, "vm2 already attaches sshtest@127.0.0.1"},
		{"another user", "vm4", vm("other", "", map[string]any{"privateKeyData": key}), http.StatusCreated, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := apiAs(t, env, webtest.Token, "PUT", "/api/v1/computes/"+tc.target, tc.body)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s, want %d %q", status, body, tc.status, tc.want)
			}
		})
	}

	// The form says it next to the address.
	c := env.Browser(t)
	form := url.Values{"step": {"0"}, "nav": {"create"}, "name": {"vm5"}, "address": {"127.0.0.1"}, "sshPort": {strconv.Itoa(port)},
		"username": {"sshtest"}, "password": {"pw3"}}
	status, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/attach/virtualmachine", form, nil)
	if msg := doc(t, body).Find("#err-address").Text(); status != http.StatusConflict || !strings.Contains(msg, "vm2 already attaches sshtest@127.0.0.1") {
		t.Fatalf("form: %d %q", status, msg)
	}
}

// TestRotateSecrets: only compute operators (and admins) replace an SSH
// target's credentials; bad values are refused; the values never appear in
// the page or the data folder; and the next run signs in with the new key
// although the old connection was still open.
func TestRotateSecrets(t *testing.T) {
	t.Parallel()
	needPython(t)
	s := sshvmtest.Start(t)
	env := webtest.New(t, webtest.Options{})
	attachVM(t, env, s, "vm1")
	snap := uploadFolder(t, env, map[string]string{"hi.py": "print('hi from the VM', flush=True)\n"})
	runOnVM := func() runJSON {
		run := submit(t, env, "vm", snap, "hi.py", nil, map[string]any{"target": "vm1"})
		return waitStatus(t, env, run.RunID, 60*time.Second, "to end", terminal)
	}
	if got := runOnVM(); got.Status != "Completed" {
		t.Fatalf("first run: %s %s", got.Status, got.Error)
	}

	// A fresh key the VM does not know, then the one it will know.
	unknown := filepath.Join(t.TempDir(), "unknown")
	sshvmtest.Keygen(t, unknown, "")
	newKey, passphrase := s.ReadKey(s.KeyPass), s.Passphrase
	rotate := map[string]string{"privateKey": newKey, "privateKeyPassphrase": passphrase}
	tokens := map[compute.Role]string{}
	for _, r := range []compute.Role{compute.RoleReader, compute.RoleDataScientist, compute.RoleComputeOperator, compute.RoleAdmin} {
		tokens[r] = env.TokenFor(t, "rotate/"+r.String(), r)
	}
	tests := []struct {
		name   string
		token  string
		body   map[string]string
		status int
		want   string
	}{
		{"reader", tokens[compute.RoleReader], rotate, http.StatusForbidden, ""},
		{"data scientist", tokens[compute.RoleDataScientist], rotate, http.StatusForbidden, ""},
		{"nothing given", tokens[compute.RoleComputeOperator], map[string]string{}, http.StatusBadRequest, "Give a new password or a new private key"},
		{"not a key", tokens[compute.RoleComputeOperator], map[string]string{"privateKey": "hunter2"}, http.StatusBadRequest, "PEM or OpenSSH private key"},
		{"encrypted key without its passphrase", tokens[compute.RoleComputeOperator], map[string]string{"privateKey": newKey}, http.StatusBadRequest, "give its passphrase"},
		{"wrong passphrase", tokens[compute.RoleComputeOperator], map[string]string{"privateKey": newKey, "privateKeyPassphrase": "nope"}, http.StatusBadRequest, "cannot be opened"},
		{"passphrase alone", tokens[compute.RoleAdmin], map[string]string{"privateKeyPassphrase": "x"}, http.StatusBadRequest, "the private key the passphrase belongs to"},
		{"operator, a key the VM does not know", tokens[compute.RoleComputeOperator], map[string]string{"privateKey": s.ReadKey(unknown)}, http.StatusOK, `"vm1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := apiAs(t, env, tc.token, "POST", "/api/v1/computes/vm1/updateSecrets", tc.body)
			if status != tc.status && !(tc.status == http.StatusBadRequest && status == http.StatusUnprocessableEntity) || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s, want %d %q", status, body, tc.status, tc.want)
			}
			for _, v := range tc.body {
				if len(v) > 8 && strings.Contains(body, v) {
					t.Fatal("a secret came back in the answer")
				}
			}
		})
	}
	// The pooled connection was dropped: the next run signs in with the
	// unknown key, and waits for the VM with the reason.
	run := submit(t, env, "vm", snap, "hi.py", nil, map[string]any{"target": "vm1"})
	var waiting runJSON
	webtest.WaitFor(t, 30*time.Second, "the run to wait", func() bool {
		waiting = getRun(t, env, run.RunID)
		if terminal(waiting.Status) {
			t.Fatalf("run with an unknown key: %s %q", waiting.Status, waiting.Error)
		}
		return waiting.Status == "Queued" && strings.Contains(waiting.StatusReason, "signing in")
	})

	// From the page now (the form is write-only), with the key the VM knows;
	// the old one is no longer accepted at all.
	s.Authorize(s.KeyPass)
	browser := env.Browser(t)
	_, page, _ := webtest.Do(t, browser, "GET", env.URL+"/computes/vm1", nil, nil)
	form := doc(t, page).Find(`[data-testid=secrets-form] form`)
	if form.Length() != 1 || form.Find(`input[value!=""][type=password]`).Length() != 0 || strings.TrimSpace(form.Find("textarea").Text()) != "" {
		t.Fatalf("secrets form: %d", form.Length())
	}
	status, _, _ := webtest.Do(t, browser, "POST", env.URL+"/computes/vm1/update-secrets", url.Values{"privateKey": {newKey}}, nil)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("form without the passphrase: %d", status)
	}
	status, _, _ = webtest.Do(t, browser, "POST", env.URL+"/computes/vm1/update-secrets", url.Values{"privateKey": {newKey}, "privateKeyPassphrase": {passphrase}}, nil)
	if status != http.StatusSeeOther {
		t.Fatalf("form: %d", status)
	}
	if got := waitStatus(t, env, run.RunID, 60*time.Second, "to end", terminal); got.Status != "Completed" {
		t.Fatalf("run after the rotation: %s %s", got.Status, got.Error)
	}
	if got := runOnVM(); got.Status != "Completed" {
		t.Fatalf("next run: %s %s", got.Status, got.Error)
	}

	// A data scientist sees no form; nobody sees a value.
	_, page, _ = webtest.Do(t, browser, "GET", env.URL+"/computes/vm1", nil, nil)
	dsReq, _ := http.NewRequest("GET", env.URL+"/computes/vm1", nil)
	dsReq.Header.Set("Authorization", "Bearer "+tokens[compute.RoleDataScientist])
	resp, err := http.DefaultClient.Do(dsReq)
	if err != nil {
		t.Fatal(err)
	}
	dsPage, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || doc(t, string(dsPage)).Find(`[data-testid=secrets-form]`).Length() != 0 {
		t.Fatalf("data scientist's page: %d, form shown: %v", resp.StatusCode, doc(t, string(dsPage)).Find(`[data-testid=secrets-form]`).Length())
	}
	keyBody := strings.Split(strings.TrimSpace(newKey), "\n")[1]
	for _, p := range []string{page, string(dsPage)} {
		if strings.Contains(p, keyBody) || strings.Contains(p, passphrase) {
			t.Fatal("a secret is in the details page")
		}
	}
	err = filepath.Walk(env.DataDir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if bytes.Contains(b, []byte(keyBody)) || bytes.Contains(b, []byte(passphrase)) {
			t.Errorf("a secret is in the clear in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// And the audit log has the rotations, without values.
	var audit strings.Builder
	_, ab, _ := webtest.Do(t, browser, "GET", env.URL+"/audit", nil, nil)
	audit.WriteString(ab)
	if !strings.Contains(audit.String(), "updateSecrets") || strings.Contains(audit.String(), passphrase) {
		t.Errorf("audit log: updateSecrets missing or a value shown")
	}
}
