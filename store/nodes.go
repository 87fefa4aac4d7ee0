package store

import (
	"context"
	"database/sql"

	"github.com/trainyard/trainyard/compute"
)

// ListNodes returns the nodes of the target named target, ordered by ID (as
// text). A missing target is a compute.ErrNotFound.
func (s *Store) ListNodes(ctx context.Context, target string) ([]compute.Node, error) {
	var out []compute.Node
	err := s.read(ctx, func(tx *sql.Tx) error {
		id, _, err := targetID(ctx, tx, target)
		if err != nil {
			return err
		}
		out, err = nodesOf(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, wrapErr("list nodes of", target, err)
	}
	return out, nil
}

// nodesOf reads the nodes of the target with this row id, ordered by ID.
func nodesOf(ctx context.Context, tx *sql.Tx, targetID int64) ([]compute.Node, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, state, private_ip, public_ip, port, run_id, since, reason,
		cpus, memory_mb, gpus FROM nodes WHERE target_id = ? ORDER BY id`, targetID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []compute.Node
	for rows.Next() {
		var n compute.Node
		var state string
		var since int64
		if err := rows.Scan(&n.ID, &state, &n.PrivateIP, &n.PublicIP, &n.Port, &n.RunID, &since, &n.Reason,
			&n.CPUs, &n.MemoryMB, &n.GPUs); err != nil {
			return nil, err
		}
		n.State, n.Since = compute.NodeState(state), fromMS(since)
		out = append(out, n)
	}
	return out, rows.Close()
}

// sameNodes reports whether saving nodes would leave the stored set (old,
// ordered by ID) as it is, compared as stored (times to the millisecond).
func sameNodes(old, nodes []compute.Node) bool {
	if len(old) != len(nodes) {
		return false
	}
	byID := make(map[string]compute.Node, len(old))
	for _, n := range old {
		byID[n.ID] = n
	}
	for _, n := range nodes {
		o, ok := byID[n.ID]
		n.Since = fromMS(toMS(n.Since))
		if !ok || !o.Since.Equal(n.Since) {
			return false
		}
		o.Since = n.Since
		if o != n {
			return false
		}
	}
	return true
}

// SaveNodes replaces the node set of the target named target with nodes, in
// one transaction. A missing target is a compute.ErrNotFound; two nodes with
// one ID are a compute.ErrInvalid.
func (s *Store) SaveNodes(ctx context.Context, target string, nodes []compute.Node) error {
	changed := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		id, _, err := targetID(ctx, tx, target)
		if err != nil {
			return err
		}
		old, err := nodesOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if sameNodes(old, nodes) {
			// Nothing to write: the refresher saves every pass, and an
			// unchanged set must not wake every page showing it.
			return nil
		}
		changed = true
		if _, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE target_id = ?`, id); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO nodes (target_id, id, state, private_ip, public_ip, port,
			run_id, since, reason, cpus, memory_mb, gpus) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, n := range nodes {
			_, err := stmt.ExecContext(ctx, id, n.ID, string(n.State), n.PrivateIP, n.PublicIP, n.Port,
				n.RunID, toMS(n.Since), n.Reason, n.CPUs, n.MemoryMB, n.GPUs)
			if isUnique(err) {
				return compute.Invalid("nodes", "Node ID %q appears twice.", n.ID)
			} else if err != nil {
				return err
			}
		}
		_, t, err := loadTarget(ctx, tx, target)
		if err != nil {
			return err
		}
		return s.accrueLocal(ctx, tx, t)
	})
	if err != nil {
		return wrapErr("save nodes of", target, err)
	}
	if changed {
		s.announce(computeChange(target))
	}
	return nil
}
