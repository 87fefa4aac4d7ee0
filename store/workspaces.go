package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/trainyard/trainyard/compute"
)

// AddWorkspace registers an Azure ML workspace. An alias in use, or the
// same workspace under another alias, is a conflict.
func (s *Store) AddWorkspace(ctx context.Context, w compute.Workspace) (compute.Workspace, error) {
	if err := w.Check(); err != nil {
		return compute.Workspace{}, err
	}
	w.CreatedAt = normTime(s.now())
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO workspaces (alias, subscription_id, resource_group, name, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			w.Alias, w.SubscriptionID, w.ResourceGroup, w.Name, w.CreatedBy, toMS(w.CreatedAt))
		return err
	})
	if isUnique(err) {
		return compute.Workspace{}, compute.Conflictf("AlreadyExists", "alias",
			"A workspace with the alias %s, or the workspace %s/%s/%s under another alias, is registered already.", w.Alias, w.SubscriptionID, w.ResourceGroup, w.Name)
	}
	if err != nil {
		return compute.Workspace{}, fmt.Errorf("store: add workspace %s: %w", w.Alias, err)
	}
	return w, nil
}

// Workspaces lists the registered workspaces by alias.
func (s *Store) Workspaces(ctx context.Context) ([]compute.Workspace, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT alias, subscription_id, resource_group, name, created_by, created_at FROM workspaces ORDER BY alias`)
	if err != nil {
		return nil, fmt.Errorf("store: list workspaces: %w", err)
	}
	defer rows.Close()
	var out []compute.Workspace
	for rows.Next() {
		var w compute.Workspace
		var created int64
		if err := rows.Scan(&w.Alias, &w.SubscriptionID, &w.ResourceGroup, &w.Name, &w.CreatedBy, &created); err != nil {
			return nil, fmt.Errorf("store: list workspaces: %w", err)
		}
		w.CreatedAt = fromMS(created)
		out = append(out, w)
	}
	return out, rows.Err()
}

// Workspace returns the workspace registered as alias.
func (s *Store) Workspace(ctx context.Context, alias string) (compute.Workspace, error) {
	var w compute.Workspace
	var created int64
	err := s.reader.QueryRowContext(ctx, `SELECT alias, subscription_id, resource_group, name, created_by, created_at FROM workspaces WHERE alias = ?`, alias).
		Scan(&w.Alias, &w.SubscriptionID, &w.ResourceGroup, &w.Name, &w.CreatedBy, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return compute.Workspace{}, compute.NotFoundf("workspace", "No workspace is registered as %q.", alias)
	}
	if err != nil {
		return compute.Workspace{}, fmt.Errorf("store: workspace %s: %w", alias, err)
	}
	w.CreatedAt = fromMS(created)
	return w, nil
}

// RemoveWorkspace forgets a workspace and its cached computes; nothing in
// Azure is touched.
func (s *Store) RemoveWorkspace(ctx context.Context, alias string) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM workspaces WHERE alias = ?`, alias)
	if err != nil {
		return fmt.Errorf("store: remove workspace %s: %w", alias, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return compute.NotFoundf("workspace", "No workspace is registered as %q.", alias)
	}
	return nil
}
