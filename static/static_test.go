package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// TestStaticPrecompressedFresh: every embedded asset has its brotli and gzip
// variants, each decoding to the asset (what `go run ./static/gen -check`
// checks in make check, here on what the binary embeds).
func TestStaticPrecompressedFresh(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if len(a.assets) < 3 {
		t.Fatalf("%d assets embedded", len(a.assets))
	}
	for p, as := range a.assets {
		for _, e := range encodings {
			v, err := fs.ReadFile(files, p+e.suffix)
			if err != nil {
				t.Errorf("%s: no %s variant: run go run ./static/gen", p, e.name)
				continue
			}
			var r io.Reader = bytes.NewReader(v)
			if e.name == "gzip" {
				if r, err = gzip.NewReader(r); err != nil {
					t.Fatalf("%s%s: %v", p, e.suffix, err)
				}
			} else {
				r = brotli.NewReader(r)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, as.identity) {
				t.Errorf("%s%s is stale (%v): run go run ./static/gen and commit", p, e.suffix, err)
			}
		}
	}
}

func serve(t *testing.T, a *Assets, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, req)
	return w
}

// TestStaticNegotiation: Accept-Encoding picks brotli, then gzip, else the
// original, honouring q=0 and "*"; the caching headers follow the version.
func TestStaticNegotiation(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	url := a.URL("js/htmx.min.js")
	orig := a.assets["js/htmx.min.js"].identity
	for _, tc := range []struct{ accept, want string }{
		{"br, gzip", "br"},
		{"gzip, deflate, br, zstd", "br"},
		{"BR", "br"},
		{"gzip;q=1.0, br;q=0.5", "br"}, // both acceptable: the smaller wins
		{"gzip", "gzip"},
		{"br;q=0, gzip", "gzip"},
		{"br;q=0, gzip;q=0", ""},
		{"*", "br"},
		{"*, br;q=0", "gzip"},
		{"deflate", ""},
		{"identity", ""},
		{"", ""},
	} {
		w := serve(t, a, url, map[string]string{"Accept-Encoding": tc.accept})
		if got := w.Header().Get("Content-Encoding"); w.Code != 200 || got != tc.want {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q, want %q", tc.accept, w.Code, got, tc.want)
		}
		if tc.want == "" && !bytes.Equal(w.Body.Bytes(), orig) {
			t.Errorf("Accept-Encoding %q: identity body differs from the file", tc.accept)
		}
		if w.Header().Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q", tc.accept, w.Header().Get("Vary"))
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("Content-Type %q", ct)
		}
	}

	br := serve(t, a, url, map[string]string{"Accept-Encoding": "br"})
	if cc := br.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("versioned: Cache-Control %q", cc)
	}
	// Revalidation of the variant the client holds: 304, no body.
	nm := serve(t, a, url, map[string]string{"Accept-Encoding": "br", "If-None-Match": br.Header().Get("ETag")})
	if nm.Code != http.StatusNotModified || nm.Body.Len() != 0 {
		t.Errorf("If-None-Match the br ETag: %d, %d bytes", nm.Code, nm.Body.Len())
	}
	gz := serve(t, a, url, map[string]string{"Accept-Encoding": "gzip"})
	if gz.Header().Get("ETag") == br.Header().Get("ETag") {
		t.Errorf("gzip and br variants share the ETag %s", gz.Header().Get("ETag"))
	}
	// A range of an encoded variant is not served: the whole variant is.
	rg := serve(t, a, url, map[string]string{"Accept-Encoding": "br", "Range": "bytes=0-9"})
	if rg.Code != 200 || rg.Body.Len() != br.Body.Len() {
		t.Errorf("Range on br: %d, %d bytes", rg.Code, rg.Body.Len())
	}

	for _, target := range []string{"/static/js/htmx.min.js", "/static/js/htmx.min.js?v=0123456789ab"} {
		if cc := serve(t, a, target, nil).Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache", target, cc)
		}
	}
	for _, target := range []string{"/static/js/htmx.min.js.br", "/static/js/", "/static/nope.css", "/static/static.go"} {
		if w := serve(t, a, target, nil); w.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", target, w.Code)
		}
	}
}
