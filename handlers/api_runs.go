package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/store"
)

// Limits of the runs API.
const (
	maxLogChunk      = 1 << 20 // bytes of log per read
	maxManifestBody  = 8 << 20 // a snapshot manifest of 2,000 entries is far less
	maxSubmitBody    = 4 << 20 // a submit with its runconfig
	maxArtifactBytes = 1 << 30
)

// envName is a valid environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedEnv are the variables the server sets for every run.
func reservedEnv(k string) bool {
	switch k {
	case "TRAINYARD_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_TRACKING_TOKEN", "MLFLOW_EXPERIMENT_ID":
		return true
	}
	return false
}

// submitRequest is the body of POST /api/v1/runs (docs/API-runs.md).
type submitRequest struct {
	ExperimentName        string            `json:"experimentName"`
	SnapshotID            string            `json:"snapshotId"`
	Script                string            `json:"script"`
	Arguments             []string          `json:"arguments"`
	Target                string            `json:"target"`
	NodeCount             *int              `json:"nodeCount"`
	MaxRunDurationSeconds *int64            `json:"maxRunDurationSeconds"`
	ParentRunID           string            `json:"parentRunId"`
	DisplayName           string            `json:"displayName"`
	Tags                  map[string]string `json:"tags"`
	Environment           *struct {
		EnvironmentVariables map[string]string `json:"environmentVariables"`
		Python               *struct {
			InterpreterPath         string          `json:"interpreterPath"`
			UserManagedDependencies *bool           `json:"userManagedDependencies"`
			CondaDependencies       json.RawMessage `json:"condaDependencies"`
		} `json:"python"`
		Docker *struct {
			Enabled   bool   `json:"enabled"`
			BaseImage string `json:"baseImage"`
		} `json:"docker"`
	} `json:"environment"`
	RunConfiguration json.RawMessage `json:"runConfiguration"`
}

// decodeJSON reads one JSON value from a limited body.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		var big *http.MaxBytesError
		switch {
		case errors.As(err, &big):
			return err
		case errors.Is(err, io.EOF):
			return &arm.RequestError{Message: "The request body is empty; send JSON."}
		}
		return err
	}
	return nil
}

// APISubmitRun handles POST /api/v1/runs: it checks the request, creates the
// experiment on first use and the run in NotStarted, and wakes the
// dispatcher. Answer: 201 with the run.
func (h *Handlers) APISubmitRun(w http.ResponseWriter, r *http.Request) error {
	var req submitRequest
	if err := decodeJSON(w, r, maxSubmitBody, &req); err != nil {
		return err
	}
	run, err := h.newRun(r, &req)
	if err != nil {
		if run != nil {
			h.audit(r, "submit", "run/"+run.ID, err)
		}
		return err
	}
	err = h.cfg.Store.CreateRun(r.Context(), run)
	if err == nil && len(req.Tags) > 0 {
		tags := make([]compute.KeyValue, 0, len(req.Tags))
		for k, v := range req.Tags {
			tags = append(tags, compute.KeyValue{Key: k, Value: v})
		}
		err = h.cfg.Store.LogBatch(r.Context(), run.ID, nil, nil, tags)
	}
	h.audit(r, "submit", "run/"+run.ID, err)
	if err != nil {
		return err
	}
	// The answer is the run as this request stored it (CreateRun fills in
	// its ID, experiment and first event), not read back: the dispatcher
	// also takes new runs on its own passes, so a read could already show
	// Preparing or later (an admitted run gets there in one write), where
	// docs/API-runs.md promises the run as submitted.
	run.Tags = req.Tags
	h.kickRuns()
	w.Header().Set("Location", "/api/v1/runs/"+run.ID)
	writeJSON(w, http.StatusCreated, toAPIRun(run, true))
	return nil
}

func (h *Handlers) kickRuns() {
	h.cfg.Dispatcher.Kick()
}

// newRun validates a submit request and builds the run to store.
func (h *Handlers) newRun(r *http.Request, req *submitRequest) (*compute.Run, error) {
	ctx := r.Context()
	v := &compute.ValidationError{}
	if msg := compute.ValidateExperimentName(req.ExperimentName); msg != "" {
		v.Add("experimentName", "%s", msg)
	}
	if req.SnapshotID == "" {
		v.Add("snapshotId", "Upload the source folder first and give its snapshot ID.")
	}
	if req.Script == "" {
		v.Add("script", "Name the script to run (a path inside the snapshot, e.g. train.py).")
	} else if msg := store.CheckSnapshotPath(req.Script); msg != "" {
		v.Add("script", "The script path %q is not allowed: %s.", req.Script, msg)
	}
	for i, a := range req.Arguments {
		if strings.ContainsRune(a, 0) {
			v.Add("arguments["+strconv.Itoa(i)+"]", "An argument cannot contain a NUL byte.")
		}
	}
	nodes := 1
	if req.NodeCount != nil {
		nodes = *req.NodeCount
		if nodes < 1 || nodes > 100 {
			v.Add("nodeCount", "The node count must be from 1 to 100.")
		}
	}
	var maxDur time.Duration
	if req.MaxRunDurationSeconds != nil {
		if *req.MaxRunDurationSeconds < 0 || *req.MaxRunDurationSeconds > 100*365*24*3600 {
			v.Add("maxRunDurationSeconds", "The maximum run duration must be 0 (no limit) or a positive number of seconds.")
		} else {
			maxDur = time.Duration(*req.MaxRunDurationSeconds) * time.Second
		}
	}
	env := compute.RunEnvironment{}
	if e := req.Environment; e != nil {
		for k, val := range e.EnvironmentVariables {
			switch {
			case !envName.MatchString(k):
				v.Add("environment.environmentVariables", "%q is not a valid environment variable name.", k)
			case reservedEnv(k):
				v.Add("environment.environmentVariables", "%s is set by Trainyard for every run and cannot be overridden.", k)
			case strings.ContainsRune(val, 0):
				v.Add("environment.environmentVariables", "The value of %s contains a NUL byte.", k)
			}
		}
		env.Variables = e.EnvironmentVariables
		if p := e.Python; p != nil {
			env.InterpreterPath = p.InterpreterPath
			if p.UserManagedDependencies != nil {
				env.UserManagedDependencies = *p.UserManagedDependencies
			}
			if len(p.CondaDependencies) > 0 && string(p.CondaDependencies) != "null" {
				env.CondaDependencies = p.CondaDependencies
			}
			if strings.ContainsRune(p.InterpreterPath, 0) {
				v.Add("environment.python.interpreterPath", "The interpreter path contains a NUL byte.")
			}
		}
		if d := e.Docker; d != nil {
			env.DockerEnabled, env.DockerBaseImage = d.Enabled, d.BaseImage
		}
	}
	if len(req.RunConfiguration) > 0 && string(req.RunConfiguration) != "null" && !json.Valid(req.RunConfiguration) {
		v.Add("runConfiguration", "The run configuration is not valid JSON.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	target := req.Target
	if target == "" {
		target = compute.LocalTargetName
	}
	t, err := h.cfg.Store.GetTarget(ctx, target)
	if errors.Is(err, compute.ErrNotFound) {
		return nil, compute.NotFoundf("target", "Compute target '%s' was not found.", target)
	} else if err != nil {
		return nil, err
	}
	if h.cfg.Backends.Backend(t.Kind) == nil {
		return nil, compute.Conflictf("TargetCannotRunJobs", "target", "Trainyard cannot run jobs on %s (%s) yet.", t.Name, t.Kind.Label())
	}
	if err := h.maySubmitTo(ctx, t); err != nil {
		return nil, err
	}
	switch {
	case t.Kind == compute.KindCluster && t.Cluster != nil && nodes > t.Cluster.MaxNodes:
		v.Add("nodeCount", "The run needs %d nodes but cluster %s has at most %d.", nodes, t.Name, t.Cluster.MaxNodes)
	case t.Kind == compute.KindInstance && nodes > 1:
		v.Add("nodeCount", "A compute instance is one node; the run asks for %d.", nodes)
	}

	snap, err := h.cfg.Store.GetSnapshot(ctx, req.SnapshotID)
	switch {
	case errors.Is(err, compute.ErrNotFound):
		v.Add("snapshotId", "Snapshot %q was not found; upload the folder again.", req.SnapshotID)
	case err != nil:
		return nil, err
	default:
		found := false
		for _, f := range snap.Files {
			if f.Path == req.Script {
				found = true
				break
			}
		}
		if !found {
			v.Add("script", "The script %q is not in the snapshot (the uploaded folder, after .amlignore/.gitignore).", req.Script)
		}
	}
	if req.ParentRunID != "" {
		parent, err := h.cfg.Store.GetRun(ctx, req.ParentRunID)
		switch {
		case errors.Is(err, compute.ErrNotFound):
			v.Add("parentRunId", "The parent run %q was not found.", req.ParentRunID)
		case err != nil:
			return nil, err
		default:
			if err := mayAdoptChild(ctx, parent); err != nil {
				return nil, err
			}
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	u := compute.UserFrom(ctx)
	run := &compute.Run{
		Kind: compute.RunKindScript, ExperimentName: req.ExperimentName, DisplayName: req.DisplayName,
		Status: compute.RunNotStarted, Target: t.Name, ParentID: req.ParentRunID,
		Script: req.Script, Arguments: req.Arguments, NodeCount: nodes, MaxRunDuration: maxDur,
		SnapshotID: snap.ID, Git: snap.Git, Environment: env,
	}
	if len(req.RunConfiguration) > 0 && string(req.RunConfiguration) != "null" {
		run.RunConfiguration = req.RunConfiguration
	}
	if u != nil {
		run.SubmittedBy, run.SubmittedByID = u.Name, u.ID
	}
	return run, nil
}

// APIListRuns handles GET /api/v1/runs?experiment=&parent=&status=&target=
// &submittedBy=&since=&until=&$top=&$skip=&$skiptoken=, newest first, one
// page with a nextLink while more remain.
func (h *Handlers) APIListRuns(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := runFilterFrom(q)
	if err != nil {
		return err
	}
	page, err := h.cfg.Store.ListRuns(r.Context(), f)
	if err != nil {
		return err
	}
	out := apiRunList{Value: make([]apiRun, 0, len(page.Runs))}
	for _, run := range page.Runs {
		out.Value = append(out.Value, toAPIRun(run, false))
	}
	if page.Next > 0 {
		next := url.Values{}
		for _, k := range []string{"experiment", "parent", "status", "target", "submittedBy", "since", "until"} {
			if v := q.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		next.Set("$top", strconv.Itoa(f.Limit))
		next.Set("$skiptoken", strconv.FormatInt(page.Next, 10))
		out.NextLink = "/api/v1/runs?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// runFilterFrom reads the list filters and paging from a query string.
func runFilterFrom(q url.Values) (compute.RunFilter, error) {
	f := compute.RunFilter{
		Experiment: q.Get("experiment"), Parent: q.Get("parent"), Target: q.Get("target"),
		SubmittedBy: q.Get("submittedBy"), Limit: store.DefaultRunPage,
	}
	v := &compute.ValidationError{}
	for _, s := range q["status"] {
		for _, st := range strings.Split(s, ",") {
			if st = strings.TrimSpace(st); st != "" {
				f.Statuses = append(f.Statuses, compute.RunStatus(st))
			}
		}
	}
	for _, st := range f.Statuses {
		if !st.Valid() {
			v.Add("status", "Unknown run status %q.", st)
		}
	}
	for _, k := range []string{"since", "until"} {
		s := q.Get(k)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			v.Add(k, "%s must be an RFC 3339 time such as 2026-01-31T12:00:00Z.", k)
		}
		if k == "since" {
			f.Since = t
		} else {
			f.Until = t
		}
	}
	if s := q.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxRunPage {
			v.Add("$top", "$top must be a whole number from 1 to %d.", store.MaxRunPage)
		}
		f.Limit = n
	}
	if s := q.Get("$skip"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			v.Add("$skip", "$skip must be a whole number, 0 or more.")
		}
		f.Offset = n
	}
	if s := q.Get("$skiptoken"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			v.Add("$skiptoken", "$skiptoken is not valid; follow nextLink as given.")
		}
		f.After = n
	}
	return f, v.Err()
}

// APIGetRun handles GET /api/v1/runs/{runId}.
func (h *Handlers) APIGetRun(w http.ResponseWriter, r *http.Request) error {
	run, err := h.cfg.Store.GetRun(r.Context(), chi.URLParam(r, "runId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIRun(run, true))
	return nil
}

// APICancelRun handles POST /api/v1/runs/{runId}/cancel: only the submitter
// or an Admin may cancel. A script run becomes CancelRequested and the
// dispatcher stops its job; a tracking run becomes Canceled. An ended run is
// a 409. Answer: 202 with the run.
func (h *Handlers) APICancelRun(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "runId")
	err := h.cancelRun(r, id)
	h.audit(r, "cancel", "run/"+id, err)
	if err != nil {
		return err
	}
	h.kickRuns()
	run, err := h.cfg.Store.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toAPIRun(run, true))
	return nil
}

func (h *Handlers) cancelRun(r *http.Request, id string) error {
	ctx := r.Context()
	run, err := h.cfg.Store.GetRun(ctx, id)
	if err != nil {
		return err
	}
	if err := ownsRun(r, run); err != nil {
		return err
	}
	_, err = h.cfg.Store.UpdateRun(ctx, id, func(cur *compute.Run) error {
		switch {
		case cur.Status.Terminal():
			return compute.Conflictf("RunAlreadyEnded", "status", "Run '%s' has already ended (%s); there is nothing to cancel.", id, cur.Status)
		case cur.Status == compute.RunCancelRequested:
			return nil
		case cur.Kind == compute.RunKindTracking:
			cur.Status, cur.StatusReason = compute.RunCanceled, "canceled by "+actor(r)
		default:
			cur.Status, cur.StatusReason = compute.RunCancelRequested, "canceled by "+actor(r)
		}
		return nil
	})
	return err
}

// ownsRun allows changes to a run by its submitter and by Admins only.
func ownsRun(r *http.Request, run *compute.Run) error {
	u := compute.UserFrom(r.Context())
	switch {
	case u == nil:
		return compute.ErrUnauthenticated
	case u.RunID != "":
		if u.RunID != run.ID {
			return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed",
				Message: "A run's tracking token only works for that run."}
		}
		return nil
	case u.Can(compute.RoleAdmin), u.ID != "" && u.ID == run.SubmittedByID:
		return nil
	}
	return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed",
		Message: "Only the person who submitted run " + run.ID + " (" + run.SubmittedBy + ") or an Admin can change it."}
}

// APIRunLogs handles GET /api/v1/runs/{runId}/logs?offset=N: up to 1 MiB of
// the run's combined output from offset N, with X-Log-Offset (where the next
// read starts) and X-Run-Status. The status is read before the log, so a
// client that sees a terminal status and an empty read has the whole log.
func (h *Handlers) APIRunLogs(w http.ResponseWriter, r *http.Request) error {
	offset, err := parseOffset(r.URL.Query().Get("offset"))
	if err != nil {
		return err
	}
	run, err := h.cfg.Store.GetRun(r.Context(), chi.URLParam(r, "runId"))
	if err != nil {
		return err
	}
	data, err := h.readRunLog(r.Context(), run, offset)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Log-Offset", strconv.FormatInt(offset+int64(len(data)), 10))
	w.Header().Set("X-Run-Status", string(run.Status))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(data)
	return err
}

// parseOffset reads a log offset: "" is 0; anything but a whole number
// from 0 to 2^63-1 is a 400 (an offset past the end of the log is not: it
// reads nothing).
func parseOffset(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, &compute.CodedError{Kind: compute.ErrInvalid, Code: "InvalidOffset", Target: "offset",
			Message: "offset must be a whole number from 0 to " + strconv.FormatInt(math.MaxInt64, 10) + "; follow X-Log-Offset."}
	}
	return n, nil
}

// readRunLog reads the collected log, or the live one from the backend while
// the run is not yet collected. An offset past the end reads nothing.
func (h *Handlers) readRunLog(ctx context.Context, run *compute.Run, offset int64) ([]byte, error) {
	data, found, err := h.cfg.Store.ReadRunLog(ctx, run.ID, offset, maxLogChunk)
	if err != nil || found {
		return data, err
	}
	b := h.backendNamed(run.Handle.Backend)
	if run.Handle.ID == "" || b == nil {
		return nil, nil
	}
	// A seek or read the file system refused with EINVAL at a positive
	// offset means the offset lies beyond any file it can hold (ext4 will
	// not seek past 16 TiB, tmpfs not read there): a backend that seeks to
	// the offset it is given (the local one) says so for offsets near 2^63.
	pastTheEnd := func(err error) bool { return offset > 0 && errors.Is(err, syscall.EINVAL) }
	rc, err := b.Logs(ctx, run.Handle, offset)
	switch {
	case errors.Is(err, compute.ErrNotFound), pastTheEnd(err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	defer rc.Close()
	data, err = io.ReadAll(io.LimitReader(rc, maxLogChunk))
	if pastTheEnd(err) {
		return nil, nil
	}
	return data, err
}

// backendNamed finds a backend by its Name.
func (h *Handlers) backendNamed(name string) compute.Backend {
	reg, _ := h.cfg.Backends.Named(name)
	return reg.Backend
}

// APIRunOutputs handles GET /api/v1/runs/{runId}/outputs.
func (h *Handlers) APIRunOutputs(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "runId")
	if _, err := h.cfg.Store.GetRun(r.Context(), id); err != nil {
		return err
	}
	files, err := h.cfg.Store.ListRunOutputs(r.Context(), id)
	if err != nil {
		return err
	}
	out := struct {
		Value []apiOutput `json:"value"`
	}{Value: make([]apiOutput, 0, len(files))}
	for _, f := range files {
		out.Value = append(out.Value, apiOutput{Path: f.Path, Size: f.Size, ModifiedTimeUtc: utcString(f.ModTime)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// APIRunOutputFile handles GET /api/v1/runs/{runId}/outputs/{path}.
func (h *Handlers) APIRunOutputFile(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "runId")
	p := wildcardPath(r, "/api/v1/runs/"+id+"/outputs/")
	f, err := h.cfg.Store.OpenRunOutput(r.Context(), id, p)
	if err != nil {
		return err
	}
	defer f.Close()
	serveFile(w, r, f, p)
	return nil
}

// APIRunMetric handles GET /api/v1/runs/{runId}/metrics/{name}: every
// logged point of one metric.
func (h *Handlers) APIRunMetric(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "runId")
	name := wildcardPath(r, "/api/v1/runs/"+id+"/metrics/")
	hist, err := h.cfg.Store.MetricHistory(r.Context(), id, name)
	if err != nil {
		return err
	}
	out := struct {
		Value []apiMetric `json:"value"`
	}{Value: make([]apiMetric, 0, len(hist))}
	for _, m := range hist {
		out.Value = append(out.Value, apiMetric{Step: m.Step, Value: jsonFloat(m.Value), TimestampUtc: utcString(m.Time)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// wildcardPath returns the decoded rest of the URL path after prefix (chi's
// "*" parameter can still be escaped when the path has escapes).
func wildcardPath(r *http.Request, prefix string) string {
	if rest, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
		return rest
	}
	s, err := url.PathUnescape(chi.URLParam(r, "*"))
	if err != nil {
		return chi.URLParam(r, "*")
	}
	return s
}

// serveFile sends a stored user file: text types as text/plain, the rest as
// bytes, never as something a browser would render or run.
func serveFile(w http.ResponseWriter, r *http.Request, f *os.File, name string) {
	ct := "application/octet-stream"
	switch strings.ToLower(pathExt(name)) {
	case ".txt", ".log", ".json", ".csv", ".tsv", ".py", ".yaml", ".yml", ".md", ".cfg", ".ini", ".toml", ".sh", ".runconfig":
		ct = "text/plain; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	var mod time.Time
	if fi, err := f.Stat(); err == nil {
		mod = fi.ModTime()
	}
	http.ServeContent(w, r, "", mod, f)
}

func pathExt(p string) string {
	i := strings.LastIndexByte(p, '.')
	if i < 0 || strings.ContainsRune(p[i:], '/') {
		return ""
	}
	return p[i:]
}
