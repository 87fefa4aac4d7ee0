package orchestrate_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/compute/orchestrate"
)

// queueBackend is a backend whose jobs wait in a queue of their own (as
// Slurm's do): the test sets the state every job reports.
type queueBackend struct {
	mu      sync.Mutex
	state   compute.JobState
	specs   []compute.JobSpec
	cancels int
}

func (b *queueBackend) set(s compute.JobState) { b.mu.Lock(); b.state = s; b.mu.Unlock() }

func (b *queueBackend) Name() string                                       { return "queue" }
func (b *queueBackend) Provision(context.Context, *compute.Target) error   { return nil }
func (b *queueBackend) Deprovision(context.Context, *compute.Target) error { return nil }
func (b *queueBackend) Nodes(context.Context, *compute.Target) ([]compute.Node, error) {
	return nil, nil
}

func (b *queueBackend) Submit(_ context.Context, _ *compute.Target, job compute.JobSpec) (compute.Handle, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.specs = append(b.specs, job)
	return compute.Handle{Backend: "queue", ID: "job-" + job.RunID}, nil
}

func (b *queueBackend) Status(context.Context, compute.Handle) (compute.JobState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, nil
}

func (b *queueBackend) Logs(context.Context, compute.Handle, int64) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("hello from the queue\n")), nil
}

func (b *queueBackend) Cancel(context.Context, compute.Handle) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cancels++
	b.state = compute.JobState{Phase: compute.JobCanceled, Reason: "canceled on request"}
	return nil
}

// TestDispatchBackendQueue: a job the backend holds in its own queue after
// the submit shows its run Queued with the backend's reason and goes on when
// the job starts; a requeued job ("attempt N") sends a Running run back to
// Queued with that reason and the attempt; a cancel of a queued job reaches
// the backend; the run's node count is the job's.
func TestDispatchBackendQueue(t *testing.T) {
	const (
		resources = "Resources: waiting for nodes to be free"
		requeued  = "attempt 2: requeued by Slurm (preempted or a node failed), restarting from the beginning; BeginTime: waiting for its start time"
	)
	type step struct {
		set    compute.JobState
		cancel bool              // request the run's cancel
		want   compute.RunStatus // wait for this status
		reason string            // ... with this reason (part)
	}
	tests := []struct {
		name        string
		nodes       int
		steps       []step
		wantHistory []string // status[:reason part] in order, a subsequence of the history
		wantAttempt int
		wantCancels int
	}{
		{
			name:  "pending, then runs",
			nodes: 3,
			steps: []step{
				{set: compute.JobState{Phase: compute.JobQueued}, want: compute.RunStarting},
				{set: compute.JobState{Phase: compute.JobQueued, Reason: resources}, want: compute.RunQueued, reason: "Resources"},
				{set: compute.JobState{Phase: compute.JobRunning}, want: compute.RunRunning},
				{set: compute.JobState{Phase: compute.JobCompleted}, want: compute.RunCompleted},
			},
			wantHistory: []string{"Starting", "Queued:Resources", "Starting", "Running", "Finalizing", "Completed"},
			wantAttempt: 1,
		},
		{
			name:  "requeued after a node failure",
			nodes: 1,
			steps: []step{
				{set: compute.JobState{Phase: compute.JobRunning}, want: compute.RunRunning},
				{set: compute.JobState{Phase: compute.JobQueued, Reason: requeued, Attempt: 2}, want: compute.RunQueued, reason: "attempt 2"},
				{set: compute.JobState{Phase: compute.JobRunning, Reason: "attempt 2", Attempt: 2}, want: compute.RunRunning},
				{set: compute.JobState{Phase: compute.JobCompleted}, want: compute.RunCompleted},
			},
			wantHistory: []string{"Running", "Queued:attempt 2: requeued", "Starting", "Running", "Completed"},
			wantAttempt: 2,
		},
		{
			name:  "requeue seen only once it runs again",
			nodes: 1,
			steps: []step{
				{set: compute.JobState{Phase: compute.JobRunning}, want: compute.RunRunning},
				{set: compute.JobState{Phase: compute.JobRunning, Reason: "attempt 3", Attempt: 3}, want: compute.RunRunning, reason: "attempt 3"},
				{set: compute.JobState{Phase: compute.JobFailed, ExitCode: 1, Reason: "exit code 1"}, want: compute.RunFailed},
			},
			wantHistory: []string{"Running", "Queued:attempt 3", "Running", "Failed:exit code 1"},
			wantAttempt: 3,
		},
		{
			name:  "canceled while queued",
			nodes: 2,
			steps: []step{
				{set: compute.JobState{Phase: compute.JobQueued, Reason: resources}, want: compute.RunQueued, reason: "Resources"},
				{cancel: true, want: compute.RunCanceled},
			},
			wantHistory: []string{"Queued:Resources", "CancelRequested", "Canceled"},
			wantAttempt: 1,
			wantCancels: 1,
		},
		{
			name:  "ended while queued",
			nodes: 1,
			steps: []step{
				{set: compute.JobState{Phase: compute.JobQueued, Reason: "PartitionDown: the partition is down"}, want: compute.RunQueued, reason: "PartitionDown"},
				{set: compute.JobState{Phase: compute.JobCanceled, Reason: "canceled in Slurm (scancel or an administrator)"}, want: compute.RunCanceled, reason: "canceled in Slurm"},
			},
			wantHistory: []string{"Queued:PartitionDown", "Starting", "Finalizing", "Canceled:canceled in Slurm"},
			wantAttempt: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := t.TempDir()
			st := openStore(t, dir)
			t.Cleanup(func() { st.Close() })
			if err := st.CreateTarget(ctx, &compute.Target{Name: "hpc", Kind: compute.KindSlurm, ProvisioningState: compute.ProvisioningSucceeded,
				CreatedAt: time.Now(), Attach: &compute.AttachSpec{RESTURL: "http://slurm:6820", SlurmUser: "root", Checked: true}}, nil); err != nil {
				t.Fatal(err)
			}
			b := &queueBackend{state: tc.steps[0].set}
			d := orchestrate.NewDispatcher(orchestrate.DispatcherConfig{Runs: st, Targets: st, Interval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
				Backends: compute.MustRegistry(compute.Registration{Backend: b, Kinds: []compute.Kind{compute.KindSlurm}})})
			done := make(chan struct{})
			go func() { d.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			r := &compute.Run{ExperimentName: "queue", Target: "hpc", Script: "train.py", NodeCount: tc.nodes}
			if err := st.CreateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			var got *compute.Run
			for i, s := range tc.steps {
				if i > 0 && s.set.Phase != "" {
					b.set(s.set)
				}
				if s.cancel {
					if _, err := st.UpdateRun(ctx, r.ID, func(cur *compute.Run) error {
						cur.Status, cur.StatusReason = compute.RunCancelRequested, "canceled by test"
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				deadline := time.Now().Add(5 * time.Second * computetest.Slack)
				for {
					var err error
					if got, err = st.GetRun(ctx, r.ID); err != nil {
						t.Fatal(err)
					}
					if got.Status == s.want && strings.Contains(got.StatusReason, s.reason) && (s.want != compute.RunStarting || got.Handle.ID != "") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("step %d: run is %s (%q), want %s (%q); history %v", i, got.Status, got.StatusReason, s.want, s.reason, history(got))
					}
					time.Sleep(5 * time.Millisecond)
				}
				if s.want == compute.RunStarting {
					// A job that waits without a reason leaves the run Starting.
					time.Sleep(100 * time.Millisecond)
					if got, _ = st.GetRun(ctx, r.ID); got.Status != compute.RunStarting {
						t.Fatalf("a queued job without a reason made the run %s", got.Status)
					}
				}
			}
			h := history(got)
			j := 0
			for _, e := range h {
				if j < len(tc.wantHistory) && matchEvent(e, tc.wantHistory[j]) {
					j++
				}
			}
			if j < len(tc.wantHistory) {
				t.Errorf("history %q lacks %q (in this order)", h, tc.wantHistory[j:])
			}
			if got.Attempt != tc.wantAttempt {
				t.Errorf("attempt %d, want %d", got.Attempt, tc.wantAttempt)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if len(b.specs) != 1 || b.specs[0].NodeCount != tc.nodes {
				t.Errorf("submits %+v, want one with NodeCount %d", b.specs, tc.nodes)
			}
			if b.cancels != tc.wantCancels {
				t.Errorf("%d cancels reached the backend, want %d", b.cancels, tc.wantCancels)
			}
		})
	}
}

func history(r *compute.Run) []string {
	var out []string
	for _, e := range r.History {
		out = append(out, string(e.Status)+":"+e.Reason)
	}
	return out
}

// matchEvent matches "Status:reason" against "Status" or "Status:reason part".
func matchEvent(event, want string) bool {
	status, reason, _ := strings.Cut(event, ":")
	ws, wr, _ := strings.Cut(want, ":")
	return status == ws && strings.Contains(reason, wr)
}
