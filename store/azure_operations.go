package store

import (
	"context"
	"fmt"

	"github.com/trainyard/trainyard/compute"
)

// PutAzureOperation records an operation under way on a workspace's
// compute (replacing the one recorded for it, which ARM has superseded).
func (s *Store) PutAzureOperation(ctx context.Context, op compute.PendingOperation) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO azure_operations (workspace, name, kind, resume_token, user_id, started_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace, name) DO UPDATE SET kind = excluded.kind, resume_token = excluded.resume_token,
			user_id = excluded.user_id, started_at = excluded.started_at`,
		op.Workspace, op.Compute, op.Kind, op.ResumeToken, op.UserID, toMS(op.StartedAt))
	if err != nil {
		return fmt.Errorf("store: record the %s of %s/%s: %w", op.Kind, op.Workspace, op.Compute, err)
	}
	return nil
}

// DeleteAzureOperation forgets the operation on a compute once it ended,
// unless another one (a different resume token) has replaced it since.
func (s *Store) DeleteAzureOperation(ctx context.Context, op compute.PendingOperation) error {
	_, err := s.writer.ExecContext(ctx, `DELETE FROM azure_operations WHERE workspace = ? AND name = ? AND resume_token = ?`,
		op.Workspace, op.Compute, op.ResumeToken)
	if err != nil {
		return fmt.Errorf("store: forget the %s of %s/%s: %w", op.Kind, op.Workspace, op.Compute, err)
	}
	return nil
}

// AzureOperations lists the operations recorded as under way, oldest first.
func (s *Store) AzureOperations(ctx context.Context) ([]compute.PendingOperation, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT workspace, name, kind, resume_token, user_id, started_at
		FROM azure_operations ORDER BY started_at, workspace, name`)
	if err != nil {
		return nil, fmt.Errorf("store: list operations under way: %w", err)
	}
	defer rows.Close()
	var out []compute.PendingOperation
	for rows.Next() {
		var op compute.PendingOperation
		var at int64
		if err := rows.Scan(&op.Workspace, &op.Compute, &op.Kind, &op.ResumeToken, &op.UserID, &at); err != nil {
			return nil, fmt.Errorf("store: list operations under way: %w", err)
		}
		op.StartedAt = fromMS(at)
		out = append(out, op)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list operations under way: %w", err)
	}
	return out, nil
}
