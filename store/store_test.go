package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestOpenPragmas(t *testing.T) {
	s := MustOpen(t)
	for name, db := range map[string]*sql.DB{"writer": s.writer.DB, "reader": s.reader} {
		for p, want := range map[string]string{"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1", "synchronous": "1"} {
			if got := pragma(t, db, p); got != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", name, p, got, want)
			}
		}
	}
	if got := pragma(t, s.reader, "query_only"); got != "1" {
		t.Errorf("reader query_only = %s, want 1", got)
	}
	if _, err := s.reader.Exec(`DELETE FROM sessions`); err == nil {
		t.Error("reader pool accepted a write")
	}
	if got := s.writer.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", got)
	}
	if got := s.reader.Stats().MaxOpenConnections; got != readerConns {
		t.Errorf("reader MaxOpenConnections = %d, want %d", got, readerConns)
	}
}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s := mustOpenDir(t, dir, nil)
	if s.Path() != filepath.Join(dir, DBFile) {
		t.Errorf("Path = %s", s.Path())
	}
	for name, want := range map[string]os.FileMode{DBFile: 0o600, KeyFile: 0o400} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", name, got, want)
		}
	}
}

func TestMigrationNumbersUnique(t *testing.T) {
	ms, err := loadMigrations(migrationFS, "migrations")
	if err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	if len(ms) == 0 || ms[0].name != "0001_init.sql" {
		t.Fatalf("embedded migrations = %v, want 0001_init.sql first", ms)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].num <= ms[i-1].num {
			t.Errorf("migrations out of order: %s after %s", ms[i].name, ms[i-1].name)
		}
	}

	tests := []struct {
		name    string
		files   []string
		wantErr string
	}{
		{"ordered", []string{"0002_b.sql", "0001_a.sql", "0010_c.sql", "README.md"}, ""},
		{"duplicate number", []string{"0001_a.sql", "0002_b.sql", "0002_c.sql"}, "share number 0002"},
		{"bad name", []string{"1_a.sql"}, "want a name like"},
		{"upper case", []string{"0001_Init.sql"}, "want a name like"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys["m/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			got, err := loadMigrations(fsys, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range got {
				names = append(names, m.name)
			}
			if strings.Join(names, ",") != "0001_a.sql,0002_b.sql,0010_c.sql" {
				t.Errorf("order = %v", names)
			}
		})
	}
}

func TestMigrationsRecordedOnce(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenDir(t, dir, nil)
	var names []string
	rows, err := s.reader.Query(`SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	all, _ := loadMigrations(migrationFS, "migrations")
	if len(names) != len(all) {
		t.Fatalf("recorded %v, want %d migrations", names, len(all))
	}
	s.Close()

	// Re-running applies nothing.
	s2 := mustOpenDir(t, dir, nil)
	applied, err := migrate(context.Background(), s2.writer.DB, s2.now)
	if err != nil || applied != 0 {
		t.Fatalf("second migrate applied %d, err %v; want 0, nil", applied, err)
	}
	// A migration this build does not know is refused.
	if _, err := s2.writer.Exec(`INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	keys, _ := LoadKeyring(dir, noEnv)
	if _, err := Open(context.Background(), dir, Options{Keyring: keys}); err == nil || !strings.Contains(err.Error(), "9999_future.sql") {
		t.Fatalf("Open with unknown migration: err = %v", err)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpenDir(t, dir, nil)
	want := clusterTarget("keep-me")
	mustCreate(t, s, want, map[string]string{"adminPassword": "pw-survives-1"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := mustOpenDir(t, dir, nil)
	got, err := s2.GetTarget(ctx, "keep-me")
	if err != nil {
		t.Fatal(err)
	}
	if !targetsEqual(got, want) {
		t.Errorf("after reopen:\n got %+v\nwant %+v", got, want)
	}
	if v, err := s2.Secret(ctx, "keep-me", "adminPassword"); err != nil || v != "pw-survives-1" {
		t.Errorf("Secret after reopen = %q, %v", v, err)
	}
}
