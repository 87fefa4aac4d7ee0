package store

import (
	"context"
	"database/sql"
	"sync/atomic"
)

// Version counts the writes the store has committed since it was opened. It
// moves forward after every statement or transaction on the writer returns,
// and when a change to a run's files (outputs, log, artifacts) is announced,
// so a copy of something read at version v is still current while Version
// is v: the server's page cache (web/pagecache) keys on it.
func (s *Store) Version() uint64 { return s.version.Load() }

// writeDB is the one writer connection. Its write methods advance the
// store's version once the statement (in autocommit) or the transaction
// (Store.write) is over, committed or not: a version that moves without a
// change only costs a cache a refill, while one that failed to move would
// let it serve data from before the change.
type writeDB struct {
	*sql.DB
	version *atomic.Uint64
}

func (w writeDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer w.version.Add(1)
	return w.DB.ExecContext(ctx, query, args...)
}

func (w writeDB) Exec(query string, args ...any) (sql.Result, error) {
	defer w.version.Add(1)
	return w.DB.Exec(query, args...)
}

// scanRow runs a write that returns a row (DELETE/UPDATE … RETURNING) and
// scans it. Such a statement commits when its row is read, so the version
// moves after the scan, not after the query starts.
func (w writeDB) scanRow(ctx context.Context, query string, args []any, dest ...any) error {
	defer w.version.Add(1)
	return w.DB.QueryRowContext(ctx, query, args...).Scan(dest...)
}
