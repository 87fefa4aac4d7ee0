package local

import (
	"sync"

	"github.com/trainyard/trainyard/compute"
)

// watchTable knows the jobs whose wrappers this process started and still
// waits for (reap), so it can say when they end: the dispatcher then skips
// polling them (a poll scans /proc) and finalizes each the moment it ends.
// Jobs from before a restart are not children of this process and are not
// in it; they are polled.
type watchTable struct {
	mu      sync.Mutex
	live    map[string]int // run ID → ranks whose wrapper has not been reaped
	onEnded func(runID string)
}

func newWatchTable() *watchTable { return &watchTable{live: map[string]int{}} }

// add records a job started with ranks wrappers.
func (w *watchTable) add(runID string, ranks int) {
	w.mu.Lock()
	w.live[runID] = ranks
	w.mu.Unlock()
}

// rankEnded is told that one wrapper of the job was reaped; after the last
// one, the job is no longer watched and its end is told (outside the lock,
// so the callback may ask Watching).
func (w *watchTable) rankEnded(runID string) {
	w.mu.Lock()
	n, ok := w.live[runID]
	if ok && n > 1 {
		w.live[runID] = n - 1
		w.mu.Unlock()
		return
	}
	delete(w.live, runID)
	f := w.onEnded
	w.mu.Unlock()
	if ok && f != nil {
		f(runID)
	}
}

func (w *watchTable) watching(runID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.live[runID] > 0
}

// NotifyJobEnded sets the function told when a job this process started has
// ended (compute.JobWatcher).
func (b *Backend) NotifyJobEnded(f func(runID string)) {
	b.watch.mu.Lock()
	b.watch.onEnded = f
	b.watch.mu.Unlock()
}

// Watching reports whether this process waits for the job under h and will
// tell its end (compute.JobWatcher).
func (b *Backend) Watching(h compute.Handle) bool {
	j, err := b.parseHandle(h)
	if err != nil {
		return false
	}
	return b.watch.watching(j.runID)
}
