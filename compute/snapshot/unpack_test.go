package snapshot

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

// item is one archive entry to write.
type item struct {
	name    string
	content string
	mode    int64 // 0: 0644
	link    string
	hard    bool
	dir     bool
	fifo    bool
}

func makeTarGz(t testing.TB, items []item) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, it := range items {
		hdr := &tar.Header{Name: it.name, Mode: 0o644, Size: int64(len(it.content)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if it.mode != 0 {
			hdr.Mode = it.mode
		}
		switch {
		case it.dir:
			hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeDir, 0, 0o755
		case it.link != "" && it.hard:
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, it.link, 0
		case it.link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, it.link, 0
		case it.fifo:
			hdr.Typeflag, hdr.Size = tar.TypeFifo, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(it.content)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeZip(t testing.TB, items []item) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, it := range items {
		hdr := &zip.FileHeader{Name: it.name, Method: zip.Deflate}
		mode := fs.FileMode(0o644)
		if it.mode != 0 {
			mode = fs.FileMode(it.mode)
		}
		content := it.content
		switch {
		case it.dir:
			mode = fs.ModeDir | 0o755
		case it.link != "":
			mode, content = fs.ModeSymlink|0o777, it.link
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// blobs collects what Unpack puts.
type blobs struct {
	m     map[string][]byte
	calls int
}

func (b *blobs) put(sha string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != sha {
		return fmt.Errorf("put %s with content hashing to %x", sha, sum)
	}
	if b.m == nil {
		b.m = map[string][]byte{}
	}
	b.m[sha] = data
	b.calls++
	return nil
}

func unpack(t *testing.T, data []byte, format string, limits Limits) (*Manifest, *blobs, error) {
	t.Helper()
	b := &blobs{}
	m, err := Unpack(context.Background(), bytes.NewReader(data), format, limits, b.put)
	return m, b, err
}

var sampleItems = []item{
	{name: "proj/", dir: true},
	{name: "proj/train.py", content: "print('train')\n"},
	{name: "proj/run.sh", content: "#!/bin/sh\n", mode: 0o755},
	{name: "proj/copy.py", content: "print('train')\n"},
	{name: "proj/.amlignore", content: "data/\n*.log\n"},
	{name: "proj/.gitignore", content: "*.py\n"},
	{name: "proj/data/big.bin", content: strings.Repeat("z", 5000)},
	{name: "proj/x.log", content: "log"},
	{name: "proj/sub/.gitignore", content: "secret.txt\n"},
	{name: "proj/sub/secret.txt", content: "s"},
	{name: "proj/sub/ok.txt", content: "ok"},
	{name: "proj/.git/config", content: "[core]"},
	{name: "proj/link.py", link: "train.py"},
	{name: "proj/sub/up.py", link: "../train.py"},
	{name: "proj/dirlink", link: "sub"},
	{name: "proj/dangling", link: "nope"},
}

func TestUnpack(t *testing.T) {
	want := []string{"proj/.amlignore", "proj/.gitignore", "proj/copy.py", "proj/link.py", "proj/run.sh", "proj/sub/.gitignore", "proj/sub/ok.txt", "proj/sub/up.py", "proj/train.py"}
	for _, tc := range []struct {
		name, format string
		data         []byte
	}{
		{"tar.gz", "application/gzip", makeTarGz(t, sampleItems)},
		{"zip", "zip", makeZip(t, sampleItems)},
		{"tar.gz sniffed", "", makeTarGz(t, sampleItems)},
		{"zip sniffed", "application/octet-stream", makeZip(t, sampleItems)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, b, err := unpack(t, tc.data, tc.format, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(m); !reflect.DeepEqual(got, want) {
				t.Errorf("paths %q\nwant  %q", got, want)
			}
			// ".amlignore wins over .gitignore: *.py files are kept; the
			// nested .gitignore applies in sub/."
			if b.calls != len(b.m) {
				t.Errorf("put called %d times for %d blobs", b.calls, len(b.m))
			}
			tr := m.Lookup("proj/train.py")
			if l := m.Lookup("proj/link.py"); tr == nil || l == nil || l.SHA256 != tr.SHA256 || m.Lookup("proj/sub/up.py").SHA256 != tr.SHA256 {
				t.Errorf("links are not copies of their target: %+v", m.Files)
			}
			if string(b.m[tr.SHA256]) != "print('train')\n" {
				t.Errorf("content %q", b.m[tr.SHA256])
			}
			if m.Lookup("proj/run.sh").Mode != 0o755 || tr.Mode != 0o644 {
				t.Errorf("modes %o %o", m.Lookup("proj/run.sh").Mode, tr.Mode)
			}
			skipped := map[string]bool{}
			for _, s := range m.Skipped {
				skipped[s.Path] = true
			}
			if !skipped["proj/dirlink"] || !skipped["proj/dangling"] {
				t.Errorf("skipped %+v", m.Skipped)
			}
			for _, f := range m.Files {
				if err := ValidatePath(f.Path); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestUnpackRejects(t *testing.T) {
	tests := []struct {
		name  string
		items []item
		want  string
	}{
		{"dot-dot", []item{{name: "a.py", content: "x"}, {name: "../evil.py", content: "x"}}, "leaves the archive"},
		{"dot-dot inside", []item{{name: "a/../../evil.py", content: "x"}}, "leaves the archive"},
		{"absolute", []item{{name: "/etc/cron.d/x", content: "x"}}, "absolute path"},
		{"windows absolute", []item{{name: "C:\\x.py", content: "x"}}, "absolute path"},
		{"backslash dot-dot", []item{{name: "a\\..\\..\\x.py", content: "x"}}, "leaves the archive"},
		{"symlink out, absolute", []item{{name: "l", link: "/etc/passwd"}}, "points outside"},
		{"symlink out, relative", []item{{name: "a/l", link: "../../x"}}, "points outside"},
		{"symlink out, ignored", []item{{name: ".amlignore", content: "l\n"}, {name: "l", link: "/etc/passwd"}}, "points outside"},
		{"duplicate", []item{{name: "a.py", content: "1"}, {name: "./a.py", content: "2"}}, "twice"},
	}
	for _, tc := range tests {
		for _, format := range []string{"tar.gz", "zip"} {
			t.Run(tc.name+" "+format, func(t *testing.T) {
				data := makeTarGz(t, tc.items)
				if format == "zip" {
					data = makeZip(t, tc.items)
				}
				_, b, err := unpack(t, data, format, Limits{})
				var pe *PathError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want a *PathError with %q", err, tc.want)
				}
				_ = b
			})
		}
	}
	// A hard link in a tar is resolved against the root.
	m, _, err := unpack(t, makeTarGz(t, []item{{name: "d/a.py", content: "A"}, {name: "h.py", link: "d/a.py", hard: true}, {name: "f", fifo: true}}), "tar.gz", Limits{})
	if err != nil || m.Lookup("h.py") == nil || m.Lookup("h.py").SHA256 != m.Lookup("d/a.py").SHA256 || m.Lookup("f") != nil {
		t.Errorf("hard link: %v %+v", err, m)
	}
	if _, _, err := unpack(t, makeTarGz(t, []item{{name: "h", link: "../x", hard: true}}), "tar.gz", Limits{}); err == nil {
		t.Error("hard link out accepted")
	}
}

func TestUnpackLimits(t *testing.T) {
	many := []item{}
	for i := range 30 {
		many = append(many, item{name: fmt.Sprintf("f%02d.txt", i), content: fmt.Sprint(i)})
	}
	many = append(many, item{name: ".amlignore", content: "ignored/\n"})
	for i := range 30 {
		many = append(many, item{name: fmt.Sprintf("ignored/%d", i), content: "x"})
	}
	for _, format := range []string{"zip", "tar.gz"} {
		data := makeTarGz(t, many)
		if format == "zip" {
			data = makeZip(t, many)
		}
		var le *LimitError
		if _, _, err := unpack(t, data, format, Limits{MaxFiles: 31}); err != nil {
			t.Errorf("%s at the limit (ignored files do not count): %v", format, err)
		}
		if _, _, err := unpack(t, data, format, Limits{MaxFiles: 30}); !errors.As(err, &le) || !le.TooManyFiles {
			t.Errorf("%s files: %v", format, err)
		}
		if _, _, err := unpack(t, data, format, Limits{MaxBytes: 20}); !errors.As(err, &le) || le.TooManyFiles || !strings.Contains(err.Error(), "Your total snapshot size exceeds the limit") {
			t.Errorf("%s bytes: %v", format, err)
		}
		if _, _, err := unpack(t, data, format, Limits{MaxEntries: 10}); !errors.As(err, &le) {
			t.Errorf("%s entries: %v", format, err)
		}
		if _, _, err := unpack(t, data, format, Limits{MaxArchiveBytes: 100}); !errors.As(err, &le) {
			t.Errorf("%s archive size: %v", format, err)
		}
	}
	// A zip bomb: a 20 MB file of zeros, with headers claiming 10 bytes.
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(make([]byte, 20<<20))
	fw.Close()
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "bomb", Method: zip.Deflate, CompressedSize64: uint64(comp.Len()), UncompressedSize64: 10, CRC32: 0})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	var le *LimitError
	if _, b, err := unpack(t, zbuf.Bytes(), "zip", Limits{MaxBytes: 1 << 20}); !errors.Is(err, ErrArchive) || b.calls != 0 {
		t.Errorf("zip bomb with lying headers: %v (puts %d)", err, b.calls)
	}
	// The same bomb with honest headers stops at the byte limit, counted as written.
	honest := makeZip(t, []item{{name: "bomb", content: string(make([]byte, 20<<20))}})
	if len(honest) > 1<<20 {
		t.Fatalf("the bomb is not compressed: %d bytes", len(honest))
	}
	if _, b, err := unpack(t, honest, "zip", Limits{MaxBytes: 1 << 20}); !errors.As(err, &le) || b.calls != 0 {
		t.Errorf("zip bomb: %v (puts %d)", err, b.calls)
	}
	// A gzip bomb that is ignored still counts against MaxExpandedBytes.
	bomb := makeTarGz(t, []item{{name: ".amlignore", content: "big\n"}, {name: "big", content: strings.Repeat("\x00", 8<<20)}, {name: "a.py", content: "x"}})
	if _, _, err := unpack(t, bomb, "tar.gz", Limits{MaxExpandedBytes: 4 << 20}); !errors.As(err, &le) {
		t.Errorf("ignored bomb: %v", err)
	}
	if m, _, err := unpack(t, bomb, "tar.gz", Limits{}); err != nil || len(m.Files) != 2 {
		t.Errorf("ignored big file within limits: %v", err)
	}
}

func TestUnpackErrors(t *testing.T) {
	if _, _, err := unpack(t, []byte("not an archive"), "", Limits{}); !errors.Is(err, ErrArchive) {
		t.Errorf("garbage: %v", err)
	}
	if _, _, err := unpack(t, []byte("PK\x03\x04garbage"), "zip", Limits{}); !errors.Is(err, ErrArchive) {
		t.Errorf("bad zip: %v", err)
	}
	if _, _, err := unpack(t, []byte{0x1f, 0x8b, 1, 2, 3}, "tar.gz", Limits{}); !errors.Is(err, ErrArchive) {
		t.Errorf("bad gzip: %v", err)
	}
	data := makeTarGz(t, sampleItems)
	if _, _, err := unpack(t, data[:len(data)/2], "tar.gz", Limits{}); !errors.Is(err, ErrArchive) {
		t.Errorf("truncated: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Unpack(ctx, bytes.NewReader(data), "tar.gz", Limits{}, (&blobs{}).put); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	boom := errors.New("store full")
	if _, err := Unpack(context.Background(), bytes.NewReader(data), "tar.gz", Limits{}, func(string, io.Reader) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("put error: %v", err)
	}
	// Large files are spooled to disk and still hashed right.
	big := strings.Repeat("0123456789", 300_000)
	m, b, err := unpack(t, makeZip(t, []item{{name: "big.bin", content: big}}), "zip", Limits{TempDir: t.TempDir()})
	if err != nil || string(b.m[m.Files[0].SHA256]) != big {
		t.Errorf("big file: %v", err)
	}
	for in, want := range map[string]string{"application/zip": FormatZip, "application/gzip; charset=binary": FormatTarGz, ".tgz": FormatTarGz, "tar": FormatTar, "rar": ""} {
		if got := NormalizeFormat(in); got != want {
			t.Errorf("NormalizeFormat(%q) = %q", in, got)
		}
	}
}

// FuzzUnpack: no archive makes Unpack panic, and whatever it accepts has
// valid paths, within the limits, with every blob put.
func FuzzUnpack(f *testing.F) {
	f.Add(makeTarGz(f, sampleItems), "tar.gz")
	f.Add(makeZip(f, sampleItems), "zip")
	f.Add(makeTarGz(f, []item{{name: "../x", content: "x"}}), "")
	f.Add(makeZip(f, []item{{name: "a", link: "/etc"}}), "")
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	tw.WriteHeader(&tar.Header{Name: "a.py", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	f.Add(plain.Bytes(), "tar")
	f.Add([]byte{}, "")
	limits := Limits{MaxFiles: 50, MaxBytes: 1 << 20, MaxEntries: 500, MaxExpandedBytes: 4 << 20}
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		b := &blobs{}
		m, err := Unpack(context.Background(), bytes.NewReader(data), format, limits, b.put)
		if err != nil {
			return
		}
		if len(m.Files) > limits.MaxFiles || m.TotalBytes() > limits.MaxBytes {
			t.Fatalf("over the limits: %d files, %d bytes", len(m.Files), m.TotalBytes())
		}
		seen := map[string]bool{}
		for _, fl := range m.Files {
			if err := ValidatePath(fl.Path); err != nil {
				t.Fatal(err)
			}
			if seen[fl.Path] {
				t.Fatalf("%s twice", fl.Path)
			}
			seen[fl.Path] = true
			if _, ok := b.m[fl.SHA256]; !ok {
				t.Fatalf("%s: blob %s never put", fl.Path, fl.SHA256)
			}
		}
	})
}
