package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// Node history bounds: a sample is written when the counts change, and at
// most once per historyEvery while they do not (so a chart's right end is
// never older than that); samples older than historyKeep go. Together they
// cap a target at about historyKeep/historyEvery rows plus its changes.
const (
	historyEvery = 30 * time.Second
	historyKeep  = 24 * time.Hour
)

var _ compute.NodeHistory = (*Store)(nil)

// RecordNodeSample implements compute.NodeHistory. A missing target is a
// compute.ErrNotFound.
func (s *Store) RecordNodeSample(ctx context.Context, target string, smp compute.NodeSample) (bool, error) {
	if smp.At.IsZero() {
		smp.At = s.now()
	}
	saved := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		id, _, err := targetID(ctx, tx, target)
		if err != nil {
			return err
		}
		last, err := lastSample(ctx, tx, id, smp.At.Add(time.Millisecond))
		if err != nil {
			return err
		}
		if !last.At.IsZero() && last.SameCounts(smp) && smp.At.Sub(last.At) < historyEvery {
			return nil
		}
		// ON CONFLICT: two samples in one millisecond keep the later.
		if _, err := tx.ExecContext(ctx, `INSERT INTO node_history (target_id, at, powered_down, preparing, idle, busy, unusable, preempted)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (target_id, at) DO UPDATE SET powered_down = excluded.powered_down,
			preparing = excluded.preparing, idle = excluded.idle, busy = excluded.busy, unusable = excluded.unusable, preempted = excluded.preempted`,
			id, toMS(smp.At), smp.PoweredDown, smp.Preparing, smp.Idle, smp.Busy, smp.Unusable, smp.Preempted); err != nil {
			return err
		}
		saved = true
		_, err = tx.ExecContext(ctx, `DELETE FROM node_history WHERE target_id = ? AND at < ?`, id, toMS(smp.At.Add(-historyKeep)))
		return err
	})
	if err != nil {
		return false, wrapErr("record node history of", target, err)
	}
	if saved {
		s.announce(computeChange(target))
	}
	return saved, nil
}

// NodeSamples implements compute.NodeHistory.
func (s *Store) NodeSamples(ctx context.Context, target string, since time.Time) ([]compute.NodeSample, error) {
	var out []compute.NodeSample
	err := s.read(ctx, func(tx *sql.Tx) error {
		id, _, err := targetID(ctx, tx, target)
		if err != nil {
			return err
		}
		before, err := lastSample(ctx, tx, id, since)
		if err != nil {
			return err
		}
		if !before.At.IsZero() {
			out = append(out, before)
		}
		rows, err := tx.QueryContext(ctx, `SELECT at, powered_down, preparing, idle, busy, unusable, preempted
			FROM node_history WHERE target_id = ? AND at >= ? ORDER BY at`, id, toMS(since))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			smp, err := scanSample(rows)
			if err != nil {
				return err
			}
			out = append(out, smp)
		}
		return rows.Close()
	})
	if err != nil {
		return nil, wrapErr("read node history of", target, err)
	}
	return out, nil
}

// lastSample is the target's newest sample before the time (zero if none).
func lastSample(ctx context.Context, tx *sql.Tx, id int64, before time.Time) (compute.NodeSample, error) {
	row := tx.QueryRowContext(ctx, `SELECT at, powered_down, preparing, idle, busy, unusable, preempted
		FROM node_history WHERE target_id = ? AND at < ? ORDER BY at DESC LIMIT 1`, id, toMS(before))
	smp, err := scanSample(row)
	if errors.Is(err, sql.ErrNoRows) {
		return compute.NodeSample{}, nil
	}
	return smp, err
}

func scanSample(r interface{ Scan(...any) error }) (compute.NodeSample, error) {
	var smp compute.NodeSample
	var at int64
	err := r.Scan(&at, &smp.PoweredDown, &smp.Preparing, &smp.Idle, &smp.Busy, &smp.Unusable, &smp.Preempted)
	smp.At = fromMS(at)
	return smp, err
}
