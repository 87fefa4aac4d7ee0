package sshvm

import (
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

func TestParseFacts(t *testing.T) {
	out := "noise from .bashrc\nkernel=Linux\nos=Ubuntu 22.04.4 LTS\npython=/usr/bin/python3\npyversion=3.10.12\n" +
		"setsid=/usr/bin/setsid\nnproc=8\ndiskkb=1048576\ngpus=2\nhome=/home/azureuser\nshell=/bin/bash\n"
	f := parseFacts([]byte(out))
	want := Facts{Kernel: "Linux", OS: "Ubuntu 22.04.4 LTS", Python: "/usr/bin/python3", PythonVersion: "3.10.12",
		Setsid: "/usr/bin/setsid", Home: "/home/azureuser", Shell: "/bin/bash", CPUs: 8, FreeDiskKB: 1 << 20, GPUs: 2}
	if f != want {
		t.Errorf("parseFacts = %+v, want %+v", f, want)
	}
	msg := f.String()
	for _, s := range []string{"Ubuntu 22.04.4 LTS", "python3 3.10.12", "8 CPUs", "1.0 GiB free", "2 GPU(s)"} {
		if !strings.Contains(msg, s) {
			t.Errorf("String() = %q, want it to mention %q", msg, s)
		}
	}
	if g := parseFacts([]byte("gpus=none\n")); g.GPUs != -1 || !strings.Contains(g.String(), "no GPUs") || !strings.Contains(g.String(), "python3 not found") {
		t.Errorf("facts without GPUs and python: %+v %q", g, g.String())
	}
}

func TestPosixShell(t *testing.T) {
	for sh, want := range map[string]bool{"/bin/bash": true, "/usr/bin/zsh": true, "/bin/sh": true, "": true,
		"/usr/bin/fish": false, "/bin/tcsh": false, "/bin/csh": false} {
		if got := posixShell(sh); got != want {
			t.Errorf("posixShell(%q) = %v, want %v", sh, got, want)
		}
	}
}

func TestJudge(t *testing.T) {
	j := job{runID: "r"}
	cases := []struct {
		out   string
		phase compute.JobPhase
		code  int
		why   string
	}{
		{"alive\n", compute.JobRunning, 0, ""},
		{"stop cancel 17\nalive\n", compute.JobRunning, 0, ""},
		{"exit 0\n", compute.JobCompleted, 0, ""},
		{"exit 3\n", compute.JobFailed, 3, "exit code 3"},
		{"exit 143\nstop cancel 17\n", compute.JobCanceled, 143, "canceled"},
		{"exit 143\nstop timeout 1h30m 17\n", compute.JobFailed, 143, "exceeded the maximum run duration of 1h30m"},
		{"stop timeout 300ms 17\n", compute.JobFailed, -1, "exceeded the maximum run duration of 300ms"},
		{"", compute.JobFailed, -1, "without an exit status"},
	}
	for _, c := range cases {
		st, err := judge(j, []byte(c.out))
		if err != nil || st.Phase != c.phase || st.ExitCode != c.code || !strings.Contains(st.Reason, c.why) {
			t.Errorf("judge(%q) = %+v, %v; want %s, code %d, reason with %q", c.out, st, err, c.phase, c.code, c.why)
		}
	}
}

func TestCheckSpec(t *testing.T) {
	tgt := &compute.Target{Name: "vm", Attach: &compute.AttachSpec{Address: "h"}}
	bad := []compute.JobSpec{
		{RunID: "r"},
		{RunID: "../x", Argv: []string{"true"}},
		{RunID: "r", Argv: []string{"a\x00b"}},
		{RunID: "r", Argv: []string{"true"}, Env: map[string]string{"A-B": "x"}},
		{RunID: "r", Argv: []string{"true"}, Env: map[string]string{"A": "x\x00"}},
		{RunID: "r", Argv: []string{"true"}, NodeCount: 2},
		{RunID: "r", Argv: []string{"true"}, WorkDir: "relative"},
		{RunID: "r", Argv: []string{"A=B", "x"}},
		{RunID: "r", Argv: []string{"echo", strings.Repeat("x", 100<<10)}},
	}
	for _, s := range bad {
		if err := checkSpec(tgt, &s); err == nil {
			t.Errorf("checkSpec(%+v) accepted it", s)
		}
	}
	if err := checkSpec(tgt, &compute.JobSpec{RunID: "r", Argv: []string{"python3", "x.py"}, Env: map[string]string{"MLFLOW_RUN_ID": "x\ny"}}); err != nil {
		t.Errorf("a good spec: %v", err)
	}
}
