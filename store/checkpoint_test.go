package store

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"
)

// TestCheckpointsRunInTheBackground: the writer does not checkpoint (its
// commits never wait for the fsyncs of one), yet what it commits reaches
// the database file soon after, without a Close: the checkpointer copies
// it there.
func TestCheckpointsRunInTheBackground(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	var auto int
	if err := s.writer.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Errorf("the writer checkpoints every %d pages itself; want 0 (the checkpointer's job)", auto)
	}
	size := func() int64 {
		fi, err := os.Stat(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	const rows, rowBytes = 40, 64 << 10
	for i := range rows {
		err := s.write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS checkpoint_test(b BLOB)`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO checkpoint_test(b) VALUES (zeroblob(?))`, rowBytes)
			return err
		})
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	want := before + rows*rowBytes/2
	deadline := time.Now().Add(60 * time.Second)
	for size() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes, want at least %d: the commits stayed in the WAL", size(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
