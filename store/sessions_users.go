package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// UserRecord is a person as they last signed in.
type UserRecord struct {
	// ID is "<tid>/<oid>" for OpenID Connect users and "local" for the
	// embedded login token.
	ID    string
	Name  string
	Email string
	// Role is the role of the last sign-in; access tokens act with it.
	Role       compute.Role
	FirstSeen  time.Time
	LastSignIn time.Time
}

// RecordSignIn creates or updates the user with the name, email and role of
// a sign-in happening now.
func (s *Store) RecordSignIn(ctx context.Context, u UserRecord) error {
	if u.ID == "" {
		return compute.Invalid("user", "A user needs an ID.")
	}
	now := toMS(s.now())
	_, err := s.writer.ExecContext(ctx, `INSERT INTO users (id, name, email, role, first_seen, last_sign_in) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, role = excluded.role, last_sign_in = excluded.last_sign_in`,
		u.ID, u.Name, u.Email, int(u.Role), now, now)
	if err != nil {
		return fmt.Errorf("store: record sign-in of %q: %w", u.ID, err)
	}
	return nil
}

// GetUser returns the user with this ID, or compute.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (*UserRecord, error) {
	var (
		u               UserRecord
		role            int
		first, lastSign int64
	)
	err := s.reader.QueryRowContext(ctx, `SELECT id, name, email, role, first_seen, last_sign_in FROM users WHERE id = ?`, id).
		Scan(&u.ID, &u.Name, &u.Email, &role, &first, &lastSign)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, compute.NotFoundf("user", "There is no user %q.", id)
	} else if err != nil {
		return nil, fmt.Errorf("store: get user: %w", err)
	}
	u.Role, u.FirstSeen, u.LastSignIn = compute.Role(role), fromMS(first), fromMS(lastSign)
	return &u, nil
}
