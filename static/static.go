// Package static embeds the built CSS and the vendored JavaScript and serves
// them under content-hashed URLs, so browsers may cache them for a year.
//
// Every asset is embedded with its precompressed variants (name.br, name.gz,
// written by `go run ./static/gen`, committed beside it), and a request gets
// the best one its Accept-Encoding allows: brotli, then gzip, else the file
// itself. Nothing is compressed while serving.
package static

//go:generate go run ./gen -dir .

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed css js
var files embed.FS

// encodings are the precompressed variants, best first: Content-Encoding and
// the suffix of the file that holds it.
var encodings = []struct{ name, suffix string }{{"br", ".br"}, {"gzip", ".gz"}}

// asset is one embedded file and its precompressed variants.
type asset struct {
	hash        string            // first 12 hex chars of the sha256 of the original
	contentType string            // from the original's extension
	identity    []byte            // the original
	encoded     map[string][]byte // Content-Encoding → the precompressed bytes
}

// Assets serves the embedded files and names them by content hash.
type Assets struct {
	assets map[string]*asset // path ("css/app.css") → asset
}

// New reads and hashes every embedded file once.
func New() (*Assets, error) {
	a := &Assets{assets: map[string]*asset{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || isVariant(p) {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		as := &asset{hash: hex.EncodeToString(sum[:6]), identity: b, encoded: map[string][]byte{}}
		if as.contentType = mime.TypeByExtension(path.Ext(p)); as.contentType == "" {
			as.contentType = http.DetectContentType(b)
		}
		for _, e := range encodings {
			// A variant is sent only when it is smaller than the original.
			if v, err := fs.ReadFile(files, p+e.suffix); err == nil && len(v) < len(b) {
				as.encoded[e.name] = v
			}
		}
		a.assets[p] = as
		return nil
	})
	return a, err
}

func isVariant(p string) bool {
	for _, e := range encodings {
		if strings.HasSuffix(p, e.suffix) {
			return true
		}
	}
	return false
}

// URL returns the cache-busting URL of an embedded file, e.g. "css/app.css".
func (a *Assets) URL(p string) string {
	h := ""
	if as := a.assets[p]; as != nil {
		h = as.hash
	}
	return "/static/" + p + "?v=" + h
}

// Handler serves /static/...; versioned requests are cached for a year.
// Every response varies by Accept-Encoding, whichever encoding it got.
func (a *Assets) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/static/")
		as := a.assets[p]
		if as == nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		if v := r.URL.Query().Get("v"); v != "" && v == as.hash {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		h.Add("Vary", "Accept-Encoding")
		h.Set("Content-Type", as.contentType)
		body, etag := as.identity, as.hash
		if enc := as.negotiate(r.Header.Get("Accept-Encoding")); enc != "" {
			body, etag = as.encoded[enc], as.hash+"-"+enc
			h.Set("Content-Encoding", enc)
			// ServeContent leaves Content-Length out of encoded responses
			// (a range of one would be another length). The whole variant is
			// always sent, so its length is known.
			h.Set("Content-Length", strconv.Itoa(len(body)))
			r = r.Clone(r.Context())
			r.Header.Del("Range")
		}
		h.Set("ETag", strconv.Quote(etag))
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// negotiate picks the best precompressed variant the Accept-Encoding header
// allows (brotli before gzip, as browsers get the smaller one), or "" for
// the original. A coding is acceptable when listed, or matched by "*", with
// a q-value above 0.
func (as *asset) negotiate(accept string) string {
	q := map[string]float64{}
	for part := range strings.SplitSeq(accept, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		weight := 1.0
		for param := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(param), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					weight = f
				} else {
					weight = 0
				}
			}
		}
		q[name] = weight
	}
	for _, e := range encodings {
		if _, ok := as.encoded[e.name]; !ok {
			continue
		}
		w, listed := q[e.name]
		if !listed {
			w, listed = q["*"]
		}
		if listed && w > 0 {
			return e.name
		}
	}
	return ""
}
