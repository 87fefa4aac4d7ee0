// Package static embeds the built CSS and the vendored JavaScript and serves
// them under content-hashed URLs, so browsers may cache them for a year.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed css js
var files embed.FS

// Assets serves the embedded files and names them by content hash.
type Assets struct {
	fsys   fs.FS
	hashes map[string]string // path → first 12 hex chars of its sha256
}

// New hashes every embedded file once.
func New() (*Assets, error) {
	a := &Assets{fsys: files, hashes: map[string]string{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a.hashes[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	return a, err
}

// URL returns the cache-busting URL of an embedded file, e.g. "css/app.css".
func (a *Assets) URL(p string) string {
	return "/static/" + p + "?v=" + a.hashes[p]
}

// Handler serves /static/...; versioned requests are cached for a year.
func (a *Assets) Handler() http.Handler {
	fileServer := http.StripPrefix("/static/", http.FileServerFS(a.fsys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/static/")
		if v := r.URL.Query().Get("v"); v != "" && v == a.hashes[p] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		fileServer.ServeHTTP(w, r)
	})
}
