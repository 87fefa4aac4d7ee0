package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/snapshot"
)

// ArchiveOptions tunes ImportArchive.
type ArchiveOptions struct {
	// Format is the upload's Content-Type or a format name ("zip",
	// "tar.gz"); unknown formats are recognised by their first bytes.
	Format    string
	CreatedBy string
	Git       *compute.GitInfo
	// MaxFiles and MaxBytes bound the snapshot after ignore rules; zero means
	// compute.SnapshotMaxFiles and compute.SnapshotMaxBytes.
	MaxFiles int
	MaxBytes int64
}

// ImportArchive unpacks a .zip or .tar.gz read from r into a new snapshot
// with compute/snapshot.Unpack, the same rules the CLI's folder upload
// follows: .amlignore (else .gitignore) in each folder with git's semantics,
// .git left out, links inside the tree become copies of their file, and the
// limits are counted on the bytes actually decompressed. An entry that is
// absolute, contains "..", or is a link out of the tree is a
// compute.ValidationError naming the entry; too many files or bytes is one
// naming "files"; an unreadable archive one naming "archive". File contents
// are stored as blobs as they are read (so a failed import may leave blobs,
// which are content-addressed and harmless); the snapshot itself is created
// only when the whole archive is accepted.
func (s *Store) ImportArchive(ctx context.Context, r io.Reader, opts ArchiveOptions) (*compute.Snapshot, error) {
	tmp := filepath.Join(s.blobDir(), ".tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("store: import archive: %w", err)
	}
	limits := snapshot.Limits{MaxFiles: opts.MaxFiles, MaxBytes: opts.MaxBytes, TempDir: tmp}
	if limits.MaxFiles <= 0 {
		limits.MaxFiles = compute.SnapshotMaxFiles
	}
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = compute.SnapshotMaxBytes
	}
	put := func(sum string, content io.Reader) error {
		_, err := s.PutBlob(ctx, sum, content, limits.MaxBytes)
		return err
	}
	m, err := snapshot.Unpack(ctx, r, opts.Format, limits, put)
	if err != nil {
		return nil, archiveError(err)
	}
	if len(m.Files) == 0 {
		return nil, compute.Invalid("archive", "The archive holds no files (after .amlignore/.gitignore).")
	}
	files := make([]compute.SnapshotFile, 0, len(m.Files))
	for _, f := range m.Files {
		files = append(files, compute.SnapshotFile{Path: f.Path, SHA256: f.SHA256, Size: f.Size, Mode: f.Mode})
	}
	return s.CreateSnapshot(ctx, files, opts.Git, opts.CreatedBy)
}

// archiveError maps Unpack's errors onto the compute vocabulary.
func archiveError(err error) error {
	var (
		pe *snapshot.PathError
		le *snapshot.LimitError
	)
	switch {
	case errors.As(err, &pe):
		return compute.Invalid(pe.Path, "%s.", capitalize(pe.Reason))
	case errors.As(err, &le):
		return compute.Invalid("files", "%s", le.Error())
	case errors.Is(err, snapshot.ErrArchive):
		return compute.Invalid("archive", "%s", capitalize(err.Error())+".")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return err
}
