package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestUpdateScale: `computetarget update` sends only the flags given as
// Azure's scaleSettings and prints what the server read back, against a
// real Slurm cluster's partition of power-saving nodes attached with its
// slurm.conf.
func TestUpdateScale(t *testing.T) {
	t.Parallel()
	sc := slurmtest.Start(t, slurmtest.Options{Nodes: 1, CloudNodes: 2, SuspendTime: 40, PowerInclude: true})
	srv := newServer(t, webtest.Options{Slurm: true, NoDispatcher: true})
	// attach waits until the server has reached slurmrestd.
	res := runCLI(t, srv.URL, "", "computetarget", "attach", "slurm", "--name", "hpc", "--rest-url", sc.RESTURL, "--user", sc.User,
		"--jwt-key-file", sc.JWTKeyFile, "--partition", sc.CloudPartition, "--shared-dir", sc.SharedDir, "--slurm-conf", sc.Conf)
	if res.code != 0 {
		t.Fatalf("attach: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	// poweredUp waits until the details page counts n powered-up nodes.
	browser := srv.env.Browser(t)
	poweredUp := func(n string) {
		t.Helper()
		webtest.WaitFor(t, 60*time.Second, n+" node(s) powered up", func() bool {
			_, body, _ := webtest.Do(t, browser, "GET", srv.env.URL+"/computes/hpc", nil, nil)
			return strings.Contains(body, `data-testid="scale-counts">`+n+` powered up`)
		})
	}
	tests := []struct {
		name     string
		args     []string
		wantBody string
		wantOut  string
		before   func() // waits for the cluster to get there first
	}{
		{"all three", []string{"-n", "hpc", "--min-nodes", "1", "--max-nodes", "2", "--idle-seconds-before-scaledown", "120"},
			`{"scaleSettings":{"maxNodeCount":2,"minNodeCount":1,"nodeIdleTimeBeforeScaleDown":"PT120S"}}`,
			"Updated hpc: min nodes 1, max nodes 2 (of 2), idle before scale down PT120S.", nil},
		// min 1 powered a node up; it stays up for the 120 idle seconds.
		{"min 0 only", []string{"--name", "hpc", "--min-nodes", "0"}, `{"scaleSettings":{"minNodeCount":0}}`, "Nodes now: 1 powered up", func() { poweredUp("1") }},
		{"json", []string{"-n", "hpc", "--max-nodes", "1", "-o", "json"}, `{"scaleSettings":{"maxNodeCount":1}}`, `"poweredUpNodeCount":1`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			srv.reset()
			res := runCLI(t, srv.URL, "", append([]string{"computetarget", "update"}, tc.args...)...)
			sent := srv.sent(http.MethodPost, "/api/v1/computes/")
			if res.code != 0 || len(sent) != 1 || sent[0].Path != "/api/v1/computes/hpc/updateScaleSettings" || strings.TrimSpace(string(sent[0].Body)) != tc.wantBody {
				t.Fatalf("code %d %q; sent %+v", res.code, res.stderr, sent)
			}
			if !strings.Contains(res.stdout, tc.wantOut) {
				t.Errorf("stdout %q, want %q", res.stdout, tc.wantOut)
			}
		})
	}
}

// TestUpdateScaleRefused: flags that leave nothing to send send nothing,
// and the server's refusal of a target without power-saving nodes is the
// CLI's error.
func TestUpdateScaleRefused(t *testing.T) {
	srv := newComputeServer(t)
	tests := []struct {
		name     string
		args     []string
		wantBody string // "": no request
		wantErr  string
	}{
		{"nothing to change", []string{"-n", "hpc"}, "", "give --min-nodes, --max-nodes, --idle-seconds-before-scaledown or --price-per-node-hour"},
		{"no name", []string{"--min-nodes", "1"}, "", "--name is required"},
		{"not a Slurm partition", []string{"-n", "gpu-cluster", "--min-nodes", "1"}, `{"scaleSettings":{"minNodeCount":1}}`,
			"trainyard: OperationNotSupported: name: gpu-cluster is a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.reset()
			res := runCLI(t, srv.URL, "", append([]string{"computetarget", "update"}, tc.args...)...)
			if res.code == 0 || !strings.Contains(res.stderr, tc.wantErr) || res.stdout != "" {
				t.Fatalf("code %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
			}
			if tc.wantBody == "" {
				if srv.count() != 0 {
					t.Errorf("%d requests sent", srv.count())
				}
				return
			}
			if got := srv.last(t); got.Path != "/api/v1/computes/gpu-cluster/updateScaleSettings" || strings.TrimSpace(string(got.Body)) != tc.wantBody {
				t.Errorf("sent %s %s", got.Path, got.Body)
			}
		})
	}
}

// TestUpdatePrice: `computetarget update --price-per-node-hour` sets an
// attached VM's price (the login token is an Admin's) and `show` tells
// the cost, against a real server.
func TestUpdatePrice(t *testing.T) {
	srv := newServer(t, webtest.Options{NoController: true, NoDispatcher: true})
	if err := srv.env.Store.CreateTarget(context.Background(), &compute.Target{Name: "lab", Kind: compute.KindVirtualMachine,
		ProvisioningState: compute.ProvisioningSucceeded, Attach: &compute.AttachSpec{Address: "10.0.0.9", SSHPort: 22, UserName: "u", Checked: true}}, nil); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, srv.URL, "", "computetarget", "update", "-n", "lab", "--price-per-node-hour", "0.75")
	if res.code != 0 || !strings.Contains(res.stdout, "Updated lab: $0.75 a node-hour (set by an Admin)") {
		t.Fatalf("update: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if sent := srv.sent(http.MethodPost, "/api/v1/computes/"); len(sent) != 1 || sent[0].Path != "/api/v1/computes/lab/updateNodeHourPrice" ||
		strings.TrimSpace(string(sent[0].Body)) != `{"pricePerNodeHour":0.75}` {
		t.Errorf("sent %+v", sent)
	}
	res = runCLI(t, srv.URL, "", "computetarget", "show", "-n", "lab")
	if res.code != 0 || !strings.Contains(res.stdout, "Cost: $0.75 a node-hour (set by an Admin); ") || !strings.Contains(res.stdout, "node hours since") {
		t.Fatalf("show: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res := runCLI(t, srv.URL, "", "computetarget", "update", "-n", "lab", "--price-per-node-hour", "cheap"); res.code == 0 {
		t.Errorf("a price that is not a number was sent: %s", res.stdout)
	}
}
