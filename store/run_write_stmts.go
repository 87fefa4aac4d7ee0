package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Statements every status change of a run executes (UpdateRun). SQLite
// parses a statement each time it is prepared, and database/sql prepares
// each query anew; for a sweep of no-op children that parsing was a fifth of
// the server's CPU per child (docs/BENCHMARKS.md, sweep throughput). These
// are prepared once on the writer's one connection at Open, and each
// transaction uses them through Tx.StmtContext, which takes the
// connection's prepared statement instead of preparing again.
const (
	qLoadRun      = `SELECT ` + runCols + runFrom + ` WHERE r.id = ?`
	qInsertEvent  = `INSERT INTO run_events (run_seq, status, at, reason) VALUES (?, ?, ?, ?)`
	qDeleteTokens = `DELETE FROM run_tokens WHERE run_seq = ?`
	qUpdateRun    = `UPDATE runs SET status = ?, status_reason = ?, handle_backend = ?, handle_id = ?,
			attempt = ?, error = ?, display_name = ?, started_at = ?, ended_at = ?, best_child_id = ?,
			policy_cancel_reason = ? WHERE seq = ?`
)

// runWriteStmts holds those statements, prepared on the writer pool.
type runWriteStmts struct {
	loadRun, insertEvent, deleteTokens, updateRun *sql.Stmt
}

// prepareRunWrites prepares the statements on db (the writer pool).
func prepareRunWrites(ctx context.Context, db *sql.DB) (runWriteStmts, error) {
	var w runWriteStmts
	for _, p := range []struct {
		into **sql.Stmt
		q    string
	}{{&w.loadRun, qLoadRun}, {&w.insertEvent, qInsertEvent}, {&w.deleteTokens, qDeleteTokens}, {&w.updateRun, qUpdateRun}} {
		st, err := db.PrepareContext(ctx, p.q)
		if err != nil {
			w.close()
			return runWriteStmts{}, fmt.Errorf("prepare %q: %w", p.q, err)
		}
		*p.into = st
	}
	return w, nil
}

func (w runWriteStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{w.loadRun, w.insertEvent, w.deleteTokens, w.updateRun} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
