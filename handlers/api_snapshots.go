package handlers

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/store"
)

// apiSnapshotFile is one manifest entry of the snapshots API.
type apiSnapshotFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Mode   uint32 `json:"mode"`
}

type manifestRequest struct {
	Files []apiSnapshotFile `json:"files"`
	Git   *apiGit           `json:"git"`
}

type apiSnapshot struct {
	ID             string            `json:"id"`
	FileCount      int               `json:"fileCount"`
	TotalBytes     int64             `json:"totalBytes"`
	CreatedTimeUtc string            `json:"createdTimeUtc,omitempty"`
	CreatedBy      string            `json:"createdBy,omitempty"`
	Git            *apiGit           `json:"git,omitempty"`
	Files          []apiSnapshotFile `json:"files,omitempty"`
}

func toAPISnapshot(s *compute.Snapshot, withFiles bool) apiSnapshot {
	out := apiSnapshot{ID: s.ID, FileCount: s.FileCount, TotalBytes: s.TotalBytes, CreatedTimeUtc: utcString(s.CreatedAt),
		CreatedBy: s.CreatedBy, Git: toAPIGit(s.Git)}
	if withFiles {
		out.Files = make([]apiSnapshotFile, 0, len(s.Files))
		for _, f := range s.Files {
			out.Files = append(out.Files, apiSnapshotFile{Path: f.Path, SHA256: f.SHA256, Size: f.Size, Mode: f.Mode})
		}
	}
	return out
}

// APIMissingBlobs handles POST /api/v1/snapshots/missing: which of the
// manifest's blobs the server lacks, so a resubmit uploads only changes.
func (h *Handlers) APIMissingBlobs(w http.ResponseWriter, r *http.Request) error {
	var req manifestRequest
	if err := decodeJSON(w, r, maxManifestBody, &req); err != nil {
		return err
	}
	hashes := make([]string, 0, len(req.Files))
	for _, f := range req.Files {
		hashes = append(hashes, f.SHA256)
	}
	missing, err := h.cfg.Store.MissingBlobs(r.Context(), hashes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Missing []string `json:"missing"`
	}{missing})
	return nil
}

// APIPutBlob handles PUT /api/v1/blobs/{sha256}: 201 when stored, 200 when
// the server had it, 422 HashMismatch when the body hashes otherwise.
func (h *Handlers) APIPutBlob(w http.ResponseWriter, r *http.Request) error {
	sum := chi.URLParam(r, "sha256")
	created, err := h.cfg.Store.PutBlob(r.Context(), sum, http.MaxBytesReader(w, r.Body, compute.SnapshotMaxBytes+1), compute.SnapshotMaxBytes)
	var coded *compute.CodedError
	if errors.As(err, &coded) && coded.Code == store.HashMismatchCode {
		writeJSON(w, http.StatusUnprocessableEntity, arm.ErrorBody{Error: arm.ErrorDetail{Code: coded.Code, Message: coded.Message, Target: coded.Target}})
		return nil
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, struct {
		SHA256 string `json:"sha256"`
	}{sum})
	return nil
}

// APICreateSnapshot handles POST /api/v1/snapshots: a manifest whose blobs
// are uploaded becomes a snapshot (201).
func (h *Handlers) APICreateSnapshot(w http.ResponseWriter, r *http.Request) error {
	var req manifestRequest
	if err := decodeJSON(w, r, maxManifestBody, &req); err != nil {
		return err
	}
	if len(req.Files) == 0 {
		return compute.Invalid("files", "The snapshot has no files.")
	}
	files := make([]compute.SnapshotFile, 0, len(req.Files))
	for _, f := range req.Files {
		files = append(files, compute.SnapshotFile{Path: f.Path, SHA256: f.SHA256, Size: f.Size, Mode: f.Mode})
	}
	snap, err := h.cfg.Store.CreateSnapshot(r.Context(), files, fromAPIGit(req.Git), actor(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/snapshots/"+snap.ID)
	writeJSON(w, http.StatusCreated, toAPISnapshot(snap, false))
	return nil
}

func fromAPIGit(g *apiGit) *compute.GitInfo {
	if g == nil || (g.Repository == "" && g.Branch == "" && g.Commit == "") {
		return nil
	}
	return &compute.GitInfo{Repository: g.Repository, Branch: g.Branch, Commit: g.Commit, Dirty: g.Dirty}
}

// APIUploadArchive handles POST /api/v1/snapshots/archive: a .zip or
// .tar.gz of the source folder, unpacked and checked on the server (201).
func (h *Handlers) APIUploadArchive(w http.ResponseWriter, r *http.Request) error {
	body := http.MaxBytesReader(w, r.Body, compute.SnapshotMaxBytes)
	snap, err := h.cfg.Store.ImportArchive(r.Context(), body, store.ArchiveOptions{Format: r.Header.Get("Content-Type"), CreatedBy: actor(r)})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/snapshots/"+snap.ID)
	writeJSON(w, http.StatusCreated, toAPISnapshot(snap, false))
	return nil
}

// APIGetSnapshot handles GET /api/v1/snapshots/{id}.
func (h *Handlers) APIGetSnapshot(w http.ResponseWriter, r *http.Request) error {
	snap, err := h.cfg.Store.GetSnapshot(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPISnapshot(snap, true))
	return nil
}

// APISnapshotFile handles GET /api/v1/snapshots/{id}/files/{path}.
func (h *Handlers) APISnapshotFile(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	p := wildcardPath(r, "/api/v1/snapshots/"+id+"/files/")
	f, _, err := h.cfg.Store.OpenSnapshotFile(r.Context(), id, p)
	if err != nil {
		return err
	}
	defer f.Close()
	serveFile(w, r, f, p)
	return nil
}
