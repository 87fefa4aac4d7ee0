package handlers_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/web/webtest"
)

// archiveMember is one entry of a test archive.
type archiveMember struct {
	name   string
	body   string
	link   string // symbolic link target
	dir    bool
	mode   int64
	hard   bool // tar hard link (link names the archiveMember)
	device bool // a character device
}

func archiveTarGz(t *testing.T, members ...archiveMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg}
		if m.mode != 0 {
			h.Mode = m.mode
		}
		switch {
		case m.dir:
			h.Typeflag, h.Size, h.Mode = tar.TypeDir, 0, 0o755
		case m.hard:
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, m.link, 0
		case m.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, m.link, 0
		case m.device:
			h.Typeflag, h.Size = tar.TypeChar, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func archiveZip(t *testing.T, members ...archiveMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		body := m.body
		switch {
		case m.dir:
			h.Name = strings.TrimSuffix(m.name, "/") + "/"
			h.SetMode(fs.ModeDir | 0o755)
		case m.link != "":
			h.SetMode(fs.ModeSymlink | 0o777)
			body = m.link
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type snapJSON struct {
	ID         string      `json:"id"`
	FileCount  int         `json:"fileCount"`
	TotalBytes int64       `json:"totalBytes"`
	Files      []fileEntry `json:"files"`
}

type errJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"`
		Details []struct {
			Message string `json:"message"`
			Target  string `json:"target"`
		} `json:"details"`
	} `json:"error"`
}

func uploadArchive(t *testing.T, env *webtest.Env, ct string, body []byte) (int, []byte) {
	t.Helper()
	status, b, _ := apiDo(t, env, "POST", "/api/v1/snapshots/archive", ct, body)
	return status, b
}

// TestSnapshotArchive unpacks a good .tar.gz and .zip: ignore rules, .git,
// links inside the tree, executable bits; a resubmit gives the same ID.
func TestSnapshotArchive(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	members := []archiveMember{
		{name: "./", dir: true},
		{name: "./train.py", body: "print('hi')\n"},
		{name: "./run.sh", body: "#!/bin/sh\n", mode: 0o755},
		{name: "./.amlignore", body: "data/\n*.log\n!keep.log\n"},
		{name: "./.gitignore", body: "train.py\n"}, // ignored: .amlignore wins
		{name: "./data/", dir: true},
		{name: "./data/big.bin", body: strings.Repeat("x", 1000)},
		{name: "./debug.log", body: "noise"},
		{name: "./keep.log", body: "kept"},
		{name: "./.git/config", body: "[core]"},
		{name: "./sub/.gitignore", body: "secret.txt\n"},
		{name: "./sub/secret.txt", body: "s"},
		{name: "./sub/util.py", body: "x = 1\n"},
		{name: "./link.py", link: "train.py"},
		{name: "./sub/up.py", link: "../train.py"},
		{name: "./hard.py", link: "train.py", hard: true},
		{name: "./dangling", link: "missing.txt"},
	}
	for _, kind := range []string{"tar.gz", "zip"} {
		var body []byte
		ct := "application/gzip"
		if kind == "tar.gz" {
			body = archiveTarGz(t, members...)
		} else {
			ct = "application/zip"
			var zm []archiveMember
			for _, m := range members {
				if !m.hard && m.name != "./" {
					zm = append(zm, archiveMember{name: strings.TrimPrefix(m.name, "./"), body: m.body, link: m.link, dir: m.dir})
				}
			}
			body = archiveZip(t, zm...)
		}
		status, b := uploadArchive(t, env, ct, body)
		if status != 201 {
			t.Fatalf("%s: %d %s", kind, status, b)
		}
		var created snapJSON
		_ = json.Unmarshal(b, &created)
		var snap snapJSON
		apiJSON(t, env, "GET", "/api/v1/snapshots/"+created.ID, nil, 200, &snap)
		var paths []string
		sums := map[string]string{}
		for _, f := range snap.Files {
			paths = append(paths, f.Path)
			sums[f.Path] = f.SHA256
		}
		want := []string{".amlignore", ".gitignore", "keep.log", "link.py", "run.sh", "sub/.gitignore", "sub/up.py", "sub/util.py", "train.py"}
		if kind == "tar.gz" {
			want = []string{".amlignore", ".gitignore", "hard.py", "keep.log", "link.py", "run.sh", "sub/.gitignore", "sub/up.py", "sub/util.py", "train.py"}
		}
		if !slices.Equal(paths, want) {
			t.Fatalf("%s: files %v, want %v", kind, paths, want)
		}
		if sums["link.py"] != sums["train.py"] || sums["sub/up.py"] != sums["train.py"] {
			t.Fatalf("%s: links are not copies of their target", kind)
		}
		status, b, _ = apiDo(t, env, "GET", "/api/v1/snapshots/"+created.ID+"/files/sub/util.py", "", nil)
		if status != 200 || string(b) != "x = 1\n" {
			t.Fatalf("%s: file: %d %q", kind, status, b)
		}
		if kind == "tar.gz" {
			for _, f := range snap.Files {
				if f.Path == "run.sh" && f.Mode&0o111 == 0 {
					t.Fatalf("run.sh lost its executable bit: %o", f.Mode)
				}
			}
			// The same archive again is the same snapshot.
			_, b2 := uploadArchive(t, env, ct, body)
			var again snapJSON
			_ = json.Unmarshal(b2, &again)
			if again.ID != created.ID {
				t.Fatalf("resubmit gave %s, first %s", again.ID, created.ID)
			}
		}
	}
}

// TestSnapshotArchiveRejected: traversal, absolute paths, links that leave
// the tree, special files, too many files, not an archive — each a clear
// error naming the path, and no snapshot.
func TestSnapshotArchiveRejected(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	ok := archiveMember{name: "train.py", body: "print(1)\n"}
	cases := []struct {
		name   string
		body   []byte
		ct     string
		status int
		target string // a detail's target
		msg    string // part of the message
	}{
		{"tar zip-slip", archiveTarGz(t, ok, archiveMember{name: "../evil.py", body: "x"}), "application/gzip", 422, "../evil.py", "leaves"},
		{"tar deep zip-slip", archiveTarGz(t, ok, archiveMember{name: "a/../../evil.py", body: "x"}), "application/gzip", 422, "a/../../evil.py", "leaves"},
		{"tar absolute", archiveTarGz(t, ok, archiveMember{name: "/etc/cron.d/x", body: "x"}), "application/gzip", 422, "/etc/cron.d/x", "absolute"},
		{"tar backslash zip-slip", archiveTarGz(t, ok, archiveMember{name: `..\evil.py`, body: "x"}), "application/gzip", 422, `..\evil.py`, "leaves"},
		{"tar symlink escape", archiveTarGz(t, ok, archiveMember{name: "passwd", link: "../../../../etc/passwd"}), "application/gzip", 422, "passwd", "outside"},
		{"tar absolute symlink", archiveTarGz(t, ok, archiveMember{name: "passwd", link: "/etc/passwd"}), "application/gzip", 422, "passwd", "outside"},
		{"tar symlink chain escape", archiveTarGz(t, ok, archiveMember{name: "a", link: "b"}, archiveMember{name: "b", link: "sub/../../x"}), "application/gzip", 422, "b", "outside"},
		{"tar file under a link", archiveTarGz(t, ok, archiveMember{name: "l", link: "train.py"}, archiveMember{name: "l/x.py", body: "x"}), "application/gzip", 422, "l", "both"},
		{"tar hard link escape", archiveTarGz(t, ok, archiveMember{name: "h", link: "../etc/passwd", hard: true}), "application/gzip", 422, "h", "outside"},
		{"zip zip-slip", archiveZip(t, ok, archiveMember{name: "../../evil.py", body: "x"}), "application/zip", 422, "../../evil.py", "leaves"},
		{"zip symlink escape", archiveZip(t, ok, archiveMember{name: "evil", link: "../../../etc/shadow"}), "application/zip", 422, "evil", "outside"},
		{"not an archive", []byte("just text, not an archive"), "application/zip", 422, "archive", "readable"},
	}
	many := []archiveMember{ok}
	for i := range 2001 {
		many = append(many, archiveMember{name: fmt.Sprintf("f/%04d.txt", i), body: "x"})
	}
	cases = append(cases, struct {
		name   string
		body   []byte
		ct     string
		status int
		target string
		msg    string
	}{"too many files", archiveTarGz(t, many...), "application/gzip", 422, "files", "file limit of 2000"})

	for _, c := range cases {
		status, b := uploadArchive(t, env, c.ct, c.body)
		var e errJSON
		_ = json.Unmarshal(b, &e)
		found := e.Error.Target == c.target && strings.Contains(e.Error.Message, c.msg)
		for _, d := range e.Error.Details {
			if d.Target == c.target && strings.Contains(d.Message, c.msg) {
				found = true
			}
		}
		if status != c.status || !found {
			t.Errorf("%s: %d %s; want %d with %s: …%s…", c.name, status, b, c.status, c.target, c.msg)
		}
	}
	// Links to folders and special files are left out, not followed.
	for name, body := range map[string][]byte{
		"link to folder": archiveTarGz(t, ok, archiveMember{name: "d/f.py", body: "x"}, archiveMember{name: "l", link: "d"}),
		"device":         archiveTarGz(t, ok, archiveMember{name: "dev", device: true}),
	} {
		status, b := uploadArchive(t, env, "application/gzip", body)
		var snap snapJSON
		_ = json.Unmarshal(b, &snap)
		apiJSON(t, env, "GET", "/api/v1/snapshots/"+snap.ID, nil, 200, &snap)
		if status != 201 || slices.ContainsFunc(snap.Files, func(f fileEntry) bool { return f.Path == "l" || f.Path == "dev" }) {
			t.Errorf("%s: %d %s", name, status, b)
		}
	}
}

// TestSnapshotManifest checks the manifest API: missing blobs are listed
// once, a blob must match its hash, bad paths and missing blobs are 422.
func TestSnapshotManifest(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	sum := sha256.Sum256([]byte("hello"))
	h := hex.EncodeToString(sum[:])
	var missing struct {
		Missing []string `json:"missing"`
	}
	apiJSON(t, env, "POST", "/api/v1/snapshots/missing", map[string]any{"files": []fileEntry{{Path: "a", SHA256: h, Size: 5}, {Path: "b", SHA256: h, Size: 5}}}, 200, &missing)
	if len(missing.Missing) != 1 || missing.Missing[0] != h {
		t.Fatalf("missing %v", missing)
	}
	status, b, _ := apiDo(t, env, "PUT", "/api/v1/blobs/"+h, "application/octet-stream", []byte("HELLO"))
	var e errJSON
	_ = json.Unmarshal(b, &e)
	if status != 422 || e.Error.Code != "HashMismatch" {
		t.Fatalf("wrong content: %d %s", status, b)
	}
	if status, b, _ = apiDo(t, env, "PUT", "/api/v1/blobs/"+h, "application/octet-stream", []byte("hello")); status != 201 {
		t.Fatalf("PUT: %d %s", status, b)
	}
	if status, _, _ = apiDo(t, env, "PUT", "/api/v1/blobs/"+h, "application/octet-stream", []byte("hello")); status != 200 {
		t.Fatalf("second PUT: %d", status)
	}
	apiJSON(t, env, "POST", "/api/v1/snapshots/missing", map[string]any{"files": []fileEntry{{Path: "a", SHA256: h, Size: 5}}}, 200, &missing)
	if len(missing.Missing) != 0 {
		t.Fatalf("missing after upload %v", missing)
	}
	other := strings.Repeat("ab", 32)
	bad := []fileEntry{{Path: "../x", SHA256: h, Size: 5}, {Path: "/abs", SHA256: h, Size: 5}, {Path: "a/./b", SHA256: h, Size: 5},
		{Path: "ok.txt", SHA256: other, Size: 1}, {Path: "dup", SHA256: h, Size: 5}, {Path: "dup", SHA256: h, Size: 5}}
	body, _ := json.Marshal(map[string]any{"files": bad})
	status, b, _ = apiDo(t, env, "POST", "/api/v1/snapshots", "application/json", body)
	e = errJSON{}
	_ = json.Unmarshal(b, &e)
	targets := map[string]bool{}
	for _, d := range e.Error.Details {
		targets[d.Target] = true
	}
	if status != 422 || !targets["../x"] || !targets["/abs"] || !targets["a/./b"] || !targets["ok.txt"] || !targets["dup"] {
		t.Fatalf("bad manifest: %d %s", status, b)
	}
	var snap snapJSON
	apiJSON(t, env, "POST", "/api/v1/snapshots", map[string]any{"files": []fileEntry{{Path: "x/hello.txt", SHA256: h, Size: 5}},
		"git": map[string]any{"repository": "https://example.com/r.git", "branch": "main", "commit": "abc", "dirty": true}}, 201, &snap)
	if snap.FileCount != 1 || snap.TotalBytes != 5 {
		t.Fatalf("snapshot %+v", snap)
	}
	var full struct {
		Git struct {
			Branch string `json:"branch"`
			Dirty  bool   `json:"dirty"`
		} `json:"git"`
	}
	apiJSON(t, env, "GET", "/api/v1/snapshots/"+snap.ID, nil, 200, &full)
	if full.Git.Branch != "main" || !full.Git.Dirty {
		t.Fatalf("git %+v", full)
	}
	// Over the file limit.
	var entries []fileEntry
	for i := range 2001 {
		entries = append(entries, fileEntry{Path: fmt.Sprintf("f%d", i), SHA256: h, Size: 5})
	}
	body, _ = json.Marshal(map[string]any{"files": entries})
	status, b, _ = apiDo(t, env, "POST", "/api/v1/snapshots", "application/json", body)
	if status != 422 || !strings.Contains(string(b), "2000") {
		t.Fatalf("2001 files: %d %s", status, b)
	}
}
