package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// errNoRun is the error for a run that does not exist.
func errNoRun(id string) error {
	return compute.NotFoundf("runId", "Run '%s' was not found.", id)
}

// runCols are the columns scanRun reads, in order; runListCols are the
// same for lists, with the environment and the run configuration (which
// can be large) left out.
const (
	runColsHead = `r.seq, r.id, r.kind, r.experiment_id, e.name, r.display_name, r.status, r.status_reason, r.target,
	r.parent_id, r.submitted_by, r.submitted_by_id, r.created_at, r.started_at, r.ended_at, r.script, r.arguments,
	r.node_count, r.max_duration_ms, r.snapshot_id, r.git, `
	runColsTail = `, r.handle_backend, r.handle_id, r.attempt, r.error, r.sweep, r.best_child_id, r.child_index,
	r.hyperparameters, r.policy_cancel_reason`
	runCols     = runColsHead + `r.environment, r.run_config` + runColsTail
	runListCols = runColsHead + `'{}', ''` + runColsTail
)

// runFrom is the FROM clause matching runCols.
const runFrom = ` FROM runs r JOIN experiments e ON e.id = r.experiment_id`

// envJSON is how RunEnvironment is kept in the environment column.
type envJSON struct {
	Variables               map[string]string `json:"variables,omitempty"`
	InterpreterPath         string            `json:"interpreterPath,omitempty"`
	UserManagedDependencies bool              `json:"userManagedDependencies,omitempty"`
	CondaDependencies       json.RawMessage   `json:"condaDependencies,omitempty"`
	DockerEnabled           bool              `json:"dockerEnabled,omitempty"`
	DockerBaseImage         string            `json:"dockerBaseImage,omitempty"`
}

// gitJSON is how GitInfo is kept in git columns.
type gitJSON struct {
	Repository string `json:"repository,omitempty"`
	Branch     string `json:"branch,omitempty"`
	Commit     string `json:"commit,omitempty"`
	Dirty      bool   `json:"dirty,omitempty"`
}

func encodeGit(g *compute.GitInfo) (string, error) {
	if g == nil {
		return "", nil
	}
	b, err := json.Marshal(gitJSON(*g))
	return string(b), err
}

func decodeGit(s string) (*compute.GitInfo, error) {
	if s == "" {
		return nil, nil
	}
	var g gitJSON
	if err := json.Unmarshal([]byte(s), &g); err != nil {
		return nil, err
	}
	out := compute.GitInfo(g)
	return &out, nil
}

func encodeEnv(e compute.RunEnvironment) (string, error) {
	j := envJSON{
		Variables: e.Variables, InterpreterPath: e.InterpreterPath, UserManagedDependencies: e.UserManagedDependencies,
		DockerEnabled: e.DockerEnabled, DockerBaseImage: e.DockerBaseImage,
	}
	if len(e.CondaDependencies) > 0 && json.Valid(e.CondaDependencies) {
		j.CondaDependencies = e.CondaDependencies
	}
	b, err := json.Marshal(j)
	return string(b), err
}

type rowScanner interface{ Scan(dest ...any) error }

// scanRun reads one row of runCols.
func scanRun(sc rowScanner) (int64, *compute.Run, error) {
	var (
		seq                              int64
		r                                compute.Run
		kind, status, args, git, env, rc string
		created, started, ended, maxDur  int64
		sweep, hyper                     string
	)
	err := sc.Scan(&seq, &r.ID, &kind, &r.ExperimentID, &r.ExperimentName, &r.DisplayName, &status, &r.StatusReason,
		&r.Target, &r.ParentID, &r.SubmittedBy, &r.SubmittedByID, &created, &started, &ended, &r.Script, &args,
		&r.NodeCount, &maxDur, &r.SnapshotID, &git, &env, &rc, &r.Handle.Backend, &r.Handle.ID, &r.Attempt, &r.Error,
		&sweep, &r.BestChildID, &r.ChildIndex, &hyper, &r.PolicyCancelReason)
	if err != nil {
		return 0, nil, err
	}
	if err := decodeSweep(sweep, hyper, &r); err != nil {
		return 0, nil, err
	}
	r.Kind, r.Status = compute.RunKind(kind), compute.RunStatus(status)
	r.CreatedAt, r.StartedAt, r.EndedAt = fromMS(created), fromMS(started), fromMS(ended)
	r.MaxRunDuration = time.Duration(maxDur) * time.Millisecond
	if err := json.Unmarshal([]byte(args), &r.Arguments); err != nil {
		return 0, nil, fmt.Errorf("run %s: arguments: %w", r.ID, err)
	}
	if r.Git, err = decodeGit(git); err != nil {
		return 0, nil, fmt.Errorf("run %s: git: %w", r.ID, err)
	}
	var e envJSON
	if err := json.Unmarshal([]byte(env), &e); err != nil {
		return 0, nil, fmt.Errorf("run %s: environment: %w", r.ID, err)
	}
	r.Environment = compute.RunEnvironment{
		Variables: e.Variables, InterpreterPath: e.InterpreterPath, UserManagedDependencies: e.UserManagedDependencies,
		CondaDependencies: e.CondaDependencies, DockerEnabled: e.DockerEnabled, DockerBaseImage: e.DockerBaseImage,
	}
	if rc != "" {
		r.RunConfiguration = []byte(rc)
	}
	return seq, &r, nil
}

// CreateRun stores a new run. The experiment is found by ExperimentName
// (created on first use) or, when the name is empty, by ExperimentID (which
// must exist). ID is made with compute.NewRunID when empty; Kind defaults to
// script, Status to NotStarted, NodeCount to 1, CreatedAt to Now. The first
// status event is recorded with StatusReason. r is updated with what was
// stored (IDs, times, History). A taken ID is a compute.ErrConflict.
func (s *Store) CreateRun(ctx context.Context, r *compute.Run) error {
	return s.CreateRuns(ctx, []*compute.Run{r})
}

// CreateRuns stores several new runs in one transaction (child runs of a
// sweep, imports); see CreateRun for the defaults. Either all are stored or
// none.
func (s *Store) CreateRuns(ctx context.Context, runs []*compute.Run) error {
	now := s.now()
	for _, r := range runs {
		if err := prepareNewRun(r, now); err != nil {
			return err
		}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO runs (id, kind, experiment_id, display_name, status,
			status_reason, target, parent_id, submitted_by, submitted_by_id, created_at, started_at, ended_at, script,
			arguments, node_count, max_duration_ms, snapshot_id, git, environment, run_config, handle_backend,
			handle_id, attempt, error, sweep, best_child_id, child_index, hyperparameters, policy_cancel_reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		ev, err := tx.PrepareContext(ctx, `INSERT INTO run_events (run_seq, status, at, reason) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ev.Close()
		exps := map[string]*compute.Experiment{}
		for _, r := range runs {
			exp, err := s.runExperiment(ctx, tx, r, exps)
			if err != nil {
				return err
			}
			r.ExperimentID, r.ExperimentName = exp.ID, exp.Name
			args, err := json.Marshal(r.Arguments)
			if err != nil {
				return err
			}
			git, err := encodeGit(r.Git)
			if err != nil {
				return err
			}
			env, err := encodeEnv(r.Environment)
			if err != nil {
				return err
			}
			sweep, hyper, err := encodeSweep(r)
			if err != nil {
				return err
			}
			rc := ""
			if len(r.RunConfiguration) > 0 {
				if !json.Valid(r.RunConfiguration) {
					return compute.Invalid("runConfiguration", "The run configuration is not valid JSON.")
				}
				rc = string(r.RunConfiguration)
			}
			res, err := stmt.ExecContext(ctx, r.ID, string(r.Kind), exp.ID, r.DisplayName, string(r.Status),
				r.StatusReason, r.Target, r.ParentID, r.SubmittedBy, r.SubmittedByID, toMS(r.CreatedAt), toMS(r.StartedAt),
				toMS(r.EndedAt), r.Script, string(args), r.NodeCount, r.MaxRunDuration.Milliseconds(), r.SnapshotID, git,
				env, rc, r.Handle.Backend, r.Handle.ID, r.Attempt, r.Error, sweep, r.BestChildID, r.ChildIndex, hyper,
				r.PolicyCancelReason)
			if isUnique(err) {
				return compute.Conflictf("AlreadyExists", "runId", "Run '%s' already exists.", r.ID)
			} else if err != nil {
				return err
			}
			seq, err := res.LastInsertId()
			if err != nil {
				return err
			}
			if _, err := ev.ExecContext(ctx, seq, string(r.Status), toMS(r.CreatedAt), r.StatusReason); err != nil {
				return err
			}
			r.History = []compute.RunEvent{{Status: r.Status, Time: r.CreatedAt, Reason: r.StatusReason}}
			if _, err := tx.ExecContext(ctx, `UPDATE experiments SET run_count = run_count + 1,
				last_run_at = MAX(last_run_at, ?) WHERE id = ?`, toMS(r.CreatedAt), exp.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrapErr("create run", "", err)
	}
	for _, r := range runs {
		s.announce(runChange(r.ID, r.Target, r.ParentID))
	}
	return nil
}

// prepareNewRun applies CreateRun's defaults and checks what the database
// cannot.
func prepareNewRun(r *compute.Run, now time.Time) error {
	if r == nil {
		return compute.Invalid("run", "No run given.")
	}
	if r.ExperimentName != "" {
		if msg := compute.ValidateExperimentName(r.ExperimentName); msg != "" {
			return compute.Invalid("experimentName", "%s", msg)
		}
	}
	if r.ID == "" {
		name := r.ExperimentName
		if name == "" {
			name = "run"
		}
		r.ID = compute.NewRunID(name, now)
	}
	if !compute.ValidRunID(r.ID) {
		return compute.Invalid("runId", "%q is not a valid run ID.", r.ID)
	}
	if r.Kind == "" {
		r.Kind = compute.RunKindScript
	}
	if r.Status == "" {
		r.Status = compute.RunNotStarted
	}
	if !r.Status.Valid() {
		return compute.Invalid("status", "Unknown run status %q.", r.Status)
	}
	if r.NodeCount == 0 {
		r.NodeCount = 1
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.CreatedAt, r.StartedAt, r.EndedAt = normTime(r.CreatedAt), normTime(r.StartedAt), normTime(r.EndedAt)
	if r.Arguments == nil {
		r.Arguments = []string{}
	}
	return nil
}

// runExperiment finds (or creates) the experiment a new run belongs to.
func (s *Store) runExperiment(ctx context.Context, tx *sql.Tx, r *compute.Run, cache map[string]*compute.Experiment) (*compute.Experiment, error) {
	key := r.ExperimentName
	if key == "" {
		key = fmt.Sprintf("#%d", r.ExperimentID)
	}
	if e, ok := cache[key]; ok {
		return e, nil
	}
	var (
		e   *compute.Experiment
		err error
	)
	if r.ExperimentName != "" {
		e, _, err = ensureExperiment(ctx, tx, r.ExperimentName, s.now())
	} else {
		e, err = experimentByID(ctx, tx, r.ExperimentID)
	}
	if err != nil {
		return nil, err
	}
	cache[key] = e
	return e, nil
}

// GetRun returns the run with this ID with its latest metrics, params, tags
// and status history. A missing run is a compute.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id string) (*compute.Run, error) {
	var r *compute.Run
	err := s.read(ctx, func(tx *sql.Tx) error {
		seq, run, err := loadRun(ctx, tx, id)
		if err != nil {
			return err
		}
		r = run
		return fillRunDetails(ctx, tx, seq, r)
	})
	if err != nil {
		return nil, wrapErr("get run", id, err)
	}
	return r, nil
}

// loadRun reads the run's own row.
func loadRun(ctx context.Context, tx *sql.Tx, id string) (int64, *compute.Run, error) {
	seq, r, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runCols+runFrom+` WHERE r.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, errNoRun(id)
	}
	return seq, r, err
}

// runSeq returns the internal key of a run.
func runSeq(ctx context.Context, tx *sql.Tx, id string) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `SELECT seq FROM runs WHERE id = ?`, id).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errNoRun(id)
	}
	return seq, err
}

// fillRunDetails reads a run's metrics (latest), params, tags and history.
func fillRunDetails(ctx context.Context, tx *sql.Tx, seq int64, r *compute.Run) error {
	if err := fillLatestMetrics(ctx, tx, map[int64]*compute.Run{seq: r}); err != nil {
		return err
	}
	r.Params, r.Tags = map[string]string{}, map[string]string{}
	for _, kv := range []struct {
		table string
		into  map[string]string
	}{{"run_params", r.Params}, {"run_tags", r.Tags}} {
		rows, err := tx.QueryContext(ctx, `SELECT key, value FROM `+kv.table+` WHERE run_seq = ?`, seq)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			kv.into[k] = v
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT status, at, reason FROM run_events WHERE run_seq = ? ORDER BY seq`, seq)
	if err != nil {
		return err
	}
	defer rows.Close()
	r.History = nil
	for rows.Next() {
		var ev compute.RunEvent
		var st string
		var at int64
		if err := rows.Scan(&st, &at, &ev.Reason); err != nil {
			return err
		}
		ev.Status, ev.Time = compute.RunStatus(st), fromMS(at)
		r.History = append(r.History, ev)
	}
	return rows.Close()
}

// UpdateRun reads the run, lets fn change it and writes it back in one write
// transaction; an error from fn aborts the update and is returned as is. fn
// must not call the Store's write methods. It may change Status,
// StatusReason, Handle, Attempt, Error, DisplayName, StartedAt, EndedAt,
// BestChildID and PolicyCancelReason; other changes are ignored. A status change must be allowed by
// compute.RunStatus.CanMoveTo (else compute.ErrConflict) and is recorded as a
// status event with StatusReason (Error for Failed when no reason is given);
// StartedAt is set on reaching Running and EndedAt on reaching a terminal
// status, when they are zero; a terminal status also deletes the run's
// tracking tokens. The stored run is returned without metrics,
// params, tags and history (GetRun reads those).
func (s *Store) UpdateRun(ctx context.Context, id string, fn func(r *compute.Run) error) (*compute.Run, error) {
	return s.UpdateRunVia(ctx, id, nil, fn)
}

// UpdateRunVia is UpdateRun for a run that passes through the statuses via
// on its way to the status fn sets: each step must be allowed and is
// recorded as a status event of its own, all at the same time, in the one
// transaction. The dispatcher moves a run it admits at once from NotStarted
// through Queued to Preparing so: one write where there were two, and the
// same timeline. via is ignored when fn leaves the status as it was.
func (s *Store) UpdateRunVia(ctx context.Context, id string, via []compute.RunStatus, fn func(r *compute.Run) error) (*compute.Run, error) {
	var out *compute.Run
	var fnErr error
	err := s.write(ctx, func(tx *sql.Tx) error {
		seq, r, err := loadRun(ctx, tx, id)
		if err != nil {
			return err
		}
		old := *r
		if err := fn(r); err != nil {
			fnErr = err
			return err
		}
		now := s.now()
		if r.Status != old.Status {
			from := old.Status
			for _, step := range via {
				if step == compute.RunRunning || step.Terminal() {
					// Those set StartedAt or EndedAt: a run must stop there.
					return fmt.Errorf("a run cannot pass through %s", step)
				}
				if !from.CanMoveTo(step) {
					return compute.Conflictf("InvalidStatusChange", "status", "Run '%s' is %s and cannot become %s.", id, from, step)
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO run_events (run_seq, status, at, reason) VALUES (?, ?, ?, '')`,
					seq, string(step), toMS(now)); err != nil {
					return err
				}
				from = step
			}
			if !from.CanMoveTo(r.Status) {
				return compute.Conflictf("InvalidStatusChange", "status", "Run '%s' is %s and cannot become %s.", id, from, r.Status)
			}
			reason := r.StatusReason
			if reason == "" && r.Status == compute.RunFailed {
				reason = r.Error
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_events (run_seq, status, at, reason) VALUES (?, ?, ?, ?)`,
				seq, string(r.Status), toMS(now), reason); err != nil {
				return err
			}
			if r.Status == compute.RunRunning && r.StartedAt.IsZero() {
				r.StartedAt = now
			}
			if r.Status.Terminal() && r.EndedAt.IsZero() {
				r.EndedAt = now
			}
			if r.Status.Terminal() {
				// A run's tracking tokens end with it.
				if _, err := tx.ExecContext(ctx, `DELETE FROM run_tokens WHERE run_seq = ?`, seq); err != nil {
					return err
				}
			}
		}
		r.StartedAt, r.EndedAt = normTime(r.StartedAt), normTime(r.EndedAt)
		_, err = tx.ExecContext(ctx, `UPDATE runs SET status = ?, status_reason = ?, handle_backend = ?, handle_id = ?,
			attempt = ?, error = ?, display_name = ?, started_at = ?, ended_at = ?, best_child_id = ?,
			policy_cancel_reason = ? WHERE seq = ?`,
			string(r.Status), r.StatusReason, r.Handle.Backend, r.Handle.ID, r.Attempt, r.Error, r.DisplayName,
			toMS(r.StartedAt), toMS(r.EndedAt), r.BestChildID, r.PolicyCancelReason, seq)
		if err != nil {
			return err
		}
		// The row now holds old with the fields written above: no need to
		// read it back (one query less on every status change).
		stored := old
		stored.Status, stored.StatusReason, stored.Handle, stored.Attempt, stored.Error = r.Status, r.StatusReason, r.Handle, r.Attempt, r.Error
		stored.DisplayName, stored.StartedAt, stored.EndedAt = r.DisplayName, r.StartedAt, r.EndedAt
		stored.BestChildID, stored.PolicyCancelReason = r.BestChildID, r.PolicyCancelReason
		out = &stored
		return nil
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, wrapErr("update run", id, err)
	}
	s.announce(runChange(out.ID, out.Target, out.ParentID))
	return out, nil
}

// ActiveRuns returns every script run whose status is not terminal, oldest
// first: the dispatcher's work list.
func (s *Store) ActiveRuns(ctx context.Context) ([]*compute.Run, error) {
	var out []*compute.Run
	err := s.read(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `SELECT `+runCols+runFrom+` WHERE `+activeTerm+`
			AND r.kind = 'script' ORDER BY r.seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			_, r, err := scanRun(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("store: active runs: %w", err)
	}
	return out, nil
}

// RunDemand returns how many nodes the active script runs on a target want
// (the sum of their node counts): the controller scales clusters to it.
func (s *Store) RunDemand(ctx context.Context, target string) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT COALESCE(SUM(r.node_count), 0) FROM runs r WHERE r.target = ?
		AND r.kind = 'script' AND `+activeTerm, target).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: run demand of %q: %w", target, err)
	}
	return n, nil
}

// activeTerm selects runs that have not ended. It repeats the WHERE term of
// the partial index runs_active word for word, so SQLite uses that index.
const activeTerm = `r.status NOT IN ('Completed', 'Failed', 'Canceled')`
