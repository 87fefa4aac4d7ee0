package local

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestReapStopsOtherRanksOnlyWhenARankFailed: a multi-node job is stopped
// when one rank's wrapper reports a failure or dies without a status, and is
// left alone when the rank completed, even if its status file is gone by
// the time the wrapper is reaped (the job's folder is being cleared: a stop
// marker written then kept the folder from being removed).
func TestReapStopsOtherRanksOnlyWhenARankFailed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wrapper string // what rank 0's wrapper does, in the job's folder
		stopped bool
	}{
		{"completed", `echo 0 >rank-0.exit`, false},
		{"failed", `echo 3 >rank-0.exit`, true},
		{"killed before its status", `kill -9 $$`, true},
		{"status cleared with the folder", `echo 0 >rank-0.exit; rm rank-0.exit`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(testConfig(t))
			dir := filepath.Join(b.jobsDir(), "reap-test")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", "-c", tc.wrapper)
			cmd.Dir = dir
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Start 0 matches no process: terminate has nothing to signal.
			j := &job{runID: "reap-test", dir: dir, ranks: []rankProc{{PID: cmd.Process.Pid}, {PID: cmd.Process.Pid}}}
			b.reap(j, 0, cmd)

			m, err := readStop(dir)
			switch {
			case tc.stopped && err != nil:
				t.Fatalf("no stop marker after rank 0 %s: %v", tc.name, err)
			case tc.stopped && (m.Reason != stopRankFailed || m.Rank != 0):
				t.Errorf("stop marker = %+v, want rank 0 failed", m)
			case !tc.stopped && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("stop marker %+v (err %v) after rank 0 %s, want none", m, err, tc.name)
			}
			if tmp, _ := filepath.Glob(filepath.Join(dir, stopFile+".*")); len(tmp) > 0 {
				t.Errorf("reap left %v in the job's folder", tmp)
			}
		})
	}
}
