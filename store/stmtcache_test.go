package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// openCached opens a pool on a new database file in a temporary directory
// through the statement cache, as Open does, with the writer's DSN.
func openCached(t *testing.T) (*sql.DB, *stmtCacheConnector, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cache.db")
	c, err := newStmtCacheConnector(dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db, c, path
}

// openPlain opens a pool on a new database file with the driver alone.
func openPlain(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "plain.db"), false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

const itemsSchema = `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER, data BLOB, at DATETIME);
INSERT INTO items (name, n, data) VALUES ('a', 1, x'01'), ('b', 2, NULL), ('c', NULL, x'0303'), ('d', 4, x'')`

func mustExec(t *testing.T, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// querier is what sql.DB, sql.Tx and sql.Conn have alike.
type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
}

// readAll returns the column names and types and every row of a query.
func readAll(ctx context.Context, q querier, query string, args ...any) (string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return "", err
	}
	out := ""
	for _, ct := range types {
		l, hasL := ct.Length()
		nl, hasNl := ct.Nullable()
		out += fmt.Sprintf("%s %s %v %d/%v %v/%v; ", ct.Name(), ct.DatabaseTypeName(), ct.ScanType(), l, hasL, nl, hasNl)
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		out += fmt.Sprintf("\n%#v", vals)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return out, rows.Close()
}

// run runs one step: a query (its rows) or an exec (its result).
func run(ctx context.Context, q querier, exec bool, query string, args ...any) string {
	if !exec {
		s, err := readAll(ctx, q, query, args...)
		return fmt.Sprintf("%s err=%v", s, err)
	}
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Sprintf("err=%v", err)
	}
	id, err1 := res.LastInsertId()
	n, err2 := res.RowsAffected()
	return fmt.Sprintf("id=%d %v n=%d %v", id, err1, n, err2)
}

// TestStmtCacheSameResults runs the same steps on a database opened through
// the cache and on one opened with the driver alone, each step three times
// (so that the cache's runs reuse a kept statement), outside and inside a
// transaction: every answer must be the same.
func TestStmtCacheSameResults(t *testing.T) {
	steps := []struct {
		name  string
		exec  bool
		query string
		args  []any
	}{
		{"select all", false, `SELECT * FROM items ORDER BY id`, nil},
		{"select by id", false, `SELECT id, name, n FROM items WHERE id = ?`, []any{2}},
		{"select none", false, `SELECT id, name FROM items WHERE id = ?`, []any{99}},
		{"select text arg", false, `SELECT id FROM items WHERE name = ?`, []any{"c"}},
		{"select blob arg", false, `SELECT id, name FROM items WHERE data = ?`, []any{[]byte{3, 3}}},
		{"select null", false, `SELECT id FROM items WHERE n IS ?`, []any{nil}},
		{"aggregate", false, `SELECT COUNT(*), SUM(n), MAX(name) FROM items`, nil},
		{"expression", false, `SELECT ? + 1, upper(?), ?`, []any{41, "x", []byte("y")}},
		{"insert", true, `INSERT INTO items (name, n, data) VALUES (?, ?, ?)`, []any{"e", 5, []byte("blob")}},
		{"insert text null", true, `INSERT INTO items (name, n) VALUES (?, ?)`, []any{"f", nil}},
		{"update", true, `UPDATE items SET n = n + ? WHERE name <= ?`, []any{10, "b"}},
		{"update none", true, `UPDATE items SET n = 0 WHERE id = ?`, []any{99}},
		{"constraint", true, `INSERT INTO items (id, name) VALUES (?, ?)`, []any{1, "dup"}},
		{"not null", true, `INSERT INTO items (name) VALUES (?)`, []any{nil}},
		{"returning", false, `UPDATE items SET n = n * 2 WHERE id = ? RETURNING id, n`, []any{3}},
		{"delete", true, `DELETE FROM items WHERE name = ?`, []any{"e"}},
		{"syntax error", false, `SELEC 1`, nil},
		{"no table", true, `DELETE FROM nothing WHERE id = ?`, []any{1}},
		{"script", true, `UPDATE items SET n = 7 WHERE id = 4; UPDATE items SET name = 'dd' WHERE id = 4`, nil},
		{"select after", false, `SELECT * FROM items ORDER BY id`, nil},
	}
	for _, inTx := range []bool{false, true} {
		t.Run(fmt.Sprintf("tx=%v", inTx), func(t *testing.T) {
			ctx := context.Background()
			cached, _, _ := openCached(t)
			plain := openPlain(t)
			mustExec(t, cached, itemsSchema)
			mustExec(t, plain, itemsSchema)
			var qc, qp querier = cached, plain
			if inTx {
				tc, err := cached.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer tc.Rollback()
				tp, err := plain.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer tp.Rollback()
				qc, qp = tc, tp
			}
			for _, st := range steps {
				for i := range 3 {
					got := run(ctx, qc, st.exec, st.query, st.args...)
					want := run(ctx, qp, st.exec, st.query, st.args...)
					if got != want {
						t.Errorf("%s, run %d:\ncached: %s\nplain:  %s", st.name, i, got, want)
					}
				}
			}
			// Statements prepared with PrepareContext (the bulk inserts
			// prepare in their transaction) go through the cache as well.
			prepared := func(q querier) string {
				stmt, err := q.PrepareContext(ctx, `INSERT INTO items (name, n) VALUES (?, ?)`)
				if err != nil {
					return fmt.Sprintf("err=%v", err)
				}
				defer stmt.Close()
				out := ""
				for i := range 3 {
					res, err := stmt.ExecContext(ctx, fmt.Sprint("p", i), i)
					if err != nil {
						return fmt.Sprintf("%s err=%v", out, err)
					}
					id, _ := res.LastInsertId()
					out += fmt.Sprint(id, " ")
				}
				return out + run(ctx, q, false, `SELECT * FROM items ORDER BY id`)
			}
			if got, want := prepared(qc), prepared(qp); got != want {
				t.Errorf("prepared statement:\ncached: %s\nplain:  %s", got, want)
			}
			if _, err := qc.PrepareContext(ctx, `SELEC 1`); err == nil {
				t.Error("preparing a syntax error through the cache succeeded")
			}
		})
	}
}

// TestStmtCacheNested runs a query again while the rows of the same query
// are open on the same connection (a transaction, a sql.Conn), through the
// connection and through a prepared statement; both must read fully and
// correctly, and the kept statement must be usable again afterwards.
func TestStmtCacheNested(t *testing.T) {
	const q = `SELECT id, name FROM items WHERE id >= ? ORDER BY id`
	for _, tc := range []struct {
		name string
		on   func(t *testing.T, db *sql.DB) (querier, func())
	}{
		{"tx", func(t *testing.T, db *sql.DB) (querier, func()) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			return tx, func() { tx.Rollback() }
		}},
		{"conn", func(t *testing.T, db *sql.DB) (querier, func()) {
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return c, func() { c.Close() }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, conn, _ := openCached(t)
			mustExec(t, db, itemsSchema)
			on, done := tc.on(t, db)
			defer done()
			before := conn.prepares.Load()

			outer, err := on.QueryContext(ctx, q, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer outer.Close()
			var got []string
			for outer.Next() {
				var id int
				var name string
				if err := outer.Scan(&id, &name); err != nil {
					t.Fatal(err)
				}
				inner, err := readAll(ctx, on, q, id)
				if err != nil {
					t.Fatalf("nested query after row %d: %v", id, err)
				}
				// The nested query also runs in an Exec while the rows are open.
				if _, err := on.ExecContext(ctx, q, id); err != nil {
					t.Fatalf("nested exec after row %d: %v", id, err)
				}
				got = append(got, fmt.Sprintf("%d%s:%d", id, name, len(splitRows(inner))))
				if len(got) > 10 { // the outer statement was reset under its rows
					t.Fatalf("outer rows run on: %v", got)
				}
			}
			if err := outer.Err(); err != nil {
				t.Fatal(err)
			}
			if err := outer.Close(); err != nil {
				t.Fatal(err)
			}
			if want := []string{"1a:4", "2b:3", "3c:2", "4d:1"}; !reflect.DeepEqual(got, want) {
				t.Errorf("outer rows and the count of inner ones = %v, want %v", got, want)
			}
			// 1 kept statement, and 4 nested queries and 4 execs unprepared.
			if n := conn.prepares.Load() - before; n != 9 {
				t.Errorf("%d statements prepared, want 9", n)
			}

			// Closed, the kept statement serves again.
			before = conn.prepares.Load()
			for range 3 {
				if s, err := readAll(ctx, on, q, 3); err != nil || len(splitRows(s)) != 2 {
					t.Fatalf("after the nesting: %q, %v", s, err)
				}
			}
			if n := conn.prepares.Load() - before; n != 0 {
				t.Errorf("%d statements prepared after the nesting, want 0", n)
			}

			// The same through a prepared statement (Tx.Prepare, Conn.Prepare).
			st, err := on.PrepareContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			outer, err = st.QueryContext(ctx, 2)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for outer.Next() {
				rows, err := st.QueryContext(ctx, 1)
				if err != nil {
					t.Fatal(err)
				}
				m := 0
				for rows.Next() {
					m++
				}
				if err := rows.Close(); err != nil || m != 4 {
					t.Fatalf("nested rows of the prepared statement: %d, %v", m, err)
				}
				n++
			}
			if err := outer.Close(); err != nil || n != 3 {
				t.Fatalf("outer rows of the prepared statement: %d, %v", n, err)
			}
		})
	}
}

func splitRows(s string) []string {
	var rows []string
	for i, line := range splitLines(s) {
		if i > 0 {
			rows = append(rows, line)
		}
	}
	return rows
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// openCachedReader opens a read-only pool on the database at path through
// the statement cache, as the store's readers are; it is closed when the
// test ends.
func openCachedReader(t *testing.T, path string) *sql.DB {
	t.Helper()
	rc, err := newStmtCacheConnector(dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	reader := sql.OpenDB(rc)
	t.Cleanup(func() { reader.Close() })
	return reader
}

// TestStmtCacheSchemaChange runs a kept statement after ALTER TABLE ADD
// COLUMN, made on its own connection and on another one: SQLite prepares
// it again, and it sees the new column.
func TestStmtCacheSchemaChange(t *testing.T) {
	ctx := context.Background()
	db, _, path := openCached(t)
	mustExec(t, db, itemsSchema)
	reader := openCachedReader(t, path)
	wconn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer wconn.Close()
	rconn, err := reader.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rconn.Close()

	const q = `SELECT * FROM items WHERE id = ?`
	for _, c := range []*sql.Conn{wconn, rconn} {
		if s, err := readAll(ctx, c, q, 1); err != nil || len(splitRows(s)) != 1 {
			t.Fatalf("before: %q, %v", s, err)
		}
	}
	for i, col := range []string{"extra", "more"} {
		mustExec(t, wconn, `ALTER TABLE items ADD COLUMN `+col+` TEXT DEFAULT 'x'`)
		for name, c := range map[string]*sql.Conn{"same connection": wconn, "other connection": rconn} {
			rows, err := c.QueryContext(ctx, q, 1)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			cols, _ := rows.Columns()
			if len(cols) != 6+i {
				t.Errorf("%s: columns %v after adding %s", name, cols, col)
			}
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if !rows.Next() {
				t.Fatalf("%s: no row: %v", name, rows.Err())
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := vals[len(vals)-1]; got != "x" {
				t.Errorf("%s: %s = %#v, want \"x\"", name, col, got)
			}
			rows.Close()
		}
	}
}

// TestStmtCachePreparesOnce is the test that fails with the cache off: the
// same query run 100 times, with a new argument each time, on one
// connection, inside transactions or not, is prepared once.
func TestStmtCachePreparesOnce(t *testing.T) {
	ctx := context.Background()
	db, c, _ := openCached(t)
	mustExec(t, db, itemsSchema)
	ways := []struct {
		name string
		want int64 // statements
		run  func(i int) error
	}{
		{"pool", 1, func(i int) error {
			var name string
			return db.QueryRowContext(ctx, `SELECT name FROM items WHERE id = ?`, i%4+1).Scan(&name)
		}},
		{"transaction", 2, func(i int) error {
			return inTx(ctx, db, func(tx *sql.Tx) error {
				var name string
				if err := tx.QueryRowContext(ctx, `SELECT name FROM items WHERE id = ? AND n IS NOT NULL`, i%4+1).Scan(&name); err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				_, err := tx.ExecContext(ctx, `UPDATE items SET n = ? WHERE id = ?`, i, i%4+1)
				return err
			})
		}},
		{"prepared in a transaction", 1, func(i int) error {
			return inTx(ctx, db, func(tx *sql.Tx) error {
				st, err := tx.PrepareContext(ctx, `INSERT INTO items (name) VALUES (?)`)
				if err != nil {
					return err
				}
				defer st.Close()
				_, err = st.ExecContext(ctx, fmt.Sprint(i))
				return err
			})
		}},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			db.SetMaxOpenConns(1) // one connection: once in all
			before := c.prepares.Load()
			for i := range 100 {
				if err := w.run(i); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.prepares.Load() - before; got != w.want {
				t.Errorf("%d preparations for 100 runs on one connection, want %d", got, w.want)
			}
		})
	}

	// On a pool of several connections: at most once per connection.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	before := c.prepares.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for i := range 100 {
				var name string
				if err := db.QueryRowContext(ctx, `SELECT name FROM items WHERE id = ? AND 1`, i%4+1).Scan(&name); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, conns := c.prepares.Load()-before, db.Stats().OpenConnections; got > int64(conns) || got < 1 {
		t.Errorf("%d preparations for 400 runs on %d connections", got, conns)
	}
}

// TestStmtCacheBounds: multi-statement scripts are not kept, nor statements
// past maxStmtsPerConn, and those still run; Unwrap reaches the driver's
// connection; closing the pools finalizes the kept statements, so that the
// last close checkpoints and removes the WAL.
func TestStmtCacheBounds(t *testing.T) {
	ctx := context.Background()
	db, _, path := openCached(t)
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := func() (n int) {
		t.Helper()
		if err := c.Raw(func(dc any) error {
			n = len(dc.(*cachedConn).stmts)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	mustExec(t, c, itemsSchema)
	mustExec(t, c, `CREATE TABLE a (x); CREATE TABLE b (y);`)
	if n := kept(); n != 0 {
		t.Errorf("%d statements kept after two scripts, want 0", n)
	}
	for i := range maxStmtsPerConn + 10 {
		var v int
		if err := c.QueryRowContext(ctx, fmt.Sprintf(`SELECT ? + %d`, i), 1).Scan(&v); err != nil || v != i+1 {
			t.Fatalf("query %d: %d, %v", i, v, err)
		}
	}
	if n := kept(); n != maxStmtsPerConn {
		t.Errorf("%d statements kept, want the bound, %d", n, maxStmtsPerConn)
	}
	if _, err := sqlite.Limit(c, sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, -1); err != nil {
		t.Errorf("sqlite.Limit through the wrapper: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no WAL while open: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the WAL is still there after the last connection closed (statements left open?): %v", err)
	}
}

// TestStmtCacheForwardsInterfaces: the wrapper's connection, rows and
// statements implement every optional interface the driver's do, so that
// database/sql treats them alike. (The deprecated context-free Execer and
// Queryer are left out: database/sql uses the context ones when present.)
func TestStmtCacheForwardsInterfaces(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	inner, err := sqlite.NewConnector(dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := inner.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	c, err := newStmtCacheConnector(dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	wc, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()

	check := func(what string, driverV, ours any, ifaces ...reflect.Type) {
		t.Helper()
		for _, it := range ifaces {
			if reflect.TypeOf(driverV).Implements(it) && !reflect.TypeOf(ours).Implements(it) {
				t.Errorf("the driver's %s implements %v, the wrapper's does not", what, it)
			}
		}
	}
	check("connection", dc, wc,
		reflect.TypeFor[driver.ConnBeginTx](), reflect.TypeFor[driver.ConnPrepareContext](),
		reflect.TypeFor[driver.ExecerContext](), reflect.TypeFor[driver.QueryerContext](),
		reflect.TypeFor[driver.Pinger](), reflect.TypeFor[driver.SessionResetter](),
		reflect.TypeFor[driver.Validator](), reflect.TypeFor[driver.NamedValueChecker](),
		reflect.TypeFor[interface{ Unwrap() driver.Conn }]())

	const q = `SELECT 1 AS one`
	dr, err := dc.(driver.QueryerContext).QueryContext(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close()
	wr, err := wc.(driver.QueryerContext).QueryContext(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := wr.(*cachedRows); !ok {
		t.Fatalf("the wrapper's rows are %T, not from a kept statement", wr)
	}
	defer wr.Close()
	check("rows", dr, wr,
		reflect.TypeFor[driver.RowsColumnTypeDatabaseTypeName](), reflect.TypeFor[driver.RowsColumnTypeLength](),
		reflect.TypeFor[driver.RowsColumnTypeNullable](), reflect.TypeFor[driver.RowsColumnTypePrecisionScale](),
		reflect.TypeFor[driver.RowsColumnTypeScanType](), reflect.TypeFor[driver.RowsNextResultSet]())

	ds, err := dc.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	ws, err := wc.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if ws.NumInput() != ds.NumInput() {
		t.Errorf("NumInput: wrapper %d, driver %d", ws.NumInput(), ds.NumInput())
	}
	check("statement", ds, ws,
		reflect.TypeFor[driver.StmtExecContext](), reflect.TypeFor[driver.StmtQueryContext](),
		reflect.TypeFor[driver.NamedValueChecker]())
}

// TestStmtCacheConcurrent runs kept, nested and canceled queries from many
// goroutines on a read pool (for -race).
func TestStmtCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	db, _, path := openCached(t)
	mustExec(t, db, itemsSchema)
	reader := openCachedReader(t, path)
	reader.SetMaxOpenConns(readerConns)
	const q = `SELECT id FROM items WHERE id >= ? ORDER BY id`
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				err := inTx(ctx, reader, func(tx *sql.Tx) error {
					rows, err := tx.QueryContext(ctx, q, 1)
					if err != nil {
						return err
					}
					defer rows.Close()
					n := 0
					for rows.Next() {
						n++
						if s, err := readAll(ctx, tx, q, 2); err != nil || len(splitRows(s)) != 3 {
							return fmt.Errorf("nested: %q, %w", s, err)
						}
					}
					if n != 4 {
						return fmt.Errorf("%d rows, want 4", n)
					}
					return rows.Err()
				})
				if err != nil {
					errs <- err
					return
				}
				if (g+i)%7 == 0 { // rows abandoned by a canceled context
					cctx, cancel := context.WithCancel(ctx)
					rows, err := reader.QueryContext(cctx, q, 1)
					if err != nil {
						cancel()
						errs <- err
						return
					}
					rows.Next()
					cancel()
					for rows.Next() {
					}
					rows.Close()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
