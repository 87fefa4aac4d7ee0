package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Options tune Build.
type Options struct {
	// Limits bound the snapshot; zero fields take Azure's defaults.
	Limits Limits
	// NoGit leaves out the git information.
	NoGit bool
}

// Build walks dir and returns the manifest of its snapshot: every regular
// file that no .amlignore/.gitignore leaves out, outside .git, with its
// SHA-256, size and mode. A symbolic link to a file inside dir is taken as
// that file; links to folders, links leaving dir and special files are
// left out and listed in Skipped. Over the limits it returns a
// *LimitError before hashing anything. When dir is in a git checkout, Git
// is filled in.
func Build(ctx context.Context, dir string, opts Options) (*Manifest, error) {
	limits := opts.Limits.withDefaults()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	m := &Manifest{Files: []File{}}
	ig := &ignorer{}
	var total int64
	walkErr := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			return err
		}
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." {
				if d.Name() == ".git" || ig.ignored(rel, true) {
					return filepath.SkipDir
				}
			}
			return loadIgnoreFile(ig, p, rel)
		}
		if d.Name() == ".git" || ig.ignored(rel, false) {
			return nil
		}
		src, info, skip := resolveEntry(root, p, d)
		if skip != "" {
			m.Skipped = append(m.Skipped, Skipped{Path: rel, Reason: skip})
			return nil
		}
		if err := ValidatePath(rel); err != nil {
			m.Skipped = append(m.Skipped, Skipped{Path: rel, Reason: err.(*PathError).Reason})
			return nil
		}
		total += info.Size()
		m.Files = append(m.Files, File{Path: rel, Size: info.Size(), Mode: fileMode(uint32(info.Mode().Perm())), Source: src})
		if len(m.Files) > limits.MaxFiles {
			return &LimitError{Dir: dir, Files: len(m.Files), Bytes: total, TooManyFiles: true, Limits: limits}
		}
		if total > limits.MaxBytes {
			return &LimitError{Dir: dir, Files: len(m.Files), Bytes: total, Limits: limits}
		}
		return nil
	})
	if walkErr != nil {
		return nil, walkErr
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	for i := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sum, n, err := hashFile(m.Files[i].Source)
		if err != nil {
			return nil, err
		}
		m.Files[i].SHA256, m.Files[i].Size = sum, n
	}
	if total = m.TotalBytes(); total > limits.MaxBytes {
		// A file grew while it was read.
		return nil, &LimitError{Dir: dir, Files: len(m.Files), Bytes: total, Limits: limits}
	}
	if !opts.NoGit {
		m.Git = GitInfo(ctx, root)
	}
	return m, nil
}

// loadIgnoreFile adds the ignore file of the folder at p (relative rel) to ig.
func loadIgnoreFile(ig *ignorer, p, rel string) error {
	if rel == "." {
		rel = ""
	}
	for _, name := range []string{AmlIgnoreFile, GitIgnoreFile} {
		data, err := readSmallFile(filepath.Join(p, name), maxIgnoreFileBytes)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Join(p, name), err)
		}
		ig.add(rel, data)
		return nil
	}
	return nil
}

func readSmallFile(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// resolveEntry returns the file to read for a walked entry and its info, or
// why it is skipped. A symbolic link is followed only to a regular file
// inside root.
func resolveEntry(root, p string, d fs.DirEntry) (string, fs.FileInfo, string) {
	if d.Type()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", nil, "a symbolic link whose target does not exist"
		}
		if !within(root, target) {
			return "", nil, "a symbolic link that points outside the source directory"
		}
		info, err := os.Stat(target)
		if err != nil {
			return "", nil, "a symbolic link whose target cannot be read"
		}
		if info.IsDir() {
			return "", nil, "a symbolic link to a folder (not followed)"
		}
		if !info.Mode().IsRegular() {
			return "", nil, "a symbolic link to something that is not a file"
		}
		return target, info, ""
	}
	info, err := d.Info()
	if err != nil {
		return "", nil, "cannot be read: " + err.Error()
	}
	if !info.Mode().IsRegular() {
		return "", nil, "not a regular file"
	}
	return p, info, ""
}

// within reports whether p is root or below it (both already free of symlinks).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// hashFile returns the hex SHA-256 and length of a file.
func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
