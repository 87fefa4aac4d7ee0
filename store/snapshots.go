package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/trainyard/trainyard/compute"
)

// maxSnapshotPathLen bounds one snapshot path (bytes).
const maxSnapshotPathLen = 1024

// CheckSnapshotPath returns "" when p can name a file of a snapshot, else
// why not: it must be relative, slash-separated and clean (no "." or ".."
// elements, no doubled or trailing slash), valid UTF-8 without control
// characters or backslashes, at most 1024 bytes, each element at most 255.
func CheckSnapshotPath(p string) string {
	switch {
	case p == "":
		return "the path is empty"
	case len(p) > maxSnapshotPathLen:
		return fmt.Sprintf("the path is longer than %d bytes", maxSnapshotPathLen)
	case !utf8.ValidString(p):
		return "the path is not valid UTF-8"
	case strings.HasPrefix(p, "/"):
		return "the path is absolute"
	case strings.ContainsRune(p, '\\'):
		return "the path contains a backslash"
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "the path contains a control character"
		}
	}
	for _, el := range strings.Split(p, "/") {
		switch {
		case el == "..":
			return "the path contains '..'"
		case el == "" || el == ".":
			return "the path is not clean (empty or '.' elements)"
		case len(el) > 255:
			return "a path element is longer than 255 bytes"
		}
	}
	if path.Clean(p) != p || !filepath.IsLocal(filepath.FromSlash(p)) {
		return "the path is not clean"
	}
	return ""
}

// snapshotID derives a snapshot's ID from its content: the same files (and
// git facts) give the same ID, so a resubmitted folder is stored once.
func snapshotID(files []compute.SnapshotFile, git *compute.GitInfo) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%q %s %d %o\n", f.Path, f.SHA256, f.Size, f.Mode&0o777)
	}
	if git != nil {
		fmt.Fprintf(h, "git %q %q %q %t\n", git.Repository, git.Branch, git.Commit, git.Dirty)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// CreateSnapshot stores a manifest whose blobs are all present and returns
// the snapshot (with Files sorted by path). It is rejected as a
// compute.ValidationError, one field per problem named by the path, when a
// path is not clean (CheckSnapshotPath), appears twice, is both a file and
// the folder of another path, names a malformed
// or missing blob or a size that differs from the blob's, or when the files
// are more than compute.SnapshotMaxFiles or compute.SnapshotMaxBytes in
// total. Creating a snapshot that exists returns it.
func (s *Store) CreateSnapshot(ctx context.Context, files []compute.SnapshotFile, git *compute.GitInfo, createdBy string) (*compute.Snapshot, error) {
	v := &compute.ValidationError{}
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b compute.SnapshotFile) int { return strings.Compare(a.Path, b.Path) })
	var total int64
	for i, f := range files {
		if msg := CheckSnapshotPath(f.Path); msg != "" {
			v.Add(f.Path, "%s.", capitalize(msg))
			continue
		}
		if i > 0 && files[i-1].Path == f.Path {
			v.Add(f.Path, "The path appears twice.")
			continue
		}
		if !ValidSHA256(f.SHA256) {
			v.Add(f.Path, "%q is not a SHA-256 in lower-case hex.", f.SHA256)
			continue
		}
		size, ok := s.blobSize(f.SHA256)
		switch {
		case !ok:
			v.Add(f.Path, "The blob %s has not been uploaded.", f.SHA256)
		case size != f.Size:
			v.Add(f.Path, "The size is given as %d bytes but the blob has %d.", f.Size, size)
		}
		files[i].Mode &= 0o777
		total += size
	}
	// A path that is a file cannot also be a folder of another path.
	for i, f := range files {
		for j := i + 1; j < len(files) && strings.HasPrefix(files[j].Path, f.Path); j++ {
			if strings.HasPrefix(files[j].Path, f.Path+"/") {
				v.Add(f.Path, "The path is both a file and the folder of %q.", files[j].Path)
				break
			}
		}
	}
	if len(files) > compute.SnapshotMaxFiles {
		v.Add("files", "While attempting to take snapshot of .: the folder has %d files; the limit is %d. Add the files you do not need to .amlignore.",
			len(files), compute.SnapshotMaxFiles)
	}
	if total > compute.SnapshotMaxBytes {
		v.Add("files", "Your total snapshot size exceeds the limit of %s", formatMB(compute.SnapshotMaxBytes))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	snap := &compute.Snapshot{
		ID: snapshotID(files, git), CreatedAt: s.now(), CreatedBy: createdBy,
		FileCount: len(files), TotalBytes: total, Git: git, Files: files,
	}
	gitText, err := encodeGit(git)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO snapshots (id, created_at, created_by, file_count, total_bytes, git)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			snap.ID, toMS(snap.CreatedAt), createdBy, snap.FileCount, snap.TotalBytes, gitText)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // already stored: same content, same manifest
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO snapshot_files (snapshot_id, path, sha256, size, mode) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, f := range files {
			if _, err := stmt.ExecContext(ctx, snap.ID, f.Path, f.SHA256, f.Size, int64(f.Mode)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr("create snapshot", "", err)
	}
	return s.GetSnapshot(ctx, snap.ID)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func errNoSnapshot(id string) error {
	return compute.NotFoundf("snapshotId", "Snapshot '%s' was not found.", id)
}

// GetSnapshot returns a snapshot with its files; a missing one is a
// compute.ErrNotFound.
func (s *Store) GetSnapshot(ctx context.Context, id string) (*compute.Snapshot, error) {
	var snap *compute.Snapshot
	err := s.read(ctx, func(tx *sql.Tx) error {
		snap = &compute.Snapshot{ID: id}
		var created int64
		var git string
		err := tx.QueryRowContext(ctx, `SELECT created_at, created_by, file_count, total_bytes, git FROM snapshots WHERE id = ?`, id).
			Scan(&created, &snap.CreatedBy, &snap.FileCount, &snap.TotalBytes, &git)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoSnapshot(id)
		} else if err != nil {
			return err
		}
		snap.CreatedAt = fromMS(created)
		if snap.Git, err = decodeGit(git); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT path, sha256, size, mode FROM snapshot_files WHERE snapshot_id = ? ORDER BY path`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		snap.Files = make([]compute.SnapshotFile, 0, snap.FileCount)
		for rows.Next() {
			var f compute.SnapshotFile
			var mode int64
			if err := rows.Scan(&f.Path, &f.SHA256, &f.Size, &mode); err != nil {
				return err
			}
			f.Mode = uint32(mode)
			snap.Files = append(snap.Files, f)
		}
		return rows.Close()
	})
	if err != nil {
		return nil, wrapErr("get snapshot", id, err)
	}
	return snap, nil
}

// StatSnapshotFile returns one file's entry; a missing snapshot or file is a
// compute.ErrNotFound.
func (s *Store) StatSnapshotFile(ctx context.Context, id, p string) (compute.SnapshotFile, error) {
	f := compute.SnapshotFile{Path: p}
	var mode int64
	err := s.reader.QueryRowContext(ctx, `SELECT sha256, size, mode FROM snapshot_files WHERE snapshot_id = ? AND path = ?`, id, p).
		Scan(&f.SHA256, &f.Size, &mode)
	if errors.Is(err, sql.ErrNoRows) {
		return f, compute.NotFoundf("path", "Snapshot '%s' has no file '%s'.", id, p)
	} else if err != nil {
		return f, fmt.Errorf("store: snapshot file: %w", err)
	}
	f.Mode = uint32(mode)
	return f, nil
}

// OpenSnapshotFile opens one file of a snapshot for reading.
func (s *Store) OpenSnapshotFile(ctx context.Context, id, p string) (*os.File, compute.SnapshotFile, error) {
	f, err := s.StatSnapshotFile(ctx, id, p)
	if err != nil {
		return nil, f, err
	}
	r, err := s.OpenBlob(ctx, f.SHA256)
	return r, f, err
}

// MaterializeSnapshot writes the snapshot's files into dir, which is emptied
// first (so a preparation interrupted by a crash simply starts over). Files
// are copies, never links: a script that changes its files cannot change
// the stored blobs. Executable files get 0755, the others 0644. An empty id
// gives an empty folder.
func (s *Store) MaterializeSnapshot(ctx context.Context, id, dir string) error {
	var files []compute.SnapshotFile
	if id != "" {
		var ok bool
		if files, ok = s.snapFiles.get(id); !ok {
			snap, err := s.GetSnapshot(ctx, id)
			if err != nil {
				return err
			}
			files = snap.Files
			s.snapFiles.put(id, files)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("store: materialize %s: %w", id, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("store: materialize %s: %w", id, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("store: materialize %s: %w", id, err)
	}
	defer root.Close()
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if msg := CheckSnapshotPath(f.Path); msg != "" {
			return fmt.Errorf("store: materialize %s: %s: %s: %w", id, f.Path, msg, compute.ErrInvalid)
		}
		if d := path.Dir(f.Path); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("store: materialize %s: %w", id, err)
			}
		}
		mode := os.FileMode(0o644)
		if f.Mode&0o111 != 0 {
			mode = 0o755
		}
		if err := s.copyBlobTo(ctx, root, f, mode); err != nil {
			return fmt.Errorf("store: materialize %s: %s: %w", id, f.Path, err)
		}
	}
	return nil
}

func (s *Store) copyBlobTo(ctx context.Context, root *os.Root, f compute.SnapshotFile, mode os.FileMode) error {
	src, err := s.OpenBlob(ctx, f.SHA256)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := root.OpenFile(f.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
