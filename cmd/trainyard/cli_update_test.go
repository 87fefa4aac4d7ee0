package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestUpdateScale: `computetarget update` sends only the flags given as
// Azure's scaleSettings and prints what the server read back.
func TestUpdateScale(t *testing.T) {
	var mu sync.Mutex
	var gotPath, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		gotPath, gotBody = r.Method+" "+r.URL.Path, string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "hpc",
			"scaleSettings": map[string]any{"minNodeCount": 1, "maxNodeCount": 2, "nodeIdleTimeBeforeScaleDown": "PT120S"},
			"nodes":         map[string]any{"cloudNodeCount": 2, "poweredUpNodeCount": 1, "poweredDownNodeCount": 1}})
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name     string
		args     []string
		wantBody string
		wantOut  string
		wantErr  string
	}{
		{"all three", []string{"-n", "hpc", "--min-nodes", "1", "--max-nodes", "2", "--idle-seconds-before-scaledown", "120"},
			`{"scaleSettings":{"maxNodeCount":2,"minNodeCount":1,"nodeIdleTimeBeforeScaleDown":"PT120S"}}`,
			"Updated hpc: min nodes 1, max nodes 2 (of 2), idle before scale down PT120S.", ""},
		{"min 0 only", []string{"--name", "hpc", "--min-nodes", "0"}, `{"scaleSettings":{"minNodeCount":0}}`, "Nodes now: 1 powered up", ""},
		{"json", []string{"-n", "hpc", "--max-nodes", "1", "-o", "json"}, `{"scaleSettings":{"maxNodeCount":1}}`, `"poweredUpNodeCount":1`, ""},
		{"nothing to change", []string{"-n", "hpc"}, "", "", "give --min-nodes, --max-nodes or --idle-seconds-before-scaledown"},
		{"no name", []string{"--min-nodes", "1"}, "", "", "--name is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			gotPath, gotBody = "", ""
			mu.Unlock()
			res := runCLI(t, srv, "", append([]string{"computetarget", "update"}, tc.args...)...)
			mu.Lock()
			defer mu.Unlock()
			if tc.wantErr != "" {
				if res.code == 0 || !strings.Contains(res.stderr, tc.wantErr) || gotPath != "" {
					t.Fatalf("code %d stderr %q request %q", res.code, res.stderr, gotPath)
				}
				return
			}
			if res.code != 0 || gotPath != "POST /api/v1/computes/hpc/updateScaleSettings" || strings.TrimSpace(gotBody) != tc.wantBody {
				t.Fatalf("code %d %q; sent %s %s", res.code, res.stderr, gotPath, gotBody)
			}
			if !strings.Contains(res.stdout, tc.wantOut) {
				t.Errorf("stdout %q, want %q", res.stdout, tc.wantOut)
			}
		})
	}
}
