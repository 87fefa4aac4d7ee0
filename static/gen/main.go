// Command gen precompresses the static assets: beside every file under
// static/css and static/js it writes name.br (brotli, best quality) and
// name.gz (gzip, best compression), which the server sends as they are to
// browsers that accept them. The compressed files are committed like the
// other generated files; with -check it changes nothing and fails if any is
// missing, stale (does not decode to its original) or left over.
//
//	go run ./static/gen          # make generate / make precompress
//	go run ./static/gen -check   # make check
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/andybalholm/brotli"
)

// encodings are the precompressed variants: file suffix, encoder, decoder.
var encodings = []struct {
	suffix string
	encode func(io.Writer) io.WriteCloser
	decode func(io.Reader) (io.Reader, error)
}{
	{".br",
		func(w io.Writer) io.WriteCloser { return brotli.NewWriterLevel(w, brotli.BestCompression) },
		func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
	{".gz",
		func(w io.Writer) io.WriteCloser {
			zw, _ := gzip.NewWriterLevel(w, gzip.BestCompression) // a valid level: no error
			return zw
		},
		func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
}

func main() {
	dir := flag.String("dir", "static", "the static folder (holding css and js)")
	check := flag.Bool("check", false, "write nothing; fail if a compressed file is missing, stale or left over")
	flag.Parse()
	stale, err := run(*dir, *check)
	if err != nil {
		fmt.Fprintln(os.Stderr, "precompress:", err)
		os.Exit(1)
	}
	if len(stale) > 0 {
		fmt.Fprintf(os.Stderr, "precompressed assets are stale: %s\nrun make generate (or go run ./static/gen) and commit\n", strings.Join(stale, ", "))
		os.Exit(1)
	}
}

// run (re)writes the compressed variants of every asset under dir/css and
// dir/js, or with check only lists those that are missing, stale or orphaned.
func run(dir string, check bool) (stale []string, err error) {
	var originals, compressed []string
	for _, sub := range []string{"css", "js"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil || d.IsDir():
				return err
			case isCompressed(p):
				compressed = append(compressed, p)
			default:
				originals = append(originals, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	want := map[string]bool{}
	for _, p := range originals {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		for _, e := range encodings {
			out := p + e.suffix
			want[out] = true
			if check {
				if !decodesTo(out, e.decode, src) {
					stale = append(stale, out)
				}
				continue
			}
			var buf bytes.Buffer
			w := e.encode(&buf)
			if _, err := w.Write(src); err != nil {
				return nil, err
			}
			if err := w.Close(); err != nil {
				return nil, err
			}
			if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, buf.Bytes()) {
				continue
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range compressed {
		if want[p] {
			continue
		}
		if check {
			stale = append(stale, p+" (its original is gone)")
		} else if err := os.Remove(p); err != nil {
			return nil, err
		}
	}
	return stale, nil
}

func isCompressed(p string) bool {
	for _, e := range encodings {
		if strings.HasSuffix(p, e.suffix) {
			return true
		}
	}
	return false
}

// decodesTo reports whether the compressed file p exists and decodes to want.
// (Decoding rather than comparing bytes keeps the check independent of the
// encoders' exact output, which may change between library versions.)
func decodesTo(p string, decode func(io.Reader) (io.Reader, error), want []byte) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := decode(f)
	if err != nil {
		return false
	}
	got, err := io.ReadAll(r)
	return err == nil && bytes.Equal(got, want)
}
