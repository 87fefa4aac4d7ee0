package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/runconfig"
	"github.com/trainyard/trainyard/compute/snapshot"
	"github.com/trainyard/trainyard/store"
)

// Limits of the browser's submit form.
const (
	// maxFormUpload bounds a whole submit: the raw folder or archive may be
	// twice the snapshot limit (ignore rules still leave things out), plus
	// the fields and a run configuration.
	maxFormUpload = 2*compute.SnapshotMaxBytes + 16<<20
	maxFormField  = 1 << 20
	maxFormFields = 200
	// maxFolderEntries bounds the files of an uploaded folder before ignore
	// rules, as the archive import bounds its entries.
	maxFolderEntries = 10 * compute.SnapshotMaxFiles
	// maxSourceProblems is how many bad paths one error message lists.
	maxSourceProblems = 5
)

// uploadSpool is what a multipart submit carried besides its fields: the
// folder's files written under dir/tree, a spooled archive, a runconfig.
type uploadSpool struct {
	dir         string
	tree        *os.Root
	folderFiles int // files received for the folder (written or not)
	written     int
	skippedGit  int
	tops        map[string]bool // first path elements of the folder's files
	nested      bool            // every folder file is below a first element
	problems    []string        // folder paths that cannot be in a snapshot
	archive     string          // spooled archive, "" for none
	rcName      string
	rcText      string
	rcError     string
}

// hasSource reports whether a folder or an archive came with the request.
func (u *uploadSpool) hasSource() bool {
	return u != nil && (u.folderFiles > 0 || u.archive != "")
}

// Close removes the spooled files.
func (u *uploadSpool) Close() {
	if u == nil {
		return
	}
	if u.tree != nil {
		u.tree.Close()
	}
	os.RemoveAll(u.dir)
}

// spoolDir is where uploads are spooled: beside the data (the same disk as
// the blobs), else the system's.
func (h *Handlers) spoolDir() string {
	p := filepath.Join(h.cfg.Store.DataDir(), "uploads")
	if os.MkdirAll(p, 0o700) == nil {
		return p
	}
	return ""
}

// readSubmit reads a submit form: a multipart body (fields, folder files,
// an archive, a runconfig) or a urlencoded one (fields only). Problems the
// user can fix come back as a compute.ValidationError on field "source" or
// "runconfig".
func (h *Handlers) readSubmit(w http.ResponseWriter, r *http.Request) (url.Values, *uploadSpool, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormField*8)
		if err := r.ParseForm(); err != nil {
			return nil, nil, compute.Invalid("form", "The form could not be read: %v", err)
		}
		return r.PostForm, nil, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, compute.Invalid("form", "The form could not be read: %v", err)
	}
	dir, err := os.MkdirTemp(h.spoolDir(), "submit-*")
	if err != nil {
		return nil, nil, err
	}
	u := &uploadSpool{dir: dir, tops: map[string]bool{}, nested: true}
	if err := os.Mkdir(filepath.Join(dir, "tree"), 0o700); err != nil {
		u.Close()
		return nil, nil, err
	}
	if u.tree, err = os.OpenRoot(filepath.Join(dir, "tree")); err != nil {
		u.Close()
		return nil, nil, err
	}
	v := url.Values{}
	fields := 0
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			u.Close()
			return v, nil, uploadError(err)
		}
		err = u.part(p, v, &fields)
		p.Close()
		if err != nil {
			u.Close()
			return v, nil, uploadError(err)
		}
	}
	return v, u, nil
}

// uploadError says in words that a body was too large; other errors pass.
func uploadError(err error) error {
	var big *http.MaxBytesError
	if errors.As(err, &big) {
		return compute.Invalid("source", "The upload is larger than %s. A snapshot holds at most %s: list large files in .amlignore, or keep data outside the source folder.",
			snapshot.MB(maxFormUpload), snapshot.MB(compute.SnapshotMaxBytes))
	}
	return err
}

// part takes one part of the form.
func (u *uploadSpool) part(p *multipart.Part, v url.Values, fields *int) error {
	name := p.FormName()
	filename, isFile := rawFilename(p)
	if !isFile {
		*fields++
		if *fields > maxFormFields {
			return compute.Invalid("form", "The form has more than %d fields.", maxFormFields)
		}
		b, err := io.ReadAll(io.LimitReader(p, maxFormField+1))
		if err != nil {
			return err
		}
		if len(b) > maxFormField {
			return compute.Invalid(name, "The field %s is longer than %s.", name, snapshot.MB(maxFormField))
		}
		v.Add(name, string(b))
		return nil
	}
	if filename == "" {
		return drain(p) // a file input nobody chose a file in
	}
	switch name {
	case "folder":
		return u.folderFile(filename, p)
	case "archive":
		if u.archive != "" {
			return compute.Invalid("source", "Choose one archive.")
		}
		u.archive = filepath.Join(u.dir, "archive")
		f, err := os.OpenFile(u.archive, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, p)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case "runconfig":
		b, err := io.ReadAll(io.LimitReader(p, runconfig.MaxFileBytes+1))
		if err != nil {
			return err
		}
		u.rcName = path.Base(strings.ReplaceAll(filename, "\\", "/"))
		if len(b) > runconfig.MaxFileBytes {
			u.rcError = fmt.Sprintf("%s is larger than %s; a run configuration is a small YAML or JSON file.", u.rcName, snapshot.MB(runconfig.MaxFileBytes))
			return nil
		}
		u.rcText = string(b)
		return nil
	}
	return drain(p)
}

// rawFilename returns a file part's file name as the browser sent it: for a
// folder upload that is the path inside the chosen folder, which
// multipart.Part.FileName would cut down to its last element. isFile is
// false for plain fields.
func rawFilename(p *multipart.Part) (name string, isFile bool) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return "", false
	}
	name, isFile = params["filename"]
	return name, isFile
}

// folderFile writes one file of an uploaded folder under the spool's tree,
// or records why its path cannot be part of a snapshot.
func (u *uploadSpool) folderFile(name string, r io.Reader) error {
	u.folderFiles++
	if u.folderFiles > maxFolderEntries {
		return compute.Invalid("source", "The folder holds more than %d files. A snapshot holds at most %d: list what the run does not need in .amlignore.",
			maxFolderEntries, compute.SnapshotMaxFiles)
	}
	p := name
	var pe *snapshot.PathError
	switch err := snapshot.ValidatePath(p); {
	case errors.As(err, &pe):
		u.problems = append(u.problems, fmt.Sprintf("%s: %s", name, pe.Reason))
		return drain(r)
	case slices.Contains(strings.Split(p, "/"), ".git"):
		// Git's own files are never part of a snapshot.
		u.skippedGit++
		return drain(r)
	}
	top, _, nested := strings.Cut(p, "/")
	u.tops[top] = true
	u.nested = u.nested && nested
	if d := path.Dir(p); d != "." {
		if err := u.tree.MkdirAll(d, 0o700); err != nil {
			u.problems = append(u.problems, fmt.Sprintf("%s: a file has the name of its folder", name))
			return drain(r)
		}
	}
	f, err := u.tree.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		u.problems = append(u.problems, fmt.Sprintf("%s: the folder holds this path twice, or as a file and a folder", name))
		return drain(r)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	u.written++
	return err
}

func drain(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// importSource turns the uploaded folder or archive into a snapshot, and
// lists what was left out. Problems are a ValidationError on "source".
func (h *Handlers) importSource(ctx context.Context, u *uploadSpool, createdBy string) (*compute.Snapshot, []string, error) {
	if u.folderFiles > 0 && u.archive != "" {
		return nil, nil, compute.Invalid("source", "Choose either a folder or an archive, not both.")
	}
	if u.archive != "" {
		f, err := os.Open(u.archive)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		snap, err := h.cfg.Store.ImportArchive(ctx, f, store.ArchiveOptions{CreatedBy: createdBy})
		if err != nil {
			return nil, nil, sourceError(err)
		}
		return snap, nil, nil
	}
	if len(u.problems) > 0 {
		return nil, nil, compute.Invalid("source", "%s", listProblems("These paths cannot be part of a snapshot", u.problems))
	}
	dir := filepath.Join(u.dir, "tree")
	if len(u.tops) == 1 && u.nested {
		// The browser names files under the chosen folder: the snapshot is
		// that folder's content.
		for top := range u.tops {
			dir = filepath.Join(dir, top)
		}
	}
	m, err := snapshot.Build(ctx, dir, snapshot.Options{NoGit: true})
	if err != nil {
		var le *snapshot.LimitError
		if errors.As(err, &le) {
			le.Dir = "the uploaded folder"
			return nil, nil, compute.Invalid("source", "%s", oneLine(le.Error()))
		}
		return nil, nil, err
	}
	if len(m.Files) == 0 {
		return nil, nil, compute.Invalid("source", "The folder has no files to run (after .amlignore/.gitignore).")
	}
	var notes []string
	for _, s := range m.Skipped {
		notes = append(notes, s.Path+": "+s.Reason)
	}
	if u.skippedGit > 0 {
		notes = append(notes, fmt.Sprintf(".git: %d files of git's own are never part of a snapshot", u.skippedGit))
	}
	hashes := make([]string, 0, len(m.Files))
	for _, f := range m.Files {
		hashes = append(hashes, f.SHA256)
	}
	missing, err := h.cfg.Store.MissingBlobs(ctx, hashes)
	if err != nil {
		return nil, nil, err
	}
	need := map[string]bool{}
	for _, s := range missing {
		need[s] = true
	}
	files := make([]compute.SnapshotFile, 0, len(m.Files))
	for _, f := range m.Files {
		if need[f.SHA256] {
			if err := h.putBlobFile(ctx, f.SHA256, f.Source); err != nil {
				return nil, nil, err
			}
			delete(need, f.SHA256)
		}
		files = append(files, compute.SnapshotFile{Path: f.Path, SHA256: f.SHA256, Size: f.Size, Mode: f.Mode})
	}
	snap, err := h.cfg.Store.CreateSnapshot(ctx, files, nil, createdBy)
	if err != nil {
		return nil, nil, sourceError(err)
	}
	return snap, notes, nil
}

func (h *Handlers) putBlobFile(ctx context.Context, sum, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = h.cfg.Store.PutBlob(ctx, sum, f, compute.SnapshotMaxBytes)
	return err
}

// sourceError turns the store's archive and snapshot problems into one
// message on the form's source field.
func sourceError(err error) error {
	var ve *compute.ValidationError
	if !errors.As(err, &ve) {
		if errors.Is(err, compute.ErrInvalid) {
			return compute.Invalid("source", "%s", err.Error())
		}
		return err
	}
	var whole, paths []string
	for _, f := range ve.Fields {
		switch f.Field {
		case "archive", "files", "source", "":
			whole = append(whole, f.Message)
		default:
			paths = append(paths, f.Field+": "+strings.TrimSuffix(f.Message, "."))
		}
	}
	msg := oneLine(strings.Join(whole, " "))
	if len(paths) > 0 {
		msg = strings.TrimSpace(msg + " " + listProblems("These paths cannot be part of a snapshot", paths))
	}
	return compute.Invalid("source", "%s", msg)
}

// listProblems writes "what: a; b; c; and 4 more." with at most
// maxSourceProblems items.
func listProblems(what string, items []string) string {
	shown := items[:min(len(items), maxSourceProblems)]
	s := what + ": " + strings.Join(shown, "; ")
	if rest := len(items) - len(shown); rest > 0 {
		s += fmt.Sprintf("; and %d more", rest)
	}
	return s + "."
}

// oneLine joins a message of several lines (as the snapshot limits write
// them) into one sentence sequence for a field's error.
func oneLine(s string) string {
	parts := strings.Split(strings.TrimSpace(s), "\n")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if i < len(parts)-1 && p != "" && !strings.HasSuffix(p, ".") && !strings.HasSuffix(p, ":") {
			p += ":"
		}
		parts[i] = p
	}
	return strings.Join(parts, " ")
}
