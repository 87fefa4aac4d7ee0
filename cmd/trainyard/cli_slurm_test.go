package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

func TestPrintSlurmDetails(t *testing.T) {
	slurmTarget := &compute.Target{Name: "hpc", Kind: compute.KindSlurm, ProvisioningState: compute.ProvisioningSucceeded,
		Attach: &compute.AttachSpec{RESTURL: "http://127.0.0.1:6820", SlurmUser: "root", SharedDir: "/srv/shared", Checked: true}}
	info := compute.ClusterInfo{Version: "22.05.8 (REST API v0.0.38)", At: time.Now(),
		Partitions: []compute.Partition{{Name: "debug", State: "UP", Nodes: []string{"node1", "node2"}, TotalNodes: 2, TotalCPUs: 4, Default: true, MaxTime: "UNLIMITED"}},
		Nodes: []compute.Node{{ID: "node1", State: compute.NodeIdle, CPUs: 2, MemoryMB: 2000},
			{ID: "node2", State: compute.NodeUnusable, CPUs: 2, MemoryMB: 2000, Reason: "Not responding"}}}
	tests := []struct {
		name   string
		target *compute.Target
		info   *compute.ClusterInfo
		want   []string
		empty  bool
	}{
		{"read", slurmTarget, &info, []string{
			"slurmrestd: http://127.0.0.1:6820 as root (Slurm 22.05.8 (REST API v0.0.38))",
			"Partition for runs: the cluster's default", "Shared directory: /srv/shared",
			"PARTITION  STATE  NODES  CPUS  MAX TIME   DEFAULT  NODE LIST", "debug      UP     2      4     UNLIMITED  yes      node1,node2",
			"NODE   STATE     CPUS  MEMORY MB  GPUS  RUN ID  REASON", "node2  unusable  2     2000       -     -       Not responding",
		}, false},
		{"not read yet", slurmTarget, nil, []string{"Nodes: not read yet."}, false},
		{"not Slurm", &compute.Target{Name: "vm", Kind: compute.KindVirtualMachine, Attach: &compute.AttachSpec{Address: "h", SSHPort: 22}}, &info, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := arm.FromTarget(tc.target, "")
			if tc.info != nil {
				if err := arm.SetClusterInfo(&c, *tc.info); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if err := printSlurmDetails(&buf, c); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if tc.empty != (out == "") {
				t.Fatalf("output %q", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
