package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the read pool's prepared statements: the
// store's queries are a fixed set, but a few are assembled from filters,
// and those past the bound are simply prepared each time.
const maxCachedStatements = 256

// readDB is the read pool. Its queries are prepared once per connection and
// kept: parsing and planning a statement cost more than running the small
// lookups every request makes (the session, the token), as the profile of
// the pages under load showed (docs/BENCHMARKS.md).
type readDB struct {
	*sql.DB
	stmts *stmtCache
}

type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// stmt returns the prepared statement for query, preparing it on first
// use; nil (and the query runs unprepared) when the cache is full or the
// preparation failed — the query itself then reports the error.
func (r readDB) stmt(ctx context.Context, query string) *sql.Stmt {
	c := r.stmts
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxCachedStatements
	c.mu.Unlock()
	if ok || full {
		return st
	}
	st, err := r.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok { // prepared meanwhile by another request
		_ = st.Close()
		return prev
	}
	c.m[query] = st
	return st
}

func (r readDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.DB.QueryRowContext(ctx, query, args...)
}

func (r readDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.DB.QueryContext(ctx, query, args...)
}

// close closes the kept statements; the pool is closed after them.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for q, st := range c.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.m, q)
	}
	return first
}
