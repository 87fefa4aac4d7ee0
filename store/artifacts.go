package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/trainyard/trainyard/compute"
)

// A run's files live in DATA/runs/<run-id>/:
//
//	work/       the working folder the script runs in (built from the snapshot)
//	outputs/    ./outputs of the working folder, copied when the run ends
//	logs/       ./logs of the working folder, copied when the run ends
//	user_logs/  std_log.txt: the script's combined stdout and stderr
//	artifacts/  files uploaded over the MLflow artifacts API
//
// Only outputs/, logs/, user_logs/ and artifacts/ are listed and served as
// the run's outputs.

// RunLogPath is the collected log of a run, relative to its folder.
const RunLogPath = "user_logs/std_log.txt"

// outputDirs are the folders of a run that are its outputs.
func outputDirs() []string { return []string{"outputs", "logs", "user_logs", "artifacts"} }

// RunDir returns the folder of a run's files (which may not exist yet). The
// run ID must be valid (compute.ValidRunID).
func (s *Store) RunDir(runID string) string {
	return filepath.Join(s.DataDir(), "runs", runID)
}

// RunWorkDir returns the working folder a run's script runs in.
func (s *Store) RunWorkDir(runID string) string { return filepath.Join(s.RunDir(runID), "work") }

func checkRunID(runID string) error {
	if !compute.ValidRunID(runID) {
		return compute.Invalid("runId", "%q is not a valid run ID.", runID)
	}
	return nil
}

// CollectRunFiles copies ./outputs and ./logs of a run's working folder into
// the run's outputs/ and logs/. Only regular files are copied: symbolic links
// (which could point anywhere on the server) and special files are skipped,
// and nothing outside the working folder is ever read. Collecting again
// replaces what an interrupted collection left.
func (s *Store) CollectRunFiles(ctx context.Context, runID, workDir string) error {
	if err := checkRunID(runID); err != nil {
		return err
	}
	src, err := os.OpenRoot(workDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("store: collect outputs of %s: %w", runID, err)
	}
	defer src.Close()
	for _, dir := range []string{"outputs", "logs"} {
		fi, err := src.Lstat(dir)
		if err != nil || !fi.IsDir() {
			continue // absent, or a link: nothing to collect
		}
		dst := filepath.Join(s.RunDir(runID), dir)
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("store: collect outputs of %s: %w", runID, err)
		}
		err = fs.WalkDir(src.FS(), dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable: skip
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			out := filepath.Join(s.RunDir(runID), filepath.FromSlash(p))
			switch {
			case d.IsDir():
				return os.MkdirAll(out, 0o755)
			case !d.Type().IsRegular():
				return nil
			}
			return copyFromRoot(src, p, out)
		})
		if err != nil {
			return fmt.Errorf("store: collect outputs of %s: %w", runID, err)
		}
	}
	s.announceRun(ctx, runID)
	return nil
}

// copyFromRoot copies one regular file of root to out via a temporary file.
func copyFromRoot(root *os.Root, name, out string) error {
	in, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil // vanished or became a link: skip
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return writeAtomic(out, in)
}

// writeAtomic writes r to path through a temporary file in the same folder
// and a rename, so readers see the whole file or none.
func writeAtomic(p string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// SaveRunLog stores the run's combined output as user_logs/std_log.txt.
func (s *Store) SaveRunLog(ctx context.Context, runID string, r io.Reader) error {
	if err := checkRunID(runID); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(s.RunDir(runID), filepath.FromSlash(RunLogPath)), ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("store: save the log of %s: %w", runID, err)
	}
	s.announceRun(ctx, runID)
	return nil
}

// ReadRunLog returns up to max bytes of the run's collected log from offset
// on; found is false when the log has not been collected (yet).
func (s *Store) ReadRunLog(ctx context.Context, runID string, offset, max int64) (data []byte, found bool, err error) {
	if err := checkRunID(runID); err != nil {
		return nil, false, err
	}
	f, err := os.Open(filepath.Join(s.RunDir(runID), filepath.FromSlash(RunLogPath)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("store: read the log of %s: %w", runID, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, true, fmt.Errorf("store: read the log of %s: %w", runID, err)
	}
	if offset < 0 || offset >= fi.Size() {
		// Past the end (up to 2^63-1, which most file systems refuse to
		// seek to): nothing more.
		return nil, true, nil
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, true, fmt.Errorf("store: read the log of %s: %w", runID, err)
	}
	data, err = io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, true, fmt.Errorf("store: read the log of %s: %w", runID, err)
	}
	return data, true, nil
}

// ListRunOutputs lists the run's output files (outputs/, logs/, user_logs/,
// artifacts/), sorted by path. A run without files has none.
func (s *Store) ListRunOutputs(ctx context.Context, runID string) ([]compute.OutputFile, error) {
	if err := checkRunID(runID); err != nil {
		return nil, err
	}
	out := []compute.OutputFile{}
	root, err := os.OpenRoot(s.RunDir(runID))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	} else if err != nil {
		return nil, fmt.Errorf("store: list outputs of %s: %w", runID, err)
	}
	defer root.Close()
	for _, dir := range outputDirs() {
		err := fs.WalkDir(root.FS(), dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == dir {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || strings.HasPrefix(path.Base(p), ".tmp-") {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			out = append(out, compute.OutputFile{Path: p, Size: fi.Size(), ModTime: fi.ModTime().UTC()})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: list outputs of %s: %w", runID, err)
		}
	}
	slices.SortFunc(out, func(a, b compute.OutputFile) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// OpenRunOutput opens one output file of a run by its listed path (e.g.
// "outputs/model.pkl"). Paths outside the output folders, or that are not
// regular files, are a compute.ErrNotFound.
func (s *Store) OpenRunOutput(ctx context.Context, runID, p string) (*os.File, error) {
	if err := checkRunID(runID); err != nil {
		return nil, err
	}
	notFound := compute.NotFoundf("path", "Run '%s' has no output '%s'.", runID, p)
	top, _, _ := strings.Cut(p, "/")
	if CheckSnapshotPath(p) != "" || !slices.Contains(outputDirs(), top) || top == p {
		return nil, notFound
	}
	root, err := os.OpenRoot(s.RunDir(runID))
	if err != nil {
		return nil, notFound
	}
	defer root.Close()
	f, err := root.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, notFound
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, notFound
	}
	return f, nil
}

// PutArtifact stores an uploaded artifact as artifacts/<p> of the run,
// reading at most limit bytes (more is a compute.ErrInvalid). p must be a
// clean relative path (CheckSnapshotPath).
func (s *Store) PutArtifact(ctx context.Context, runID, p string, r io.Reader, limit int64) error {
	if err := checkRunID(runID); err != nil {
		return err
	}
	if msg := CheckSnapshotPath(p); msg != "" {
		return compute.Invalid("path", "The artifact path %q is not allowed: %s.", p, msg)
	}
	dir := filepath.Join(s.RunDir(runID), "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("store: artifact of %s: %w", runID, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("store: artifact of %s: %w", runID, err)
	}
	defer root.Close()
	if d := path.Dir(p); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return compute.Invalid("path", "The artifact path %q is not allowed: %v.", p, err)
		}
	}
	tmp := path.Join(path.Dir(p), ".tmp-"+path.Base(p))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("store: artifact of %s: %w", runID, err)
	}
	n, err := io.Copy(f, io.LimitReader(ctxReader{ctx, r}, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = compute.Invalid("size", "The artifact is larger than %s.", formatMB(limit))
	}
	if err == nil {
		err = root.Rename(tmp, p)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return err
	}
	s.announceRun(ctx, runID)
	return nil
}

// RemoveRunWorkDir removes a run's working folder once its outputs are
// collected (the snapshot keeps the sources): it is gone from the run's
// folder at once and deleted in the background (trash.go).
func (s *Store) RemoveRunWorkDir(ctx context.Context, runID string) error {
	if err := checkRunID(runID); err != nil {
		return err
	}
	return s.trash.put(s.RunWorkDir(runID), runID)
}
