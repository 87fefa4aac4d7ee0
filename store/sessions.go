package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
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
	return s.CreateSessionWith(ctx, u, ttl, SessionOptions{})
}

// SessionOptions are what a session remembers besides its user.
type SessionOptions struct {
	// Method is how the user signed in: "token" (the embedded login token,
	// the default) or "oidc".
	Method string
	// SID and LoginHint are the OpenID provider's sid and login_hint claims,
	// kept for logout; neither is a credential.
	SID       string
	LoginHint string
}

// CreateSessionWith is CreateSession with the sign-in details in opts.
func (s *Store) CreateSessionWith(ctx context.Context, u compute.User, ttl time.Duration, opts SessionOptions) (string, error) {
	if u.ID == "" {
		return "", compute.Invalid("user", "A session needs a user ID.")
	}
	if ttl <= 0 {
		return "", compute.Invalid("ttl", "A session needs a positive lifetime.")
	}
	if opts.Method == "" {
		opts.Method = "token"
	}
	b := make([]byte, sessionTokenBytes)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	_, err := s.writer.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, user_name, role, created_at, last_seen, expires_at, revoked, method, sid, login_hint)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`, hashToken(token), u.ID, u.Name, int(u.Role), toMS(now), toMS(now), toMS(now.Add(ttl)),
		opts.Method, opts.SID, opts.LoginHint)
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
	// A signed-in read is a read: the session is looked up on the read
	// pool, and last_seen is written only when it is older than
	// lastSeenEvery (at most a tenth of the idle limit), so page views do
	// not queue behind the one SQLite writer. The idle limit therefore
	// ends a session up to that much early, never late.
	var (
		u                          compute.User
		role                       int
		lastSeen, expires, revoked int64
	)
	id := hashToken(token)
	err := s.reader.QueryRowContext(ctx, `SELECT user_id, user_name, role, last_seen, expires_at, revoked FROM sessions WHERE id_hash = ?`,
		id).Scan(&u.ID, &u.Name, &role, &lastSeen, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: session: unknown session: %w", compute.ErrUnauthenticated)
	} else if err != nil {
		return nil, fmt.Errorf("store: session: %w", err)
	}
	now := s.now()
	switch {
	case revoked != 0:
		return nil, fmt.Errorf("store: session: session revoked: %w", compute.ErrUnauthenticated)
	case !now.Before(fromMS(expires)):
		return nil, fmt.Errorf("store: session: session expired: %w", compute.ErrUnauthenticated)
	case idle > 0 && now.Sub(fromMS(lastSeen)) > idle:
		return nil, fmt.Errorf("store: session: session idle for too long: %w", compute.ErrUnauthenticated)
	}
	u.Role = compute.Role(role)
	every := lastSeenEvery
	if idle > 0 {
		every = min(every, idle/10)
	}
	if now.Sub(fromMS(lastSeen)) >= every {
		if _, err := s.writer.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id_hash = ? AND last_seen < ?`,
			toMS(now), id, toMS(now)); err != nil {
			return nil, fmt.Errorf("store: session: %w", err)
		}
	}
	return &u, nil
}

// lastSeenEvery is how stale a session's last_seen may get before a request
// writes it again.
const lastSeenEvery = time.Minute

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

// EndedSession is what sign-out needs to know about the session it ended.
type EndedSession struct {
	UserID    string
	UserName  string
	Role      compute.Role
	Method    string
	LoginHint string
}

// EndSession revokes the session with this token, like RevokeSession, and
// returns what it was. An unknown token is compute.ErrNotFound.
func (s *Store) EndSession(ctx context.Context, token string) (*EndedSession, error) {
	var e EndedSession
	err := s.write(ctx, func(tx *sql.Tx) error {
		var role int
		err := tx.QueryRowContext(ctx, `SELECT user_id, user_name, role, method, login_hint FROM sessions WHERE id_hash = ? AND revoked = 0`,
			hashToken(token)).Scan(&e.UserID, &e.UserName, &role, &e.Method, &e.LoginHint)
		if errors.Is(err, sql.ErrNoRows) {
			return compute.ErrNotFound
		} else if err != nil {
			return err
		}
		e.Role = compute.Role(role)
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET revoked = 1 WHERE id_hash = ?`, hashToken(token))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: end session: %w", err)
	}
	return &e, nil
}

// SessionInfo describes a live session for the profile and admin pages; it
// carries a handle, never the token.
type SessionInfo struct {
	// Handle names the session for RevokeSessionByHandle: hex of the first
	// 12 bytes of the token's SHA-256, so it cannot be turned into a cookie.
	Handle    string
	UserID    string
	UserName  string
	Role      compute.Role
	Method    string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// sessionHandleBytes is how much of the token hash a handle shows.
const sessionHandleBytes = 12

// SessionHandle returns the handle of the session with this token.
func SessionHandle(token string) string {
	return hex.EncodeToString(hashToken(token)[:sessionHandleBytes])
}

// ListSessions returns the sessions that are neither revoked nor expired,
// newest first: the user's when userID is set, else everyone's.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	q := `SELECT id_hash, user_id, user_name, role, method, created_at, last_seen, expires_at FROM sessions
		WHERE revoked = 0 AND expires_at > ?`
	args := []any{toMS(s.now())}
	if userID != "" {
		q += ` AND user_id = ?`
		args = append(args, userID)
	}
	rows, err := s.reader.QueryContext(ctx, q+` ORDER BY created_at DESC LIMIT 1000`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	defer rows.Close()
	var out []SessionInfo
	for rows.Next() {
		var (
			si                     SessionInfo
			hash                   []byte
			role                   int
			created, seen, expires int64
		)
		if err := rows.Scan(&hash, &si.UserID, &si.UserName, &role, &si.Method, &created, &seen, &expires); err != nil {
			return nil, fmt.Errorf("store: list sessions: %w", err)
		}
		if len(hash) >= sessionHandleBytes {
			si.Handle = hex.EncodeToString(hash[:sessionHandleBytes])
		}
		si.Role, si.CreatedAt, si.LastSeen, si.ExpiresAt = compute.Role(role), fromMS(created), fromMS(seen), fromMS(expires)
		out = append(out, si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	return out, nil
}

// RevokeSessionByHandle ends the session with this handle (an admin's kill
// switch) and returns whose it was. An unknown handle is compute.ErrNotFound.
func (s *Store) RevokeSessionByHandle(ctx context.Context, handle string) (string, error) {
	b, err := hex.DecodeString(handle)
	if err != nil || len(b) != sessionHandleBytes {
		return "", fmt.Errorf("store: revoke session: %w", compute.NotFoundf("session", "There is no such session."))
	}
	var userID string
	err = s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE sessions SET revoked = 1 WHERE substr(id_hash, 1, ?) = ? AND revoked = 0 RETURNING user_id`,
			sessionHandleBytes, b).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return compute.NotFoundf("session", "There is no such session, or it has ended.")
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store: revoke session: %w", err)
	}
	return userID, nil
}

// RevokeUserSessions ends every session of a user ("sign out everywhere")
// and returns how many were live.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string) (int64, error) {
	res, err := s.writer.ExecContext(ctx, `UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0`, userID)
	if err != nil {
		return 0, fmt.Errorf("store: revoke sessions of %q: %w", userID, err)
	}
	return res.RowsAffected()
}
