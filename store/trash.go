package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// trashDir is the folder, in the data folder, of run folders removed but
// not deleted yet.
const trashDir = "trash"

// trash takes folders out of the way at once and deletes them in the
// background.
//
// Why not delete them at once: a run's working folder is removed on the
// run's way to its end status, and the next child of its sweep waits for
// that. Deleting files written moments before can make the deleting thread
// wait on the disk (ext4 mounted with online discard, as this project's
// machine is, discards the blocks of a file freed in the journal
// transaction that allocated them, synchronously, in the unlink). In a
// sweep of no-op runs that wait was the server's most frequent one
// (docs/BENCHMARKS.md). A rename into the trash frees no block and is one
// metadata change; the janitor deletes the trash's content, off the run's
// path. What a crash leaves in the trash is deleted when the store opens.
type trash struct {
	dir  string
	log  *slog.Logger
	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
	seq  atomic.Uint64
	once sync.Once
}

func newTrash(dataDir string, log *slog.Logger) (*trash, error) {
	t := &trash{dir: filepath.Join(dataDir, trashDir), log: log, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the trash folder: %w", err)
	}
	t.wg.Add(1)
	go t.janitor()
	t.wake() // what a crash left
	return t, nil
}

// put moves dir into the trash under name (and a suffix of its own). A dir
// that does not exist is no error; where a rename cannot move it (another
// file system), it is deleted here.
func (t *trash) put(dir, name string) error {
	dst := filepath.Join(t.dir, name+"."+strconv.FormatInt(time.Now().UnixNano(), 36)+"."+strconv.FormatUint(t.seq.Add(1), 36))
	err := os.Rename(dir, dst)
	switch {
	case err == nil:
		t.wake()
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, syscall.EXDEV):
		return os.RemoveAll(dir)
	}
	return fmt.Errorf("moving %s into the trash: %w", dir, err)
}

func (t *trash) wake() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// janitor empties the trash each time something is put in it, until close.
func (t *trash) janitor() {
	defer t.wg.Done()
	for {
		select {
		case <-t.stop:
			return
		case <-t.kick:
		}
		t.empty()
	}
}

// empty deletes everything in the trash.
func (t *trash) empty() {
	entries, err := os.ReadDir(t.dir)
	if err != nil {
		t.log.Warn("reading the trash folder", "dir", t.dir, "err", err)
		return
	}
	for _, e := range entries {
		select {
		case <-t.stop:
			return // the next Open finishes
		default:
		}
		if err := os.RemoveAll(filepath.Join(t.dir, e.Name())); err != nil {
			t.log.Warn("deleting a removed run folder", "path", filepath.Join(t.dir, e.Name()), "err", err)
		}
	}
}

// close stops the janitor; what is left in the trash is deleted at the
// next Open.
func (t *trash) close() {
	t.once.Do(func() { close(t.stop) })
	t.wg.Wait()
}
