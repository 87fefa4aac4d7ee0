package local

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
)

// TestWatchingTellsTheEnd: a job this backend started is watched while it
// runs and its end is told exactly once, after every rank's wrapper is gone
// (the status is final by then); a backend over the same folder that did not
// start the job (a server after a restart) does not watch it, so the
// dispatcher polls it.
func TestWatchingTellsTheEnd(t *testing.T) {
	for _, ranks := range []int{1, 3} {
		cfg := testConfig(t)
		b := New(cfg)
		ended := make(chan string, 4)
		b.NotifyJobEnded(func(runID string) { ended <- runID })
		// The job waits for a file the test makes, so it is surely running
		// while Watching is asked.
		work := t.TempDir()
		h := submit(t, b, localTarget(), compute.JobSpec{NodeCount: ranks, WorkDir: work,
			Argv: []string{"/bin/sh", "-c", `while [ ! -e go ]; do sleep 0.02; done`}})
		if !b.Watching(h) {
			t.Fatalf("%d ranks: Watching = false right after Submit", ranks)
		}
		if after := New(cfg); after.Watching(h) {
			t.Errorf("%d ranks: a backend that did not start the job watches it", ranks)
		}
		if err := os.WriteFile(filepath.Join(work, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var id string
		select {
		case id = <-ended:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d ranks: the end was not told", ranks)
		}
		if _, want := parseRunID(t, h); id != want {
			t.Errorf("%d ranks: told %q, want %q", ranks, id, want)
		}
		if b.Watching(h) {
			t.Errorf("%d ranks: still watched after its end was told", ranks)
		}
		st, err := b.Status(t.Context(), h)
		if err != nil || st.Phase != compute.JobCompleted {
			t.Errorf("%d ranks: status when told = %+v, %v; want Completed", ranks, st, err)
		}
		select {
		case again := <-ended:
			t.Errorf("%d ranks: the end was told twice (%q)", ranks, again)
		case <-time.After(100 * time.Millisecond):
		}
		computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
	}
}

func parseRunID(t *testing.T, h compute.Handle) (*job, string) {
	t.Helper()
	j, err := (&Backend{}).parseHandle(h)
	if err != nil {
		t.Fatal(err)
	}
	return j, j.runID
}
