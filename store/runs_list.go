package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// Runs list page sizes.
const (
	DefaultRunPage = 100
	MaxRunPage     = 1000
)

// runListQuery builds the WHERE clause of a RunFilter (without paging).
func runListQuery(ctx context.Context, tx *sql.Tx, f compute.RunFilter) (where string, args []any, empty bool, err error) {
	var conds []string
	if f.Experiment != "" {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM experiments WHERE name = ?`, f.Experiment).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil, true, nil
		} else if err != nil {
			return "", nil, false, err
		}
		conds = append(conds, "r.experiment_id = ?")
		args = append(args, id)
	}
	if len(f.Statuses) > 0 {
		for _, st := range f.Statuses {
			if !st.Valid() {
				return "", nil, false, compute.Invalid("status", "Unknown run status %q; use one of %s.", st, statusNames())
			}
			args = append(args, string(st))
		}
		conds = append(conds, "r.status IN ("+placeholders(len(f.Statuses))+")")
	}
	if f.ActiveOnly {
		conds = append(conds, activeTerm)
	}
	if f.Kind != "" {
		conds = append(conds, "r.kind = ?")
		args = append(args, string(f.Kind))
	}
	if f.Target != "" {
		conds = append(conds, "r.target = ?")
		args = append(args, f.Target)
	}
	if f.Parent != "" {
		conds = append(conds, "r.parent_id = ?")
		args = append(args, f.Parent)
	}
	if f.SubmittedBy != "" {
		conds = append(conds, "(r.submitted_by = ? OR r.submitted_by_id = ?)")
		args = append(args, f.SubmittedBy, f.SubmittedBy)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "r.created_at >= ?")
		args = append(args, toMS(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "r.created_at < ?")
		args = append(args, toMS(f.Until))
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, args, false, nil
}

func statusNames() string {
	var names []string
	for _, st := range compute.RunStatuses() {
		names = append(names, string(st))
	}
	return strings.Join(names, ", ")
}

// ListRuns returns one page of the runs matching f, newest first, with their
// latest metrics (not params, tags, history, environment or run
// configuration). Paging is by key: pass the
// returned Next as f.After for the next page, which costs the same however
// deep the page; f.Offset is also honoured when After is 0. An unknown
// status or a bad page size is a compute.ErrInvalid.
func (s *Store) ListRuns(ctx context.Context, f compute.RunFilter) (compute.RunPage, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultRunPage
	case limit < 0 || limit > MaxRunPage:
		return compute.RunPage{}, compute.Invalid("$top", "The page size must be from 1 to %d.", MaxRunPage)
	}
	if f.Offset < 0 || f.After < 0 {
		return compute.RunPage{}, compute.Invalid("$skip", "The page position cannot be negative.")
	}
	var page compute.RunPage
	err := s.read(ctx, func(tx *sql.Tx) error {
		page = compute.RunPage{}
		where, args, empty, err := runListQuery(ctx, tx, f)
		if err != nil || empty {
			return err
		}
		if f.After > 0 {
			if where == "" {
				where = " WHERE r.seq < ?"
			} else {
				where += " AND r.seq < ?"
			}
			args = append(args, f.After)
		}
		offset := f.Offset
		if f.After > 0 {
			offset = 0
		}
		// One row more than asked tells whether another page follows. With
		// an offset, the page is chosen on runs alone (an index or the
		// table's own key) and only its rows are joined, so skipped rows
		// cost no join.
		q := `SELECT ` + runListCols + runFrom + where + ` ORDER BY r.seq DESC LIMIT ?`
		args = append(args, limit+1)
		if offset > 0 {
			q = `SELECT ` + runListCols + runFrom + ` WHERE r.seq IN (SELECT r.seq FROM runs r` + where +
				` ORDER BY r.seq DESC LIMIT ? OFFSET ?) ORDER BY r.seq DESC`
			args = append(args, offset)
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		bySeq := map[int64]*compute.Run{}
		var last int64
		for rows.Next() {
			seq, r, err := scanRun(rows)
			if err != nil {
				return err
			}
			if len(page.Runs) == limit {
				page.Next = last
				break
			}
			page.Runs = append(page.Runs, r)
			bySeq[seq] = r
			last = seq
		}
		if err := rows.Close(); err != nil {
			return err
		}
		return fillLatestMetrics(ctx, tx, bySeq)
	})
	if err != nil {
		return compute.RunPage{}, wrapErr("list runs", "", err)
	}
	return page, nil
}

// CountRuns returns how many runs match f (paging fields are ignored).
func (s *Store) CountRuns(ctx context.Context, f compute.RunFilter) (int, error) {
	var n int
	err := s.read(ctx, func(tx *sql.Tx) error {
		where, args, empty, err := runListQuery(ctx, tx, f)
		if err != nil || empty {
			n = 0
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs r`+where, args...).Scan(&n)
	})
	if err != nil {
		return 0, wrapErr("count runs", "", err)
	}
	return n, nil
}

// fillLatestMetrics sets Metrics of the runs, keyed by seq, with one query.
func fillLatestMetrics(ctx context.Context, tx *sql.Tx, bySeq map[int64]*compute.Run) error {
	if len(bySeq) == 0 {
		return nil
	}
	for _, r := range bySeq {
		r.Metrics = map[string]float64{}
	}
	seqs := slices.Sorted(maps.Keys(bySeq))
	args := make([]any, len(seqs))
	for i, seq := range seqs {
		args[i] = seq
	}
	rows, err := tx.QueryContext(ctx, `SELECT run_seq, key, value FROM metrics_latest
		WHERE run_seq IN (`+placeholders(len(seqs))+`)`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var key string
		var v sql.NullFloat64
		if err := rows.Scan(&seq, &key, &v); err != nil {
			return err
		}
		bySeq[seq].Metrics[key] = nullToNaN(v)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("latest metrics: %w", err)
	}
	return nil
}

func nullToNaN(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}
