package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// sshClient is OpenSSH's client with a key of its own, talking to the
// server's SSH port.
type sshClient struct {
	key, port string
}

func newSSHClient(t *testing.T, env *webtest.Env) (sshClient, string) {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ssh is not installed; `make test` installs openssh-client")
		}
		t.Skip("ssh not installed (make openssh-client)")
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return sshClient{key: key, port: strconv.Itoa(env.App.SSHD.Addr().Port)}, strings.TrimSpace(string(pub))
}

// opts are the options every ssh, scp and sftp call shares: this key only,
// and a throwaway known_hosts.
func (c sshClient) opts(t *testing.T) []string {
	return []string{"-i", c.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=" + filepath.Join(t.TempDir(), "known_hosts"), "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR"}
}

func (c sshClient) run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	var argv []string
	switch name {
	case "ssh":
		argv = append(append([]string{"-p", c.port}, c.opts(t)...), args...)
	default: // scp, sftp take -P
		argv = append(append([]string{"-P", c.port}, c.opts(t)...), args...)
	}
	out, err := exec.Command(name, argv...).CombinedOutput()
	return string(out), err
}

// TestSSHToInstance: OpenSSH's client logs in to an instance with the key
// it was created with and lands in its sandbox and home; a command runs,
// scp copies a file there and back, sftp lists it; another key, an instance
// without SSH and a stopped instance are refused; stopping the instance
// ends a session that is open.
func TestSSHToInstance(t *testing.T) {
	env := webtest.New(t, webtest.Options{SSH: true})
	c, pub := newSSHClient(t, env)
	inst := env.RunningInstanceWith(t, "ci-ssh", "tid-1/oid-alice", func(in *compute.InstanceSpec) {
		in.SSHEnabled, in.SSHPublicKey = true, pub
	})
	env.RunningInstanceWith(t, "ci-nossh", "tid-1/oid-alice", func(in *compute.InstanceSpec) { in.SSHPublicKey = pub })
	home := inst.Instance.WorkDir

	out, err := c.run(t, "ssh", "ci-ssh@127.0.0.1", `echo "$((6*7)) $(pwd) $HOME"`)
	if err != nil || strings.TrimSpace(out) != "42 "+home+" "+home {
		t.Fatalf("ssh command: %v %q; want 42 and the home twice", err, out)
	}
	if out, err := c.run(t, "ssh", "-tt", "ci-ssh@127.0.0.1", "test -t 0 && stty size"); err != nil { // test -t 0 fails without a terminal
		t.Errorf("ssh -tt: %v %q; want a terminal", err, out)
	}
	if out, err := c.run(t, "ssh", "ci-ssh@127.0.0.1", "exit 5"); exitCode(err) != 5 {
		t.Errorf("ssh exit 5: %v %q; want the exit code passed on", err, out)
	}

	// The details page and the API say how to connect, exactly.
	want := "ssh -p " + c.port + " ci-ssh@127.0.0.1"
	alice := env.TokenFor(t, "tid-1/oid-alice", compute.RoleDataScientist)
	_, page, _ := webtest.Do(t, env.Client(), "GET", env.URL+"/computes/ci-ssh", nil, map[string]string{"Authorization": "Bearer " + alice})
	if !strings.Contains(page, `data-testid="ssh-command">`+want+`<`) || !strings.Contains(page, `href="vscode://vscode-remote/ssh-remote+ci-ssh@127.0.0.1:`+c.port+home+`"`) {
		t.Errorf("details page: no %q or VS Code link", want)
	}
	_, js, _ := webtest.Do(t, env.Client(), "GET", env.URL+"/api/v1/computes/ci-ssh", nil, map[string]string{"Authorization": "Bearer " + alice})
	if !strings.Contains(js, `"connectivityEndpoints":{"publicIpAddress":"127.0.0.1","privateIpAddress":"127.0.0.1","sshPort":`+c.port+`}`) {
		t.Errorf("API: no connectivityEndpoints with the SSH port: %s", js)
	}

	local := filepath.Join(t.TempDir(), "data.csv")
	if err := os.WriteFile(local, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := c.run(t, "scp", local, "ci-ssh@127.0.0.1:data.csv"); err != nil {
		t.Fatalf("scp up: %v %s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(home, "data.csv")); err != nil || string(got) != "a,b\n1,2\n" {
		t.Errorf("data.csv in the instance's home: %q, %v", got, err)
	}
	back := filepath.Join(t.TempDir(), "back.csv")
	if out, err := c.run(t, "scp", "ci-ssh@127.0.0.1:data.csv", back); err != nil {
		t.Fatalf("scp down: %v %s", err, out)
	}
	if got, _ := os.ReadFile(back); string(got) != "a,b\n1,2\n" {
		t.Errorf("scp back: %q", got)
	}
	batch := filepath.Join(t.TempDir(), "batch")
	_ = os.WriteFile(batch, []byte("ls -1\npwd\n"), 0o644)
	if out, err := c.run(t, "sftp", "-b", batch, "ci-ssh@127.0.0.1"); err != nil || !strings.Contains(out, "data.csv") || !strings.Contains(out, home) {
		t.Errorf("sftp: %v %q; want data.csv listed in %s", err, out, home)
	}
	// The sandbox: the server's data folder is not there.
	if out, _ := c.run(t, "ssh", "ci-ssh@127.0.0.1", "ls "+filepath.Join(env.DataDir, "trainyard.db")+" 2>&1; ls /etc/passwd"); strings.Contains(out, "trainyard.db\n") || !strings.Contains(out, "/etc/passwd") {
		t.Errorf("the server's database is visible over SSH: %q", out)
	}

	// Refused: another key, an instance without SSH access, a stopped instance.
	other, _ := newSSHClient(t, env)
	other.port = c.port
	if out, err := other.run(t, "ssh", "ci-ssh@127.0.0.1", "true"); exitCode(err) != 255 || !strings.Contains(out, "Permission denied") {
		t.Errorf("another key: %v %q; want Permission denied", err, out)
	}
	if out, err := c.run(t, "ssh", "ci-nossh@127.0.0.1", "true"); exitCode(err) != 255 {
		t.Errorf("an instance without SSH access: %v %q; want refused", err, out)
	}

	// An open session ends when the instance stops.
	cmd := exec.Command("ssh", append(append([]string{"-p", c.port}, c.opts(t)...), "ci-ssh@127.0.0.1", "sleep $((600+1))")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	waitProcess(t, "sleep 601", true) // the client's own command line says $((600+1))
	ctx := context.Background()
	if err := env.Local.Power(ctx, inst, compute.ActionStop); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the ssh session is still open after the instance stopped")
	}
	waitProcess(t, "sleep 601", false)
	if _, err := env.Store.UpdateTarget(ctx, "ci-ssh", func(tg *compute.Target) error {
		tg.Instance.State = compute.InstanceStopped
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := c.run(t, "ssh", "ci-ssh@127.0.0.1", "true"); err == nil || !strings.Contains(out, "is Stopped") {
		t.Errorf("ssh to the stopped instance: %v %q; want refused with why", err, out)
	}

	events, _, err := env.Store.ListAudit(ctx, store.AuditFilter{Query: "ssh"})
	if err != nil {
		t.Fatal(err)
	}
	var denied, ok int
	for _, e := range events {
		switch e.Outcome {
		case store.AuditDenied:
			denied++
		case store.AuditSucceeded:
			ok++
		}
	}
	if denied == 0 || ok == 0 {
		t.Errorf("audit: %d SSH logins recorded, %d refusals; want both", ok, denied)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}
