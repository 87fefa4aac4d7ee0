package sshvm

import (
	"context"
	"io"
	"math"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// TestLogsPastTheEnd: an offset past the end of a job's log on the VM, up
// to 2^63-1, reads nothing; inside the log it reads from there.
func TestLogsPastTheEnd(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	ctx := context.Background()
	h, err := b.Submit(ctx, e.keyTarget("vm-offsets"), compute.JobSpec{RunID: "offsets-" + randomHex(t), WorkDir: t.TempDir(),
		Argv: []string{"/bin/sh", "-c", "echo hello"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := b.Status(ctx, h)
		if err == nil && st.Phase == compute.JobCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not complete: %+v %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tc := range []struct {
		offset int64
		want   string
	}{{0, "hello\n"}, {2, "llo\n"}, {6, ""}, {7, ""}, {1 << 44, ""}, {math.MaxInt64, ""}} {
		rc, err := b.Logs(ctx, h, tc.offset)
		if err != nil {
			t.Errorf("Logs(%d): %v", tc.offset, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != tc.want {
			t.Errorf("Logs(%d) = %q, %v; want %q", tc.offset, got, err, tc.want)
		}
	}
}
