package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// Secrets of targets (passwords, private keys, tokens) are stored one per
// row of target_secrets, sealed by the Keyring with AES-256-GCM. The AAD
// binds a ciphertext to its table, column, row and target, so a value copied
// elsewhere fails to open. Values never appear in errors or logs; reads
// return names only, except Secret, which backends call at dial time.

// secretAAD is the additional data a secret is sealed with.
func secretAAD(rowID, target string) []byte {
	return []byte("trainyard-secret/v1|target_secrets|value|" + rowID + "|" + target)
}

// newRowID returns a random row ID for target_secrets, chosen before the
// INSERT because it is part of the AAD.
func newRowID() string { return rand.Text() }

// putSecrets seals and upserts the non-empty secrets of one target.
func (s *Store) putSecrets(ctx context.Context, tx *sql.Tx, targetID int64, target string, secrets map[string]string, now time.Time) error {
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		value := secrets[name]
		if value == "" {
			continue // blank means unchanged
		}
		if name == "" {
			return compute.Invalid("secrets", "A secret needs a name.")
		}
		var rowID string
		err := tx.QueryRowContext(ctx, `SELECT id FROM target_secrets WHERE target_id = ? AND name = ?`, targetID, name).Scan(&rowID)
		exists := err == nil
		if errors.Is(err, sql.ErrNoRows) {
			rowID = newRowID()
		} else if err != nil {
			return err
		}
		sealed := s.keys.seal([]byte(value), secretAAD(rowID, target))
		if exists {
			_, err = tx.ExecContext(ctx, `UPDATE target_secrets SET value = ?, key_id = ?, updated_at = ? WHERE id = ?`,
				sealed, s.keys.ActiveID(), toMS(now), rowID)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO target_secrets (id, target_id, name, value, key_id, updated_at)
				VALUES (?, ?, ?, ?, ?, ?)`, rowID, targetID, name, sealed, s.keys.ActiveID(), toMS(now))
		}
		if err != nil {
			return fmt.Errorf("secret %s: %w", name, err)
		}
	}
	return nil
}

// secretNames lists the names of one target's secrets, sorted.
func secretNames(ctx context.Context, tx *sql.Tx, targetID int64) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM target_secrets WHERE target_id = ? ORDER BY name`, targetID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Close()
}

// SetSecrets seals and stores the named secrets of the target named target,
// replacing values already stored under those names. An empty value leaves
// that secret unchanged (a blank form field means "keep"). A missing target
// is a compute.ErrNotFound.
func (s *Store) SetSecrets(ctx context.Context, target string, secrets map[string]string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		id, stored, err := targetID(ctx, tx, target)
		if err != nil {
			return err
		}
		return s.putSecrets(ctx, tx, id, stored, secrets, s.now())
	})
	return wrapErr("set secrets of", target, err)
}

// DeleteSecrets removes the named secrets of the target named target; names
// not stored are ignored. A missing target is a compute.ErrNotFound.
func (s *Store) DeleteSecrets(ctx context.Context, target string, names ...string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		id, _, err := targetID(ctx, tx, target)
		if err != nil {
			return err
		}
		for _, name := range names {
			if _, err := tx.ExecContext(ctx, `DELETE FROM target_secrets WHERE target_id = ? AND name = ?`, id, name); err != nil {
				return err
			}
		}
		return nil
	})
	return wrapErr("delete secrets of", target, err)
}

// Secret opens one secret of a target. It is for backends at dial time only:
// nothing shown to a user may come from it. A missing target or secret is a
// compute.ErrNotFound; a value that cannot be opened is ErrSecretUnreadable.
func (s *Store) Secret(ctx context.Context, target, name string) (string, error) {
	var (
		rowID, stored string
		sealed        []byte
	)
	err := s.read(ctx, func(tx *sql.Tx) error {
		id, st, err := targetID(ctx, tx, target)
		if err != nil {
			return err
		}
		stored = st
		err = tx.QueryRowContext(ctx, `SELECT id, value FROM target_secrets WHERE target_id = ? AND name = ?`, id, name).Scan(&rowID, &sealed)
		if errors.Is(err, sql.ErrNoRows) {
			return compute.NotFoundf("secret", "Compute '%s' has no secret '%s'.", st, name)
		}
		return err
	})
	if err != nil {
		return "", wrapErr("read secret of", target, err)
	}
	plain, _, err := s.keys.open(sealed, secretAAD(rowID, stored))
	if err != nil {
		return "", fmt.Errorf("store: secret %s of target %q: %w", name, stored, err)
	}
	return string(plain), nil
}

// ResealSecrets re-seals with the active key every secret sealed with an
// older key, and returns how many it re-sealed. Run it after rotating the
// key (new key active, old one in EnvSecretOldKeyFiles); once it returns 0
// errors-free, the old key can be retired. It stops at the first secret it
// cannot open.
func (s *Store) ResealSecrets(ctx context.Context) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		type item struct {
			id, target, name string
			value            []byte
		}
		var items []item
		rows, err := tx.QueryContext(ctx, `SELECT s.id, t.name, s.name, s.value FROM target_secrets s
			JOIN targets t ON t.id = s.target_id WHERE s.key_id <> ?`, s.keys.ActiveID())
		if err != nil {
			return err
		}
		for rows.Next() {
			var it item
			if err := rows.Scan(&it.id, &it.target, &it.name, &it.value); err != nil {
				rows.Close()
				return err
			}
			items = append(items, it)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, it := range items {
			aad := secretAAD(it.id, it.target)
			plain, _, err := s.keys.open(it.value, aad)
			if err != nil {
				return fmt.Errorf("secret %s of target %q: %w", it.name, it.target, err)
			}
			sealed := s.keys.seal(plain, aad)
			clear(plain)
			if _, err := tx.ExecContext(ctx, `UPDATE target_secrets SET value = ?, key_id = ? WHERE id = ?`,
				sealed, s.keys.ActiveID(), it.id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: reseal secrets: %w", err)
	}
	s.log.Info("secrets re-sealed", "count", n, "secret_key", s.keys.ActiveID())
	return n, nil
}

// warnUnknownKeys logs key IDs that seal stored secrets but are missing from
// the keyring, so a misconfigured key shows at start-up, not at dial time.
func (s *Store) warnUnknownKeys(ctx context.Context) {
	rows, err := s.reader.QueryContext(ctx, `SELECT key_id, COUNT(*) FROM target_secrets GROUP BY key_id`)
	if err != nil {
		s.log.Warn("store: cannot check secret keys", "err", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			s.log.Warn("store: cannot check secret keys", "err", err)
			return
		}
		if !slices.Contains(s.keys.IDs(), id) {
			s.log.Warn("stored secrets are sealed with a key that is not configured; they cannot be opened",
				"key_id", id, "secrets", n, "keyring", s.keys)
		}
	}
}
