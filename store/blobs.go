package store

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

	"github.com/trainyard/trainyard/compute"
)

// Blobs are file contents named by their SHA-256, kept on disk beside the
// database: DATA/blobs/<sha256>. A blob is written to a temporary file in
// DATA/blobs/.tmp, synced, and renamed into place, so a blob file that
// exists is always whole; its content never changes after that.

// HashMismatchCode is the code of the compute.CodedError (an ErrInvalid)
// PutBlob returns when the content does not hash to the name it was sent
// under.
const HashMismatchCode = "HashMismatch"

func errHashMismatch(want, got string) error {
	return &compute.CodedError{Kind: compute.ErrInvalid, Code: HashMismatchCode, Target: "sha256",
		Message: fmt.Sprintf("The uploaded content has SHA-256 %s, not %s.", got, want)}
}

// DataDir returns the data folder the Store was opened on.
func (s *Store) DataDir() string { return filepath.Dir(s.path) }

func (s *Store) blobDir() string { return filepath.Join(s.DataDir(), "blobs") }

func (s *Store) blobPath(sum string) string { return filepath.Join(s.blobDir(), sum) }

// ValidSHA256 reports whether h is a SHA-256 in lower-case hex.
func ValidSHA256(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// blobSize returns the size of a stored blob, or false when it is absent.
func (s *Store) blobSize(sum string) (int64, bool) {
	fi, err := os.Stat(s.blobPath(sum))
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	return fi.Size(), true
}

// MissingBlobs returns, in the order given and each once, the hashes whose
// blobs the server does not have. A malformed hash is a compute.ErrInvalid.
func (s *Store) MissingBlobs(ctx context.Context, hashes []string) ([]string, error) {
	missing := []string{}
	seen := map[string]bool{}
	for _, h := range hashes {
		if !ValidSHA256(h) {
			return nil, compute.Invalid("sha256", "%q is not a SHA-256 in lower-case hex.", h)
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		if _, ok := s.blobSize(h); !ok {
			missing = append(missing, h)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return missing, nil
}

// PutBlob stores the content read from r under its SHA-256 sum, reading at
// most limit bytes (more is a compute.ErrInvalid). It reports whether the
// blob is new; a blob already present is not read again. Content that does
// not hash to sum is a HashMismatchCode error and leaves nothing behind.
func (s *Store) PutBlob(ctx context.Context, sum string, r io.Reader, limit int64) (created bool, err error) {
	if !ValidSHA256(sum) {
		return false, compute.Invalid("sha256", "%q is not a SHA-256 in lower-case hex.", sum)
	}
	if _, ok := s.blobSize(sum); ok {
		return false, nil
	}
	tmp, got, _, err := s.spool(ctx, r, limit)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	if got != sum {
		return false, errHashMismatch(sum, got)
	}
	return s.adoptBlob(tmp, sum)
}

// spool copies r into a new temporary file under DATA/blobs/.tmp while
// hashing it, and syncs it. The caller removes or adopts the file.
func (s *Store) spool(ctx context.Context, r io.Reader, limit int64) (path, sum string, size int64, err error) {
	dir := filepath.Join(s.blobDir(), ".tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", 0, fmt.Errorf("store: blobs: %w", err)
	}
	f, err := os.CreateTemp(dir, "blob-*")
	if err != nil {
		return "", "", 0, fmt.Errorf("store: blobs: %w", err)
	}
	fail := func(err error) (string, string, int64, error) {
		f.Close()
		os.Remove(f.Name())
		return "", "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxReader{ctx, r}, limit+1))
	if err != nil {
		return fail(err)
	}
	if n > limit {
		return fail(compute.Invalid("size", "The file is larger than %s.", formatMB(limit)))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("store: blobs: %w", err))
	}
	if err := f.Close(); err != nil {
		return fail(fmt.Errorf("store: blobs: %w", err))
	}
	return f.Name(), hex.EncodeToString(h.Sum(nil)), n, nil
}

// adoptBlob renames a spooled file into place as blob sum.
func (s *Store) adoptBlob(tmp, sum string) (bool, error) {
	if _, ok := s.blobSize(sum); ok {
		return false, nil
	}
	if err := os.Chmod(tmp, 0o400); err != nil {
		return false, fmt.Errorf("store: blobs: %w", err)
	}
	if err := os.Rename(tmp, s.blobPath(sum)); err != nil {
		return false, fmt.Errorf("store: blobs: %w", err)
	}
	return true, nil
}

// OpenBlob opens a stored blob for reading; a missing one is a
// compute.ErrNotFound.
func (s *Store) OpenBlob(ctx context.Context, sum string) (*os.File, error) {
	if !ValidSHA256(sum) {
		return nil, compute.Invalid("sha256", "%q is not a SHA-256 in lower-case hex.", sum)
	}
	f, err := os.Open(s.blobPath(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, compute.NotFoundf("sha256", "Blob %s was not found.", sum)
	}
	return f, err
}

// ctxReader stops a long copy when the request ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read reads from the wrapped reader unless the context has ended.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// formatMB writes a byte limit as Azure's messages do: "300.0 MB".
func formatMB(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}
