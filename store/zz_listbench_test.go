package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func BenchmarkTmpList(b *testing.B) {
	s := MustOpen(b)
	ctx := context.Background()
	start := time.Now().Add(-100000 * time.Second)
	for i := 0; i < 100000; i += 5000 {
		var runs []*compute.Run
		for j := i; j < i+5000; j++ {
			runs = append(runs, &compute.Run{ID: fmt.Sprintf("e%d_%d", j%20, j), ExperimentName: fmt.Sprintf("e%d", j%20), Status: compute.RunCompleted,
				Target: fmt.Sprintf("t%d", j%4), SubmittedBy: fmt.Sprintf("u%d", j%5), Script: "train.py", Arguments: []string{"--lr", "0.1"}, CreatedAt: start.Add(time.Duration(j) * time.Second)})
		}
		if err := s.CreateRuns(ctx, runs); err != nil {
			b.Fatal(err)
		}
	}
	for j := 99500; j < 100000; j++ {
		if err := s.LogBatch(ctx, fmt.Sprintf("e%d_%d", j%20, j), []compute.Metric{{Key: "acc", Value: 1, Time: time.Now()}, {Key: "loss", Value: 1, Time: time.Now()}}, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for _, c := range []struct {
		name string
		f    compute.RunFilter
	}{
		{"first", compute.RunFilter{}},
		{"skip50k", compute.RunFilter{Offset: 50000}},
		{"after50k", compute.RunFilter{After: 50000}},
		{"target+sub", compute.RunFilter{Target: "t2", SubmittedBy: "u2"}},
		{"since1h", compute.RunFilter{Since: time.Now().Add(-time.Hour)}},
		{"exp-skip10k", compute.RunFilter{Experiment: "e7", Offset: 4000}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.ListRuns(ctx, c.f); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
