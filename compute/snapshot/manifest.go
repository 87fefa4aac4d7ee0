// Package snapshot turns a source folder into a content-addressed snapshot,
// as Azure ML does for a run: a manifest of files (path, SHA-256, size,
// mode) whose contents are stored as blobs named by their hash, so a
// resubmit uploads only what changed.
//
// Build reads a local folder (the CLI); Unpack reads a .zip or .tar.gz
// upload (the server). Both honour .amlignore, else .gitignore, with git's
// semantics, skip .git, never follow a symbolic link out of the tree, and
// enforce Azure's limits of 300 MB and 2000 files.
package snapshot

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Azure ML's snapshot limits.
const (
	// MaxFiles is the most files a snapshot may hold.
	MaxFiles = 2000
	// MaxBytes is the most bytes a snapshot may hold: 300 MB as Azure counts
	// them (300 × 1024 × 1024).
	MaxBytes = 300 << 20
)

// File is one file of a snapshot, as the runs API carries it.
type File struct {
	// Path is slash-separated and relative to the snapshot root, clean,
	// never absolute and never with "..".
	Path string `json:"path"`
	// SHA256 is the hex (lower case) SHA-256 of the content: the blob name.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Mode is 0644 or 0755 (420 or 493): only the executable bit is kept.
	Mode uint32 `json:"mode"`
	// Source is the local file the content was read from (Build only).
	Source string `json:"-"`
}

// Git records the repository a folder was checked out from.
type Git struct {
	Repository string `json:"repository,omitempty"`
	Branch     string `json:"branch,omitempty"`
	Commit     string `json:"commit,omitempty"`
	Dirty      bool   `json:"dirty"`
}

// Skipped is a path left out of a snapshot for a reason the user may want
// to hear about (a symbolic link out of the tree, a socket, …). Ignored and
// .git paths are not listed.
type Skipped struct {
	Path   string
	Reason string
}

// Manifest is a snapshot's file list, sorted by path, and its git info.
// Its JSON is the body of POST /api/v1/snapshots.
type Manifest struct {
	Files   []File    `json:"files"`
	Git     *Git      `json:"git,omitempty"`
	Skipped []Skipped `json:"-"`
}

// TotalBytes is the sum of the file sizes.
func (m *Manifest) TotalBytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Lookup returns the file at p (slash-separated), or nil.
func (m *Manifest) Lookup(p string) *File {
	for i := range m.Files {
		if m.Files[i].Path == p {
			return &m.Files[i]
		}
	}
	return nil
}

// Limits bound a snapshot. Zero fields take the defaults.
type Limits struct {
	// MaxFiles is the most files a snapshot may hold (default 2000).
	MaxFiles int
	// MaxBytes is the most bytes its files may hold together (default 300 MB).
	MaxBytes int64
	// MaxArchiveBytes bounds the archive Unpack reads (default MaxBytes + 64 MiB).
	MaxArchiveBytes int64
	// MaxExpandedBytes bounds all the bytes Unpack decompresses, ignored
	// files included (default 4 × MaxBytes): a zip bomb stops here.
	MaxExpandedBytes int64
	// MaxEntries bounds the entries of an archive, ignored ones and
	// directories included (default 100,000).
	MaxEntries int
	// TempDir is where Unpack spools the archive and large files (default
	// the system's).
	TempDir string
}

// DefaultLimits are Azure's: 2000 files, 300 MB.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = MaxFiles
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = MaxBytes
	}
	if l.MaxArchiveBytes <= 0 {
		l.MaxArchiveBytes = l.MaxBytes + 64<<20
	}
	if l.MaxExpandedBytes <= 0 {
		l.MaxExpandedBytes = 4 * l.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 100_000
	}
	return l
}

// LimitError says a snapshot is over a limit, in Azure's words.
type LimitError struct {
	// Dir names what was being snapshotted (a folder or an archive).
	Dir string
	// Files and Bytes are what was counted when the limit was passed.
	Files int
	Bytes int64
	// TooManyFiles is true for the file limit, false for the size limit.
	TooManyFiles bool
	Limits       Limits
}

// Error renders Azure's message, then what was found and what to do.
func (e *LimitError) Error() string {
	where := ""
	if e.Dir != "" {
		where = "While attempting to take snapshot of " + e.Dir + "\n"
	}
	if e.TooManyFiles {
		return fmt.Sprintf("%sYour project exceeds the file limit of %d (it has at least %d files).\nList what the run does not need in .amlignore (gitignore syntax).",
			where, e.Limits.MaxFiles, e.Files)
	}
	return fmt.Sprintf("%sYour total snapshot size exceeds the limit of %s (at least %s in %d files).\nList large files in .amlignore (gitignore syntax), or keep data outside the source directory.",
		where, MB(e.Limits.MaxBytes), MB(e.Bytes), e.Files)
}

// MB formats bytes as Azure does: "300.0 MB" (1 MB = 1024 × 1024 bytes).
func MB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// PathError says a path cannot be in a snapshot.
type PathError struct {
	Path   string
	Reason string
}

// Error renders "<path>: <reason>".
func (e *PathError) Error() string { return fmt.Sprintf("%q: %s", e.Path, e.Reason) }

// ValidatePath checks that p can name a file of a snapshot: not empty,
// slash-separated, relative, clean, without "..", NUL or backslashes.
func ValidatePath(p string) error {
	switch {
	case p == "" || p == ".":
		return &PathError{p, "the path is empty"}
	case strings.ContainsRune(p, 0):
		return &PathError{p, "the path contains a NUL byte"}
	case strings.HasPrefix(p, "/") || (len(p) >= 2 && p[1] == ':'):
		return &PathError{p, "the path is absolute"}
	case strings.Contains(p, "\\"):
		return &PathError{p, "the path contains a backslash; use /"}
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return &PathError{p, "the path leaves the snapshot (..)"}
		}
	}
	if path.Clean(p) != p {
		return &PathError{p, "the path is not clean (// or ./ or a trailing /)"}
	}
	return nil
}

var shaRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidSHA256 reports whether s is a lower-case hex SHA-256.
func ValidSHA256(s string) bool { return shaRe.MatchString(s) }

// Problems checks a manifest a client sent: each path (ValidatePath), each
// hash, sizes, duplicates, and the limits. It returns every problem, each
// naming its path (empty for the limits), or nil.
func (m *Manifest) Problems(limits Limits) []*PathError {
	limits = limits.withDefaults()
	var probs []*PathError
	seen := make(map[string]bool, len(m.Files))
	var total int64
	for _, f := range m.Files {
		if err := ValidatePath(f.Path); err != nil {
			probs = append(probs, err.(*PathError))
			continue
		}
		switch {
		case seen[f.Path]:
			probs = append(probs, &PathError{f.Path, "the path is listed twice"})
		case !ValidSHA256(f.SHA256):
			probs = append(probs, &PathError{f.Path, "sha256 must be 64 lower-case hex digits"})
		case f.Size < 0:
			probs = append(probs, &PathError{f.Path, "size cannot be negative"})
		}
		seen[f.Path] = true
		total += max(f.Size, 0)
	}
	if len(m.Files) > limits.MaxFiles {
		probs = append(probs, &PathError{"", (&LimitError{Files: len(m.Files), Bytes: total, TooManyFiles: true, Limits: limits}).Error()})
	}
	if total > limits.MaxBytes {
		probs = append(probs, &PathError{"", (&LimitError{Files: len(m.Files), Bytes: total, Limits: limits}).Error()})
	}
	return probs
}

// fileMode keeps only the executable bit, as git does.
func fileMode(perm uint32) uint32 {
	if perm&0o111 != 0 {
		return 0o755
	}
	return 0o644
}
