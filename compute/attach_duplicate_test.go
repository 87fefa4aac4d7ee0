package compute_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

func TestDuplicateAttach(t *testing.T) {
	vm1 := &compute.Target{Name: "vm1", Kind: compute.KindVirtualMachine, ProvisioningState: compute.ProvisioningSucceeded,
		Attach:     &compute.AttachSpec{Address: "127.0.0.1", SSHPort: 2222, UserName: "sshtest", HostKeyFingerprint: "SHA256:abc"},
		SecretsSet: []string{compute.SecretPrivateKey}}
	pw := &compute.Target{Name: "pwvm", Kind: compute.KindVirtualMachine, ProvisioningState: compute.ProvisioningSucceeded,
		Attach:     &compute.AttachSpec{Address: "Build.Example.com", SSHPort: 22, UserName: "ci"},
		SecretsSet: []string{compute.SecretPassword}}
	gone := &compute.Target{Name: "gone", Kind: compute.KindVirtualMachine, ProvisioningState: compute.ProvisioningDeleting,
		Attach:     &compute.AttachSpec{Address: "10.0.0.9", SSHPort: 22, UserName: "u"},
		SecretsSet: []string{compute.SecretPassword}}
	existing := []*compute.Target{vm1, pw, gone}
	key := map[string]string{compute.SecretPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----"}
	pass := map[string]string{compute.SecretPassword: "pw"}
	req := func(kind compute.Kind, addr string, port int, user, fp string, secrets map[string]string) *compute.CreateRequest {
		return &compute.CreateRequest{Name: "new", Kind: kind, Secrets: secrets,
			Attach: &compute.AttachSpec{Address: addr, SSHPort: port, UserName: user, HostKeyFingerprint: fp}}
	}
	tests := []struct {
		name string
		req  *compute.CreateRequest
		want string // "" = allowed
	}{
		{"same address, user and key", req(compute.KindVirtualMachine, "127.0.0.1", 2222, "sshtest", "", key),
			"vm1 already attaches sshtest@127.0.0.1:2222 with a key; detach it first or use it"},
		{"same machine with a password (acceptance's vm2)", req(compute.KindVirtualMachine, "127.0.0.1", 2222, "sshtest", "SHA256:abc", pass), ""},
		{"same machine, another user", req(compute.KindVirtualMachine, "127.0.0.1", 2222, "root", "", key), ""},
		{"same host, another port", req(compute.KindVirtualMachine, "127.0.0.1", 2223, "sshtest", "", key), ""},
		{"another address, same host key", req(compute.KindVirtualMachine, "10.200.0.2", 22, "sshtest", "SHA256:abc=", key),
			"vm1 already attaches sshtest@127.0.0.1:2222 with a key"},
		{"host name case and default port", req(compute.KindVirtualMachine, "build.example.com", 0, "ci", "", pass),
			"pwvm already attaches ci@build.example.com:22 with a password"},
		{"HDInsight head node attached as a VM already", req(compute.KindHDInsight, "build.example.com", 22, "ci", "", pass), "pwvm already attaches"},
		{"a target being detached does not count", req(compute.KindVirtualMachine, "10.0.0.9", 22, "u", "", pass), ""},
		{"other kinds are not checked", &compute.CreateRequest{Name: "dbx", Kind: compute.KindDatabricks, Attach: &compute.AttachSpec{Workspace: "w"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := compute.DuplicateAttach(existing, tc.req)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			case tc.want != "" && !isConflict(err):
				t.Fatalf("%v is not an AlreadyAttached conflict", err)
			}
		})
	}
}

func isConflict(err error) bool {
	var c *compute.CodedError
	return errors.As(err, &c) && c.Kind == compute.ErrConflict && c.Code == "AlreadyAttached"
}
