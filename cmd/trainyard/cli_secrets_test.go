package main

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

func TestUpdateSecrets(t *testing.T) {
	keyFile := writeFile(t, "id_new", secretKey)
	// The server checks that the passphrase opens the key.
	lockedKey := newPrivateKey("phrase-never-printed")
	lockedKeyFile := writeFile(t, "id_locked", lockedKey)
	pwFile := writeFile(t, "pw", secretPassword+"\n")
	tests := []struct {
		name       string
		args       []string
		stdin      string
		want       map[string]any
		wantStdout string
		wantErr    string // on stderr, with a non-zero exit and no request
	}{
		{name: "password", args: []string{"--password", secretPassword},
			want: map[string]any{"password": secretPassword, "privateKey": "", "privateKeyPassphrase": ""}, wantStdout: "Replaced the password of broken-vm"},
		{name: "password file", args: []string{"--password-file", pwFile},
			want: map[string]any{"password": secretPassword}, wantStdout: "Replaced the password"},
		{name: "key file", args: []string{"--private-key-file", keyFile},
			want: map[string]any{"privateKey": secretKey, "privateKeyPassphrase": "", "password": ""}, wantStdout: "Replaced the private key of broken-vm"},
		{name: "key with passphrase", args: []string{"--private-key-file", lockedKeyFile, "--private-key-passphrase", "phrase-never-printed"},
			want: map[string]any{"privateKey": lockedKey, "privateKeyPassphrase": "phrase-never-printed", "password": ""}, wantStdout: "Replaced the private key of broken-vm"},
		{name: "key from stdin", args: []string{"-k", "-"}, stdin: secretKey, want: map[string]any{"privateKey": secretKey}, wantStdout: "Replaced the private key"},
		{name: "nothing to replace", args: nil, wantErr: "give a new password"},
		{name: "passphrase alone", args: []string{"--private-key-passphrase", "x"}, wantErr: "--private-key-passphrase needs --private-key-file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newComputeServer(t)
			res := runCLI(t, srv.URL, tc.stdin, append([]string{"computetarget", "update-secrets", "-n", "broken-vm"}, tc.args...)...)
			if tc.wantErr != "" {
				if res.code == 0 || !strings.Contains(res.stderr, tc.wantErr) || srv.count() != 0 {
					t.Fatalf("exit %d stderr %q, %d requests", res.code, res.stderr, srv.count())
				}
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
			}
			got := srv.last(t)
			if got.Method != "POST" || got.Path != "/api/v1/computes/broken-vm/updateSecrets" {
				t.Errorf("sent %s %s", got.Method, got.Path)
			}
			for path, want := range tc.want {
				if v := field(t, got.Body, path); !reflect.DeepEqual(v, want) {
					t.Errorf("body %s = %#v, want %#v", path, v, want)
				}
			}
			// The server sealed what was sent.
			for field, name := range map[string]string{"password": compute.SecretPassword, "privateKey": compute.SecretPrivateKey, "privateKeyPassphrase": compute.SecretPassphrase} {
				if want, _ := tc.want[field].(string); want != "" {
					if got, err := srv.env.Store.Secret(context.Background(), "broken-vm", name); err != nil || got != want {
						t.Errorf("stored %s: %v, want what was sent", name, err)
					}
				}
			}
			if !strings.Contains(res.stdout, tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", res.stdout, tc.wantStdout)
			}
			for _, secret := range []string{secretPassword, secretKeyMaterial, strings.Split(lockedKey, "\n")[1], "phrase-never-printed"} {
				if strings.Contains(res.stdout+res.stderr, secret) {
					t.Errorf("output shows a secret: %s%s", res.stdout, res.stderr)
				}
			}
		})
	}
}
