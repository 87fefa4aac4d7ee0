package compute

import (
	"reflect"
	"testing"
)

func TestInstanceApps(t *testing.T) {
	inst := func(st InstanceState, ssh bool, key string) *Target {
		return &Target{Name: "ci-1", Kind: KindInstance, Instance: &InstanceSpec{State: st, SSHEnabled: ssh, SSHPublicKey: key, WorkDir: "/data/local/instances/ci-1"}}
	}
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHQ4 me@laptop"
	full := AppHost{Sessions: true, Jupyter: true, SSHHost: "ty.example.org", SSHPort: 2222}
	stopped := "The compute instance is Stopped; start it to use its applications."
	tests := []struct {
		name string
		t    *Target
		host AppHost
		want []App
	}{
		{"no sessions, no apps", inst(InstanceRunning, true, key), AppHost{Jupyter: true, SSHPort: 22}, nil},
		{"a cluster has none", &Target{Name: "cc", Kind: KindCluster, Cluster: &ClusterSpec{}}, full, nil},
		{"terminal only", inst(InstanceRunning, false, ""), AppHost{Sessions: true}, []App{{Name: AppTerminal, URL: "/computes/ci-1/terminal"}}},
		{"everything", inst(InstanceRunning, true, key), full, []App{
			{Name: AppJupyter, URL: "/computes/ci-1/apps/jupyter/tree"},
			{Name: AppVSCode, URL: "vscode://vscode-remote/ssh-remote+ci-1@ty.example.org:2222/data/local/instances/ci-1"},
			{Name: AppTerminal, URL: "/computes/ci-1/terminal"},
		}},
		{"SSH without a key: no VS Code", inst(InstanceRunning, true, ""), full, []App{
			{Name: AppJupyter, URL: "/computes/ci-1/apps/jupyter/tree"},
			{Name: AppTerminal, URL: "/computes/ci-1/terminal"},
		}},
		{"stopped: greyed out", inst(InstanceStopped, false, ""), AppHost{Sessions: true}, []App{{Name: AppTerminal, URL: "/computes/ci-1/terminal", Reason: stopped}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InstanceApps(tt.t, tt.host); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("InstanceApps = %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if e, ok := full.SSH(inst(InstanceRunning, true, key)); !ok || e.Command() != "ssh -p 2222 ci-1@ty.example.org" {
		t.Errorf("SSH command = %q, %v", e.Command(), ok)
	}
}
