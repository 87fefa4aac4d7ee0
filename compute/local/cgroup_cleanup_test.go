package local

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
)

// TestEndedJobsLeaveNoCgroups: the cgroup of every rank is gone once its
// job has ended and been looked at, even when Status comes right after the
// end, before the kernel has released the group (a sweep's dispatcher is
// told of the end at once, and then never asks again). Before, groups that
// were still busy at that moment stayed for good.
func TestEndedJobsLeaveNoCgroups(t *testing.T) {
	b := limitedBackend(t, 0, 64)
	const jobs, ranks = 24, 2
	ended := make(chan string, jobs)
	b.NotifyJobEnded(func(runID string) { ended <- runID })
	handles := map[string]compute.Handle{}
	var ids []string
	for range jobs {
		h := submit(t, b, localTarget(), compute.JobSpec{NodeCount: ranks, Argv: []string{"/usr/bin/python3", "-c", "pass"}})
		j, err := b.parseHandle(h)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.runID)
		handles[j.runID] = h
	}
	// As the dispatcher does: the one Status is asked when the end is told.
	for range jobs {
		select {
		case id := <-ended:
			if st, err := b.Status(t.Context(), handles[id]); err != nil || st.Phase != compute.JobCompleted {
				t.Fatalf("status %+v, %v", st, err)
			}
		case <-time.After(60 * time.Second * computetest.Slack):
			t.Fatal("the end of a job was not told")
		}
	}
	left := func() []string {
		var out []string
		for _, id := range ids {
			for rank := range ranks {
				for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu"} {
					p := filepath.Join(dir, cgroupName(id, rank))
					if _, err := os.Stat(p); err == nil {
						out = append(out, p)
					}
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(cgroupRemoveFor * computetest.Slack)
	for l := left(); len(l) > 0; l = left() {
		if time.Now().After(deadline) {
			t.Fatalf("cgroups left behind: %v", l)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
