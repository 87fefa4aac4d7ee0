package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// The browser's runs list (handlers/runs_pages.go) sorts by a column and
// pages by key in both directions, so that every page of 100,000 runs costs
// the same. Each sort column has an index ending in seq (migration 0003), so
// the order and the continuation are both served by an index.

// RunSortKeys are the columns the runs list can be sorted by; "created" (the
// default) is the submission order.
var RunSortKeys = []string{"created", "status", "target", "submittedBy"}

// runSortColumn is the SQL column of a sort key ("" for created: seq alone).
func runSortColumn(key string) string {
	switch key {
	case "status":
		return "r.status"
	case "target":
		return "r.target"
	case "submittedBy":
		return "r.submitted_by"
	}
	return ""
}

// runSortValue is the value of a run's sort column.
func runSortValue(key string, r *compute.Run) string {
	switch key {
	case "status":
		return string(r.Status)
	case "target":
		return r.Target
	case "submittedBy":
		return r.SubmittedBy
	}
	return ""
}

// RunPageQuery asks for one page of the runs list.
type RunPageQuery struct {
	// Filter narrows the list; its paging fields (After, Offset, Limit) are
	// ignored.
	Filter compute.RunFilter
	// Submitter keeps the runs whose submitter has this display name, as
	// the list shows it (an index serves it; Filter.SubmittedBy also
	// matches user IDs, which needs a scan).
	Submitter string
	// Sort is one of RunSortKeys ("" = created); Desc sorts high to low
	// (newest first for created).
	Sort string
	Desc bool
	// Cursor continues the list: RunPageResult.Next or .Prev of the page
	// before ("" = the first page).
	Cursor string
	// Limit is the page size (0 = DefaultRunPage, at most MaxRunPage).
	Limit int
}

// RunPageResult is one page of the runs list.
type RunPageResult struct {
	Runs []*compute.Run
	// Next and Prev are the cursors of the following and the preceding page,
	// "" when there is none.
	Next, Prev string
}

// runCursor is a decoded RunPageQuery.Cursor: the key of the row to continue
// from and the direction.
type runCursor struct {
	back  bool // true: the page before the row
	seq   int64
	value string
}

// String encodes the cursor for a URL: direction, seq, base64 of the value.
func (c runCursor) String() string {
	dir := "n"
	if c.back {
		dir = "p"
	}
	return dir + "." + strconv.FormatInt(c.seq, 10) + "." + base64.RawURLEncoding.EncodeToString([]byte(c.value))
}

func parseRunCursor(s string) (runCursor, bool) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 3 || (parts[0] != "n" && parts[0] != "p") {
		return runCursor{}, false
	}
	seq, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || seq < 1 {
		return runCursor{}, false
	}
	v, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return runCursor{}, false
	}
	return runCursor{back: parts[0] == "p", seq: seq, value: string(v)}, true
}

// RunsPage returns one page of the runs matching q.Filter in q's order,
// with their latest metrics, and the cursors of the pages around it. Paging
// is by key (the sort column, then seq), so a deep page costs what the
// first does. A bad sort key, cursor or page size is a compute.ErrInvalid.
func (s *Store) RunsPage(ctx context.Context, q RunPageQuery) (RunPageResult, error) {
	if q.Sort == "" {
		q.Sort = "created"
	}
	if !slices.Contains(RunSortKeys, q.Sort) {
		return RunPageResult{}, compute.Invalid("sort", "The runs list cannot be sorted by %q; use one of %s.", q.Sort, strings.Join(RunSortKeys, ", "))
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultRunPage
	case limit < 0 || limit > MaxRunPage:
		return RunPageResult{}, compute.Invalid("limit", "The page size must be from 1 to %d.", MaxRunPage)
	}
	var cur runCursor
	if q.Cursor != "" {
		var ok bool
		if cur, ok = parseRunCursor(q.Cursor); !ok {
			return RunPageResult{}, compute.Invalid("cursor", "The page link is not valid; start again from the first page.")
		}
	}
	var out RunPageResult
	err := s.read(ctx, func(tx *sql.Tx) error {
		out = RunPageResult{}
		where, args, empty, err := pageWhere(ctx, tx, q)
		if err != nil || empty {
			return err
		}
		col := runSortColumn(q.Sort)
		// Walking backwards reads the rows before the cursor in the reverse
		// order, then flips them.
		desc := q.Desc != cur.back
		cmp, dir := ">", "ASC"
		if desc {
			cmp, dir = "<", "DESC"
		}
		order := " ORDER BY r.seq " + dir
		if col != "" {
			order = " ORDER BY " + col + " " + dir + ", r.seq " + dir
		}
		and := func(term string) string {
			if where == "" {
				return " WHERE " + term
			}
			return where + " AND " + term
		}
		type keyed struct {
			seq int64
			run *compute.Run
		}
		var got []keyed
		query := func(w string, a []any, n int) error {
			rows, err := tx.QueryContext(ctx, `SELECT `+runCols+runFrom+w+order+` LIMIT ?`, append(a, n)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				seq, r, err := scanRun(rows)
				if err != nil {
					return err
				}
				got = append(got, keyed{seq, r})
			}
			return rows.Close()
		}
		switch {
		case q.Cursor == "":
			err = query(where, args, limit+1)
		case col == "":
			err = query(and("r.seq "+cmp+" ?"), append(slices.Clone(args), cur.seq), limit+1)
		default:
			// The rest of the cursor's value, then the values after it: two
			// exact index ranges, where one "(col, seq) > (?, ?)" would scan
			// every row of the cursor's value from its start.
			err = query(and(col+" = ? AND r.seq "+cmp+" ?"), append(slices.Clone(args), cur.value, cur.seq), limit+1)
			if err == nil && len(got) <= limit {
				err = query(and(col+" "+cmp+" ?"), append(slices.Clone(args), cur.value), limit+1-len(got))
			}
		}
		if err != nil {
			return err
		}
		more := len(got) > limit
		if more {
			got = got[:limit]
		}
		if cur.back {
			slices.Reverse(got)
		}
		bySeq := make(map[int64]*compute.Run, len(got))
		for _, k := range got {
			out.Runs = append(out.Runs, k.run)
			bySeq[k.seq] = k.run
		}
		if len(got) > 0 {
			first, last := got[0], got[len(got)-1]
			// Forwards, a further row means a next page, and a cursor means
			// we came from a page before; backwards it is the other way round.
			hasNext, hasPrev := more, q.Cursor != ""
			if cur.back {
				hasNext, hasPrev = true, more
			}
			if hasNext {
				out.Next = runCursor{seq: last.seq, value: runSortValue(q.Sort, last.run)}.String()
			}
			if hasPrev {
				out.Prev = runCursor{back: true, seq: first.seq, value: runSortValue(q.Sort, first.run)}.String()
			}
		}
		return fillLatestMetrics(ctx, tx, bySeq)
	})
	if err != nil {
		return RunPageResult{}, wrapErr("list runs", "", err)
	}
	return out, nil
}

// pageWhere is the WHERE clause of a page query: the filter's, and the
// submitter's display name.
func pageWhere(ctx context.Context, tx *sql.Tx, q RunPageQuery) (string, []any, bool, error) {
	where, args, empty, err := runListQuery(ctx, tx, q.Filter)
	if err != nil || empty || q.Submitter == "" {
		return where, args, empty, err
	}
	if where == "" {
		where = " WHERE r.submitted_by = ?"
	} else {
		where += " AND r.submitted_by = ?"
	}
	return where, append(args, q.Submitter), false, nil
}

// CountRunsPage returns how many runs a page query's filters match (the
// sort, cursor and page size are ignored). All runs, or the runs of one
// experiment, are read from the experiments' run counts (CreateRuns keeps
// them; runs are never deleted), so the lists polled most often count
// nothing; other filters count their index range.
func (s *Store) CountRunsPage(ctx context.Context, q RunPageQuery) (int, error) {
	var n int
	only := q.Filter
	only.Experiment, only.After, only.Offset, only.Limit = "", 0, 0, 0
	kept := q.Submitter == "" && only.Target == "" && only.Parent == "" && only.SubmittedBy == "" && len(only.Statuses) == 0 &&
		only.Since.IsZero() && only.Until.IsZero() && !only.ActiveOnly && only.Kind == ""
	err := s.read(ctx, func(tx *sql.Tx) error {
		if kept {
			if q.Filter.Experiment == "" {
				return tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(run_count), 0) FROM experiments`).Scan(&n)
			}
			err := tx.QueryRowContext(ctx, `SELECT run_count FROM experiments WHERE name = ?`, q.Filter.Experiment).Scan(&n)
			if errors.Is(err, sql.ErrNoRows) {
				n = 0
				return nil
			}
			return err
		}
		where, args, empty, err := pageWhere(ctx, tx, q)
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
