package store

import (
	"context"
	"sync"
	"time"
)

// checkpointEvery is how often the checkpointer looks for new commits.
const checkpointEvery = 250 * time.Millisecond

// checkpointer copies the write-ahead log into the database file in the
// background.
//
// Why not SQLite's own automatic checkpoint: it runs inside the commit that
// takes the WAL past 1,000 pages, on the one writer connection, and it
// fsyncs the WAL and the database file. Every write in the server waits
// for the writer, so a checkpoint's fsyncs stalled them all; in a sweep of
// no-op runs they were the writer's most frequent wait after the disk's
// discards (docs/BENCHMARKS.md). The writer has automatic checkpoints off
// (dsn), and this goroutine runs a PASSIVE checkpoint on a reader
// connection after commits: PASSIVE never blocks the writer or readers,
// and the writer starts the log over once a checkpoint got to its end.
// Durability is what it was: with synchronous=NORMAL a commit is in the
// WAL (the page cache) when it returns, and a crash of the server loses
// none of it; the last connection to close checkpoints what is left.
type checkpointer struct {
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func (s *Store) startCheckpointer() *checkpointer {
	c := &checkpointer{stop: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		var done uint64 // the version the last checkpoint saw
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			v := s.version.Load()
			if v == done {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := s.reader.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
			cancel()
			if err != nil {
				s.log.Warn("checkpointing the write-ahead log", "err", err)
				continue
			}
			done = v
		}
	}()
	return c
}

func (c *checkpointer) close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}
