package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// fakeClusters stands in for the node refresher.
type fakeClusters map[string]compute.ClusterInfo

func (f fakeClusters) Kick() {}

func (f fakeClusters) Info(name string) (compute.ClusterInfo, bool) {
	ci, ok := f[name]
	return ci, ok
}

// slurmKeyB64 is a 32-byte JWT key as the form and the API carry it.
const slurmKeyB64 = "c2x1cm0tand0LWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE="

func TestAttachSlurmForm(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/attach/slurm", nil, nil)
	d := doc(t, body)
	for _, name := range []string{"restUrl", "slurmUser", "partition", "sharedDir", "jwtKey", "token"} {
		if d.Find(`[name=`+name+`]`).Length() != 1 {
			t.Errorf("attach form has no %s field", name)
		}
	}
	base := url.Values{"step": {"0"}, "nav": {"create"}, "name": {"hpc"}, "restUrl": {"http://127.0.0.1:6820"}, "slurmUser": {"root"}}
	tests := []struct {
		name      string
		form      url.Values
		wantErrs  map[string]string // field → message part
		wantKept  []string          // values rendered back
		notInBody []string
	}{
		{"neither token nor key", clone(base, "sharedDir", "/srv/shared"),
			map[string]string{"token": "Enter a slurmrestd JWT token, or give the cluster's JWT key"}, []string{"/srv/shared"}, nil},
		{"relative shared dir, bad partition", clone(base, "sharedDir", "srv/shared", "partition", "a,b", "jwtKey", slurmKeyB64),
			map[string]string{"sharedDir": "must be an absolute path", "partition": `"a,b" is not a partition name`}, nil, []string{slurmKeyB64}},
		{"key not base64", clone(base, "jwtKey", "not base64!"),
			map[string]string{"jwtKey": "must be base64"}, nil, []string{"not base64!"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/attach/slurm", tc.form, nil)
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", status)
			}
			d := doc(t, body)
			for field, msg := range tc.wantErrs {
				if got := d.Find("#err-" + field).Text(); !strings.Contains(got, msg) {
					t.Errorf("error under %s = %q, want %q", field, got, msg)
				}
			}
			for _, v := range tc.wantKept {
				if !strings.Contains(body, v) {
					t.Errorf("%q was not kept in the form", v)
				}
			}
			for _, v := range tc.notInBody {
				if strings.Contains(body, v) {
					t.Errorf("secret %q rendered back", v)
				}
			}
		})
	}
	// The key with surrounding whitespace and line breaks (as pasted) is accepted.
	good := clone(base, "sharedDir", "/srv/shared/", "partition", "debug", "jwtKey", " "+slurmKeyB64[:20]+"\n"+slurmKeyB64[20:]+"\n")
	status, _, _ := webtest.Do(t, c, "POST", env.URL+"/computes/attach/slurm", good, nil)
	if status != http.StatusSeeOther {
		t.Fatalf("attach: status %d", status)
	}
	tg := waitState(t, env, "hpc", func(t *compute.Target) bool { return !t.ProvisioningState.Transitional() })
	if tg.Attach.SharedDir != "/srv/shared" || tg.Attach.SlurmPartition != "debug" || tg.Attach.SlurmUser != "root" {
		t.Errorf("attach spec %+v", tg.Attach)
	}
	if strings.Join(tg.SecretsSet, ",") != compute.SecretSlurmJWTKey {
		t.Errorf("secrets set %v, want only %s", tg.SecretsSet, compute.SecretSlurmJWTKey)
	}
	if v, err := env.Store.Secret(context.Background(), "hpc", compute.SecretSlurmJWTKey); err != nil || v != slurmKeyB64 {
		t.Errorf("stored key %q, %v", v, err)
	}
}

func TestSlurmClusterShown(t *testing.T) {
	info := compute.ClusterInfo{
		Version: "22.05.8",
		Partitions: []compute.Partition{
			{Name: "debug", State: "UP", Nodes: []string{"node1", "node2", "node3"}, TotalNodes: 3, TotalCPUs: 6, Default: true, MaxTime: "UNLIMITED"},
			{Name: "gpu", State: "DOWN", Nodes: []string{"gpu1"}, TotalNodes: 1, TotalCPUs: 8},
		},
		Nodes: []compute.Node{
			{ID: "node1", State: compute.NodeIdle, CPUs: 2, MemoryMB: 2000},
			{ID: "node2", State: compute.NodeRunning, CPUs: 2, MemoryMB: 2000, RunID: "exp_1_ab"},
			{ID: "node3", State: compute.NodeUnusable, Reason: "Not responding", CPUs: 2, MemoryMB: 2000},
		},
		At: time.Now(),
	}
	env := webtest.New(t, webtest.Options{Clusters: fakeClusters{"hpc": info}})
	ctx := context.Background()
	for _, name := range []string{"hpc", "hpc2"} {
		var out map[string]any
		apiJSON(t, env, "PUT", "/api/v1/computes/"+name, map[string]any{"properties": map[string]any{"computeType": "Slurm", "properties": map[string]any{
			"restUrl": "http://127.0.0.1:6820", "user": "root", "jwtKey": slurmKeyB64, "sharedDir": "/srv/shared", "partition": "gpu"}}}, http.StatusCreated, &out)
	}
	waitState(t, env, "hpc", func(t *compute.Target) bool { return !t.ProvisioningState.Transitional() })
	// hpc2 is not known to the refresher: its nodes come from the store.
	if err := env.Store.SaveNodes(ctx, "hpc2", info.Nodes[:1]); err != nil {
		t.Fatal(err)
	}

	type slurmJSON struct {
		Properties struct {
			Properties struct {
				Partition  string `json:"partition"`
				SharedDir  string `json:"sharedDir"`
				Version    string `json:"version"`
				JWTKey     string `json:"jwtKey"`
				Partitions []struct {
					Name      string `json:"name"`
					IsDefault bool   `json:"isDefault"`
				} `json:"partitions"`
				Nodes []struct {
					NodeID    string `json:"nodeId"`
					NodeState string `json:"nodeState"`
					Reason    string `json:"reason"`
				} `json:"nodes"`
			} `json:"properties"`
		} `json:"properties"`
	}
	tests := []struct {
		name                 string
		wantNodes            string
		wantVersion          string
		wantPartitions       int
		wantReasonOfLastNode string
	}{
		{"hpc", "node1:idle,node2:running,node3:unusable", "22.05.8", 2, "Not responding"},
		{"hpc2", "node1:idle", "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got slurmJSON
			raw := apiJSON(t, env, "GET", "/api/v1/computes/"+tc.name, nil, http.StatusOK, &got)
			p := got.Properties.Properties
			var nodes []string
			for _, n := range p.Nodes {
				nodes = append(nodes, n.NodeID+":"+n.NodeState)
			}
			if strings.Join(nodes, ",") != tc.wantNodes || p.Version != tc.wantVersion || len(p.Partitions) != tc.wantPartitions {
				t.Errorf("nodes %v version %q partitions %d: %s", nodes, p.Version, len(p.Partitions), raw)
			}
			if len(p.Nodes) > 0 && p.Nodes[len(p.Nodes)-1].Reason != tc.wantReasonOfLastNode {
				t.Errorf("reason %q", p.Nodes[len(p.Nodes)-1].Reason)
			}
			if p.Partition != "gpu" || p.SharedDir != "/srv/shared" || p.JWTKey != "" || strings.Contains(string(raw), slurmKeyB64) {
				t.Errorf("attach fields: %s", raw)
			}
		})
	}

	c := env.Browser(t)
	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/hpc", nil, nil)
	d := doc(t, body)
	rows := d.Find(`[data-testid=partitions] [data-testid=partition-row]`)
	if rows.Length() != 2 {
		t.Fatalf("partition rows: %d in %q", rows.Length(), d.Find(`[data-testid=partitions]`).Text())
	}
	first, second := rows.Eq(0), rows.Eq(1)
	if !strings.HasPrefix(strings.TrimSpace(first.Find(`[data-testid=partition-name]`).Text()), "debug") ||
		strings.TrimSpace(first.Find(`[data-testid=partition-default]`).Text()) != "Yes" ||
		strings.TrimSpace(first.Find(`[data-testid=partition-cpus]`).Text()) != "6" ||
		strings.TrimSpace(first.Find(`[data-testid=partition-nodes]`).Text()) != "3" {
		t.Errorf("first partition row: %q", first.Text())
	}
	if !strings.Contains(second.Find(`[data-testid=partition-name]`).Text(), "runs go here") ||
		strings.TrimSpace(second.Find(`[data-testid=partition-state]`).Text()) != "DOWN" {
		t.Errorf("second partition row: %q", second.Text())
	}
	if !strings.Contains(d.Find(`[data-testid=slurm-version]`).Text(), "22.05.8") {
		t.Errorf("version: %q", d.Find(`[data-testid=partitions]`).Text())
	}
	if strings.Contains(body, slurmKeyB64) {
		t.Error("the JWT key is on the details page")
	}
	// A Slurm target the refresher has not read yet says so.
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes/hpc2", nil, nil)
	if d := doc(t, body); d.Find(`[data-testid=partition-row]`).Length() != 0 || d.Find(`[data-testid=partitions]`).Length() != 1 {
		t.Errorf("hpc2 partitions section: %q", d.Find(`[data-testid=partitions]`).Text())
	}
	// Other kinds have no Partitions section.
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes/local", nil, nil)
	if doc(t, body).Find(`[data-testid=partitions]`).Length() != 0 {
		t.Error("the local target has a Partitions section")
	}
	// The Slurm tab counts the saved nodes.
	if err := env.Store.SaveNodes(ctx, "hpc", info.Nodes); err != nil {
		t.Fatal(err)
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes?tab=slurm", nil, nil)
	row := doc(t, body).Find(`tr[data-name=hpc]`)
	if txt := row.Text(); !strings.Contains(txt, "1 idle") || !strings.Contains(txt, "1 running") || !strings.Contains(txt, "1 unusable") {
		t.Errorf("Slurm tab row: %q", strings.Join(strings.Fields(txt), " "))
	}
}
