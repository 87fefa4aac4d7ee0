package handlers

import (
	"net/http/httptest"
	"testing"
)

// FuzzSameOrigin: the Origin check of WebSocket upgrades never panics, lets
// this server's own origin through and nothing whose host differs.
func FuzzSameOrigin(f *testing.F) {
	for _, o := range []string{"", "http://ty.example:8080", "https://evil.example", "null", "http://ty.example:8080.evil", "://", "http://TY.example:8080"} {
		f.Add("ty.example:8080", o)
	}
	f.Fuzz(func(t *testing.T, host, origin string) {
		r := httptest.NewRequest("GET", "/computes/x/apps/jupyter/api/kernels/1/channels", nil)
		r.Host = host
		r.Header.Set("Origin", origin)
		got := sameOrigin(r)
		if origin == "" && !got {
			t.Fatal("no Origin (not a browser) was refused")
		}
		if host != "" && origin == "http://"+host && !got {
			t.Fatalf("the server's own origin %q was refused for host %q", origin, host)
		}
	})
}
