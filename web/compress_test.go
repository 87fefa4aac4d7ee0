package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/brotli"

	"github.com/trainyard/trainyard/web/webtest"
)

// get sends a GET with the given Accept-Encoding ("" sends none: Go's
// transport would otherwise ask for gzip itself) and returns the response
// and its body exactly as received, still encoded.
func get(t *testing.T, c *http.Client, url, acceptEncoding string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	} else {
		req.Header.Set("Accept-Encoding", "identity")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return resp, b
}

// decode undoes one Content-Encoding (once: a response encoded twice would
// not decode to the original).
func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	switch enc {
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "":
	default:
		t.Fatalf("unexpected Content-Encoding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", enc, err)
	}
	return out
}

func varies(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}

// TestCompressStaticAssets: every asset the compute page references comes
// precompressed by Accept-Encoding (brotli preferred, then gzip, else the
// file itself), decodes once to the file in static/, varies by
// Accept-Encoding and keeps the year-long immutable caching of its hashed URL.
func TestCompressStaticAssets(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	c := env.Browser(t)
	_, page := get(t, c, env.URL+"/computes", "", nil)
	d, err := goquery.NewDocumentFromReader(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	d.Find(`link[rel=stylesheet]`).Each(func(_ int, s *goquery.Selection) { refs = append(refs, s.AttrOr("href", "")) })
	d.Find(`script[src]`).Each(func(_ int, s *goquery.Selection) { refs = append(refs, s.AttrOr("src", "")) })
	if len(refs) < 2 {
		t.Fatalf("the compute page references %v; want the stylesheet and htmx", refs)
	}
	for _, ref := range refs {
		file, _, _ := strings.Cut(strings.TrimPrefix(ref, "/static/"), "?")
		orig, err := os.ReadFile(filepath.Join("..", "static", filepath.FromSlash(file)))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ accept, want string }{
			{"br, gzip", "br"}, // Chromium's (and Firefox's) choice: brotli wins
			{"gzip, deflate, br, zstd", "br"},
			{"br", "br"},
			{"gzip", "gzip"},
			{"br;q=0, gzip", "gzip"},
			{"", ""}, // identity only
		} {
			resp, raw := get(t, c, env.URL+ref, tc.accept, nil)
			h := resp.Header
			if got := h.Get("Content-Encoding"); got != tc.want {
				t.Errorf("%s with Accept-Encoding %q: Content-Encoding %q, want %q", ref, tc.accept, got, tc.want)
				continue
			}
			if !bytes.Equal(decode(t, tc.want, raw), orig) {
				t.Errorf("%s with Accept-Encoding %q: body does not decode (once) to static/%s", ref, tc.accept, file)
			}
			if tc.want != "" && len(raw) >= len(orig) {
				t.Errorf("%s as %s: %d bytes, not smaller than the original's %d", ref, tc.want, len(raw), len(orig))
			}
			if cl := h.Get("Content-Length"); cl != strconv.Itoa(len(raw)) {
				t.Errorf("%s as %q: Content-Length %q, received %d bytes", ref, tc.want, cl, len(raw))
			}
			if !varies(h) {
				t.Errorf("%s with Accept-Encoding %q: Vary %q lacks Accept-Encoding", ref, tc.accept, h.Values("Vary"))
			}
			if cc := h.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("%s: Cache-Control %q, want a year, immutable", ref, cc)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/") {
				t.Errorf("%s: Content-Type %q", ref, ct)
			}
		}
	}
}

// TestCompressPages: HTML pages and API JSON are compressed on the fly for
// clients that accept gzip, and sent as they are to those that do not.
func TestCompressPages(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	c := env.Browser(t)
	for _, tc := range []struct {
		path   string
		header map[string]string
		ctype  string
	}{
		{"/computes", nil, "text/html"},
		{"/runs", nil, "text/html"},
		{"/api/v1/computes", map[string]string{"Authorization": "Bearer " + webtest.Token}, "application/json"},
	} {
		resp, raw := get(t, c, env.URL+tc.path, "br, gzip", tc.header)
		if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
			t.Errorf("%s: Content-Encoding %q, want gzip", tc.path, got)
			continue
		}
		if !varies(resp.Header) {
			t.Errorf("%s: Vary %q lacks Accept-Encoding", tc.path, resp.Header.Values("Vary"))
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
			t.Errorf("%s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		body := decode(t, "gzip", raw)
		if len(raw) >= len(body) {
			t.Errorf("%s: gzip %d bytes, not smaller than %d", tc.path, len(raw), len(body))
		}
		resp, plain := get(t, c, env.URL+tc.path, "", tc.header)
		if got := resp.Header.Get("Content-Encoding"); got != "" {
			t.Errorf("%s without Accept-Encoding: Content-Encoding %q", tc.path, got)
		}
		if tc.ctype == "text/html" && !bytes.Contains(plain, []byte("</html>")) {
			t.Errorf("%s without Accept-Encoding: not a page", tc.path)
		}
	}
}
