package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// Browser sessions live on the server: the cookie carries a random token and
// the sessions table only its SHA-256, so a copy of the database cannot be
// replayed as a cookie.

// sessionTokenBytes is the entropy of a session token.
const sessionTokenBytes = 32

// sessionTokenLen is the length of a token: base64url of 32 bytes, no padding.
const sessionTokenLen = (sessionTokenBytes*8 + 5) / 6

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// CreateSession starts a session for u lasting at most ttl and returns its
// token (32 random bytes, base64url) for the cookie. Only the token's hash is
// stored.
func (s *Store) CreateSession(ctx context.Context, u compute.User, ttl time.Duration) (string, error) {
	if u.ID == "" {
		return "", compute.Invalid("user", "A session needs a user ID.")
	}
	if ttl <= 0 {
		return "", compute.Invalid("ttl", "A session needs a positive lifetime.")
	}
	b := make([]byte, sessionTokenBytes)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	_, err := s.writer.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, user_name, role, created_at, last_seen, expires_at, revoked)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0)`, hashToken(token), u.ID, u.Name, int(u.Role), toMS(now), toMS(now), toMS(now.Add(ttl)))
	if err != nil {
		return "", fmt.Errorf("store: create session for %q: %w", u.ID, err)
	}
	return token, nil
}

// LookupSession returns the user of the session with this token and records
// that it was seen now. A token that is unknown, revoked, past its expiry or
// unused for longer than idle is compute.ErrUnauthenticated; idle <= 0 turns
// the idle limit off.
func (s *Store) LookupSession(ctx context.Context, token string, idle time.Duration) (*compute.User, error) {
	if len(token) != sessionTokenLen {
		return nil, fmt.Errorf("store: session: malformed token: %w", compute.ErrUnauthenticated)
	}
	var u compute.User
	err := s.write(ctx, func(tx *sql.Tx) error {
		var (
			role                       int
			lastSeen, expires, revoked int64
		)
		err := tx.QueryRowContext(ctx, `SELECT user_id, user_name, role, last_seen, expires_at, revoked FROM sessions WHERE id_hash = ?`,
			hashToken(token)).Scan(&u.ID, &u.Name, &role, &lastSeen, &expires, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("unknown session: %w", compute.ErrUnauthenticated)
		} else if err != nil {
			return err
		}
		now := s.now()
		switch {
		case revoked != 0:
			return fmt.Errorf("session revoked: %w", compute.ErrUnauthenticated)
		case !now.Before(fromMS(expires)):
			return fmt.Errorf("session expired: %w", compute.ErrUnauthenticated)
		case idle > 0 && now.Sub(fromMS(lastSeen)) > idle:
			return fmt.Errorf("session idle for too long: %w", compute.ErrUnauthenticated)
		}
		u.Role = compute.Role(role)
		if toMS(now) > lastSeen {
			_, err = tx.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id_hash = ?`, toMS(now), hashToken(token))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: session: %w", err)
	}
	return &u, nil
}

// RevokeSession ends the session with this token (sign-out). Revoking an
// unknown or already revoked session is not an error.
func (s *Store) RevokeSession(ctx context.Context, token string) error {
	if _, err := s.writer.ExecContext(ctx, `UPDATE sessions SET revoked = 1 WHERE id_hash = ?`, hashToken(token)); err != nil {
		return fmt.Errorf("store: revoke session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions that are revoked or past their
// expiry, and returns how many it removed. Run it now and then.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE revoked <> 0 OR expires_at <= ?`, toMS(s.now()))
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}
