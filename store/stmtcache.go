package store

// A prepared-statement cache under database/sql, for both pools.
//
// database/sql prepares every query anew: DB.QueryContext, Tx.ExecContext
// and the rest hand the query text to the driver, and modernc.org/sqlite
// parses and plans it each time. In the profile of a 200-child HyperDrive
// sweep that parsing (sqlite3Prepare) was about 16% of the server's CPU,
// most of it inside transactions (the runs list's read transaction, the
// sweep's children, UpdateRun, CreateRuns, BEGIN), where a cache of
// *sql.Stmt on the pool cannot reach. So the cache lives one level down,
// in a driver.Conn wrapper: each physical connection keeps its statements
// by query text, prepared on first use, and runs the same text again with
// the kept statement — in a transaction or not, on the reader pool and on
// the writer alike.
//
// What it keeps out of: a multi-statement script (a migration) gains
// nothing, since the driver parses a script at every run anyway, and runs
// as before. A statement whose rows are still open (a query run again, on
// the same connection, from inside the loop over its own rows) cannot be
// reset under them, so the nested run goes the unprepared way. Past
// maxStmtsPerConn statements (a few queries are assembled from filters),
// further ones are simply not kept. BEGIN, COMMIT and ROLLBACK are the
// driver's own (its Tx), and still parsed each time.
//
// A kept statement survives schema changes: SQLite prepares it again by
// itself when the schema it was planned for has changed.

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"

	"modernc.org/sqlite"
)

// maxStmtsPerConn bounds the statements a connection keeps.
const maxStmtsPerConn = 512

// stmtCacheConnector opens modernc.org/sqlite connections wrapped in
// cachedConn. Use it with sql.OpenDB.
type stmtCacheConnector struct {
	inner driver.Connector
	// prepares counts the statements the wrapper had SQLite parse: kept
	// ones on first use, and every query that ran unprepared. Tests read it.
	prepares atomic.Int64
}

// newStmtCacheConnector returns a connector for dsn (see dsn()).
func newStmtCacheConnector(dsn string) (*stmtCacheConnector, error) {
	inner, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("statement cache: %w", err)
	}
	return &stmtCacheConnector{inner: inner}, nil
}

// sqliteConn is what modernc.org/sqlite's connection implements and
// database/sql looks for; cachedConn forwards all of it.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteStmt is what the driver's prepared statement implements.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

func (c *stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := dc.(sqliteConn)
	if !ok {
		err := fmt.Errorf("statement cache: the driver's connection %T lacks a method database/sql needs", dc)
		if cerr := dc.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("statement cache: close: %w", cerr))
		}
		return nil, err
	}
	return &cachedConn{inner: inner, prepares: &c.prepares, stmts: make(map[string]*cachedStmt)}, nil
}

func (c *stmtCacheConnector) Driver() driver.Driver { return c.inner.Driver() }

var _ driver.Connector = (*stmtCacheConnector)(nil)

// cachedConn is one connection and the statements it keeps. database/sql
// never uses a driver.Conn from two goroutines at once (it holds the
// connection's lock around every call into it, its rows' and its
// statements'), so the map and the busy flags need no lock of their own.
type cachedConn struct {
	inner    sqliteConn
	prepares *atomic.Int64
	stmts    map[string]*cachedStmt
}

// cachedStmt is a kept statement. busy is set while rows from it are open:
// running it again then would reset it under them.
type cachedStmt struct {
	si   sqliteStmt
	busy bool
}

var (
	_ driver.Conn               = (*cachedConn)(nil)
	_ driver.ConnBeginTx        = (*cachedConn)(nil)
	_ driver.ConnPrepareContext = (*cachedConn)(nil)
	_ driver.ExecerContext      = (*cachedConn)(nil)
	_ driver.QueryerContext     = (*cachedConn)(nil)
	_ driver.Pinger             = (*cachedConn)(nil)
	_ driver.SessionResetter    = (*cachedConn)(nil)
	_ driver.Validator          = (*cachedConn)(nil)
	_ sqliteConn                = (*cachedConn)(nil)
)

// cacheable reports whether query is worth keeping: one statement, that is
// no ';' but trailing ones. A ';' inside a string literal also counts, and
// such a query merely runs unprepared.
func cacheable(query string) bool {
	return strings.IndexByte(strings.TrimRight(query, " \t\r\n;"), ';') < 0
}

// kept returns query's kept statement, preparing and keeping it on first
// use; nil, with a nil error, when query is not to be kept (see cacheable,
// maxStmtsPerConn). The statement may be busy. A failed preparation returns
// the driver's error, as running the query unprepared would have.
func (c *cachedConn) kept(ctx context.Context, query string) (*cachedStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		return cs, nil
	}
	if len(c.stmts) >= maxStmtsPerConn || !cacheable(query) {
		return nil, nil
	}
	c.prepares.Add(1)
	ds, err := c.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	si, ok := ds.(sqliteStmt)
	if !ok { // not this driver's statement: use it this once, keep nothing
		if err := ds.Close(); err != nil {
			return nil, fmt.Errorf("statement cache: close: %w", err)
		}
		return nil, nil
	}
	cs := &cachedStmt{si: si}
	c.stmts[query] = cs
	return cs, nil
}

// ready returns query's kept statement when it can run now, nil when the
// query is to run unprepared.
func (c *cachedConn) ready(ctx context.Context, query string) (*cachedStmt, error) {
	cs, err := c.kept(ctx, query)
	if err != nil || cs == nil || cs.busy {
		return nil, err
	}
	return cs, nil
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.ready(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		c.prepares.Add(1)
		return c.inner.QueryContext(ctx, query, args)
	}
	rows, err := cs.si.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, stmt: cs}, nil
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.ready(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		c.prepares.Add(1)
		return c.inner.ExecContext(ctx, query, args)
	}
	return cs.si.ExecContext(ctx, args)
}

// PrepareContext serves Tx.PrepareContext and DB.PrepareContext (bulk
// inserts prepare once per transaction) from the cache too: the statement
// returned runs its query through the connection, so through the kept
// statement, and closing it keeps that. It may also run again while its
// own rows are open (the nested run goes unprepared), which the driver's
// own statement cannot: it fails with "bad parameter or other API misuse".
// A query that is not kept gets the driver's own statement.
func (c *cachedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	cs, err := c.kept(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		c.prepares.Add(1)
		return c.inner.PrepareContext(ctx, query)
	}
	return &stmtHandle{c: c, query: query, numInput: cs.si.NumInput()}, nil
}

func (c *cachedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *cachedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.BeginTx(ctx, opts)
}

// Begin is driver.Conn's; database/sql calls BeginTx.
func (c *cachedConn) Begin() (driver.Tx, error) {
	return c.inner.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachedConn) Ping(ctx context.Context) error { return c.inner.Ping(ctx) }

func (c *cachedConn) ResetSession(ctx context.Context) error { return c.inner.ResetSession(ctx) }

func (c *cachedConn) IsValid() bool { return c.inner.IsValid() }

// Unwrap returns the driver's connection, for sqlite.Limit and other
// helpers that reach it through sql.Conn.Raw.
func (c *cachedConn) Unwrap() driver.Conn { return c.inner }

// Close closes the kept statements, then the connection: SQLite closes a
// connection with statements left open only once they are finalized, and
// the last connection's close is what checkpoints the WAL.
func (c *cachedConn) Close() error {
	var errs []error
	for q, cs := range c.stmts {
		if err := cs.si.Close(); err != nil {
			errs = append(errs, fmt.Errorf("statement cache: close statement: %w", err))
		}
		delete(c.stmts, q)
	}
	if err := c.inner.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stmtHandle is a statement PrepareContext returned for a kept query.
type stmtHandle struct {
	c        *cachedConn
	query    string
	numInput int
}

var (
	_ driver.Stmt             = (*stmtHandle)(nil)
	_ driver.StmtExecContext  = (*stmtHandle)(nil)
	_ driver.StmtQueryContext = (*stmtHandle)(nil)
)

// Close keeps the statement: the connection closes it.
func (h *stmtHandle) Close() error { return nil }

func (h *stmtHandle) NumInput() int { return h.numInput }

func (h *stmtHandle) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return h.c.ExecContext(ctx, h.query, args)
}

func (h *stmtHandle) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return h.c.QueryContext(ctx, h.query, args)
}

// Exec and Query are driver.Stmt's; database/sql calls the context ones.
func (h *stmtHandle) Exec(args []driver.Value) (driver.Result, error) {
	return h.ExecContext(context.Background(), namedValues(args))
}

func (h *stmtHandle) Query(args []driver.Value) (driver.Rows, error) {
	return h.QueryContext(context.Background(), namedValues(args))
}

func namedValues(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

// cachedRows are the rows of a kept statement; closing them frees the
// statement for its next run. (Not the end of the rows, io.EOF from Next:
// the statement is reset only by Close.) The column-type methods are those
// modernc.org/sqlite's rows implement, forwarded; were the driver's rows
// to lack one, its answer is what database/sql assumes without it.
type cachedRows struct {
	driver.Rows
	stmt   *cachedStmt
	closed bool
}

var (
	_ driver.Rows                           = (*cachedRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*cachedRows)(nil)
	_ driver.RowsColumnTypeLength           = (*cachedRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*cachedRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*cachedRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*cachedRows)(nil)
)

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close() // resets the statement, also when it fails
	r.stmt.busy = false
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(index int) string {
	if x, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(index int) (length int64, ok bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(index)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(index int) (nullable, ok bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(index)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(index int) reflect.Type {
	if x, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}
