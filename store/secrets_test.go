package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

// knownSecrets are distinctive strings that must never reach the disk in clear.
var knownSecrets = []string{
	"hunter2-VM-password-5c1e",
	"-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjEAAAAA-7f3a",
	"dapi0123456789abcdef0123456789ab-TOKEN",
	"slurm-jwt-eyJhbGciOiJIUzI1NiJ9-77aa",
	"replacement-password-9e9e",
}

func TestSecretsNeverStoredInClear(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var logs bytes.Buffer
	keys, err := LoadKeyring(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dir, Options{Keyring: keys, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const marker = "plain-description-marker-4242"

	vm := vmTarget("lab-vm")
	vm.Description = marker
	mustCreate(t, s, vm, map[string]string{"password": knownSecrets[0], "privateKey": knownSecrets[1]})
	db := &compute.Target{Name: "dbx", Kind: compute.KindDatabricks, Attach: &compute.AttachSpec{Workspace: "ws"}}
	mustCreate(t, s, db, map[string]string{"accessToken": knownSecrets[2]})
	sl := &compute.Target{Name: "hpc", Kind: compute.KindSlurm, Attach: &compute.AttachSpec{RESTURL: "http://hpc"}}
	mustCreate(t, s, sl, map[string]string{"slurmToken": knownSecrets[3]})
	if err := s.SetSecrets(ctx, "lab-vm", map[string]string{"password": knownSecrets[4]}); err != nil {
		t.Fatal(err)
	}
	// Exercise the read and failure paths too, for the log check.
	if _, err := s.Secret(ctx, "lab-vm", "password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResealSecrets(ctx); err != nil {
		t.Fatal(err)
	}

	check := func(when string, wantMarker bool) {
		t.Helper()
		var all []byte
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(filepath.Join(dir, DBFile+suffix))
			if errors.Is(err, os.ErrNotExist) && suffix != "" {
				continue
			} else if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s%s is %d bytes", when, DBFile, suffix, len(b))
			all = append(all, b...)
		}
		for _, secret := range knownSecrets {
			for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), fmt.Sprintf("%x", secret)} {
				if bytes.Contains(all, []byte(form)) {
					t.Errorf("%s: the database files contain secret %q (as %q)", when, secret[:8], form[:8])
				}
			}
		}
		if wantMarker && !bytes.Contains(all, []byte(marker)) {
			t.Errorf("%s: the files do not contain the plain description; the check reads the wrong files", when)
		}
	}
	wal, err := os.Stat(filepath.Join(dir, DBFile+"-wal"))
	if err != nil || wal.Size() == 0 {
		t.Fatalf("expected a non-empty WAL while open: %v", err)
	}
	check("while open", true)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("after close", true)

	for _, secret := range knownSecrets {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains secret %q", secret[:8])
		}
	}
	if kb, err := os.ReadFile(filepath.Join(dir, KeyFile)); err != nil || bytes.Contains(logs.Bytes(), kb) ||
		strings.Contains(logs.String(), base64.StdEncoding.EncodeToString(kb)) {
		t.Errorf("the log contains key material (or key file unreadable: %v)", err)
	}
}

func TestSetSecretsBlankKeepsValue(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, vmTarget("vm1"), map[string]string{"password": "first", "privateKey": "key-1"})
	steps := []struct {
		set        map[string]string
		want       map[string]string
		wantNames  string
		deleteName string
	}{
		{map[string]string{"password": ""}, map[string]string{"password": "first", "privateKey": "key-1"}, "password,privateKey", ""},
		{map[string]string{"password": "second", "privateKey": ""}, map[string]string{"password": "second", "privateKey": "key-1"}, "password,privateKey", ""},
		{map[string]string{"privateKeyPassphrase": "pp"}, map[string]string{"password": "second", "privateKeyPassphrase": "pp"}, "password,privateKey,privateKeyPassphrase", ""},
		{nil, map[string]string{"password": "second"}, "password,privateKeyPassphrase", "privateKey"},
	}
	for i, st := range steps {
		if err := s.SetSecrets(ctx, "VM1", st.set); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if st.deleteName != "" {
			if err := s.DeleteSecrets(ctx, "vm1", st.deleteName, "never-set"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Secret(ctx, "vm1", st.deleteName); !errors.Is(err, compute.ErrNotFound) {
				t.Errorf("step %d: deleted secret: err = %v, want ErrNotFound", i, err)
			}
		}
		for name, want := range st.want {
			if got, err := s.Secret(ctx, "vm1", name); err != nil || got != want {
				t.Errorf("step %d: Secret(%s) = %q, %v; want %q", i, name, got, err, want)
			}
		}
		tg, _ := s.GetTarget(ctx, "vm1")
		if strings.Join(tg.SecretsSet, ",") != st.wantNames {
			t.Errorf("step %d: SecretsSet = %v, want %s", i, tg.SecretsSet, st.wantNames)
		}
	}
	if n := rowCount(t, s, "target_secrets"); n != 2 {
		t.Errorf("target_secrets rows = %d, want 2", n)
	}
}

func TestCopiedCiphertextFailsToOpen(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, vmTarget("vm-a"), map[string]string{"password": "pw-a", "privateKeyPassphrase": "pp-a"})
	mustCreate(t, s, vmTarget("vm-b"), map[string]string{"password": "pw-b"})

	copyValue := func(fromTarget, fromName, toTarget, toName string) {
		t.Helper()
		_, err := s.writer.Exec(`UPDATE target_secrets SET value = (
				SELECT s.value FROM target_secrets s JOIN targets t ON t.id = s.target_id WHERE t.name = ? AND s.name = ?)
			WHERE name = ? AND target_id = (SELECT id FROM targets WHERE name = ?)`, fromTarget, fromName, toName, toTarget)
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name                   string
		fromT, fromN, toT, toN string
	}{
		{"same name, other target", "vm-a", "password", "vm-b", "password"},
		{"other name, same target", "vm-a", "password", "vm-a", "privateKeyPassphrase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			copyValue(tt.fromT, tt.fromN, tt.toT, tt.toN)
			got, err := s.Secret(ctx, tt.toT, tt.toN)
			if !errors.Is(err, ErrSecretUnreadable) || got != "" {
				t.Fatalf("Secret = %q, %v; want ErrSecretUnreadable", got, err)
			}
			if !strings.Contains(err.Error(), "copied from another row") || strings.Contains(err.Error(), "pw-a") {
				t.Errorf("error = %v", err)
			}
		})
	}
	// Moving the whole row (its random ID with it) to another target fails too.
	if _, err := s.writer.Exec(`DELETE FROM target_secrets WHERE target_id = (SELECT id FROM targets WHERE name = 'vm-b')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.Exec(`UPDATE target_secrets SET target_id = (SELECT id FROM targets WHERE name = 'vm-b')
		WHERE name = 'password' AND target_id = (SELECT id FROM targets WHERE name = 'vm-a')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secret(ctx, "vm-b", "password"); !errors.Is(err, ErrSecretUnreadable) {
		t.Errorf("moved row: err = %v, want ErrSecretUnreadable", err)
	}
}

func TestSecretsAcrossReopenAndKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpenDir(t, dir, nil)
	mustCreate(t, s, vmTarget("vm1"), map[string]string{"password": "pw-reopen"})
	s.Close()

	t.Run("same key file", func(t *testing.T) {
		s := mustOpenDir(t, dir, nil)
		if got, err := s.Secret(ctx, "vm1", "password"); err != nil || got != "pw-reopen" {
			t.Fatalf("Secret = %q, %v", got, err)
		}
		s.Close()
	})
	t.Run("different key", func(t *testing.T) {
		other, err := NewKeyring("feedf00d", bytes.Repeat([]byte{7}, MasterKeySize), nil)
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		s, err := Open(ctx, dir, Options{Keyring: other, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !strings.Contains(logs.String(), "not configured") {
			t.Errorf("Open did not warn about the missing key; log:\n%s", logs.String())
		}
		_, err = s.Secret(ctx, "vm1", "password")
		if !errors.Is(err, ErrSecretUnreadable) {
			t.Fatalf("err = %v, want ErrSecretUnreadable", err)
		}
		fileKeys, _ := LoadKeyring(dir, noEnv)
		for _, want := range []string{"not in the keyring", fileKeys.ActiveID(), "feedf00d", EnvSecretKeyFile} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})
	t.Run("different key under the same ID", func(t *testing.T) {
		dir := t.TempDir()
		env := func(key byte) func(string) string {
			return func(name string) string {
				if name == EnvSecretKey {
					return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{key}, MasterKeySize))
				}
				return ""
			}
		}
		k1, err := LoadKeyring(dir, env(1))
		if err != nil {
			t.Fatal(err)
		}
		s := mustOpenDir(t, dir, k1)
		mustCreate(t, s, vmTarget("vm1"), map[string]string{"password": "pw-env"})
		s.Close()
		k2, _ := LoadKeyring(dir, env(2))
		s = mustOpenDir(t, dir, k2)
		_, err = s.Secret(ctx, "vm1", "password")
		if !errors.Is(err, ErrSecretUnreadable) || !strings.Contains(err.Error(), "authentication with key env failed") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestResealSecrets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldMaster := bytes.Repeat([]byte{1}, MasterKeySize)
	newMaster := bytes.Repeat([]byte{2}, MasterKeySize)
	oldID, newID := KeyID(oldMaster), KeyID(newMaster)
	oldOnly, _ := NewKeyring(oldID, oldMaster, nil)
	s := mustOpenDir(t, dir, oldOnly)
	mustCreate(t, s, vmTarget("vm1"), map[string]string{"password": "p1", "privateKey": "k1"})
	mustCreate(t, s, vmTarget("vm2"), map[string]string{"password": "p2"})
	s.Close()

	// Rotate: new key active, old one still opens.
	rotated, err := NewKeyring(newID, newMaster, map[string][]byte{oldID: oldMaster})
	if err != nil {
		t.Fatal(err)
	}
	s = mustOpenDir(t, dir, rotated)
	if got, err := s.Secret(ctx, "vm2", "password"); err != nil || got != "p2" {
		t.Fatalf("old secret with rotated keyring: %q, %v", got, err)
	}
	if n, err := s.ResealSecrets(ctx); err != nil || n != 3 {
		t.Fatalf("ResealSecrets = %d, %v; want 3", n, err)
	}
	if n, err := s.ResealSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("second ResealSecrets = %d, %v; want 0", n, err)
	}
	s.Close()

	// The old key can go.
	newOnly, _ := NewKeyring(newID, newMaster, nil)
	s = mustOpenDir(t, dir, newOnly)
	for _, c := range []struct{ target, name, want string }{{"vm1", "password", "p1"}, {"vm1", "privateKey", "k1"}, {"vm2", "password", "p2"}} {
		if got, err := s.Secret(ctx, c.target, c.name); err != nil || got != c.want {
			t.Errorf("Secret(%s, %s) = %q, %v", c.target, c.name, got, err)
		}
	}
}
