package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// An OpenID Connect sign-in is a login transaction: BeginLogin records the
// hash of its state when the browser is sent to the provider, and
// ConsumeLogin deletes it when the browser comes back, so each state works
// once and only until it expires.

// BeginLogin records a sign-in with this state, valid for ttl. It also
// forgets transactions that expired unused.
func (s *Store) BeginLogin(ctx context.Context, state string, ttl time.Duration) error {
	if state == "" || ttl <= 0 {
		return compute.Invalid("state", "A sign-in needs a state and a lifetime.")
	}
	now := s.now()
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM login_transactions WHERE expires_at <= ?`, toMS(now)); err != nil {
		return fmt.Errorf("store: begin login: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO login_transactions (state_hash, expires_at) VALUES (?, ?)`,
		hashToken(state), toMS(now.Add(ttl))); err != nil {
		return fmt.Errorf("store: begin login: %w", err)
	}
	return nil
}

// ConsumeLogin ends the sign-in with this state. A state that is unknown,
// already used or expired is compute.ErrUnauthenticated.
func (s *Store) ConsumeLogin(ctx context.Context, state string) error {
	var expires int64
	err := s.writer.scanRow(ctx, `DELETE FROM login_transactions WHERE state_hash = ? RETURNING expires_at`, []any{hashToken(state)}, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: login state unknown or already used: %w", compute.ErrUnauthenticated)
	} else if err != nil {
		return fmt.Errorf("store: consume login: %w", err)
	}
	if !s.now().Before(fromMS(expires)) {
		return fmt.Errorf("store: login state expired: %w", compute.ErrUnauthenticated)
	}
	return nil
}
