package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// azureTokenAAD binds a sealed refresh token to its user, so a row copied
// to another user does not open.
func azureTokenAAD(userID string) []byte { return []byte("azure-refresh-token/" + userID) }

// PutAzureRefreshToken keeps the user's refresh token for Azure Resource
// Manager, sealed; a new one (sign-in, rotation) replaces the old.
func (s *Store) PutAzureRefreshToken(ctx context.Context, userID, token string) error {
	sealed := s.keys.seal([]byte(token), azureTokenAAD(userID))
	_, err := s.writer.ExecContext(ctx, `INSERT INTO azure_user_tokens (user_id, sealed, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`, userID, sealed, toMS(s.now()))
	if err != nil {
		return fmt.Errorf("store: keep the Azure token of %s: %w", userID, err)
	}
	return nil
}

// AzureRefreshToken returns the user's refresh token, or "" when they have
// none (they signed in without delegated access, or with the login token).
func (s *Store) AzureRefreshToken(ctx context.Context, userID string) (string, error) {
	var sealed []byte
	err := s.reader.QueryRowContext(ctx, `SELECT sealed FROM azure_user_tokens WHERE user_id = ?`, userID).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: the Azure token of %s: %w", userID, err)
	}
	plain, _, err := s.keys.open(sealed, azureTokenAAD(userID))
	if err != nil {
		return "", fmt.Errorf("store: the Azure token of %s: %w", userID, err)
	}
	return string(plain), nil
}
