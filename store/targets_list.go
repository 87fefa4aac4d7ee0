package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// unsettledStates returns the transitional states, as the Unsettled filter
// matches them. A test keeps them in step with compute's Transitional methods.
func unsettledStates() ([]compute.ProvisioningState, []compute.InstanceState) {
	return []compute.ProvisioningState{compute.ProvisioningCreating, compute.ProvisioningUpdating, compute.ProvisioningDeleting},
		[]compute.InstanceState{compute.InstanceCreating, compute.InstanceStarting, compute.InstanceStopping, compute.InstanceRestarting, compute.InstanceDeleting}
}

// sortTerms maps TargetFilter.Sort to ORDER BY columns. Every order ends in
// name, so ties are broken stably, and each matches an index in the schema.
func sortTerms(sort string) ([]string, bool) {
	switch sort {
	case "", "name":
		return []string{"name"}, true
	case "state":
		return []string{"provisioning_state", "instance_state", "name"}, true
	case "vmSize":
		return []string{"vm_size", "name"}, true
	case "created":
		return []string{"created_at", "name"}, true
	case "kind":
		return []string{"kind", "name"}, true
	}
	return nil, false
}

// listQuery builds the WHERE clause and ORDER BY of a TargetFilter.
func listQuery(f compute.TargetFilter) (where string, args []any, order string, err error) {
	terms, ok := sortTerms(f.Sort)
	if !ok {
		return "", nil, "", compute.Invalid("sort", "Unknown sort column %q; use name, state, vmSize, created or kind.", f.Sort)
	}
	if f.Offset < 0 || f.Limit < 0 {
		return "", nil, "", compute.Invalid("page", "Offset and limit cannot be negative.")
	}
	dir := " ASC"
	if f.Desc {
		dir = " DESC"
	}
	order = strings.Join(terms, dir+", ") + dir

	var conds []string
	if len(f.Kinds) > 0 {
		conds = append(conds, "kind IN ("+placeholders(len(f.Kinds))+")")
		for _, k := range f.Kinds {
			args = append(args, string(k))
		}
	}
	if q := strings.TrimSpace(f.Search); q != "" {
		like := "%" + escapeLike(q) + "%"
		c := `(name LIKE ? ESCAPE '\' OR vm_size LIKE ? ESCAPE '\' OR kind LIKE ? ESCAPE '\'`
		args = append(args, like, like, like)
		// Also match the kind's label ("Compute cluster" for AmlCompute).
		var labelled []any
		for _, k := range compute.Kinds() {
			if strings.Contains(strings.ToLower(k.Label()), strings.ToLower(q)) {
				labelled = append(labelled, string(k))
			}
		}
		if len(labelled) > 0 {
			c += " OR kind IN (" + placeholders(len(labelled)) + ")"
			args = append(args, labelled...)
		}
		conds = append(conds, c+")")
	}
	if f.Unsettled {
		unsettledProvisioning, unsettledInstance := unsettledStates()
		conds = append(conds, "(provisioning_state IN ("+placeholders(len(unsettledProvisioning))+
			") OR instance_state IN ("+placeholders(len(unsettledInstance))+"))")
		for _, st := range unsettledProvisioning {
			args = append(args, string(st))
		}
		for _, st := range unsettledInstance {
			args = append(args, string(st))
		}
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, args, order, nil
}

// ListTargets returns one page of the targets matching f, in f's order, with
// SecretsSet and Nodes filled, and the number of matching targets before
// paging. It runs a fixed number of queries in one read snapshot, whatever
// the page size. An unknown Sort or a negative Offset or Limit is a
// compute.ErrInvalid.
func (s *Store) ListTargets(ctx context.Context, f compute.TargetFilter) ([]*compute.Target, int, error) {
	where, args, order, err := listQuery(f)
	if err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit == 0 {
		limit = -1 // SQLite: no limit
	}
	var (
		page  []*compute.Target
		total int
	)
	err = s.read(ctx, func(tx *sql.Tx) error {
		page, total = nil, 0
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM targets`+where, args...).Scan(&total); err != nil {
			return err
		}
		if total == 0 || f.Offset >= total {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+targetCols+` FROM targets`+where+
			` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(args, limit, f.Offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		byID := map[int64]*compute.Target{}
		for rows.Next() {
			id, t, err := scanTarget(rows)
			if err != nil {
				return err
			}
			page = append(page, t)
			byID[id] = t
		}
		if err := rows.Close(); err != nil {
			return err
		}
		return fillDetails(ctx, tx, byID)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list targets: %w", err)
	}
	return page, total, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// escapeLike escapes LIKE's wildcards for use with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// TargetNames returns the names of the targets in name order, at most
// limit of them: what a filter's dropdown needs, without decoding every
// target's spec (the runs list asks for it on every view).
func (s *Store) TargetNames(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT name FROM targets ORDER BY name COLLATE NOCASE LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: target names: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store: target names: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: target names: %w", err)
	}
	return out, nil
}

// CountTargetsByKind returns how many targets there are of each kind, in
// one query: the compute list's tab counts.
func (s *Store) CountTargetsByKind(ctx context.Context) (map[compute.Kind]int, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT kind, COUNT(*) FROM targets GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("store: count targets: %w", err)
	}
	defer rows.Close()
	out := map[compute.Kind]int{}
	for rows.Next() {
		var (
			k string
			n int
		)
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("store: count targets: %w", err)
		}
		out[compute.Kind(k)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count targets: %w", err)
	}
	return out, nil
}
