package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// errNameTaken is the error for a name already in use, in Azure's words.
func errNameTaken(name string) error {
	return compute.Conflictf("AlreadyExists", "name", "Compute name '%s' is not available. Reason: AlreadyExists", name)
}

// errNoTarget is the error for a target that does not exist.
func errNoTarget(name string) error {
	return compute.NotFoundf("name", "Compute '%s' was not found.", name)
}

// CreateTarget stores a new target and its secrets (sealed) in one
// transaction. Names are unique regardless of case; a taken name is a
// compute.ErrConflict with code AlreadyExists. CreatedAt, ModifiedAt and
// StateSince are set from Now when zero; all times in t are normalised to
// what the database keeps (UTC, milliseconds). t.SecretsSet is set to the
// names of the secrets stored; empty secret values are skipped.
func (s *Store) CreateTarget(ctx context.Context, t *compute.Target, secrets map[string]string) error {
	if t == nil || t.Name == "" || t.Kind == "" {
		return compute.Invalid("name", "A compute target needs a name and a kind.")
	}
	now := s.now()
	for _, p := range []*time.Time{&t.CreatedAt, &t.ModifiedAt, &t.StateSince} {
		if p.IsZero() {
			*p = now
		}
		*p = normTime(*p)
	}
	t.LastOperation.Time = normTime(t.LastOperation.Time)
	row, err := encodeTarget(t)
	if err != nil {
		return fmt.Errorf("store: create target %q: %w", t.Name, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var exists int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM targets WHERE name = ?`, t.Name).Scan(&exists)
		if err == nil {
			return errNameTaken(t.Name)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO targets (name, kind, provisioning_state, instance_state, vm_size,
			description, location, created_by, created_at, modified_at, state_since, resource_id,
			last_operation, provisioning_errors, spec)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Name, string(t.Kind), string(t.ProvisioningState), string(instanceState(t)), t.VMSizeName(),
			t.Description, t.Location, t.CreatedBy, toMS(t.CreatedAt), toMS(t.ModifiedAt), toMS(t.StateSince), t.ResourceID,
			row.lastOp, row.provErrs, row.spec)
		if isUnique(err) {
			return errNameTaken(t.Name)
		} else if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if err := s.putSecrets(ctx, tx, id, t.Name, secrets, now); err != nil {
			return err
		}
		// A new target has no nodes yet, whatever t.Nodes says.
		fresh := *t
		fresh.Nodes = compute.NodeCounts{}
		if err := s.accrueLocal(ctx, tx, &fresh); err != nil {
			return err
		}
		t.SecretsSet, err = secretNames(ctx, tx, id)
		return err
	})
	if err != nil {
		return wrapErr("create target", t.Name, err)
	}
	s.announce(computeChange(t.Name))
	if t.Cluster != nil {
		t.Nodes = compute.NodeCounts{Target: t.Cluster.TargetNodeCount}
	} else {
		t.Nodes = compute.NodeCounts{}
	}
	return nil
}

// GetTarget returns the target named name (matched regardless of case), with
// SecretsSet (names only) and Nodes filled. A missing target is a
// compute.ErrNotFound.
func (s *Store) GetTarget(ctx context.Context, name string) (*compute.Target, error) {
	var t *compute.Target
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		_, t, err = loadTarget(ctx, tx, name)
		return err
	})
	if err != nil {
		return nil, wrapErr("get target", name, err)
	}
	return t, nil
}

// loadTarget reads one target with its details inside tx.
func loadTarget(ctx context.Context, tx *sql.Tx, name string) (int64, *compute.Target, error) {
	id, t, err := scanTarget(tx.QueryRowContext(ctx, `SELECT `+targetCols+` FROM targets WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, errNoTarget(name)
	} else if err != nil {
		return 0, nil, err
	}
	if err := fillDetails(ctx, tx, map[int64]*compute.Target{id: t}); err != nil {
		return 0, nil, err
	}
	return id, t, nil
}

// targetID returns the row id and stored name of the target named name.
func targetID(ctx context.Context, tx *sql.Tx, name string) (int64, string, error) {
	var id int64
	var stored string
	err := tx.QueryRowContext(ctx, `SELECT id, name FROM targets WHERE name = ?`, name).Scan(&id, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", errNoTarget(name)
	}
	return id, stored, err
}

// fillDetails sets Nodes and SecretsSet of the targets, keyed by row id, with
// one query for node counts and one for secret names, whatever their number.
func fillDetails(ctx context.Context, tx *sql.Tx, byID map[int64]*compute.Target) error {
	if len(byID) == 0 {
		return nil
	}
	ids, err := json.Marshal(slices.Collect(maps.Keys(byID)))
	if err != nil {
		return err
	}
	for _, t := range byID {
		t.Nodes = compute.NodeCounts{}
		if t.Cluster != nil {
			t.Nodes.Target = t.Cluster.TargetNodeCount
		}
		t.SecretsSet = nil
	}

	rows, err := tx.QueryContext(ctx, `SELECT target_id, state, COUNT(*) FROM nodes
		WHERE target_id IN (SELECT value FROM json_each(?)) GROUP BY target_id, state`, string(ids))
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		var state string
		var n int
		if err := rows.Scan(&id, &state, &n); err != nil {
			rows.Close()
			return err
		}
		c := &byID[id].Nodes
		for range n {
			c.Add(compute.NodeState(state))
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}

	rows, err = tx.QueryContext(ctx, `SELECT target_id, name FROM target_secrets
		WHERE target_id IN (SELECT value FROM json_each(?)) ORDER BY target_id, name`, string(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
		byID[id].SecretsSet = append(byID[id].SecretsSet, name)
	}
	return rows.Close()
}

// UpdateTarget reads the target named name, lets fn change it and writes it
// back, all in one write transaction; an error from fn aborts the update and
// is returned as is. fn must not call the Store's write methods (the write
// connection is held) and cannot rename the target or change its kind;
// changes to SecretsSet and Nodes are ignored (use SetSecrets and SaveNodes).
// ModifiedAt is set to Now, and StateSince too when ProvisioningState or the
// instance state changed. The stored target is returned.
func (s *Store) UpdateTarget(ctx context.Context, name string, fn func(t *compute.Target) error) (*compute.Target, error) {
	var out *compute.Target
	var fnErr error
	err := s.write(ctx, func(tx *sql.Tx) error {
		id, t, err := loadTarget(ctx, tx, name)
		if err != nil {
			return err
		}
		oldName, oldKind := t.Name, t.Kind
		oldState, oldInst := t.ProvisioningState, instanceState(t)
		if err := fn(t); err != nil {
			fnErr = err
			return err
		}
		if t.Name != oldName {
			return compute.Invalid("name", "A compute target cannot be renamed.")
		}
		if t.Kind != oldKind {
			return compute.Invalid("kind", "The kind of a compute target cannot be changed.")
		}
		now := s.now()
		t.ModifiedAt = now
		if t.ProvisioningState != oldState || instanceState(t) != oldInst {
			t.StateSince = now
		}
		row, err := encodeTarget(t)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE targets SET provisioning_state = ?, instance_state = ?, vm_size = ?,
			description = ?, location = ?, created_by = ?, created_at = ?, modified_at = ?, state_since = ?,
			resource_id = ?, last_operation = ?, provisioning_errors = ?, spec = ?
			WHERE id = ?`,
			string(t.ProvisioningState), string(instanceState(t)), t.VMSizeName(),
			t.Description, t.Location, t.CreatedBy, toMS(t.CreatedAt), toMS(t.ModifiedAt), toMS(t.StateSince),
			t.ResourceID, row.lastOp, row.provErrs, row.spec, id)
		if err != nil {
			return err
		}
		if _, out, err = loadTarget(ctx, tx, oldName); err != nil {
			return err
		}
		return s.accrueLocal(ctx, tx, out)
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, wrapErr("update target", name, err)
	}
	s.announce(computeChange(name))
	return out, nil
}

// DeleteTarget removes the target named name with its nodes and secrets. A
// missing target is a compute.ErrNotFound.
func (s *Store) DeleteTarget(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM targets WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errNoTarget(name)
		}
		return forgetNodeHours(ctx, tx, name)
	})
	if err != nil {
		return wrapErr("delete target", name, err)
	}
	s.announce(computeChange(name))
	return nil
}

// wrapErr adds context to database errors. Errors that are already in the
// compute vocabulary (CodedError, ValidationError) are returned unchanged so
// their messages reach the user verbatim.
func wrapErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var coded *compute.CodedError
	var invalid *compute.ValidationError
	if errors.As(err, &coded) || errors.As(err, &invalid) {
		return err
	}
	return fmt.Errorf("store: %s %q: %w", op, name, err)
}
