package store

import (
	"context"
	"sync"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

// TestConcurrentReadModifyWrite runs read-modify-write updates and reads from
// many goroutines: no update may be lost and none may fail with SQLITE_BUSY.
func TestConcurrentReadModifyWrite(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, clusterTarget("busy"), nil)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := s.UpdateTarget(ctx, "busy", func(t *compute.Target) error {
					t.Cluster.MaxNodes++
					return nil
				})
				errs <- err
				_, _, err = s.ListTargets(ctx, compute.TargetFilter{Limit: 5})
				errs <- err
			}
		})
	}
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := s.GetTarget(ctx, "busy")
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetTarget(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 + workers*each; got.Cluster.MaxNodes != want {
		t.Errorf("MaxNodes = %d, want %d (lost updates)", got.Cluster.MaxNodes, want)
	}
}
