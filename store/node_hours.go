package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AccrueNodes records that the compute has nodes nodes at now: the time
// since the last sample is added at the count of the last sample.
func (s *Store) AccrueNodes(ctx context.Context, workspace, name string, nodes int, now time.Time) error {
	ms := toMS(now)
	_, err := s.writer.ExecContext(ctx, `INSERT INTO node_hours (workspace, name, node_seconds, nodes, since, at) VALUES (?, ?, 0, ?, ?, ?)
		ON CONFLICT (workspace, name) DO UPDATE SET
			node_seconds = node_seconds + nodes * MAX(0, excluded.at - at) / 1000.0,
			nodes = excluded.nodes, at = MAX(at, excluded.at)`, workspace, name, nodes, ms, ms)
	if err != nil {
		return fmt.Errorf("store: accrue node hours of %s/%s: %w", workspace, name, err)
	}
	return nil
}

// NodeHours returns the compute's accrued node hours and since when they
// are counted (zero time: never sampled).
func (s *Store) NodeHours(ctx context.Context, workspace, name string) (hours float64, since time.Time, err error) {
	var secs float64
	var from int64
	err = s.reader.QueryRowContext(ctx, `SELECT node_seconds, since FROM node_hours WHERE workspace = ? AND name = ?`, workspace, name).Scan(&secs, &from)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: node hours of %s/%s: %w", workspace, name, err)
	}
	return secs / 3600, fromMS(from), nil
}
