package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trainyard/trainyard/compute"
)

// Personal access tokens: "tya_" + base64url of 32 random bytes. The prefix
// lets secret scanners and the bearer-token resolvers recognise them; only
// the SHA-256 of the whole token is stored.

// AccessTokenPrefix starts every personal access token.
const AccessTokenPrefix = "tya_"

// MaxAccessTokenTTL is the longest lifetime a personal access token may have.
const MaxAccessTokenTTL = 366 * 24 * time.Hour

// accessTokenLen is the length of a token: prefix + base64url of 32 bytes.
const accessTokenLen = len(AccessTokenPrefix) + sessionTokenLen

// AccessToken describes a personal access token; it never holds the token.
type AccessToken struct {
	// ID is the token's public handle (for listing and revoking).
	ID         string
	UserID     string
	Name       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero until first used
	RevokedAt  time.Time // zero while not revoked
}

// Active reports whether the token still works at now.
func (t AccessToken) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt)
}

// CreateAccessToken makes a token for u named name, lasting ttl (at most
// MaxAccessTokenTTL), and returns the token itself — shown to the user once
// and never again — with its description.
func (s *Store) CreateAccessToken(ctx context.Context, u compute.User, name string, ttl time.Duration) (string, AccessToken, error) {
	name = strings.TrimSpace(name)
	switch {
	case u.ID == "":
		return "", AccessToken{}, compute.Invalid("user", "A token needs a user.")
	case name == "":
		return "", AccessToken{}, compute.Invalid("name", "Give the token a name, e.g. the machine it is for.")
	case utf8.RuneCountInString(name) > 64:
		return "", AccessToken{}, compute.Invalid("name", "The name can be at most 64 characters.")
	case ttl <= 0 || ttl > MaxAccessTokenTTL:
		return "", AccessToken{}, compute.Invalid("expires", "A token lasts between one day and one year.")
	}
	secret := make([]byte, sessionTokenBytes)
	rand.Read(secret)
	token := AccessTokenPrefix + base64.RawURLEncoding.EncodeToString(secret)
	id := make([]byte, 8)
	rand.Read(id)
	now := s.now()
	t := AccessToken{ID: hex.EncodeToString(id), UserID: u.ID, Name: name, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err := s.write(ctx, func(tx *sql.Tx) error {
		// The user exists once they signed in; a bearer-only caller (the login
		// token) gets a row now.
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, email, role, first_seen, last_sign_in) VALUES (?, ?, '', ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, u.ID, u.Name, int(u.Role), toMS(now), toMS(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO access_tokens (id, token_hash, user_id, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, hashToken(token), t.UserID, t.Name, toMS(t.CreatedAt), toMS(t.ExpiresAt))
		return err
	})
	if err != nil {
		return "", AccessToken{}, fmt.Errorf("store: create access token for %q: %w", u.ID, err)
	}
	return token, t, nil
}

// ListAccessTokens returns the user's tokens, newest first, including
// revoked and expired ones (the profile page shows them as such).
func (s *Store) ListAccessTokens(ctx context.Context, userID string) ([]AccessToken, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, user_id, name, created_at, expires_at, last_used_at, revoked_at
		FROM access_tokens WHERE user_id = ? ORDER BY created_at DESC, id LIMIT 500`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list access tokens: %w", err)
	}
	defer rows.Close()
	var out []AccessToken
	for rows.Next() {
		var (
			t                                 AccessToken
			created, expires, used, revokedAt int64
		)
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &created, &expires, &used, &revokedAt); err != nil {
			return nil, fmt.Errorf("store: list access tokens: %w", err)
		}
		t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMS(created), fromMS(expires), fromMS(used), fromMS(revokedAt)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list access tokens: %w", err)
	}
	return out, nil
}

// RevokeAccessToken revokes the user's token with this ID. A token that is
// not the user's is compute.ErrNotFound, as one that does not exist.
func (s *Store) RevokeAccessToken(ctx context.Context, userID, id string) (AccessToken, error) {
	var (
		t                                 AccessToken
		created, expires, used, revokedAt int64
	)
	now := toMS(s.now())
	err := s.writer.scanRow(ctx, `UPDATE access_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
		WHERE id = ? AND user_id = ? RETURNING id, user_id, name, created_at, expires_at, last_used_at, revoked_at`, []any{now, id, userID},
		&t.ID, &t.UserID, &t.Name, &created, &expires, &used, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return AccessToken{}, compute.NotFoundf("token", "You have no access token %q.", id)
	} else if err != nil {
		return AccessToken{}, fmt.Errorf("store: revoke access token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMS(created), fromMS(expires), fromMS(used), fromMS(revokedAt)
	return t, nil
}

// lastUsedGranularity limits how often using a token writes last_used_at.
const lastUsedGranularity = time.Minute

// ResolveAccessToken returns the user a personal access token acts for, with
// the role of the user's last sign-in, and records its use. A token that is
// not one, unknown, revoked or expired, or whose user has no role any more,
// is compute.ErrUnauthenticated.
func (s *Store) ResolveAccessToken(ctx context.Context, token string) (*compute.User, error) {
	if len(token) != accessTokenLen || !strings.HasPrefix(token, AccessTokenPrefix) {
		return nil, fmt.Errorf("store: not an access token: %w", compute.ErrUnauthenticated)
	}
	var (
		u                               compute.User
		id                              string
		role                            int
		expires, used, revokedAt, nowMS int64
	)
	nowMS = toMS(s.now())
	err := s.reader.QueryRowContext(ctx, `SELECT t.id, t.expires_at, t.last_used_at, t.revoked_at, u.id, u.name, u.role
		FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`, hashToken(token)).
		Scan(&id, &expires, &used, &revokedAt, &u.ID, &u.Name, &role)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("store: unknown access token: %w", compute.ErrUnauthenticated)
	case err != nil:
		return nil, fmt.Errorf("store: resolve access token: %w", err)
	case revokedAt != 0:
		return nil, fmt.Errorf("store: access token revoked: %w", compute.ErrUnauthenticated)
	case nowMS >= expires:
		return nil, fmt.Errorf("store: access token expired: %w", compute.ErrUnauthenticated)
	case compute.Role(role) == compute.RoleNone:
		return nil, fmt.Errorf("store: access token's user has no role: %w", compute.ErrUnauthenticated)
	}
	u.Role = compute.Role(role)
	if nowMS-used >= lastUsedGranularity.Milliseconds() {
		if _, err := s.writer.ExecContext(ctx, `UPDATE access_tokens SET last_used_at = ? WHERE id = ?`, nowMS, id); err != nil {
			return nil, fmt.Errorf("store: resolve access token: %w", err)
		}
	}
	return &u, nil
}
