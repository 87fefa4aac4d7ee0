// Package store keeps Trainyard's state in its data directory. One SQLite
// file (DBFile) holds compute targets, their nodes, node history and sealed
// secrets; experiments, runs (events, params, tags, metrics, tracking
// tokens) and snapshot manifests; users, browser sessions, login
// transactions, personal access tokens and the audit log. File contents
// live beside it: snapshot files as blobs named by their SHA-256 (blobs.go)
// and each run's working folder, logs, outputs and artifacts (artifacts.go).
// It speaks the error vocabulary of package compute (ErrNotFound,
// ErrConflict, …) so handlers can map errors to HTTP statuses without
// knowing SQL.
//
// Concurrency: a Store is safe for use by many goroutines. Writes go through a
// single connection (SQLite allows one writer; see docs/design/toolchain.md §5), reads
// through a small pool that never blocks on the writer (WAL mode).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DBFile is the name of the database file inside the data directory.
const DBFile = "trainyard.db"

// readerConns is the size of the read pool.
const readerConns = 4

// Options configures Open.
type Options struct {
	// Keyring seals and opens target secrets. When nil, Open loads it with
	// LoadKeyring(dataDir, os.Getenv).
	Keyring *Keyring
	// Logger receives start-up and maintenance messages; nil discards them.
	Logger *slog.Logger
}

// Store is Trainyard's persistent state. Create it with Open and release it
// with Close.
type Store struct {
	// Now returns the current time; tests replace it to control time. It is
	// read on every call, so set it before the Store is shared.
	Now func() time.Time

	path    string
	writer  writeDB // one connection: every write and read-modify-write
	reader  *sql.DB // readerConns connections, query_only
	keys    *Keyring
	log     *slog.Logger
	feed    changeFeed    // committed changes, for live pages (Subscribe)
	version atomic.Uint64 // writes committed since Open (Version)
	// snapFiles are the file lists of snapshots materialised lately.
	snapFiles snapshotFileCache
	// trash deletes removed run folders in the background (trash.go).
	trash *trash
	// checkpoints copies the WAL into the database file (checkpoint.go).
	checkpoints *checkpointer
}

// Open opens (creating if needed) <dataDir>/trainyard.db, applies pending
// migrations and returns the Store.
func Open(ctx context.Context, dataDir string, opts Options) (*Store, error) {
	if dataDir == "" {
		return nil, errors.New("store: open: empty data directory")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	keys := opts.Keyring
	if keys == nil {
		var err error
		if keys, err = LoadKeyring(dataDir, os.Getenv); err != nil {
			return nil, fmt.Errorf("store: open: %w", err)
		}
	}
	path, err := filepath.Abs(filepath.Join(dataDir, DBFile))
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	// SQLite creates the file with 0644 (less umask); it holds session hashes
	// and sealed secrets, so create it owner-only first. The -wal and -shm
	// files inherit the database file's permissions.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	} else if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}

	s := &Store{Now: time.Now, path: path, keys: keys, log: log}
	s.writer.version = &s.version
	if s.writer.DB, err = openDB(path, false); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)

	applied, err := migrate(ctx, s.writer.DB, s.now)
	if err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}

	if s.reader, err = openDB(path, true); err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.reader.SetMaxOpenConns(readerConns)
	s.reader.SetMaxIdleConns(readerConns)
	if err := s.reader.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}

	if s.trash, err = newTrash(dataDir, log); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open: %w", err)
	}
	s.checkpoints = s.startCheckpointer()
	log.Info("store opened", "path", path, "migrations_applied", applied, "secret_key", keys.ActiveID())
	s.warnUnknownKeys(ctx)
	return s, nil
}

// openDB opens a pool on the database file through the statement cache
// (stmtcache.go), which keeps each connection's statements prepared.
func openDB(path string, readOnly bool) (*sql.DB, error) {
	c, err := newStmtCacheConnector(dsn(path, readOnly))
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// dsn builds the connection string. The path goes through url.URL so that
// '?', '#' and '%' in it are escaped for SQLite's URI parser.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// The single writer connection takes the write lock at BEGIN, so a
		// read-modify-write transaction can never fail to upgrade its lock.
		q.Set("_txlock", "immediate")
		// Its commits never checkpoint: the checkpointer does, off the
		// writer (checkpoint.go).
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Close closes both connection pools. The last connection to close
// checkpoints the WAL into the database file.
func (s *Store) Close() error {
	if s.checkpoints != nil {
		s.checkpoints.close()
	}
	if s.trash != nil {
		s.trash.close()
	}
	var errs []error
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	if s.writer.DB != nil {
		errs = append(errs, s.writer.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// now is Now in UTC, truncated to what the database keeps (milliseconds).
func (s *Store) now() time.Time {
	f := s.Now
	if f == nil {
		f = time.Now
	}
	return f().UTC().Truncate(time.Millisecond)
}

// Timestamps are stored as INTEGER unix milliseconds (UTC); 0 is the zero time.

func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// normTime returns t as the database will give it back.
func normTime(t time.Time) time.Time { return fromMS(toMS(t)) }

// inTx runs fn in a transaction on db, committing when fn returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// write runs fn in a write transaction.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer s.version.Add(1) // after the commit: see Version
	return inTx(ctx, s.writer.DB, fn)
}

// read runs fn in a read transaction, so several queries see one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.reader, fn)
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint failure.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
