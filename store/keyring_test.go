package store

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadKeyringCreatesKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadKeyring(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, KeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o400 || fi.Size() != MasterKeySize {
		t.Errorf("key file mode %v size %d, want 0400 and %d", fi.Mode().Perm(), fi.Size(), MasterKeySize)
	}
	key, _ := os.ReadFile(path)
	if k1.ActiveID() != KeyID(key) || len(k1.ActiveID()) != 8 {
		t.Errorf("key ID %q, want %q", k1.ActiveID(), KeyID(key))
	}
	k2, err := LoadKeyring(dir, noEnv)
	if err != nil || k2.ActiveID() != k1.ActiveID() {
		t.Errorf("second load: %v, %v; want the same key", k2, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".secret.key-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	// Sealing with one and opening with the other works.
	sealed := k1.seal([]byte("x"), []byte("aad"))
	if p, _, err := k2.open(sealed, []byte("aad")); err != nil || string(p) != "x" {
		t.Errorf("open = %q, %v", p, err)
	}
}

func TestLoadKeyringSources(t *testing.T) {
	dir := t.TempDir()
	raw := bytes.Repeat([]byte{0xab}, MasterKeySize)
	b64 := base64.StdEncoding.EncodeToString(raw)
	rawFile := filepath.Join(dir, "raw.key")
	os.WriteFile(rawFile, raw, 0o400)
	textFile := filepath.Join(dir, "text.key")
	os.WriteFile(textFile, []byte(b64+"\n"), 0o400)
	shortFile := filepath.Join(dir, "short.key")
	os.WriteFile(shortFile, []byte("0123456789"), 0o400)
	emptyFile := filepath.Join(dir, "empty.key")
	os.WriteFile(emptyFile, nil, 0o400)
	old := bytes.Repeat([]byte{0xcd}, MasterKeySize)
	oldFile := filepath.Join(dir, "old.key")
	os.WriteFile(oldFile, old, 0o400)

	tests := []struct {
		name    string
		env     map[string]string
		wantID  string
		wantIDs []string
		wantErr string
	}{
		{"env base64", map[string]string{EnvSecretKey: b64}, "env", []string{"env"}, ""},
		{"env base64url unpadded", map[string]string{EnvSecretKey: base64.RawURLEncoding.EncodeToString(raw)}, "env", nil, ""},
		{"env not base64", map[string]string{EnvSecretKey: "not*base64!"}, "", nil, "not valid base64"},
		{"env wrong length", map[string]string{EnvSecretKey: base64.StdEncoding.EncodeToString(raw[:16])}, "", nil, "16 bytes"},
		{"both set", map[string]string{EnvSecretKey: b64, EnvSecretKeyFile: rawFile}, "", nil, "only one of"},
		{"raw file", map[string]string{EnvSecretKeyFile: rawFile}, KeyID(raw), nil, ""},
		{"base64 file", map[string]string{EnvSecretKeyFile: textFile}, KeyID(raw), nil, ""},
		{"short file", map[string]string{EnvSecretKeyFile: shortFile}, "", nil, "short.key"},
		{"empty file", map[string]string{EnvSecretKeyFile: emptyFile}, "", nil, "is empty"},
		{"missing file", map[string]string{EnvSecretKeyFile: filepath.Join(dir, "nope")}, "", nil, "no such file"},
		{"old keys", map[string]string{EnvSecretKeyFile: rawFile, EnvSecretOldKeyFiles: oldFile + string(os.PathListSeparator) + rawFile},
			KeyID(raw), []string{KeyID(raw), KeyID(old)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := LoadKeyring(filepath.Join(dir, "data"), envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), b64) || strings.Contains(err.Error(), "0123456789") {
					t.Errorf("error quotes key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.ActiveID() != tt.wantID {
				t.Errorf("ActiveID = %s, want %s", k.ActiveID(), tt.wantID)
			}
			if tt.wantIDs != nil {
				want := append([]string(nil), tt.wantIDs...)
				if fmt.Sprint(k.IDs()) != fmt.Sprint(sorted(want)) {
					t.Errorf("IDs = %v, want %v", k.IDs(), sorted(want))
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "data", KeyFile)); err == nil {
		t.Error("a key file was created although a key was configured")
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestNewKeyringRejects(t *testing.T) {
	good := bytes.Repeat([]byte{1}, MasterKeySize)
	tests := []struct {
		name   string
		id     string
		master []byte
		older  map[string][]byte
	}{
		{"short key", "a", good[:31], nil},
		{"empty id", "", good, nil},
		{"long id", strings.Repeat("x", 256), good, nil},
		{"duplicate id", "a", good, map[string][]byte{"a": good}},
		{"short old key", "a", good, map[string][]byte{"b": good[:1]}},
	}
	for _, tt := range tests {
		if _, err := NewKeyring(tt.id, tt.master, tt.older); err == nil {
			t.Errorf("%s: NewKeyring succeeded", tt.name)
		}
	}
}

func TestKeyringNeverShowsKeys(t *testing.T) {
	master := bytes.Repeat([]byte{0x5a}, MasterKeySize)
	k, err := NewKeyring(KeyID(master), master, map[string][]byte{"old1": bytes.Repeat([]byte{0x3c}, MasterKeySize)})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("keys", "keyring", k)
	shown := []string{fmt.Sprint(k), fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), logs.String()}
	for _, s := range shown {
		for _, form := range []string{string(master), hex.EncodeToString(master), base64.StdEncoding.EncodeToString(master), "ZZZZ", "<<<<"} {
			if strings.Contains(s, form) {
				t.Errorf("%q shows key material", s)
			}
		}
		if !strings.Contains(s, k.ActiveID()) {
			t.Errorf("%q does not name the active key", s)
		}
	}
}

func TestSealFormat(t *testing.T) {
	master := bytes.Repeat([]byte{9}, MasterKeySize)
	k, _ := NewKeyring("kid1", master, nil)
	sealed := k.seal([]byte("payload"), []byte("aad-1"))
	if sealed[0] != sealVersion || sealed[1] != 4 || string(sealed[2:6]) != "kid1" {
		t.Fatalf("header = %v", sealed[:6])
	}
	if len(sealed) != 2+4+12+len("payload")+16 {
		t.Errorf("len = %d", len(sealed))
	}
	if again := k.seal([]byte("payload"), []byte("aad-1")); bytes.Equal(again, sealed) {
		t.Error("two seals of one value are equal; the nonce is not random")
	}
	tests := []struct {
		name string
		data []byte
		aad  string
		want string
	}{
		{"ok", sealed, "aad-1", ""},
		{"other aad", sealed, "aad-2", "authentication"},
		{"flipped bit", flip(sealed, len(sealed)-1), "aad-1", "authentication"},
		{"bad version", flip(sealed, 0), "aad-1", "unknown format"},
		{"truncated", sealed[:4], "aad-1", "truncated"},
		{"empty", nil, "aad-1", "unknown format"},
		{"renamed key", append([]byte{1, 4, 'k', 'i', 'd', '2'}, sealed[6:]...), "aad-1", "not in the keyring"},
	}
	for _, tt := range tests {
		p, _, err := k.open(tt.data, []byte(tt.aad))
		if tt.want == "" {
			if err != nil || string(p) != "payload" {
				t.Errorf("%s: %q, %v", tt.name, p, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 1
	return out
}
