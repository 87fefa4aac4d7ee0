package store

import (
	"context"
	"database/sql"
	"encoding/base64"
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
		where, args, empty, err := runListQuery(ctx, tx, q.Filter)
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
		if q.Cursor != "" {
			term := "r.seq " + cmp + " ?"
			targs := []any{cur.seq}
			if col != "" {
				term = "(" + col + ", r.seq) " + cmp + " (?, ?)"
				targs = []any{cur.value, cur.seq}
			}
			if where == "" {
				where = " WHERE " + term
			} else {
				where += " AND " + term
			}
			args = append(args, targs...)
		}
		order := " ORDER BY r.seq " + dir
		if col != "" {
			order = " ORDER BY " + col + " " + dir + ", r.seq " + dir
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+runCols+runFrom+where+order+` LIMIT ?`, append(args, limit+1)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		type keyed struct {
			seq int64
			run *compute.Run
		}
		var got []keyed
		for rows.Next() {
			seq, r, err := scanRun(rows)
			if err != nil {
				return err
			}
			got = append(got, keyed{seq, r})
		}
		if err := rows.Close(); err != nil {
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
