package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// RunTokenPrefix starts every per-run tracking token, so the resolver can
// tell them from other bearer tokens without a database read.
const RunTokenPrefix = "tyr_"

// IssueRunToken makes a fresh tracking token for a run (its
// MLFLOW_TRACKING_TOKEN) and stores only its SHA-256. The token is valid for
// that run's tracking calls until the run ends; a run may have several (one
// per submission attempt).
func (s *Store) IssueRunToken(ctx context.Context, runID string) (string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := RunTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	err := s.write(ctx, func(tx *sql.Tx) error {
		seq, err := runSeq(ctx, tx, runID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO run_tokens (hash, run_seq, created_at) VALUES (?, ?, ?)`,
			hashToken(token), seq, toMS(s.now()))
		return err
	})
	if err != nil {
		return "", wrapErr("issue token for run", runID, err)
	}
	return token, nil
}

// ResolveRunToken returns the run-scoped principal of a per-run tracking
// token: compute.User{ID: "run:<id>", Name: <submitter>, Role: DataScientist,
// RunID: <id>}. A token that is not a run token, is unknown, or whose run
// has ended is a compute.ErrUnauthenticated. It has the shape of
// web.TokenResolver's method.
func (s *Store) ResolveRunToken(ctx context.Context, token string) (*compute.User, error) {
	if !strings.HasPrefix(token, RunTokenPrefix) {
		return nil, compute.ErrUnauthenticated
	}
	var id, by, status string
	err := s.reader.QueryRowContext(ctx, `SELECT r.id, r.submitted_by, r.status FROM run_tokens t
		JOIN runs r ON r.seq = t.run_seq WHERE t.hash = ?`, hashToken(token)).Scan(&id, &by, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: unknown run token: %w", compute.ErrUnauthenticated)
	} else if err != nil {
		return nil, fmt.Errorf("store: resolve run token: %w", err)
	}
	if compute.RunStatus(status).Terminal() {
		return nil, fmt.Errorf("store: the token's run %s has ended: %w", id, compute.ErrUnauthenticated)
	}
	return &compute.User{ID: "run:" + id, Name: by, Role: compute.RoleDataScientist, RunID: id}, nil
}
