package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trainyard/trainyard/handlers"
)

// TestOIDCNeverFollowsRedirects: a provider whose discovery answers with a
// redirect is refused with an error naming where it pointed, and the
// redirect's target sees nothing.
func TestOIDCNeverFollowsRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer idp.Close()
	_, err := handlers.NewOIDC(context.Background(), handlers.OIDCConfig{Issuer: idp.URL + "/tenant/v2.0", ClientID: "client",
		ClientSecret: "client-secret", RedirectURL: "http://127.0.0.1/auth/callback"})
	if err == nil || !strings.Contains(err.Error(), "redirect to "+other.URL+"/tenant/v2.0/.well-known/openid-configuration") {
		t.Fatalf("NewOIDC: %v, want a refused redirect naming its target", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect's target saw %d requests", n)
	}
}
