package store

import (
	"slices"
	"sync"

	"github.com/trainyard/trainyard/compute"
)

// snapshotFileCache keeps the file lists of snapshots recently
// materialised. A snapshot never changes (its ID is a hash of its files) and
// is never deleted, so a list read once stays true; the children of a sweep
// all materialise the same snapshot, and read its list once instead of once
// each (two queries per child).
type snapshotFileCache struct {
	mu    sync.Mutex
	files map[string][]compute.SnapshotFile
}

// snapshotCacheSize bounds the lists kept; when full, the cache starts over.
const snapshotCacheSize = 128

func (c *snapshotFileCache) get(id string) ([]compute.SnapshotFile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.files[id]
	return f, ok
}

func (c *snapshotFileCache) put(id string, files []compute.SnapshotFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil || len(c.files) >= snapshotCacheSize {
		c.files = map[string][]compute.SnapshotFile{}
	}
	c.files[id] = slices.Clip(files)
}
