package slurm

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestLogsPastTheEnd: an offset past the end of the log, up to 2^63-1,
// reads nothing instead of failing (most file systems refuse to seek
// there); inside the log it reads from there; a negative one is invalid.
func TestLogsPastTheEnd(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "output.log"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := encodeHandle(handleData{Job: "42", Target: "hpc", URL: "http://127.0.0.1:6820", User: "alice", Dir: dir, Run: "r1"})
	b := New(Config{Credentials: tokenOnly})
	for _, tc := range []struct {
		offset int64
		want   string
	}{{0, "hello\n"}, {2, "llo\n"}, {6, ""}, {7, ""}, {1 << 44, ""}, {math.MaxInt64, ""}} {
		rc, err := b.Logs(context.Background(), h, tc.offset)
		if err != nil {
			t.Errorf("Logs(%d): %v", tc.offset, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != tc.want {
			t.Errorf("Logs(%d) = %q, %v; want %q", tc.offset, got, err, tc.want)
		}
	}
	if _, err := b.Logs(context.Background(), h, -1); err == nil {
		t.Error("Logs(-1): no error")
	}
}
