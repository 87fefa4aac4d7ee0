package slurm

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

// secretMap is a SecretReader over a map, as the store answers: a missing
// secret is compute.ErrNotFound.
type secretMap map[string]string

func (m secretMap) Secret(_ context.Context, _, name string) (string, error) {
	v, ok := m[name]
	if !ok {
		return "", compute.ErrNotFound
	}
	return v, nil
}

func TestStoreCredentials(t *testing.T) {
	key := "\x00raw key bytes\xff"
	for _, tc := range []struct {
		name              string
		secrets           secretMap
		wantToken, wantKy string
		wantErr           string
	}{
		{"token only", secretMap{compute.SecretSlurmToken: " tok \n"}, "tok", "", ""},
		{"key only, stored base64", secretMap{compute.SecretSlurmJWTKey: base64.StdEncoding.EncodeToString([]byte(key))}, "", key, ""},
		{"neither", secretMap{}, "", "", ""},
		{"key not base64", secretMap{compute.SecretSlurmJWTKey: "not*base64"}, "", "", "not base64"},
	} {
		token, k, err := StoreCredentials(tc.secrets)(context.Background(), "hpc")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "not*base64") {
				t.Errorf("%s: err = %v, want one naming %q without the value", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || token != tc.wantToken || k != tc.wantKy {
			t.Errorf("%s: = %q, %q, %v; want %q, %q", tc.name, token, k, err, tc.wantToken, tc.wantKy)
		}
	}
}
