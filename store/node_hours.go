package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// execer is what accrual needs: the writer or a write transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// accrueSQL adds the time since the last sample at the last sample's count,
// and takes the new count. A sample older than the last one adds nothing
// and does not replace the count (samples from two goroutines can arrive
// out of order).
const accrueSQL = `INSERT INTO node_hours (workspace, name, node_seconds, nodes, since, at) VALUES (?, ?, 0, ?, ?, ?)
	ON CONFLICT (workspace, name) DO UPDATE SET
		node_seconds = node_seconds + nodes * MAX(0, excluded.at - at) / 1000.0,
		nodes = CASE WHEN excluded.at >= at THEN excluded.nodes ELSE nodes END,
		at = MAX(at, excluded.at)`

// AccrueNodes records that the compute has nodes nodes at now: the time
// since the last sample is added at the count of the last sample.
func (s *Store) AccrueNodes(ctx context.Context, workspace, name string, nodes int, now time.Time) error {
	if err := accrue(ctx, s.writer, workspace, name, nodes, now); err != nil {
		return fmt.Errorf("store: accrue node hours of %s/%s: %w", workspace, name, err)
	}
	return nil
}

func accrue(ctx context.Context, db execer, workspace, name string, nodes int, now time.Time) error {
	ms := toMS(now)
	_, err := db.ExecContext(ctx, accrueSQL, workspace, name, nodes, ms, ms)
	return err
}

// accrueLocal samples a local target's billed nodes (compute.BilledNodes)
// inside the write transaction that changed them, so every change of state
// or nodes is a sample and the count between two samples is exact.
func (s *Store) accrueLocal(ctx context.Context, tx *sql.Tx, t *compute.Target) error {
	return accrue(ctx, tx, compute.LocalWorkspace, t.Name, compute.BilledNodes(t), s.now())
}

// NodeHours returns the compute's node hours up to now, the count of the
// last sample taken to hold since it was taken (zero: never sampled).
func (s *Store) NodeHours(ctx context.Context, workspace, name string) (compute.NodeHours, error) {
	var secs float64
	var nodes int
	var from, at int64
	err := s.reader.QueryRowContext(ctx, `SELECT node_seconds, nodes, since, at FROM node_hours WHERE workspace = ? AND name = ?`,
		workspace, name).Scan(&secs, &nodes, &from, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return compute.NodeHours{}, nil
	}
	if err != nil {
		return compute.NodeHours{}, fmt.Errorf("store: node hours of %s/%s: %w", workspace, name, err)
	}
	secs += float64(nodes) * float64(max(0, toMS(s.now())-at)) / 1000
	return compute.NodeHours{Hours: secs / 3600, Since: fromMS(from)}, nil
}

// forgetNodeHours drops a deleted local target's node hours and price, so
// a new target given its name starts from nothing.
func forgetNodeHours(ctx context.Context, tx *sql.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM node_hours WHERE workspace = ? AND name = ? COLLATE NOCASE`, compute.LocalWorkspace, name); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM node_hour_prices WHERE workspace = ? AND name = ?`, compute.LocalWorkspace, name)
	return err
}
