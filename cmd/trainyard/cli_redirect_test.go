package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestCLINeverFollowsRedirects: a server that answers with a redirect gets
// an error naming where it pointed, and the token never reaches that place
// (net/http would forward Authorization to another port of the same host).
func TestCLINeverFollowsRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	res := runCLIEnv(t, map[string]string{"TRAINYARD_URL": srv.URL, "TRAINYARD_TOKEN": "tya_secret"}, "", "computetarget", "list")
	if res.code == 0 || !strings.Contains(res.stderr, "redirect to "+other.URL+"/api/v1/computes") || strings.Contains(res.stderr, "tya_secret") {
		t.Fatalf("exit %d, stderr %q: want a refused redirect naming its target", res.code, res.stderr)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect's target saw %d requests", n)
	}
}
