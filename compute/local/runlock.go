package local

import "sync"

// runLocks holds one lock per run ID while a job of the built-in local
// target starts, so that Submit stays idempotent per run (a second Submit
// of the run waits, then finds the first one's job) without making every
// other run's start wait too.
//
// Why not Backend.mu: a start is a fork and an exec, a cgroup to make and
// enter (on cgroup v1 entering one waits for an RCU grace period) and a few
// files; under the one lock, a sweep's starts queued behind each other and
// the lock was held half of a no-op sweep's time (docs/BENCHMARKS.md).
// Targets with nodes or a workspace (clusters, instances) still start their
// jobs under Backend.mu: claiming nodes and starting must not interleave
// with a Deprovision cancelling the jobs on them.
type runLocks struct {
	mu    sync.Mutex
	locks map[string]*runLock
}

type runLock struct {
	sync.Mutex
	users int // holders and waiters; the entry goes when it reaches 0
}

// lock takes the lock of runID and returns its release.
func (l *runLocks) lock(runID string) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*runLock{}
	}
	rl := l.locks[runID]
	if rl == nil {
		rl = &runLock{}
		l.locks[runID] = rl
	}
	rl.users++
	l.mu.Unlock()

	rl.Lock()
	return func() {
		rl.Unlock()
		l.mu.Lock()
		if rl.users--; rl.users == 0 {
			delete(l.locks, runID)
		}
		l.mu.Unlock()
	}
}
