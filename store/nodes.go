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
		rows, err := tx.QueryContext(ctx, `SELECT id, state, private_ip, public_ip, port, run_id, since, reason,
			cpus, memory_mb, gpus FROM nodes WHERE target_id = ? ORDER BY id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n compute.Node
			var state string
			var since int64
			if err := rows.Scan(&n.ID, &state, &n.PrivateIP, &n.PublicIP, &n.Port, &n.RunID, &since, &n.Reason,
				&n.CPUs, &n.MemoryMB, &n.GPUs); err != nil {
				return err
			}
			n.State, n.Since = compute.NodeState(state), fromMS(since)
			out = append(out, n)
		}
		return rows.Close()
	})
	if err != nil {
		return nil, wrapErr("list nodes of", target, err)
	}
	return out, nil
}

// SaveNodes replaces the node set of the target named target with nodes, in
// one transaction. A missing target is a compute.ErrNotFound; two nodes with
// one ID are a compute.ErrInvalid.
func (s *Store) SaveNodes(ctx context.Context, target string, nodes []compute.Node) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		id, _, err := targetID(ctx, tx, target)
		if err != nil {
			return err
		}
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
		return nil
	})
	return wrapErr("save nodes of", target, err)
}
