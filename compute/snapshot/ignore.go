package snapshot

import (
	"bytes"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// Ignore file names. In each folder .amlignore is used when it exists and
// .gitignore otherwise, never both (Azure: "If both files exist, the
// .amlignore file is used and the .gitignore file is not used").
const (
	AmlIgnoreFile = ".amlignore"
	GitIgnoreFile = ".gitignore"
)

// maxIgnoreFileBytes bounds one ignore file.
const maxIgnoreFileBytes = 1 << 20

// ignorer matches paths against the ignore files of the folders seen so
// far, with git's semantics (go-git's implementation): patterns of a folder
// apply below it, later and deeper patterns win, and "!" re-includes.
type ignorer struct {
	patterns []gitignore.Pattern
}

// add reads one ignore file of the folder dir (slash-separated, "" for the root).
func (ig *ignorer) add(dir string, content []byte) {
	var domain []string
	if dir != "" {
		domain = strings.Split(dir, "/")
	}
	content = bytes.TrimPrefix(content, []byte("\ufeff"))
	for _, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ig.patterns = append(ig.patterns, gitignore.ParsePattern(line, domain))
	}
}

// match reports whether the path (split at "/") is ignored by the patterns
// themselves; it does not look at parent folders.
func (ig *ignorer) match(parts []string, isDir bool) bool {
	if len(ig.patterns) == 0 {
		return false
	}
	return gitignore.NewMatcher(ig.patterns).Match(parts, isDir)
}

// ignored reports whether a file at p (slash-separated) is left out: it is
// in .git, a parent folder is ignored (git cannot re-include below an
// ignored folder), or it is ignored itself.
func (ig *ignorer) ignored(p string, isDir bool) bool {
	parts := strings.Split(p, "/")
	for i := range parts {
		if parts[i] == ".git" {
			return true
		}
		last := i == len(parts)-1
		if ig.match(parts[:i+1], !last || isDir) {
			return true
		}
	}
	return false
}

// chooseIgnoreFiles picks, per folder, .amlignore over .gitignore from the
// ignore files found (path → content) and returns the folders in an order
// where parents come first.
func chooseIgnoreFiles(found map[string][]byte) *ignorer {
	chosen := map[string][]byte{}
	for p, content := range found {
		dir, name := splitDir(p)
		if name == AmlIgnoreFile {
			chosen[dir] = content
		}
	}
	for p, content := range found {
		dir, name := splitDir(p)
		if _, ok := chosen[dir]; !ok && name == GitIgnoreFile {
			chosen[dir] = content
		}
	}
	dirs := make([]string, 0, len(chosen))
	for d := range chosen {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		di, dj := depth(dirs[i]), depth(dirs[j])
		if di != dj {
			return di < dj
		}
		return dirs[i] < dirs[j]
	})
	ig := &ignorer{}
	for _, d := range dirs {
		ig.add(d, chosen[d])
	}
	return ig
}

func splitDir(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

func depth(dir string) int {
	if dir == "" {
		return 0
	}
	return strings.Count(dir, "/") + 1
}
