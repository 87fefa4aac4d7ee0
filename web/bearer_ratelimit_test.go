package web_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web"
	"github.com/trainyard/trainyard/web/webtest"
)

// fromAddr is a client whose connections come from the loopback address ip.
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
}

// TestBearerFailuresRateLimited: after web.DefaultBearerFailures bad bearer
// tokens from one address, its bearer requests are a 429 with Retry-After
// (JSON under /api/, MLflow's shape on the tracking API), good tokens from
// it included, keyed by the TCP peer (not X-Forwarded-For). Good tokens do
// not count: any number of them is never slowed; other addresses and
// requests without a token go on.
func TestBearerFailuresRateLimited(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	good := env.TokenFor(t, "tid/oid-ds", compute.RoleDataScientist)
	a, b := fromAddr("127.0.0.1"), fromAddr("127.0.0.2")
	bearer := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "X-Forwarded-For": "198.51.100." + strconv.Itoa(len(tok)%200)}
	}

	for i := range 3 * web.DefaultBearerFailures {
		if st, body, _ := webtest.Do(t, a, "GET", env.URL+"/api/v1/me", nil, bearer(good)); st != http.StatusOK {
			t.Fatalf("good token, request %d: %d %s", i+1, st, body)
		}
	}
	for i := range web.DefaultBearerFailures {
		if st, _, _ := webtest.Do(t, a, "GET", env.URL+"/api/v1/me", nil, bearer("tya_wrong"+strconv.Itoa(i))); st != http.StatusUnauthorized {
			t.Fatalf("bad token %d: %d, want 401", i+1, st)
		}
		// Good tokens in between neither count nor reset the count.
		if i == web.DefaultBearerFailures-1 {
			break
		}
		if st, _, _ := webtest.Do(t, a, "GET", env.URL+"/api/v1/me", nil, bearer(good)); st != http.StatusOK {
			t.Fatalf("good token after %d bad ones: %d", i+1, st)
		}
	}
	for _, tc := range []struct{ tok, path, code string }{
		{"tya_wrong-again", "/api/v1/me", `"code":"TooManyFailedTokens"`},
		{good, "/api/v1/computes", `"code":"TooManyFailedTokens"`},
		{good, "/api/2.0/mlflow/experiments/get?experiment_id=0", `"error_code":"REQUEST_LIMIT_EXCEEDED"`},
	} {
		st, body, h := webtest.Do(t, a, "GET", env.URL+tc.path, nil, bearer(tc.tok))
		retry, _ := strconv.Atoi(h.Get("Retry-After"))
		if st != http.StatusTooManyRequests || retry < 1 || retry > 60 || !strings.Contains(body, tc.code) ||
			!strings.Contains(body, "Too many invalid bearer tokens came from your address") {
			t.Errorf("%s after the limit: %d Retry-After %q %s", tc.path, st, h.Get("Retry-After"), body)
		}
	}
	if st, _, _ := webtest.Do(t, a, "GET", env.URL+"/healthz", nil, nil); st != http.StatusOK {
		t.Errorf("a request without a token from the same address: %d", st)
	}
	if st, body, _ := webtest.Do(t, b, "GET", env.URL+"/api/v1/me", nil, bearer(good)); st != http.StatusOK {
		t.Errorf("another address: %d %s", st, body)
	}
	if st, _, _ := webtest.Do(t, b, "GET", env.URL+"/api/v1/me", nil, bearer("tya_wrong")); st != http.StatusUnauthorized {
		t.Errorf("another address's first bad token: %d, want 401", st)
	}
}
