package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/compute/sshvm/sshvmtest"
	"github.com/trainyard/trainyard/web/webtest"
)

// testToken is the login token of the servers the Slurm tests start with
// the real wiring (newApp); the other tests talk to web/webtest's server,
// whose login token is webtest.Token.
const testToken = "test-token-0123"

// server is the real application (web/webtest: store, backends,
// controller, router) as the CLI tests use it. The CLI talks to it through
// a recorder, a reverse proxy that passes every request and answer through
// unchanged and keeps what went by, so tests check what the CLI sent as
// well as what it printed of the real server's answers.
type server struct {
	env *webtest.Env
	// URL is the recorder's address: the CLI's TRAINYARD_URL.
	URL string

	mu       sync.Mutex
	requests []recorded
}

// recorded is one request as the recorder saw it, and the answer's status
// and headers.
type recorded struct {
	Method, Path, Query, Auth, IfNoneMatch, ContentType string
	Body                                                []byte
	Status                                              int
	Header                                              http.Header
}

// newServer starts the real application with opts behind a recorder.
func newServer(t *testing.T, opts webtest.Options) *server {
	t.Helper()
	s := &server{env: webtest.New(t, opts)}
	app, err := url.Parse(s.env.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(app)
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		req := recorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"),
			IfNoneMatch: r.Header.Get("If-None-Match"), ContentType: r.Header.Get("Content-Type"), Body: body}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(sw, r)
		req.Status, req.Header = sw.status, w.Header().Clone()
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
	}))
	t.Cleanup(rec.Close)
	s.URL = rec.URL
	return s
}

// statusWriter notes the status of an answer on its way to the CLI.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// last returns the last request the server got.
func (s *server) last(t *testing.T) recorded {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		t.Fatal("the CLI sent no request")
	}
	return s.requests[len(s.requests)-1]
}

// count is how many requests the server got.
func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// sent returns the requests with method whose path starts with prefix.
func (s *server) sent(method, prefix string) []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []recorded
	for _, r := range s.requests {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// reset forgets the requests seen so far.
func (s *server) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func testTime() time.Time { return time.Date(2026, 11, 27, 13, 39, 0, 0, time.UTC) }

// newComputeServer starts the real application with the compute targets
// the compute tests read, all created at testTime: the built-in local
// target, gpu-cluster (min 1, max 8) with a running and an idle node,
// ci-alice (a stopped instance) and broken-vm (an attached VM whose check
// failed). The controller and dispatcher are off, so nothing changes them
// (and what the CLI creates stays Creating).
func newComputeServer(t *testing.T) *server {
	t.Helper()
	s := newServer(t, webtest.Options{NoController: true, NoDispatcher: true})
	s.seedComputes(t)
	return s
}

func (s *server) seedComputes(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	st := s.env.Store
	if _, err := st.UpdateTarget(ctx, compute.LocalTargetName, func(tg *compute.Target) error {
		tg.CreatedAt = testTime()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tg := range []*compute.Target{
		{Name: "gpu-cluster", Kind: compute.KindCluster, ProvisioningState: compute.ProvisioningSucceeded, CreatedAt: testTime(),
			Cluster: &compute.ClusterSpec{VMSize: "Standard_NC6", VMPriority: compute.Dedicated, MaxNodes: 8, MinNodes: 1, IdleSecondsBeforeScaleDown: 120}},
		{Name: "ci-alice", Kind: compute.KindInstance, ProvisioningState: compute.ProvisioningSucceeded, CreatedAt: testTime(),
			Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceStopped}},
		{Name: "broken-vm", Kind: compute.KindVirtualMachine, ProvisioningState: compute.ProvisioningFailed, CreatedAt: testTime(),
			ProvisioningErrors: []string{"SSHConnectFailed: connection refused"}, Attach: &compute.AttachSpec{Address: "10.0.0.9", SSHPort: 22, UserName: "u"}},
	} {
		if err := st.CreateTarget(ctx, tg, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SaveNodes(ctx, "gpu-cluster", []compute.Node{
		{ID: "tvmps_0001_d", State: compute.NodeRunning, PrivateIP: "10.0.0.4", PublicIP: "20.1.2.3", Port: 50000, RunID: "run-42"},
		{ID: "tvmps_0002_d", State: compute.NodeIdle, PrivateIP: "10.0.0.5", Port: 50001},
	}); err != nil {
		t.Fatal(err)
	}
}

// cliResult is what one CLI run produced.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the program as main would, against the server at serverURL
// ("": none) with the test servers' login token, with stdin as given.
func runCLI(t *testing.T, serverURL, stdin string, args ...string) cliResult {
	t.Helper()
	env := map[string]string{"TRAINYARD_TOKEN": webtest.Token}
	if serverURL != "" {
		env["TRAINYARD_URL"] = serverURL
	}
	return runCLIEnv(t, env, stdin, args...)
}

func runCLIEnv(t *testing.T, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := runMain(ctx, args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return cliResult{stdout: out.String(), stderr: errb.String(), code: code}
}

// field reads a dotted path out of JSON ("a.b.0.c" indexes arrays).
func field(t *testing.T, data []byte, path string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := int(k[0] - '0')
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	secretPassword = "Pa55-word-never-printed"
	secretToken    = "dapi-token-never-printed"
	publicKey      = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIpublic user@host"
)

// secretKey is a real private key (the server parses the keys update-secrets
// gives it), and secretKeyMaterial a line of it that must never be printed.
var (
	secretKey         = newPrivateKey("")
	secretKeyMaterial = strings.Split(secretKey, "\n")[1]
)

// newPrivateKey makes an ed25519 private key in OpenSSH PEM form, encrypted
// with passphrase unless it is "".
func newPrivateKey(passphrase string) string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(block))
}

// TestRequests checks the request each verb sends: method, path, query,
// bearer token and the JSON body, and that secrets never reach the output.
func TestRequests(t *testing.T) {
	wait := attachWait
	attachWait = 0 // the controller is off, so nothing settles a target: the requests are what is tested
	t.Cleanup(func() { attachWait = wait })
	keyFile := writeFile(t, "id_rsa", secretKey)
	tokenFile := writeFile(t, "token", secretToken+"\n")
	jwtKey := append([]byte{0x00, 0xff, 0x10, 0x80}, "0123456789abcdef0123456789ab"...) // 32 bytes, binary, as jwt_hs256.key is
	jwtKeyFile := writeFile(t, "jwt_hs256.key", string(jwtKey))
	pubFile := writeFile(t, "id.pub", publicKey+"\n")

	tests := []struct {
		name        string
		args        []string
		stdin       string
		method      string
		path        string
		query       string
		want        map[string]any // JSON paths in the body
		absent      []string       // JSON paths that must not be in the body
		wantStdout  string
		ifNoneMatch bool
	}{
		{name: "create amlcompute, the seed's flags",
			args:   []string{"computetarget", "create", "amlcompute", "--name", "cpu-cluster", "--vm-size", "STANDARD_D2_V2", "--max-nodes", "4", "--vm-priority", "lowpriority"},
			method: "PUT", path: "/api/v1/computes/cpu-cluster", ifNoneMatch: true,
			want: map[string]any{
				"properties.computeType":                                          "AmlCompute",
				"properties.properties.vmSize":                                    "STANDARD_D2_V2",
				"properties.properties.vmPriority":                                "LowPriority",
				"properties.properties.scaleSettings.maxNodeCount":                4.0,
				"properties.properties.scaleSettings.minNodeCount":                0.0,
				"properties.properties.scaleSettings.nodeIdleTimeBeforeScaleDown": "PT120S",
			},
			absent:     []string{"identity", "properties.properties.userAccountCredentials", "location"},
			wantStdout: "cpu-cluster  AmlCompute  Creating  Standard_D2_v2"},
		{name: "create amlcompute, every flag, single-dash long names",
			args: []string{"compute", "create", "amlcompute", "-n", "cl2", "-vm-size", "Standard_DS3_v2", "--min-nodes=1", "--max-nodes", "6",
				"--idle-seconds-before-scaledown", "300", "--vm-priority", "Dedicated", "--admin-username", "azureuser", "--admin-user-password-file", "-",
				"--assign-identity", "[system]", "--description", "team cluster", "--location", "westeurope"},
			stdin:  secretPassword + "\n",
			method: "PUT", path: "/api/v1/computes/cl2", ifNoneMatch: true,
			want: map[string]any{
				"location":                                     "westeurope",
				"identity.type":                                "SystemAssigned",
				"properties.description":                       "team cluster",
				"properties.properties.vmPriority":             "Dedicated",
				"properties.properties.scaleSettings":          map[string]any{"maxNodeCount": 6.0, "minNodeCount": 1.0, "nodeIdleTimeBeforeScaleDown": "PT300S"},
				"properties.properties.userAccountCredentials": map[string]any{"adminUserName": "azureuser", "adminUserPassword": secretPassword},
			}},
		{name: "create amlcompute, user-assigned identity and key file",
			args: []string{"computetarget", "create", "amlcompute", "-n", "cl3", "--vm-size", "Standard_NC6", "--admin-username", "azureuser",
				"--admin-user-ssh-key", "@" + pubFile, "--assign-identity", "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/me"},
			method: "PUT", path: "/api/v1/computes/cl3", ifNoneMatch: true,
			want: map[string]any{
				"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{"/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/me": map[string]any{}}},
				"properties.properties.userAccountCredentials.adminUserSshPublicKey": publicKey,
			}},
		{name: "create computeinstance",
			args: []string{"computetarget", "create", "computeinstance", "--name", "ci-bob", "--vm-size", "Standard_DS3_v2", "--idle-shutdown-minutes", "30",
				"--ssh-public-access", "--ssh-key", publicKey, "-o", "json"},
			method: "PUT", path: "/api/v1/computes/ci-bob", ifNoneMatch: true,
			want: map[string]any{
				"properties.computeType":                                "ComputeInstance",
				"properties.properties.vmSize":                          "Standard_DS3_v2",
				"properties.properties.idleTimeBeforeShutdown":          "PT30M",
				"properties.properties.sshSettings":                     map[string]any{"sshPublicAccess": "Enabled", "adminPublicKey": publicKey},
				"properties.properties.personalComputeInstanceSettings": nil,
			},
			wantStdout: `"computeType": "ComputeInstance"`},
		{name: "create computeinstance for another user",
			args:   []string{"computetarget", "create", "computeinstance", "--name", "ci-carol", "--vm-size", "Standard_DS3_v2", "--assigned-user", "tid-1/oid-2"},
			method: "PUT", path: "/api/v1/computes/ci-carol", ifNoneMatch: true,
			want: map[string]any{
				"properties.properties.computeInstanceAuthorizationType":             "personal",
				"properties.properties.personalComputeInstanceSettings.assignedUser": map[string]any{"objectId": "oid-2", "tenantId": "tid-1"},
				"properties.properties.sshSettings.sshPublicAccess":                  "Disabled",
			},
			absent: []string{"properties.properties.idleTimeBeforeShutdown"}},
		{name: "attach remote with a private key",
			args: []string{"computetarget", "attach", "remote", "--name", "dsvm", "--address", "vm.example.com", "--ssh-port", "2222", "--username", "azureuser",
				"--private-key-file", keyFile, "--private-key-passphrase", secretPassword},
			method: "PUT", path: "/api/v1/computes/dsvm", ifNoneMatch: true,
			want: map[string]any{
				"properties.computeType":                     "VirtualMachine",
				"properties.properties.address":              "vm.example.com",
				"properties.properties.sshPort":              2222.0,
				"properties.properties.administratorAccount": map[string]any{"username": "azureuser", "privateKeyData": secretKey, "privateKeyPassphrase": secretPassword},
			},
			wantStdout: "dsvm  VirtualMachine  Creating"},
		{name: "attach remote with a password and a resource ID",
			args: []string{"computetarget", "attach", "remote", "-n", "dsvm2", "--address", "10.1.2.3", "--username", "u", "--password", secretPassword,
				"--resource-id", "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"},
			method: "PUT", path: "/api/v1/computes/dsvm2", ifNoneMatch: true,
			want: map[string]any{
				"properties.resourceId":                               "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
				"properties.properties.sshPort":                       22.0,
				"properties.properties.administratorAccount.password": secretPassword,
			}},
		{name: "attach hdinsight, password from stdin",
			args: []string{"computetarget", "attach", "hdinsight", "-n", "myhdi", "--resource-id",
				"/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.HDInsight/clusters/myhdi",
				"--username", "sshuser", "--password-file", "-"},
			stdin:  secretPassword + "\r\n",
			method: "PUT", path: "/api/v1/computes/myhdi", ifNoneMatch: true,
			want: map[string]any{
				"properties.computeType":                              "HDInsight",
				"properties.properties.administratorAccount.password": secretPassword,
				"properties.properties.sshPort":                       22.0,
			}},
		{name: "attach databricks",
			args:   []string{"computetarget", "attach", "databricks", "--name", "dbx", "--workspace-name", "ws", "--resource-group", "rg", "--access-token", secretToken},
			method: "PUT", path: "/api/v1/computes/dbx", ifNoneMatch: true,
			want: map[string]any{
				"properties.computeType":                      "Databricks",
				"properties.properties.workspaceName":         "ws",
				"properties.properties.resourceGroup":         "rg",
				"properties.properties.databricksAccessToken": secretToken,
			}},
		{name: "attach adla",
			args:   []string{"computetarget", "attach", "adla", "--name", "adla", "--account-name", "adlaacct", "--resource-group", "rg"},
			method: "PUT", path: "/api/v1/computes/adla", ifNoneMatch: true,
			want: map[string]any{"properties.computeType": "DataLakeAnalytics", "properties.properties.dataLakeStoreAccountName": "adlaacct", "properties.properties.resourceGroup": "rg"}},
		{name: "attach batch",
			args:   []string{"computetarget", "attach", "batch", "--name", "batch", "--account-name", "batchacct", "--resource-group", "rg"},
			method: "PUT", path: "/api/v1/computes/batch", ifNoneMatch: true,
			want: map[string]any{"properties.computeType": "AzureBatch", "properties.properties.accountName": "batchacct", "properties.properties.resourceGroup": "rg"}},
		{name: "attach slurm",
			args: []string{"computetarget", "attach", "slurm", "--name", "hpc", "--rest-url", "http://slurm-head:6820", "--user", "trainer",
				"--token-file", tokenFile, "--jwt-key-file", jwtKeyFile, "--partition", "gpu", "--shared-dir", "/shared/ty"},
			method: "PUT", path: "/api/v1/computes/hpc", ifNoneMatch: true,
			want: map[string]any{
				"properties.computeType":          "Slurm",
				"properties.properties.restUrl":   "http://slurm-head:6820",
				"properties.properties.user":      "trainer",
				"properties.properties.token":     secretToken,
				"properties.properties.jwtKey":    base64.StdEncoding.EncodeToString(jwtKey),
				"properties.properties.partition": "gpu",
				"properties.properties.sharedDir": "/shared/ty",
			}},
		{name: "attach slurm with the JWT key only",
			args: []string{"computetarget", "attach", "slurm", "--name", "hpc", "--rest-url", "http://slurm-head:6820", "--user", "trainer",
				"--jwt-key-file", "-"},
			stdin:  string(jwtKey),
			method: "PUT", path: "/api/v1/computes/hpc", ifNoneMatch: true,
			want:   map[string]any{"properties.properties.jwtKey": base64.StdEncoding.EncodeToString(jwtKey)},
			absent: []string{"properties.properties.token", "properties.properties.partition", "properties.properties.sharedDir"}},
		{name: "delete", args: []string{"computetarget", "delete", "-n", "gpu-cluster"},
			method: "DELETE", path: "/api/v1/computes/gpu-cluster", query: "underlyingResourceAction=Delete", wantStdout: "Deleting gpu-cluster."},
		{name: "delete --yes", args: []string{"computetarget", "delete", "--name", "gpu-cluster", "--yes"},
			method: "DELETE", path: "/api/v1/computes/gpu-cluster", query: "underlyingResourceAction=Delete"},
		{name: "detach", args: []string{"computetarget", "detach", "-n", "broken-vm"},
			method: "DELETE", path: "/api/v1/computes/broken-vm", query: "underlyingResourceAction=Detach", wantStdout: "Detaching broken-vm."},
		{name: "start", args: []string{"computetarget", "start", "-n", "ci-alice"}, method: "POST", path: "/api/v1/computes/ci-alice/start", wantStdout: "Starting ci-alice."},
		{name: "list-nodes", args: []string{"computetarget", "list-nodes", "-n", "gpu-cluster"}, method: "POST", path: "/api/v1/computes/gpu-cluster/listNodes"},
		{name: "attach remote with a pinned host key",
			args: []string{"computetarget", "attach", "remote", "--name", "dsvm3", "--address", "vm.example.com", "--username", "azureuser",
				"--password", "pw", "--host-key-fingerprint", "SHA256:abc"},
			method: "PUT", path: "/api/v1/computes/dsvm3", ifNoneMatch: true,
			want: map[string]any{"properties.properties.hostKeyFingerprint": "SHA256:abc"}},
		{name: "show", args: []string{"computetarget", "show", "-n", "gpu-cluster"}, method: "GET", path: "/api/v1/computes/gpu-cluster"},
		{name: "list", args: []string{"computetarget", "list"}, method: "GET", path: "/api/v1/computes"},
		{name: "name is escaped in the path", args: []string{"computetarget", "show", "-n", "a/b c"}, method: "GET", path: "/api/v1/computes/a%2Fb%20c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newComputeServer(t)
			res := runCLI(t, srv.URL, tc.stdin, tc.args...)
			got := srv.last(t)
			if got.Method != tc.method || got.Path != tc.path || got.Query != tc.query {
				t.Errorf("sent %s %s?%s, want %s %s?%s", got.Method, got.Path, got.Query, tc.method, tc.path, tc.query)
			}
			if got.Auth != "Bearer "+webtest.Token {
				t.Errorf("Authorization = %q", got.Auth)
			}
			if tc.ifNoneMatch && got.IfNoneMatch != "*" {
				t.Errorf("If-None-Match = %q, want *", got.IfNoneMatch)
			}
			if tc.name != "name is escaped in the path" && res.code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
			}
			if len(tc.want)+len(tc.absent) > 0 && got.ContentType != "application/json" {
				t.Errorf("Content-Type = %q", got.ContentType)
			}
			for path, want := range tc.want {
				if v := field(t, got.Body, path); !reflect.DeepEqual(v, want) {
					t.Errorf("body %s = %#v, want %#v\nbody: %s", path, v, want, got.Body)
				}
			}
			for _, path := range tc.absent {
				if v := field(t, got.Body, path); v != nil {
					t.Errorf("body has %s = %#v", path, v)
				}
			}
			if !strings.Contains(res.stdout, tc.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantStdout, res.stdout)
			}
			for _, secret := range []string{secretPassword, secretKeyMaterial, secretToken, webtest.Token} {
				if strings.Contains(res.stdout+res.stderr, secret) {
					t.Errorf("output shows the secret %q:\n%s%s", secret, res.stdout, res.stderr)
				}
			}
		})
	}
}

// TestApproveHostKey: approve-host-key sends the fingerprint, and the server
// pins it once the machine (a real sshd) presents exactly that key.
func TestApproveHostKey(t *testing.T) {
	sshd := sshvmtest.Start(t)
	srv := newComputeServer(t)
	if _, err := srv.env.Store.UpdateTarget(context.Background(), "broken-vm", func(tg *compute.Target) error {
		tg.Attach.Address, tg.Attach.SSHPort = sshd.Host, sshd.Port
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Another key than the machine's is refused.
	res := runCLI(t, srv.URL, "", "computetarget", "approve-host-key", "-n", "broken-vm", "--fingerprint", "SHA256:abc")
	if res.code != 1 || !strings.Contains(res.stderr, "not SHA256:abc") {
		t.Errorf("wrong key: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	fp := sshd.Fingerprint()
	res = runCLI(t, srv.URL, "", "computetarget", "approve-host-key", "-n", "broken-vm", "--fingerprint", fp)
	got := srv.last(t)
	if got.Method != "POST" || got.Path != "/api/v1/computes/broken-vm/approveHostKey" || got.Auth != "Bearer "+webtest.Token || got.ContentType != "application/json" {
		t.Errorf("sent %s %s (Authorization %q, Content-Type %q)", got.Method, got.Path, got.Auth, got.ContentType)
	}
	if v := field(t, got.Body, "fingerprint"); v != fp {
		t.Errorf("body fingerprint = %#v, want %s", v, fp)
	}
	if res.code != 0 || !strings.Contains(res.stdout, "Approved host key "+fp+" for broken-vm") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	if tg, err := srv.env.Store.GetTarget(context.Background(), "broken-vm"); err != nil || tg.Attach.HostKeyFingerprint != fp {
		t.Errorf("pinned: %v %+v", err, tg)
	}
}

// accruedHours is the part of the Cost line that depends on when the test
// ran.
var accruedHours = regexp.MustCompile(`; (no node hours recorded yet|\d+\.\d\d node hours since \S+; accrued \$\d+\.\d\d)`)

func TestOutput(t *testing.T) {
	srv := newComputeServer(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"list table, sorted, aligned", []string{"computetarget", "list"}, "" +
			"NAME         TYPE             STATE      VM SIZE          NODES  CREATED\n" +
			"broken-vm    VirtualMachine   Failed     -                -      2026-11-27T13:39:00Z\n" +
			"ci-alice     ComputeInstance  Stopped    Standard_DS3_v2  -      2026-11-27T13:39:00Z\n" +
			"gpu-cluster  AmlCompute       Succeeded  Standard_NC6     2/1/8  2026-11-27T13:39:00Z\n" +
			"local        Local            Succeeded  -                -      2026-11-27T13:39:00Z\n"},
		{"list --type", []string{"computetarget", "list", "--type", "amlcompute"}, "" +
			"NAME         TYPE        STATE      VM SIZE       NODES  CREATED\n" +
			"gpu-cluster  AmlCompute  Succeeded  Standard_NC6  2/1/8  2026-11-27T13:39:00Z\n"},
		{"list --type with no match", []string{"computetarget", "list", "-t", "slurm"}, "NAME  TYPE  STATE  VM SIZE  NODES  CREATED\n"},
		{"show table with provisioning errors", []string{"computetarget", "show", "-n", "broken-vm"}, "" +
			"NAME       TYPE            STATE   VM SIZE  NODES  CREATED\n" +
			"broken-vm  VirtualMachine  Failed  -        -      2026-11-27T13:39:00Z\n" +
			"\nProvisioning error SSHConnectFailed: SSHConnectFailed: connection refused\n" +
			"\nCost: $0.00 a node-hour (set by an Admin); <node hours>\n"},
		{"list-nodes table", []string{"computetarget", "list-nodes", "-n", "gpu-cluster"}, "" +
			"NODE ID       STATE    PRIVATE IP  PUBLIC IP  PORT   RUN ID\n" +
			"tvmps_0001_d  running  10.0.0.4    20.1.2.3   50000  run-42\n" +
			"tvmps_0002_d  idle     10.0.0.5    -          50001  -\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, srv.URL, "", tc.args...)
			// The node hours are counted from when the server first saw the
			// compute, a moment before: their figures vary, their form not.
			got := accruedHours.ReplaceAllString(res.stdout, "; <node hours>")
			if res.code != 0 || got != tc.want {
				t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", res.code, res.stdout, tc.want, res.stderr)
			}
		})
	}

	t.Run("list-nodes of a target without nodes", func(t *testing.T) {
		// Its own server: a cluster with no nodes yet (local lists this
		// machine's CPUs) would be a fifth compute in the lists above.
		srv := newComputeServer(t)
		if err := srv.env.Store.CreateTarget(context.Background(), &compute.Target{Name: "cpu-cluster", Kind: compute.KindCluster,
			ProvisioningState: compute.ProvisioningSucceeded, Cluster: &compute.ClusterSpec{VMSize: "Standard_DS3_v2", MaxNodes: 2}}, nil); err != nil {
			t.Fatal(err)
		}
		res := runCLI(t, srv.URL, "", "computetarget", "list-nodes", "-n", "cpu-cluster", "-o", "json")
		if want := "{\n  \"nodes\": []\n}\n"; res.code != 0 || res.stdout != want {
			t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", res.code, res.stdout, want, res.stderr)
		}
	})
	t.Run("list json", func(t *testing.T) {
		res := runCLI(t, srv.URL, "", "computetarget", "list", "-o", "json")
		if res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		var body struct {
			Value []arm.Compute `json:"value"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &body); err != nil || len(body.Value) != 4 {
			t.Fatalf("stdout is not {\"value\":[4 computes]}: %v\n%s", err, res.stdout)
		}
		if !strings.HasPrefix(res.stdout, "{\n  \"value\": [\n    {\n      \"id\": ") {
			t.Errorf("not pretty-printed:\n%.200s", res.stdout)
		}
	})
	t.Run("show json is the ARM resource", func(t *testing.T) {
		res := runCLI(t, srv.URL, "", "computetarget", "show", "--name", "gpu-cluster", "-o", "json")
		out := []byte(res.stdout)
		for path, want := range map[string]any{
			"id":                     arm.DefaultIDPrefix + "/gpu-cluster",
			"type":                   arm.ResourceType,
			"properties.computeType": "AmlCompute",
			"properties.properties.scaleSettings.maxNodeCount":    8.0,
			"properties.properties.nodeStateCounts.idleNodeCount": 1.0,
		} {
			if v := field(t, out, path); !reflect.DeepEqual(v, want) {
				t.Errorf("%s = %#v, want %#v", path, v, want)
			}
		}
	})
	t.Run("list follows nextLink", func(t *testing.T) {
		// The server answers 100 computes a page: 101 more than the four
		// make a second page.
		srv := newComputeServer(t)
		for i := range 101 {
			if err := srv.env.Store.CreateTarget(context.Background(), &compute.Target{Name: fmt.Sprintf("extra-%03d", i), Kind: compute.KindCluster,
				ProvisioningState: compute.ProvisioningSucceeded, Cluster: &compute.ClusterSpec{VMSize: "Standard_DS3_v2", MaxNodes: 1}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		res := runCLI(t, srv.URL, "", "computetarget", "list")
		if res.code != 0 || strings.Count(res.stdout, "\n") != 106 || !strings.Contains(res.stdout, "local ") || !strings.Contains(res.stdout, "extra-100 ") {
			t.Errorf("exit %d, stdout:\n%s%s", res.code, res.stdout, res.stderr)
		}
		if srv.count() != 2 {
			t.Errorf("%d requests, want 2 pages", srv.count())
		}
	})
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string // nil: the server and its login token
		args       []string
		wantCode   int
		wantStderr []string
		noRequest  bool
	}{
		{name: "invalid name", args: []string{"computetarget", "create", "amlcompute", "--name", "9_bad name!", "--vm-size", "STANDARD_D2_V2", "--max-nodes", "4"},
			wantCode: 1, wantStderr: []string{"trainyard: ValidationError: One field is not valid.\n", "\n  name: The name must start with a letter.\n"}},
		{name: "min over max", args: []string{"computetarget", "create", "amlcompute", "--name", "minmax", "--vm-size", "STANDARD_D2_V2", "--min-nodes", "5", "--max-nodes", "2"},
			wantCode: 1, wantStderr: []string{"trainyard: ValidationError:", "\n  minNodes: The minimum number of nodes (5) cannot be more than the maximum (2).\n"}},
		{name: "every broken field at once", args: []string{"computetarget", "create", "amlcompute", "--name", "x", "--vm-size", "", "--max-nodes", "0", "--idle-seconds-before-scaledown", "-5"},
			wantCode: 1, wantStderr: []string{"trainyard: ValidationError: 4 fields are not valid.\n", "\n  name: ", "\n  vmSize: Choose a virtual machine size.\n", "\n  maxNodes: ", "\n  idleSeconds: "}},
		{name: "already exists", args: []string{"computetarget", "create", "amlcompute", "--name", "gpu-cluster", "--vm-size", "Standard_NC6"},
			wantCode: 1, wantStderr: []string{"trainyard: AlreadyExists: name: Compute name 'gpu-cluster' is not available. Reason: AlreadyExists\n"}},
		{name: "not found", args: []string{"computetarget", "show", "-n", "nope"},
			wantCode: 1, wantStderr: []string{"trainyard: NotFound: name: Compute 'nope' was not found.\n"}},
		{name: "conflict on power", args: []string{"computetarget", "stop", "-n", "ci-alice"},
			wantCode: 1, wantStderr: []string{"trainyard: StopComputeInstanceOnlyAllowedInRunningState: "}},
		{name: "no token", env: map[string]string{}, args: []string{"computetarget", "list"},
			wantCode: 1, wantStderr: []string{"trainyard: AuthenticationRequired: Sign in first: send Authorization: Bearer <token> or open the login link.\n  hint: set TRAINYARD_TOKEN"}},
		{name: "wrong token", env: map[string]string{"TRAINYARD_TOKEN": "nope"}, args: []string{"computetarget", "list"},
			wantCode: 1, wantStderr: []string{"trainyard: InvalidAuthenticationToken: The bearer token is not valid.\n"}},
		{name: "server down", env: map[string]string{"TRAINYARD_URL": "http://127.0.0.1:1", "TRAINYARD_TOKEN": webtest.Token}, args: []string{"computetarget", "list"},
			wantCode: 1, wantStderr: []string{"trainyard: cannot reach the Trainyard server at http://127.0.0.1:1 (set TRAINYARD_URL): "}, noRequest: true},
		{name: "bad TRAINYARD_URL", env: map[string]string{"TRAINYARD_URL": "ftp://x"}, args: []string{"computetarget", "list"},
			wantCode: 1, wantStderr: []string{`trainyard: TRAINYARD_URL "ftp://x" is not an http:// or https:// URL`}, noRequest: true},
		{name: "missing --name", args: []string{"computetarget", "show"},
			wantCode: 2, wantStderr: []string{"trainyard: --name is required\nRun 'trainyard computetarget show --help' for usage.\n"}, noRequest: true},
		{name: "unknown flag", args: []string{"computetarget", "list", "--bogus"},
			wantCode: 2, wantStderr: []string{"trainyard: flag provided but not defined: -bogus\n"}, noRequest: true},
		{name: "bad int", args: []string{"computetarget", "create", "amlcompute", "-n", "abc", "--max-nodes", "four"},
			wantCode: 2, wantStderr: []string{`invalid value "four" for flag -max-nodes`}, noRequest: true},
		{name: "stray argument", args: []string{"computetarget", "show", "gpu-cluster"},
			wantCode: 2, wantStderr: []string{`trainyard: unexpected argument "gpu-cluster"`}, noRequest: true},
		{name: "bad output", args: []string{"computetarget", "list", "-o", "yaml"},
			wantCode: 2, wantStderr: []string{`trainyard: --output must be json or table, not "yaml"`}, noRequest: true},
		{name: "bad type", args: []string{"computetarget", "list", "--type", "aks"},
			wantCode: 2, wantStderr: []string{`trainyard: unknown --type "aks"`}, noRequest: true},
		{name: "bad priority", args: []string{"computetarget", "create", "amlcompute", "-n", "abc", "--vm-priority", "spot"},
			wantCode: 2, wantStderr: []string{`--vm-priority must be dedicated or lowpriority, not "spot"`}, noRequest: true},
		{name: "password and key", args: []string{"computetarget", "attach", "remote", "-n", "abc", "--password", secretPassword, "--private-key-file", "/nonexistent"},
			wantCode: 2, wantStderr: []string{"give a password or --private-key-file, not both"}, noRequest: true},
		{name: "password twice", args: []string{"computetarget", "attach", "remote", "-n", "abc", "--password", secretPassword, "--password-file", "/nonexistent"},
			wantCode: 2, wantStderr: []string{"give --password or --password-file, not both"}, noRequest: true},
		{name: "missing key file", args: []string{"computetarget", "attach", "remote", "-n", "abc", "--private-key-file", "/nonexistent/key"},
			wantCode: 1, wantStderr: []string{"trainyard: --private-key-file: open /nonexistent/key: no such file or directory\n"}, noRequest: true},
		{name: "slurm without token", args: []string{"computetarget", "attach", "slurm", "-n", "abc", "--rest-url", "http://x:6820", "--user", "u"},
			wantCode: 2, wantStderr: []string{"give --jwt-key-file or --token-file"}, noRequest: true},
		{name: "slurm key and token both from stdin", args: []string{"computetarget", "attach", "slurm", "-n", "abc", "--rest-url", "http://x:6820", "--user", "u",
			"--jwt-key-file", "-", "--token-file", "-"},
			wantCode: 2, wantStderr: []string{"only one of --jwt-key-file and --token-file can read stdin"}, noRequest: true},
		{name: "attach rejected by the server", args: []string{"computetarget", "attach", "databricks", "-n", "dbx", "--access-token", secretToken},
			wantCode: 1, wantStderr: []string{"trainyard: ValidationError: 2 fields are not valid.\n  workspace: ", "\n  resourceGroup: "}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: []string{`trainyard: unknown command "frobnicate"`}, noRequest: true},
		{name: "unknown verb", args: []string{"computetarget", "explode"}, wantCode: 2, wantStderr: []string{`unknown command "explode" for trainyard computetarget`}, noRequest: true},
		{name: "unknown create type", args: []string{"computetarget", "create", "aks"}, wantCode: 2, wantStderr: []string{`cannot create "aks"`}, noRequest: true},
		{name: "unknown attach type", args: []string{"computetarget", "attach", "kubernetes"}, wantCode: 2, wantStderr: []string{`cannot attach "kubernetes"`}, noRequest: true},
		{name: "no command", args: nil, wantCode: 2, wantStderr: []string{"Usage:", "trainyard: no command given\n"}, noRequest: true},
		{name: "no verb", args: []string{"computetarget"}, wantCode: 2, wantStderr: []string{"Commands:", "trainyard: computetarget needs a command\n"}, noRequest: true},
	}
	// No case changes the server: they share one.
	srv := newComputeServer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.reset()
			env := tc.env
			if env == nil {
				env = map[string]string{"TRAINYARD_TOKEN": webtest.Token}
			}
			if _, ok := env["TRAINYARD_URL"]; !ok {
				env["TRAINYARD_URL"] = srv.URL
			}
			res := runCLIEnv(t, env, "", tc.args...)
			if res.code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstderr: %s", res.code, tc.wantCode, res.stderr)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
				}
			}
			if res.stdout != "" {
				t.Errorf("stdout not empty on error:\n%s", res.stdout)
			}
			if strings.Contains(res.stderr, secretToken) || strings.Contains(res.stderr, secretPassword) {
				t.Errorf("stderr shows a secret:\n%s", res.stderr)
			}
			if tc.noRequest && srv.count() != 0 {
				t.Errorf("the CLI sent %d requests", srv.count())
			}
		})
	}
}

// TestNonJSONError checks errors from something that is not the API, e.g. a
// proxy. The real server always answers errors as JSON, so a tiny server
// stands in for what sits in front of it.
func TestNonJSONError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
	}))
	defer srv.Close()
	res := runCLI(t, srv.URL, "", "computetarget", "list")
	if res.code != 1 || res.stderr != "trainyard: HTTP 502: upstream connect error\n" {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<html><body>nope</body></html>")
	}))
	defer html.Close()
	if res := runCLI(t, html.URL, "", "computetarget", "show", "-n", "x"); res.stderr != "trainyard: HTTP 404: Not Found\n" {
		t.Errorf("stderr %q", res.stderr)
	}
}

// TestNextLinkElsewhere checks that the token is never sent to another
// server. The real server's nextLink is always a path on itself, so a tiny
// server stands in for a hostile or misconfigured one.
func TestNextLinkElsewhere(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the CLI followed nextLink to another server (Authorization %q)", r.Header.Get("Authorization"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"value": []any{}, "nextLink": other.URL + "/api/v1/computes?$skip=1"})
	}))
	defer srv.Close()
	res := runCLI(t, srv.URL, "", "computetarget", "list")
	if res.code != 1 || !strings.Contains(res.stderr, "points at another server") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "Usage:\n  trainyard serve"},
		{[]string{"--help"}, "Usage:\n  trainyard serve"},
		{[]string{"help", "computetarget"}, "Usage: trainyard computetarget <command>"},
		{[]string{"computetarget", "--help"}, "Usage: trainyard computetarget <command>"},
		{[]string{"compute", "-h"}, "Usage: trainyard computetarget <command>"},
		{[]string{"computetarget", "create", "--help"}, "Usage: trainyard computetarget create <type>"},
		{[]string{"computetarget", "attach", "--help"}, "Usage: trainyard computetarget attach <type>"},
		{[]string{"computetarget", "create", "amlcompute", "--help"}, "--idle-seconds-before-scaledown S"},
		{[]string{"computetarget", "create", "computeinstance", "-h"}, "--idle-shutdown-minutes MINUTES"},
		{[]string{"computetarget", "attach", "remote", "--help"}, "-k, --private-key-file FILE"},
		{[]string{"computetarget", "attach", "hdinsight", "--help"}, "--resource-id ID"},
		{[]string{"computetarget", "attach", "databricks", "--help"}, "-w, --workspace-name WS"},
		{[]string{"computetarget", "attach", "adla", "--help"}, "--account-name ACCOUNT"},
		{[]string{"computetarget", "attach", "batch", "--help"}, "Attach an Azure Batch account."},
		{[]string{"computetarget", "attach", "slurm", "--help"}, "--jwt-key-file FILE"},
		{[]string{"computetarget", "list", "--help"}, "-t, --type TYPE"},
		{[]string{"computetarget", "show", "-help"}, "-n, --name NAME"},
		{[]string{"computetarget", "delete", "--help"}, "-y, --yes"},
		{[]string{"computetarget", "detach", "--help"}, "left as it is"},
		{[]string{"computetarget", "start", "--help"}, "Start a stopped compute instance."},
		{[]string{"computetarget", "stop", "--help"}, "Stop a running compute instance."},
		{[]string{"computetarget", "restart", "--help"}, "Restart a running compute instance."},
		{[]string{"computetarget", "list-nodes", "--help"}, "List the nodes"},
		{[]string{"help", "computetarget", "attach", "databricks"}, "--access-token-file FILE"},
		// --help wins over missing or bad flags given before it.
		{[]string{"computetarget", "create", "amlcompute", "--vm-priority", "spot", "--help"}, "Usage: trainyard computetarget create amlcompute"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := runCLIEnv(t, map[string]string{}, "", tc.args...)
			if res.code != 0 || !strings.Contains(res.stdout, tc.want) || res.stderr != "" {
				t.Errorf("exit %d, stdout lacks %q or stderr not empty:\n%s\nstderr: %s", res.code, tc.want, res.stdout, res.stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	res := runCLIEnv(t, nil, "", "version")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "trainyard ") {
		t.Errorf("exit %d, stdout %q", res.code, res.stdout)
	}
}
