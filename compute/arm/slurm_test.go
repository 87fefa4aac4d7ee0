package arm

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func TestSetClusterInfo(t *testing.T) {
	at := time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)
	info := compute.ClusterInfo{
		Version:    "22.05.8",
		Partitions: []compute.Partition{{Name: "debug", State: "UP", Nodes: []string{"node1", "node2"}, TotalNodes: 2, TotalCPUs: 4, Default: true, MaxTime: "UNLIMITED"}},
		Nodes: []compute.Node{
			{ID: "node1", State: compute.NodeIdle, CPUs: 2, MemoryMB: 2000},
			{ID: "node2", State: compute.NodeUnusable, Reason: "Not responding", CPUs: 2, MemoryMB: 2000, GPUs: 1},
		},
		At: at,
	}
	tests := []struct {
		name   string
		target *compute.Target
		want   map[string]any // dotted path under properties.properties → value
		absent []string
	}{
		{
			name: "slurm",
			target: &compute.Target{Name: "hpc", Kind: compute.KindSlurm, ProvisioningState: compute.ProvisioningSucceeded,
				Attach: &compute.AttachSpec{RESTURL: "http://127.0.0.1:6820", SlurmUser: "root", SlurmPartition: "debug", SharedDir: "/shared"}},
			want: map[string]any{"version": "22.05.8", "partition": "debug", "sharedDir": "/shared", "restUrl": "http://127.0.0.1:6820",
				"checkedOn": "2026-11-27T16:00:00Z"},
		},
		{
			name:   "not slurm",
			target: &compute.Target{Name: "vm1", Kind: compute.KindVirtualMachine, Attach: &compute.AttachSpec{Address: "10.0.0.4", SSHPort: 22}},
			absent: []string{"version", "nodes", "partitions"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := FromTarget(tc.target, "")
			if err := SetClusterInfo(&c, info); err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				if got := get(t, data, "properties.properties."+path); got != want {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
			for _, path := range tc.absent {
				if got := get(t, data, "properties.properties."+path); got != nil {
					t.Errorf("%s = %v, want absent", path, got)
				}
			}
			if tc.target.Kind != compute.KindSlurm {
				return
			}
			inner, err := c.Properties.Inner()
			if err != nil {
				t.Fatal(err)
			}
			p := inner.(*SlurmProperties)
			if len(p.Nodes) != 2 || p.Nodes[1].NodeID != "node2" || p.Nodes[1].NodeState != "unusable" || p.Nodes[1].Reason != "Not responding" || p.Nodes[1].GPUs != 1 {
				t.Errorf("nodes = %+v", p.Nodes)
			}
			if len(p.Partitions) != 1 || !p.Partitions[0].Default || p.Partitions[0].TotalCPUs != 4 || strings.Join(p.Partitions[0].Nodes, ",") != "node1,node2" {
				t.Errorf("partitions = %+v", p.Partitions)
			}
		})
	}
}

func TestSlurmAttachBody(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		secrets map[string]string
		fields  []string
	}{
		{"JWT key only", `{"properties":{"computeType":"Slurm","properties":{"restUrl":"http://127.0.0.1:6820","user":"root","jwtKey":"` + testJWTKey + `","partition":"debug","sharedDir":"/srv/shared"}}}`,
			map[string]string{compute.SecretSlurmJWTKey: testJWTKey}, nil},
		{"token only", `{"properties":{"computeType":"Slurm","properties":{"restUrl":"http://127.0.0.1:6820","user":"root","token":" abc.def.ghi\n"}}}`,
			map[string]string{compute.SecretSlurmToken: "abc.def.ghi"}, nil},
		{"neither", `{"properties":{"computeType":"Slurm","properties":{"restUrl":"http://127.0.0.1:6820","user":"root"}}}`,
			nil, []string{compute.FieldToken}},
		{"relative shared dir and bad partition", `{"properties":{"computeType":"Slurm","properties":{"restUrl":"http://127.0.0.1:6820","user":"root","token":"t","partition":"a b","sharedDir":"shared"}}}`,
			nil, []string{compute.FieldPartition, compute.FieldSharedDir}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeCompute(strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req, err := ToCreateRequest("hpc", c)
			if len(tc.fields) > 0 {
				ve, ok := err.(*compute.ValidationError)
				if !ok {
					t.Fatalf("err = %v, want field errors %v", err, tc.fields)
				}
				for _, f := range tc.fields {
					if ve.For(f) == "" {
						t.Errorf("no error for %s in %v", f, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.secrets {
				if req.Secrets[k] != v {
					t.Errorf("secret %s = %q, want %q", k, req.Secrets[k], v)
				}
			}
			if tc.name == "JWT key only" && (req.Attach.SlurmPartition != "debug" || req.Attach.SharedDir != "/srv/shared") {
				t.Errorf("attach = %+v", req.Attach)
			}
		})
	}
}
