package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// tree writes files (path → content) under a new temp folder.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func paths(m *Manifest) []string {
	out := []string{}
	for _, f := range m.Files {
		out = append(out, f.Path)
	}
	return out
}

func build(t *testing.T, dir string) *Manifest {
	t.Helper()
	m, err := Build(context.Background(), dir, Options{NoGit: true})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// git runs git in dir with a clean configuration.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

// TestIgnoreLikeGit compares the snapshot of a folder with what git itself
// considers not ignored, for a .gitignore that exercises git's rules.
func TestIgnoreLikeGit(t *testing.T) {
	needGit(t)
	files := map[string]string{
		".gitignore": "# comment\n*.log\n!keep.log\nbuild/\n/root.txt\ndocs/**/*.md\n**/tmp\na/**/b\n*.py[co]\n\\#hash\ntrail\\ \ndata/*\n!data/keep/\nfoo/bar\n[!x]y.txt\n*.tx?\n  \nspaced.txt   \r\n",
		"x.log":      "", "keep.log": "", "sub/x.log": "", "sub/keep.log": "", "build/a": "", "sub/build/a": "", "root.txt": "", "sub/root.txt": "",
		"docs/a.md": "", "docs/x/y/a.md": "", "docs/readme": "", "tmp/a": "", "x/tmp/a": "", "a/b": "", "a/x/b": "", "a/x/y/b": "", "a/c": "",
		"m.pyc": "", "m.py": "", "#hash": "", "trail ": "", "data/a": "", "data/keep/a": "", "data/sub/a": "", "foo/bar": "", "x/foo/bar": "",
		"zy.txt": "", "xy.txt": "", "t.txt": "", "t.tx": "", "spaced.txt": "", "train.py": "print(1)\n",
		"nested/.gitignore": "*.csv\n!important.csv\n/local-only\n", "nested/a.csv": "", "nested/important.csv": "", "nested/local-only": "", "nested/deeper/local-only": "", "nested/deeper/b.csv": "",
		"other/.gitignore": "!*.log\n", "other/x.log": "",
	}
	dir := tree(t, files)
	git(t, dir, "init", "-q")
	out := git(t, dir, "ls-files", "--others", "--exclude-standard")
	want := strings.Fields(strings.ReplaceAll(out, "\"trail \"", "trail_"))
	for i, w := range want {
		if w == "trail_" {
			want[i] = "trail "
		}
	}
	sort.Strings(want)
	got := paths(build(t, dir))
	if len(want) < 10 {
		t.Fatalf("git lists only %q", want)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("snapshot differs from git:\n got %q\nwant %q", got, want)
	}
}

// TestAmlignore: .amlignore wins over .gitignore in the same folder; a
// folder with only .gitignore uses it.
func TestAmlignore(t *testing.T) {
	dir := tree(t, map[string]string{
		".amlignore": "data/\n",
		".gitignore": "*.py\n",
		"train.py":   "", "data/big.bin": "", "notes.txt": "",
		"sub/.gitignore": "*.txt\n", "sub/a.txt": "", "sub/b.py": "",
		"both/.amlignore": "x\n", "both/.gitignore": "y\n", "both/x": "", "both/y": "",
	})
	got := paths(build(t, dir))
	want := []string{".amlignore", ".gitignore", "both/.amlignore", "both/.gitignore", "both/y", "notes.txt", "sub/.gitignore", "sub/b.py", "train.py"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestBuildFiles(t *testing.T) {
	dir := tree(t, map[string]string{"train.py": "print('hi')\n", "run.sh": "#!/bin/sh\n", "lib/util.py": "x = 1\n", ".git/config": "[core]\n", "sub/.git": "gitdir: ../.git/modules/sub\n"})
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o750); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"link-in.py":  "lib/util.py",                         // a file inside: kept as that file
		"link-out":    filepath.Join(outside, "secret"),      // outside: skipped
		"link-rel":    "../" + filepath.Base(outside) + "/x", // dangling / outside
		"link-dir":    "lib",                                 // a folder: not followed
		"link-loop":   "link-loop",
		"lib/up-link": "../train.py",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	m := build(t, dir)
	want := []string{"lib/up-link", "lib/util.py", "link-in.py", "run.sh", "train.py"}
	if got := paths(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	sum := sha256.Sum256([]byte("x = 1\n"))
	for _, f := range m.Files {
		switch f.Path {
		case "link-in.py", "lib/util.py":
			if f.SHA256 != hex.EncodeToString(sum[:]) || f.Size != 6 || f.Mode != 0o644 {
				t.Errorf("%+v", f)
			}
		case "run.sh":
			if f.Mode != 0o755 {
				t.Errorf("mode %o", f.Mode)
			}
		}
	}
	skipped := map[string]bool{}
	for _, s := range m.Skipped {
		skipped[s.Path] = true
		if s.Path == "link-out" && !strings.Contains(s.Reason, "outside") {
			t.Errorf("link-out: %s", s.Reason)
		}
	}
	for _, p := range []string{"link-out", "link-rel", "link-dir", "link-loop"} {
		if !skipped[p] {
			t.Errorf("%s not listed as skipped: %+v", p, m.Skipped)
		}
	}
	if m.TotalBytes() != int64(len("print('hi')\n")+len("#!/bin/sh\n")+6+6+len("print('hi')\n")) {
		t.Errorf("total %d", m.TotalBytes())
	}
	// The source folder may itself be reached through a symlink.
	via := filepath.Join(t.TempDir(), "via")
	if err := os.Symlink(dir, via); err != nil {
		t.Fatal(err)
	}
	if got := paths(build(t, via)); !reflect.DeepEqual(got, want) {
		t.Errorf("through a symlink: %q", got)
	}
}

func TestLimits(t *testing.T) {
	files := map[string]string{}
	for i := range 12 {
		files[filepath.Join("d", strings.Repeat("f", i+1))] = strings.Repeat("x", 100)
	}
	files[".amlignore"] = "ignored/\n"
	for i := range 50 {
		files[filepath.Join("ignored", strings.Repeat("i", i+1))] = strings.Repeat("y", 1000)
	}
	dir := tree(t, files)
	ctx := context.Background()
	if _, err := Build(ctx, dir, Options{NoGit: true, Limits: Limits{MaxFiles: 13, MaxBytes: 1300}}); err != nil {
		t.Errorf("at the limits (ignored files do not count): %v", err)
	}
	_, err := Build(ctx, dir, Options{NoGit: true, Limits: Limits{MaxFiles: 10}})
	var le *LimitError
	if !errors.As(err, &le) || !le.TooManyFiles || !strings.Contains(err.Error(), "Your project exceeds the file limit of 10") {
		t.Errorf("files: %v", err)
	}
	_, err = Build(ctx, dir, Options{NoGit: true, Limits: Limits{MaxBytes: 1000}})
	if !errors.As(err, &le) || le.TooManyFiles || !strings.Contains(err.Error(), "Your total snapshot size exceeds the limit of 0.0 MB") {
		t.Errorf("bytes: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "While attempting to take snapshot of "+dir+"\n") {
		t.Errorf("message does not name the folder: %v", err)
	}
	msg := (&LimitError{Dir: ".", Bytes: 400 << 20, Files: 3, Limits: DefaultLimits()}).Error()
	if !strings.Contains(msg, "Your total snapshot size exceeds the limit of 300.0 MB") || !strings.Contains(msg, "400.0 MB in 3 files") {
		t.Errorf("Azure's message: %s", msg)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Build(cctx, dir, Options{NoGit: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := Build(ctx, filepath.Join(dir, ".amlignore"), Options{}); err == nil {
		t.Error("a file as the folder")
	}
}

func TestGitInfo(t *testing.T) {
	needGit(t)
	dir := tree(t, map[string]string{"train.py": "print(1)\n", ".gitignore": "*.log\n"})
	if g := GitInfo(context.Background(), dir); g != nil {
		t.Fatalf("not a checkout, got %+v", g)
	}
	git(t, dir, "init", "-q")
	git(t, dir, "checkout", "-q", "-b", "feature/x")
	if g := GitInfo(context.Background(), dir); g == nil || g.Branch != "feature/x" || g.Commit != "" || !g.Dirty || g.Repository != "" {
		t.Errorf("fresh repo: %+v", g)
	}
	git(t, dir, "remote", "add", "origin", "https://alice:s3cret-token@example.com/team/repo.git")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "first")
	head := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	if err := os.WriteFile(filepath.Join(dir, "run.log"), []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Build(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Git{Repository: "https://example.com/team/repo.git", Branch: "feature/x", Commit: head, Dirty: false}
	if !reflect.DeepEqual(m.Git, want) {
		t.Errorf("git %+v, want %+v", m.Git, want)
	}
	if slices.Contains(paths(m), "run.log") || slices.ContainsFunc(paths(m), func(p string) bool { return strings.HasPrefix(p, ".git/") }) {
		t.Errorf("paths %q", paths(m))
	}
	if err := os.WriteFile(filepath.Join(dir, "train.py"), []byte("print(2)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if g := GitInfo(context.Background(), sub); g == nil || !g.Dirty || g.Commit != head {
		t.Errorf("a subfolder of a dirty checkout: %+v", g)
	}
	git(t, dir, "checkout", "-q", "--detach")
	if g := GitInfo(context.Background(), dir); g == nil || g.Branch != "" || g.Commit != head {
		t.Errorf("detached: %+v", g)
	}
	t.Setenv("PATH", t.TempDir())
	if g := GitInfo(context.Background(), dir); g != nil {
		t.Errorf("without git: %+v", g)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:token@github.com/o/r.git": "https://github.com/o/r.git",
		"https://token@github.com/o/r.git":      "https://github.com/o/r.git",
		"ssh://git@github.com/o/r.git":          "ssh://git@github.com/o/r.git",
		"git@github.com:o/r.git":                "git@github.com:o/r.git",
		"/srv/repos/r.git":                      "/srv/repos/r.git",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}

func TestValidatePathAndProblems(t *testing.T) {
	for _, p := range []string{"a", "a/b.py", ".amlignore", "a..b/c", "..a"} {
		if err := ValidatePath(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	for _, p := range []string{"", ".", "/etc/passwd", "../x", "a/../b", "a//b", "a/./b", "a/", "C:/x", "a\\b", "a\x00b"} {
		if err := ValidatePath(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	sha := strings.Repeat("ab", 32)
	m := &Manifest{Files: []File{{Path: "a", SHA256: sha, Size: 1}, {Path: "a", SHA256: sha}, {Path: "../b", SHA256: sha}, {Path: "c", SHA256: "XYZ"}, {Path: "d", SHA256: sha, Size: 400 << 20}}}
	probs := m.Problems(Limits{MaxFiles: 3})
	var got []string
	for _, p := range probs {
		got = append(got, p.Path)
	}
	if !reflect.DeepEqual(got, []string{"a", "../b", "c", "", ""}) {
		t.Errorf("problems %v", probs)
	}
	if !strings.Contains(probs[4].Reason, "Your total snapshot size exceeds the limit of 300.0 MB") {
		t.Errorf("%s", probs[4].Reason)
	}
}
