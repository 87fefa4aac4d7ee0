package azure_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure"
)

// Every request to Azure carries a bearer token or the client secret:
// the client follows no redirect (the target never hears of the request),
// and never dials link-local or cloud-metadata addresses.
func TestClientFollowsNoRedirectAndSkipsMetadata(t *testing.T) {
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer target.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()

	hc := azure.NewHTTPClient()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, redirecting.URL+"/subscriptions", nil)
	req.Header.Set("Authorization", "Bearer secret-token")
	resp, err := hc.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a redirect was followed")
	}
	if !strings.Contains(err.Error(), target.URL+"/steal") || elsewhere.Load() != 0 {
		t.Errorf("err = %v, requests elsewhere %d; want an error naming the redirect and none sent", err, elsewhere.Load())
	}

	for _, addr := range []string{"http://169.254.169.254/metadata/identity/oauth2/token", "http://[fd00:ec2::254]/latest/meta-data/"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, addr, nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, compute.ErrForbidden) {
			t.Errorf("GET %s: err = %v; want the address refused before connecting", addr, err)
		}
	}
}
