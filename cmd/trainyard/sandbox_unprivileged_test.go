package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/web/webtest"
)

// unprivilegedUser is the account TestHostileRunUnderUnprivilegedServer
// runs the server as; the test creates it when it is missing.
const unprivilegedUser = "trainyard-test"

// TestHostileRunUnderUnprivilegedServer builds trainyard, starts
// `trainyard serve` as an unprivileged account (as a server not run as root
// would be), submits the hostile script through the CLI and checks that the
// run reached nothing: without root, bubblewrap's user namespace gives the
// run the same view (no data folder, no server process) as its own uid.
func TestHostileRunUnderUnprivilegedServer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create and become the unprivileged account")
	}
	for _, p := range []string{"bwrap", "setpriv", "useradd", "/usr/bin/python3"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed", p)
		}
	}
	u, err := user.Lookup(unprivilegedUser)
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
			"--shell", "/usr/sbin/nologin", unprivilegedUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
		if u, err = user.Lookup(unprivilegedUser); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// The binary and the data folder where the account can reach them
	// (t.TempDir is root's alone).
	top, err := os.MkdirTemp("", "trainyard-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(top, "trainyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	data := filepath.Join(top, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, uid, gid); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopback(t)
	serverURL := "http://" + addr

	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, "setpriv", "--reuid="+u.Uid, "--regid="+u.Gid, "--init-groups", "--",
		bin, "serve", "--addr", addr, "--data", data)
	srv.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent", "TRAINYARD_TOKEN=" + webtest.Token}
	// The server writes its log to a file (read while it runs, without a
	// race with the copier a strings.Builder would have).
	logFile, err := os.Create(filepath.Join(top, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	srv.Stdout, srv.Stderr = logFile, logFile
	serverLog := func() string {
		b, _ := os.ReadFile(logFile.Name())
		return string(b)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = srv.Wait() })
	webtest.WaitFor(t, 30*time.Second, "the unprivileged server to answer", func() bool {
		resp, err := http.Get(serverURL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})

	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hostile.py"), []byte(webtest.HostileScript), 0o644); err != nil {
		t.Fatal(err)
	}
	// Its targets: the server's data folder, a folder that is not there,
	// and the server's pid.
	res := runCLI(t, serverURL, "", "run", "submit-script", "-e", "hostile", "-d", src, "-o", "json",
		"hostile.py", data, filepath.Join(data, "runs", "none"), strconv.Itoa(srv.Process.Pid))
	id, _ := field(t, []byte(res.stdout), "runId").(string)
	if res.code != 0 || id == "" {
		t.Fatalf("submit: exit %d: %s%s\nserver log:\n%s", res.code, res.stdout, res.stderr, serverLog())
	}
	var out cliResult
	webtest.WaitFor(t, 60*time.Second, "the hostile run to end", func() bool {
		out = runCLI(t, serverURL, "", "run", "monitor-logs", "-r", id)
		return strings.Contains(out.stderr, "Completed") || strings.Contains(out.stderr, "Failed")
	})
	report, err := webtest.ParseHostileReport(out.stdout)
	if err != nil {
		t.Fatalf("%v\nstderr: %s\nserver log:\n%s", err, out.stderr, serverLog())
	}
	for what, saw := range report.Reached {
		t.Errorf("under an unprivileged server the run could %s: %s", what, saw)
	}
	for _, n := range report.Names {
		if !webtest.RunVariables[n] {
			t.Errorf("the run saw the server's variable %s", n)
		}
	}
	if !strings.Contains(serverLog(), "without CPU, memory and process limits") {
		t.Errorf("the server did not say that its runs are unbounded without cgroups:\n%s", serverLog())
	}
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the data folder handed over 0755 is %v (%v), want 0700", fi.Mode().Perm(), err)
	}
}
