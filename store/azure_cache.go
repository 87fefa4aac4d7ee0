package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// The cache of Azure ML workspaces' computes (compute/azure.Cache): ARM is the
// source of truth, these rows are what it last said.

// ReplaceAzureComputes stores a full read of a workspace's computes, begun
// at asOf: rows of computes ARM no longer lists go, the others are
// replaced, and the workspace's as-of time is set. A row written after
// asOf (a compute read on its own while the list was being read, e.g. at
// the end of an operation) is fresher than the list and stays. etag is the
// list's ETag ("" when ARM gave none).
func (s *Store) ReplaceAzureComputes(ctx context.Context, alias string, computes map[string]json.RawMessage, asOf time.Time, etag string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM azure_computes WHERE workspace = ? AND updated_at <= ?`, alias, toMS(asOf)); err != nil {
			return err
		}
		for name, body := range computes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO azure_computes (workspace, name, body, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (workspace, name) DO NOTHING`,
				alias, name, string(body), toMS(asOf)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO azure_refreshes (workspace, as_of, error, etag) VALUES (?, ?, '', ?)
			ON CONFLICT (workspace) DO UPDATE SET as_of = excluded.as_of, error = '', etag = excluded.etag`, alias, toMS(asOf), etag)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: cache computes of %s: %w", alias, err)
	}
	return nil
}

// AzureListETag is the ETag of the workspace's last full read ("" when
// ARM gave none, or it was never read).
func (s *Store) AzureListETag(ctx context.Context, alias string) (string, error) {
	var etag string
	err := s.reader.QueryRowContext(ctx, `SELECT etag FROM azure_refreshes WHERE workspace = ?`, alias).Scan(&etag)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: list ETag of %s: %w", alias, err)
	}
	return etag, nil
}

// AzureListNotModified records that ARM said, at asOf, that the list has
// not changed since the cached read (304): the rows stay, now as of asOf.
func (s *Store) AzureListNotModified(ctx context.Context, alias string, asOf time.Time) error {
	if _, err := s.writer.ExecContext(ctx, `UPDATE azure_refreshes SET as_of = ?, error = '' WHERE workspace = ?`, toMS(asOf), alias); err != nil {
		return fmt.Errorf("store: record an unchanged list of %s: %w", alias, err)
	}
	return nil
}

// RefreshFailed records why the last read of a workspace failed; the
// cached rows and their as-of time stay.
func (s *Store) RefreshFailed(ctx context.Context, alias, reason string) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO azure_refreshes (workspace, as_of, error) VALUES (?, 0, ?)
		ON CONFLICT (workspace) DO UPDATE SET error = excluded.error`, alias, reason)
	if err != nil {
		return fmt.Errorf("store: record refresh error of %s: %w", alias, err)
	}
	return nil
}

// PutAzureCompute stores what ARM said about one compute, with the error
// of the operation on it that just ended ("" when none).
func (s *Store) PutAzureCompute(ctx context.Context, alias, name string, body json.RawMessage, opError string) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO azure_computes (workspace, name, body, op_error, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (workspace, name) DO UPDATE SET body = excluded.body, op_error = excluded.op_error, updated_at = excluded.updated_at`,
		alias, name, string(body), opError, toMS(s.now()))
	if err != nil {
		return fmt.Errorf("store: cache compute %s of %s: %w", name, alias, err)
	}
	return nil
}

// DeleteAzureCompute forgets one compute (ARM says it is gone).
func (s *Store) DeleteAzureCompute(ctx context.Context, alias, name string) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM azure_computes WHERE workspace = ? AND name = ?`, alias, name); err != nil {
		return fmt.Errorf("store: forget compute %s of %s: %w", name, alias, err)
	}
	return nil
}

// AzureComputes returns the cached computes of a workspace by name, when
// the list was last read in full (zero: never) and that read's error.
func (s *Store) AzureComputes(ctx context.Context, alias string) (compute.WorkspaceSnapshot, error) {
	var snap compute.WorkspaceSnapshot
	err := s.read(ctx, func(tx *sql.Tx) error {
		var asOf int64
		err := tx.QueryRowContext(ctx, `SELECT as_of, error FROM azure_refreshes WHERE workspace = ?`, alias).Scan(&asOf, &snap.Error)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if asOf > 0 {
			snap.AsOf = fromMS(asOf)
		}
		rows, err := tx.QueryContext(ctx, `SELECT name, body, op_error, updated_at FROM azure_computes WHERE workspace = ? ORDER BY name`, alias)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c compute.CachedCompute
			var body string
			var updated int64
			if err := rows.Scan(&c.Name, &body, &c.OpError, &updated); err != nil {
				return err
			}
			c.Body, c.UpdatedAt = json.RawMessage(body), fromMS(updated)
			snap.Computes = append(snap.Computes, c)
		}
		return rows.Err()
	})
	if err != nil {
		return compute.WorkspaceSnapshot{}, fmt.Errorf("store: cached computes of %s: %w", alias, err)
	}
	return snap, nil
}

// AzureCompute returns one cached compute.
func (s *Store) AzureCompute(ctx context.Context, alias, name string) (compute.CachedCompute, error) {
	c := compute.CachedCompute{Name: name}
	var body string
	var updated int64
	err := s.reader.QueryRowContext(ctx, `SELECT body, op_error, updated_at FROM azure_computes WHERE workspace = ? AND name = ?`, alias, name).
		Scan(&body, &c.OpError, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return compute.CachedCompute{}, compute.NotFoundf("name", "The workspace %s has no compute %s (as Trainyard last read it).", alias, name)
	}
	if err != nil {
		return compute.CachedCompute{}, fmt.Errorf("store: cached compute %s of %s: %w", name, alias, err)
	}
	c.Body, c.UpdatedAt = json.RawMessage(body), fromMS(updated)
	return c, nil
}
