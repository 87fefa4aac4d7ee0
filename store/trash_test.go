package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// trashEmpty waits until the store's trash folder is empty; a janitor that
// never deletes fails the test.
func trashEmpty(t *testing.T, dataDir string) {
	t.Helper()
	dir := filepath.Join(dataDir, trashDir)
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trash still holds %d entries (first %s)", len(entries), entries[0].Name())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRemoveRunWorkDir: the working folder is gone from the run's folder
// when the call returns, the run's collected files stay, and the removed
// folder is deleted from the disk by the janitor, not kept in the trash.
func TestRemoveRunWorkDir(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	const id = "trash-run_1"
	work := s.RunWorkDir(id)
	if err := os.MkdirAll(filepath.Join(work, "outputs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "outputs", "model.bin"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRunLog(ctx, id, strings.NewReader("done\n")); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second removal (a finalize done again) is no error
		if err := s.RemoveRunWorkDir(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(work); !os.IsNotExist(err) {
			t.Fatalf("the working folder is still there: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.RunDir(id), "user_logs", "std_log.txt")); err != nil {
		t.Errorf("the run's log went with its working folder: %v", err)
	}
	trashEmpty(t, filepath.Dir(s.Path()))
	if err := s.RemoveRunWorkDir(ctx, "../escape"); err == nil {
		t.Error("a run ID with a path in it was accepted")
	}
}

// TestTrashLeftByACrashIsDeletedAtOpen: what a server killed mid-delete
// left in the trash is deleted when the store opens again.
func TestTrashLeftByACrashIsDeletedAtOpen(t *testing.T) {
	dir := t.TempDir()
	left := filepath.Join(dir, trashDir, "run_7.x.1")
	if err := os.MkdirAll(filepath.Join(left, "deep", "er"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "deep", "er", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustOpenDir(t, dir, nil)
	trashEmpty(t, dir)
}
