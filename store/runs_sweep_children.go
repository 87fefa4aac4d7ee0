package store

import (
	"context"
	"database/sql"
	"maps"
	"slices"

	"github.com/trainyard/trainyard/compute"
)

// SweepChildren returns what one tick of a sweep driver that keeps its
// ended children in memory needs to read: the children of parentID that
// have not ended, and those named in ids whatever their status (children
// the driver saw active before or has just created, so it learns how they
// ended), each with the values of metric key it logged, in logging order
// (step, then time), by run ID. Runs come as ListRuns gives them, oldest
// first. A driver that re-read every child at every tick read a sweep's
// whole history once per child (a sweep of 1,000 children read 500,000
// rows); this reads the few that can still change.
func (s *Store) SweepChildren(ctx context.Context, parentID string, ids []string, key string) ([]*compute.Run, map[string][]float64, error) {
	var runs []*compute.Run
	values := map[string][]float64{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		runs = nil
		bySeq := map[int64]*compute.Run{}
		add := func(q string, args ...any) error {
			rows, err := tx.QueryContext(ctx, `SELECT `+runListCols+runFrom+q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				seq, r, err := scanRun(rows)
				if err != nil {
					return err
				}
				if bySeq[seq] == nil {
					bySeq[seq] = r
				}
			}
			return rows.Close()
		}
		if err := add(` WHERE r.parent_id = ? AND `+activeTerm, parentID); err != nil {
			return err
		}
		// Only those the first query did not return: usually the one or
		// two that ended since the last tick.
		var missing []string
		listed := make(map[string]bool, len(bySeq))
		for _, r := range bySeq {
			listed[r.ID] = true
		}
		for _, id := range ids {
			if !listed[id] {
				missing = append(missing, id)
			}
		}
		for chunk := range slices.Chunk(missing, 500) {
			args := []any{parentID}
			for _, id := range chunk {
				args = append(args, id)
			}
			if err := add(` WHERE r.parent_id = ? AND r.id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
				return err
			}
		}
		seqs := slices.Sorted(maps.Keys(bySeq))
		clear(values)
		for _, seq := range seqs {
			runs = append(runs, bySeq[seq])
		}
		if len(seqs) == 0 {
			return nil
		}
		args := []any{key}
		for _, seq := range seqs {
			args = append(args, seq)
		}
		rows, err := tx.QueryContext(ctx, `SELECT run_seq, value FROM metrics WHERE key = ? AND run_seq IN (`+
			placeholders(len(seqs))+`) ORDER BY run_seq, step, ts, seq`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			var v sql.NullFloat64
			if err := rows.Scan(&seq, &v); err != nil {
				return err
			}
			id := bySeq[seq].ID
			values[id] = append(values[id], nullToNaN(v))
		}
		return rows.Close()
	})
	if err != nil {
		return nil, nil, wrapErr("sweep children of", parentID, err)
	}
	return runs, values, nil
}
