package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered SQL file of store/migrations.
type migration struct {
	num  int
	name string // file name, e.g. 0001_init.sql; recorded in schema_migrations
	sql  string
}

// migrationNumber parses the number of a file named like 0001_words.sql.
func migrationNumber(name string) (int, bool) {
	base, ok := strings.CutSuffix(name, ".sql")
	if !ok || len(base) < 6 || base[4] != '_' {
		return 0, false
	}
	for _, c := range base[5:] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return 0, false
		}
	}
	num, err := strconv.Atoi(base[:4])
	if err != nil || num < 0 || strings.ContainsAny(base[:4], "+-") {
		return 0, false
	}
	return num, true
}

// loadMigrations reads the *.sql files of dir in fsys, ordered by number. Two
// files with one number, or a file not named NNNN_words.sql, is an error.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		num, ok := migrationNumber(e.Name())
		if !ok {
			return nil, fmt.Errorf("migration file %s: want a name like 0001_words.sql", e.Name())
		}
		if other, dup := seen[num]; dup {
			return nil, fmt.Errorf("migrations %s and %s share number %04d", other, e.Name(), num)
		}
		seen[num] = e.Name()
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{num: num, name: e.Name(), sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.num - b.num })
	return out, nil
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction, and returns how many it
// applied. A database carrying a migration this build does not know is
// refused: an older binary must not run against a newer schema.
func migrate(ctx context.Context, db *sql.DB, now func() time.Time) (int, error) {
	all, err := loadMigrations(migrationFS, "migrations")
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       TEXT PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	done := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, fmt.Errorf("migrate: %w", err)
		}
		done[name] = true
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	known := map[string]bool{}
	for _, m := range all {
		known[m.name] = true
	}
	for name := range done {
		if !known[name] {
			return 0, fmt.Errorf("migrate: the database has migration %s, which this build does not know; run a newer Trainyard", name)
		}
	}

	applied := 0
	for _, m := range all {
		if done[m.name] {
			continue
		}
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, m.name, toMS(now()))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		applied++
	}
	return applied, nil
}
