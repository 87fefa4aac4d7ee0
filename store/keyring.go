package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The environment variables LoadKeyring reads.
const (
	// EnvSecretKey holds the master key as base64 of 32 bytes (for
	// development); its key ID is "env".
	EnvSecretKey = "TRAINYARD_SECRET_KEY"
	// EnvSecretKeyFile names a file holding the master key: 32 raw bytes, or
	// their base64 on one line.
	EnvSecretKeyFile = "TRAINYARD_SECRET_KEY_FILE"
	// EnvSecretOldKeyFiles lists key files (separated like PATH) that may
	// still open secrets sealed before a rotation; see Store.ResealSecrets.
	EnvSecretOldKeyFiles = "TRAINYARD_SECRET_OLD_KEY_FILES"
)

// KeyFile is the key file LoadKeyring creates in the data directory when no
// key is configured.
const KeyFile = "secret.key"

// MasterKeySize is the length of a master key in bytes.
const MasterKeySize = 32

// envKeyID is the key ID of a key given in EnvSecretKey.
const envKeyID = "env"

// hkdfInfo separates the secrets' AEAD key from any other use of the master.
const hkdfInfo = "trainyard-secrets v1"

// ErrSecretUnreadable means a stored secret cannot be opened: it was sealed
// with a key the keyring does not hold, with a different key under the same
// ID, or it was altered or copied from another row.
var ErrSecretUnreadable = errors.New("secret cannot be opened")

// Keyring seals secrets with one active key and opens them with the active
// key or any older one. It never exposes key material; it is safe for
// concurrent use.
type Keyring struct {
	active string
	aeads  map[string]cipher.AEAD
}

// KeyID names a master key by the first 8 hex digits of its SHA-256. It
// identifies the key without revealing it.
func KeyID(master []byte) string {
	sum := sha256.Sum256(master)
	return hex.EncodeToString(sum[:4])
}

// NewKeyring builds a keyring that seals with active (named activeID) and
// opens with it or any key of older (key ID → master key). Master keys are
// MasterKeySize bytes; the AEAD key is derived from each with HKDF-SHA-256.
func NewKeyring(activeID string, active []byte, older map[string][]byte) (*Keyring, error) {
	k := &Keyring{active: activeID, aeads: map[string]cipher.AEAD{}}
	add := func(id string, master []byte) error {
		if id == "" || len(id) > 255 {
			return fmt.Errorf("keyring: key ID must be 1 to 255 bytes long")
		}
		if len(master) != MasterKeySize {
			return fmt.Errorf("keyring: key %s is %d bytes; want %d", id, len(master), MasterKeySize)
		}
		if _, dup := k.aeads[id]; dup {
			return fmt.Errorf("keyring: key ID %s is used twice", id)
		}
		key, err := hkdf.Key(sha256.New, master, nil, hkdfInfo, 32)
		if err != nil {
			return fmt.Errorf("keyring: key %s: %w", id, err)
		}
		defer clear(key)
		block, err := aes.NewCipher(key)
		if err != nil {
			return fmt.Errorf("keyring: key %s: %w", id, err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return fmt.Errorf("keyring: key %s: %w", id, err)
		}
		k.aeads[id] = aead
		return nil
	}
	if err := add(activeID, active); err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(older)) {
		if err := add(id, older[id]); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// LoadKeyring finds the master key: base64 in EnvSecretKey (key ID "env"),
// or the file named by EnvSecretKeyFile, or else <dataDir>/secret.key, which
// it creates (mode 0400, 32 random bytes) on first start. Setting both
// variables is an error. Files named in EnvSecretOldKeyFiles are added as
// older keys. getenv is usually os.Getenv.
func LoadKeyring(dataDir string, getenv func(string) string) (*Keyring, error) {
	envKey, envFile := getenv(EnvSecretKey), getenv(EnvSecretKeyFile)
	var (
		id     string
		master []byte
		err    error
	)
	switch {
	case envKey != "" && envFile != "":
		return nil, fmt.Errorf("keyring: set only one of %s and %s", EnvSecretKey, EnvSecretKeyFile)
	case envKey != "":
		master, err = decodeKey(envKey)
		if err != nil {
			return nil, fmt.Errorf("keyring: %s: %w", EnvSecretKey, err)
		}
		id = envKeyID
	case envFile != "":
		if master, err = readKeyFile(envFile); err != nil {
			return nil, err
		}
		id = KeyID(master)
	default:
		if master, err = loadOrCreateKeyFile(filepath.Join(dataDir, KeyFile)); err != nil {
			return nil, err
		}
		id = KeyID(master)
	}
	defer clear(master)

	older := map[string][]byte{}
	for _, p := range filepath.SplitList(getenv(EnvSecretOldKeyFiles)) {
		if p == "" {
			continue
		}
		old, err := readKeyFile(p)
		if err != nil {
			return nil, err
		}
		if oid := KeyID(old); oid != id {
			older[oid] = old
		}
	}
	defer func() {
		for _, v := range older {
			clear(v)
		}
	}()
	return NewKeyring(id, master, older)
}

// decodeKey reads base64 (standard or URL alphabet, padded or not) of
// MasterKeySize bytes. Errors never quote the input.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != MasterKeySize {
				clear(b)
				return nil, fmt.Errorf("the key is %d bytes; want base64 of %d random bytes (e.g. openssl rand -base64 32)", len(b), MasterKeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("the key is not valid base64; want base64 of %d random bytes (e.g. openssl rand -base64 32)", MasterKeySize)
}

// readKeyFile reads a key file: MasterKeySize raw bytes or their base64.
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if len(b) == MasterKeySize {
		return b, nil
	}
	defer clear(b)
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("keyring: key file %s is empty", path)
	}
	key, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("keyring: key file %s: %w", path, err)
	}
	return key, nil
}

// loadOrCreateKeyFile reads path, or creates it with a new random key. The
// file appears complete or not at all: it is written under a temporary name
// and hard-linked into place, which also fails if another process won.
func loadOrCreateKeyFile(path string) ([]byte, error) {
	key, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	key = make([]byte, MasterKeySize)
	rand.Read(key)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret.key-*")
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Chmod(0o400)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return readKeyFile(path) // another process created it first
	} else if err != nil {
		return nil, fmt.Errorf("keyring: create %s: %w", path, err)
	}
	return key, nil
}

// ActiveID returns the ID of the key new secrets are sealed with.
func (k *Keyring) ActiveID() string { return k.active }

// IDs returns the IDs of every key in the keyring, sorted.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(k.aeads))
}

// String describes the keyring by key IDs only.
func (k *Keyring) String() string {
	if k == nil {
		return "Keyring{}"
	}
	return fmt.Sprintf("Keyring{active: %s, keys: %s}", k.active, strings.Join(k.IDs(), ","))
}

// LogValue logs the keyring by key IDs only.
func (k *Keyring) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("none")
	}
	return slog.GroupValue(slog.String("active", k.active), slog.Any("keys", k.IDs()))
}

// The stored form of a secret: version ‖ len(keyID) ‖ keyID ‖ sealed, where
// sealed is GCM's random nonce ‖ ciphertext ‖ tag.
const sealVersion = 1

// seal encrypts plaintext with the active key, binding it to aad.
func (k *Keyring) seal(plaintext, aad []byte) []byte {
	out := make([]byte, 0, 2+len(k.active)+len(plaintext)+28)
	out = append(out, sealVersion, byte(len(k.active)))
	out = append(out, k.active...)
	return k.aeads[k.active].Seal(out, nil, plaintext, aad)
}

// open decrypts what seal produced, with whichever key it names. Errors say
// why without quoting data.
func (k *Keyring) open(data, aad []byte) (plaintext []byte, keyID string, err error) {
	if len(data) < 2 || data[0] != sealVersion {
		return nil, "", fmt.Errorf("%w: unknown format", ErrSecretUnreadable)
	}
	n := int(data[1])
	if len(data) < 2+n {
		return nil, "", fmt.Errorf("%w: truncated", ErrSecretUnreadable)
	}
	keyID = string(data[2 : 2+n])
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, keyID, fmt.Errorf("%w: it was sealed with key %s, which is not in the keyring (keys: %s); configure that key (see %s, %s)",
			ErrSecretUnreadable, keyID, strings.Join(k.IDs(), ", "), EnvSecretKeyFile, EnvSecretOldKeyFiles)
	}
	plaintext, err = aead.Open(nil, nil, data[2+n:], aad)
	if err != nil {
		return nil, keyID, fmt.Errorf("%w: authentication with key %s failed (a different key under that ID, or the value was altered or copied from another row)",
			ErrSecretUnreadable, keyID)
	}
	return plaintext, keyID, nil
}
