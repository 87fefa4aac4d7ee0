package local

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
)

// TestNothingOutlivesAnEndedJob: a job whose program leaves a process in
// the background has ended once the program has, and nothing of it is left
// running then: sandboxed, the kernel empties the job's pid namespace when
// bubblewrap ends (so Status needs no scan of /proc for leftovers);
// unsandboxed, Status kills what is left in the job's session.
func TestNothingOutlivesAnEndedJob(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  bool
	}{{"sandboxed", false}, {"unsandboxed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Sandbox.Off = tc.off
			b := New(cfg)
			if err := b.CheckSandbox(); err != nil && !tc.off {
				t.Skip(err)
			}
			// A duration no other process on the machine sleeps for.
			token := fmt.Sprintf("3000.%d", time.Now().UnixNano()%1_000_000_000)
			h := submit(t, b, localTarget(), compute.JobSpec{Argv: []string{"/bin/sh", "-c", "sleep " + token + " & exit 0"}})
			computetest.WaitPhase(t, b, h, compute.JobCompleted, 30*time.Second)
			deadline := time.Now().Add(10 * time.Second * computetest.Slack)
			for pid := sleeping(token); pid != 0; pid = sleeping(token) {
				if time.Now().After(deadline) {
					t.Fatalf("process %d (sleep %s) outlived its job", pid, token)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// sleeping returns the pid of a live process running `sleep token`, or 0.
func sleeping(token string) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	want := []byte("sleep\x00" + token + "\x00")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Equal(cmd, want) {
			if p, err := readProc(pid); err == nil && p.state != 'Z' {
				return pid
			}
		}
	}
	return 0
}
