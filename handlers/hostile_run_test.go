package handlers_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/trainyard/trainyard/web/webtest"
)

// TestHostileRunReachesNothing runs the hostile script as a real run on the
// local target, beside another run, and checks it reached nothing of the
// server, the other run or the system, saw only its own documented
// variables, and left the server's data as it was.
func TestHostileRunReachesNothing(t *testing.T) {
	needPython(t)
	env := webtest.New(t, webtest.Options{})
	secretBefore, err := os.ReadFile(filepath.Join(env.DataDir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	// The bystander: a run whose folder holds a file the hostile run wants.
	victimSnap := uploadFolder(t, env, map[string]string{"victim.py": "import time\nopen('marker.txt','w').write('private')\ntime.sleep(60)\n"})
	victim := submit(t, env, "hostile", victimSnap, "victim.py", nil, nil)
	waitStatus(t, env, victim.RunID, 60*time.Second, "to run", func(s string) bool { return s == "Running" })
	victimDir := filepath.Join(env.DataDir, "runs", victim.RunID, "work")
	webtest.WaitFor(t, 30*time.Second, "the victim's marker", func() bool {
		_, err := os.Stat(filepath.Join(victimDir, "marker.txt"))
		return err == nil
	})

	snap := uploadFolder(t, env, map[string]string{"hostile.py": webtest.HostileScript})
	run := submit(t, env, "hostile", snap, "hostile.py", []string{env.DataDir, victimDir, strconv.Itoa(os.Getpid())}, nil)
	got := waitStatus(t, env, run.RunID, 60*time.Second, "to end", terminal)
	log := readLog(t, env, run.RunID)
	if got.Status != "Completed" {
		t.Fatalf("the hostile run %s (%s); log:\n%s", got.Status, got.Error, log)
	}
	report, err := webtest.ParseHostileReport(log)
	if err != nil {
		t.Fatal(err)
	}
	for what, saw := range report.Reached {
		t.Errorf("the run could %s: %s", what, saw)
	}
	for _, n := range report.Names {
		if !webtest.RunVariables[n] {
			t.Errorf("the run saw the server's variable %s", n)
		}
	}
	if os.Geteuid() == 0 && report.UID == 0 {
		t.Error("the run ran as root")
	}
	if report.Home != report.Cwd {
		t.Errorf("HOME %q, want the run's own folder %q", report.Home, report.Cwd)
	}

	// The server, its other run and its data are untouched.
	if after, err := os.ReadFile(filepath.Join(env.DataDir, "secret.key")); err != nil || !bytes.Equal(after, secretBefore) {
		t.Errorf("secret.key changed: %v", err)
	}
	if _, err := os.Stat("/etc/trainyard-was-here"); err == nil {
		t.Error("the run wrote to /etc")
	}
	if r := getRun(t, env, victim.RunID); r.Status != "Running" {
		t.Errorf("the bystander run is %s", r.Status)
	}
	if data, err := os.ReadFile(filepath.Join(victimDir, "marker.txt")); err != nil || string(data) != "private" {
		t.Errorf("the bystander's file: %q, %v", data, err)
	}
	st, fi := os.Stat(env.DataDir)
	if fi != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the data folder is %v (%v), want 0700", st.Mode().Perm(), fi)
	}
}
