package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/compute"
)

const experimentCols = `id, name, created_at, run_count, last_run_at`

func scanExperiment(sc rowScanner) (*compute.Experiment, error) {
	var e compute.Experiment
	var created, last int64
	if err := sc.Scan(&e.ID, &e.Name, &created, &e.RunCount, &last); err != nil {
		return nil, err
	}
	e.CreatedAt, e.LastRunAt = fromMS(created), fromMS(last)
	return &e, nil
}

func errNoExperiment(what string) error {
	return compute.NotFoundf("experiment", "Experiment '%s' was not found.", what)
}

// EnsureExperiment returns the experiment with this name (matched regardless
// of case), creating it when it does not exist; created says which. A name
// that breaks compute.ValidateExperimentName is a compute.ErrInvalid.
func (s *Store) EnsureExperiment(ctx context.Context, name string) (e *compute.Experiment, created bool, err error) {
	if msg := compute.ValidateExperimentName(name); msg != "" {
		return nil, false, compute.Invalid("name", "%s", msg)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		e, created, err = ensureExperiment(ctx, tx, name, s.now())
		return err
	})
	if err != nil {
		return nil, false, wrapErr("ensure experiment", name, err)
	}
	return e, created, nil
}

// CreateExperiment creates an experiment; a name already taken is a
// compute.ErrConflict with code AlreadyExists.
func (s *Store) CreateExperiment(ctx context.Context, name string) (*compute.Experiment, error) {
	if msg := compute.ValidateExperimentName(name); msg != "" {
		return nil, compute.Invalid("name", "%s", msg)
	}
	var e *compute.Experiment
	err := s.write(ctx, func(tx *sql.Tx) error {
		var created bool
		var err error
		e, created, err = ensureExperiment(ctx, tx, name, s.now())
		if err == nil && !created {
			return compute.Conflictf("AlreadyExists", "name", "Experiment '%s' already exists.", e.Name)
		}
		return err
	})
	if err != nil {
		return nil, wrapErr("create experiment", name, err)
	}
	return e, nil
}

func ensureExperiment(ctx context.Context, tx *sql.Tx, name string, now time.Time) (*compute.Experiment, bool, error) {
	e, err := scanExperiment(tx.QueryRowContext(ctx, `SELECT `+experimentCols+` FROM experiments WHERE name = ?`, name))
	if err == nil {
		return e, false, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, err
	}
	if msg := compute.ValidateExperimentName(name); msg != "" {
		return nil, false, compute.Invalid("experimentName", "%s", msg)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO experiments (name, created_at) VALUES (?, ?)`, name, toMS(now))
	if err != nil {
		return nil, false, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, false, err
	}
	return &compute.Experiment{ID: id, Name: name, CreatedAt: now}, true, nil
}

func experimentByID(ctx context.Context, tx *sql.Tx, id int64) (*compute.Experiment, error) {
	e, err := scanExperiment(tx.QueryRowContext(ctx, `SELECT `+experimentCols+` FROM experiments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoExperiment(fmt.Sprint(id))
	}
	return e, err
}

// GetExperiment returns the experiment with this ID; a missing one is a
// compute.ErrNotFound.
func (s *Store) GetExperiment(ctx context.Context, id int64) (*compute.Experiment, error) {
	var e *compute.Experiment
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = experimentByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, wrapErr("get experiment", fmt.Sprint(id), err)
	}
	return e, nil
}

// GetExperimentByName returns the experiment with this name (regardless of
// case); a missing one is a compute.ErrNotFound.
func (s *Store) GetExperimentByName(ctx context.Context, name string) (*compute.Experiment, error) {
	e, err := scanExperiment(s.reader.QueryRowContext(ctx, `SELECT `+experimentCols+` FROM experiments WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoExperiment(name)
	} else if err != nil {
		return nil, fmt.Errorf("store: get experiment %q: %w", name, err)
	}
	return e, nil
}

// ListExperiments returns every experiment, the most recently used first
// (then the newest).
func (s *Store) ListExperiments(ctx context.Context) ([]*compute.Experiment, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+experimentCols+` FROM experiments
		ORDER BY MAX(last_run_at, created_at) DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: list experiments: %w", err)
	}
	defer rows.Close()
	var out []*compute.Experiment
	for rows.Next() {
		e, err := scanExperiment(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list experiments: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("store: list experiments: %w", err)
	}
	return out, nil
}
