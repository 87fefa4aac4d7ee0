package handlers

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/store"
)

// The MLflow tracking REST API, as the real client calls it
// (docs/design/mlflow-api.md): under /api/2.0/mlflow/, JSON bodies,
// errors as {"error_code","message"}. A run's own tracking token may call
// these routes for its run only; a user's token works with the user's rights
// (reads: Reader; writes: the run's submitter or an Admin).

// MLflowPrefix and MLflowArtifactsPrefix are where the tracking API lives.
const (
	MLflowPrefix          = "/api/2.0/mlflow/"
	MLflowArtifactsPrefix = "/api/2.0/mlflow-artifacts/"
)

// maxMLflowBody bounds a tracking request body (a full log-batch is ~100 KB).
const maxMLflowBody = 4 << 20

// isMLflowPath reports whether a request is for the tracking API, whose
// errors have MLflow's shape.
func isMLflowPath(p string) bool {
	return strings.HasPrefix(p, MLflowPrefix) || strings.HasPrefix(p, MLflowArtifactsPrefix)
}

// mlflowError is MLflow's error body.
type mlflowError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// mlflowStatus maps an error onto MLflow's status and error code.
func mlflowStatus(err error) (int, mlflowError) {
	status, body := arm.FromError(err)
	msg := body.Error.Message
	if len(body.Error.Details) > 0 {
		var parts []string
		for _, d := range body.Error.Details {
			parts = append(parts, d.Message)
		}
		msg = strings.Join(parts, " ")
	}
	var coded *compute.CodedError
	switch {
	case status == http.StatusNotFound:
		return http.StatusNotFound, mlflowError{"RESOURCE_DOES_NOT_EXIST", msg}
	case status == http.StatusConflict && errors.As(err, &coded) && coded.Code == "AlreadyExists":
		return http.StatusBadRequest, mlflowError{"RESOURCE_ALREADY_EXISTS", msg}
	case status == http.StatusConflict:
		return http.StatusBadRequest, mlflowError{"INVALID_STATE", msg}
	case status == http.StatusUnauthorized:
		return http.StatusUnauthorized, mlflowError{"UNAUTHENTICATED", msg}
	case status == http.StatusForbidden:
		return http.StatusForbidden, mlflowError{"PERMISSION_DENIED", msg}
	case status == http.StatusRequestEntityTooLarge:
		return http.StatusRequestEntityTooLarge, mlflowError{"RESOURCE_EXHAUSTED", msg}
	case status == http.StatusServiceUnavailable:
		return http.StatusServiceUnavailable, mlflowError{"TEMPORARILY_UNAVAILABLE", msg}
	case status == http.StatusTooManyRequests:
		return http.StatusTooManyRequests, mlflowError{"REQUEST_LIMIT_EXCEEDED", msg}
	case status < 500:
		return http.StatusBadRequest, mlflowError{"INVALID_PARAMETER_VALUE", msg}
	}
	return http.StatusInternalServerError, mlflowError{"INTERNAL_ERROR", "Internal error."}
}

// failMLflow writes err as MLflow's error body.
func (h *Handlers) failMLflow(w http.ResponseWriter, r *http.Request, err error) {
	status, body := mlflowStatus(err)
	if status >= 500 {
		h.cfg.Logger.ErrorContext(r.Context(), "tracking request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, body)
}

// mlflowErr is an error with MLflow's code when the vocabulary has none.
func mlflowNotFound(format string, args ...any) error {
	return compute.NotFoundf("", format, args...)
}

// MLflow run info, data and experiment shapes.
type mlRunInfo struct {
	RunID          string `json:"run_id"`
	RunUUID        string `json:"run_uuid"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time,omitempty"`
	EndTime        int64  `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

type mlMetric struct {
	Key       string   `json:"key"`
	Value     *float64 `json:"value"`
	Timestamp int64    `json:"timestamp"`
	Step      int64    `json:"step"`
}

type mlKeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type mlRunData struct {
	Metrics []mlMetric   `json:"metrics"`
	Params  []mlKeyValue `json:"params"`
	Tags    []mlKeyValue `json:"tags"`
}

type mlRun struct {
	Info   mlRunInfo      `json:"info"`
	Data   mlRunData      `json:"data"`
	Inputs map[string]any `json:"inputs"`
}

type mlExperiment struct {
	ExperimentID     string       `json:"experiment_id"`
	Name             string       `json:"name"`
	ArtifactLocation string       `json:"artifact_location"`
	LifecycleStage   string       `json:"lifecycle_stage"`
	LastUpdateTime   int64        `json:"last_update_time,omitempty"`
	CreationTime     int64        `json:"creation_time,omitempty"`
	Tags             []mlKeyValue `json:"tags"`
}

// mlflowRunStatus maps a run status onto MLflow's RunStatus.
func mlflowRunStatus(s compute.RunStatus) string {
	switch s {
	case compute.RunNotStarted, compute.RunQueued, compute.RunPreparing, compute.RunStarting:
		return "SCHEDULED"
	case compute.RunCompleted:
		return "FINISHED"
	case compute.RunFailed:
		return "FAILED"
	case compute.RunCanceled:
		return "KILLED"
	}
	return "RUNNING"
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func toMLRunInfo(r *compute.Run) mlRunInfo {
	exp := strconv.FormatInt(r.ExperimentID, 10)
	name := r.DisplayName
	if name == "" {
		name = r.ID
	}
	start := r.StartedAt
	if start.IsZero() && r.Kind == compute.RunKindTracking {
		start = r.CreatedAt
	}
	return mlRunInfo{
		RunID: r.ID, RunUUID: r.ID, RunName: name, ExperimentID: exp, UserID: r.SubmittedBy,
		Status: mlflowRunStatus(r.Status), StartTime: ms(start), EndTime: ms(r.EndedAt),
		// The client uploads artifacts under this URI; without it, it would
		// silently write them into its working folder instead.
		ArtifactURI:    "mlflow-artifacts:/" + exp + "/" + r.ID + "/artifacts",
		LifecycleStage: "active",
	}
}

func toMLExperiment(e *compute.Experiment) mlExperiment {
	id := strconv.FormatInt(e.ID, 10)
	last := e.LastRunAt
	if last.Before(e.CreatedAt) {
		last = e.CreatedAt
	}
	return mlExperiment{ExperimentID: id, Name: e.Name, ArtifactLocation: "mlflow-artifacts:/" + id,
		LifecycleStage: "active", LastUpdateTime: ms(last), CreationTime: ms(e.CreatedAt), Tags: []mlKeyValue{}}
}

// mlRunFor reads a run and checks that the caller may see (or, with write,
// change) it through the tracking API.
func (h *Handlers) mlRunFor(r *http.Request, id string, write bool) (*compute.Run, error) {
	if id == "" {
		return nil, compute.Invalid("run_id", "Missing value for required parameter 'run_id'.")
	}
	run, err := h.cfg.Store.GetRun(r.Context(), id)
	if errors.Is(err, compute.ErrNotFound) {
		return nil, mlflowNotFound("Run '%s' not found.", id)
	} else if err != nil {
		return nil, err
	}
	u := compute.UserFrom(r.Context())
	if u != nil && u.RunID != "" && u.RunID != id {
		return nil, &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed",
			Message: "This tracking token belongs to run " + u.RunID + " and cannot be used for run " + id + "."}
	}
	if write {
		if err := ownsRun(r, run); err != nil {
			return nil, err
		}
	}
	return run, nil
}

func (h *Handlers) writeMLRun(w http.ResponseWriter, r *http.Request, run *compute.Run) error {
	latest, err := h.cfg.Store.LatestMetrics(r.Context(), run.ID)
	if err != nil {
		return err
	}
	out := mlRun{Info: toMLRunInfo(run), Data: mlRunData{Metrics: []mlMetric{}, Params: []mlKeyValue{}, Tags: []mlKeyValue{}}, Inputs: map[string]any{}}
	for _, m := range latest {
		out.Data.Metrics = append(out.Data.Metrics, mlMetric{Key: m.Key, Value: jsonFloat(m.Value), Timestamp: ms(m.Time), Step: m.Step})
	}
	for k, v := range run.Params {
		out.Data.Params = append(out.Data.Params, mlKeyValue{k, v})
	}
	for k, v := range run.Tags {
		out.Data.Tags = append(out.Data.Tags, mlKeyValue{k, v})
	}
	writeJSON(w, http.StatusOK, struct {
		Run mlRun `json:"run"`
	}{out})
	return nil
}

// runIDOf picks run_id, else the older run_uuid.
func runIDOf(runID, runUUID string) string {
	if runID != "" {
		return runID
	}
	return runUUID
}

// MLflowGetRun handles GET runs/get?run_id=…(&run_uuid=…).
func (h *Handlers) MLflowGetRun(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	run, err := h.mlRunFor(r, runIDOf(q.Get("run_id"), q.Get("run_uuid")), false)
	if err != nil {
		return err
	}
	return h.writeMLRun(w, r, run)
}

// MLflowUpdateRun handles POST runs/update {run_id, status, end_time,
// run_name}. The status of a submitted run belongs to the dispatcher (the
// process's exit decides it), so for those only run_name is taken; a
// tracking run (runs/create) takes the status and end time as sent.
func (h *Handlers) MLflowUpdateRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string `json:"run_id"`
		RunUUID string `json:"run_uuid"`
		Status  string `json:"status"`
		EndTime *int64 `json:"end_time"`
		RunName string `json:"run_name"`
	}
	if err := decodeJSON(w, r, maxMLflowBody, &req); err != nil {
		return err
	}
	id := runIDOf(req.RunID, req.RunUUID)
	if _, err := h.mlRunFor(r, id, true); err != nil {
		return err
	}
	var to compute.RunStatus
	switch req.Status {
	case "", "RUNNING", "SCHEDULED":
	case "FINISHED":
		to = compute.RunCompleted
	case "FAILED":
		to = compute.RunFailed
	case "KILLED":
		to = compute.RunCanceled
	default:
		return compute.Invalid("status", "Invalid value '%s' for parameter 'status'.", req.Status)
	}
	run, err := h.cfg.Store.UpdateRun(r.Context(), id, func(cur *compute.Run) error {
		if req.RunName != "" {
			cur.DisplayName = req.RunName
		}
		if cur.Kind != compute.RunKindTracking || to == "" || cur.Status.Terminal() {
			return nil
		}
		cur.Status, cur.StatusReason = to, "set by the tracking client"
		if to == compute.RunFailed {
			cur.Error = "the tracking client reported FAILED"
		}
		if req.EndTime != nil && *req.EndTime > 0 {
			cur.EndedAt = time.UnixMilli(*req.EndTime).UTC()
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		RunInfo mlRunInfo `json:"run_info"`
	}{toMLRunInfo(run)})
	return nil
}

// MLflowCreateRun handles POST runs/create {experiment_id, user_id,
// start_time, tags, run_name}: a tracking run, named by the server when no
// run_name is sent. A run's own token cannot create runs.
func (h *Handlers) MLflowCreateRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID string       `json:"experiment_id"`
		UserID       string       `json:"user_id"`
		StartTime    int64        `json:"start_time"`
		Tags         []mlKeyValue `json:"tags"`
		RunName      string       `json:"run_name"`
	}
	if err := decodeJSON(w, r, maxMLflowBody, &req); err != nil {
		return err
	}
	u := compute.UserFrom(r.Context())
	if u != nil && u.RunID != "" {
		return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed",
			Message: "A run's tracking token cannot create runs; it logs to its own run (MLFLOW_RUN_ID)."}
	}
	expID := int64(compute.DefaultExperimentID)
	if req.ExperimentID != "" {
		n, err := strconv.ParseInt(req.ExperimentID, 10, 64)
		if err != nil {
			return mlflowNotFound("No Experiment with id=%s exists", req.ExperimentID)
		}
		expID = n
	}
	if _, err := h.cfg.Store.GetExperiment(r.Context(), expID); err != nil {
		if errors.Is(err, compute.ErrNotFound) {
			return mlflowNotFound("No Experiment with id=%d exists", expID)
		}
		return err
	}
	now := h.cfg.Now()
	run := &compute.Run{
		Kind: compute.RunKindTracking, ExperimentID: expID, Status: compute.RunRunning,
		DisplayName: req.RunName, CreatedAt: now, StartedAt: now,
	}
	if req.StartTime > 0 {
		run.StartedAt = time.UnixMilli(req.StartTime).UTC()
	}
	if run.DisplayName == "" {
		for _, t := range req.Tags {
			if t.Key == "mlflow.runName" && t.Value != "" {
				run.DisplayName = t.Value
			}
		}
	}
	if run.DisplayName == "" {
		run.DisplayName = randomRunName()
	}
	if u != nil {
		run.SubmittedBy, run.SubmittedByID = u.Name, u.ID
	}
	exp, err := h.cfg.Store.GetExperiment(r.Context(), expID)
	if err != nil {
		return err
	}
	run.ID = compute.NewRunID(exp.Name, now)
	run.ExperimentName = exp.Name
	err = h.cfg.Store.CreateRun(r.Context(), run)
	if err == nil {
		tags := []compute.KeyValue{{Key: "mlflow.runName", Value: run.DisplayName}}
		for _, t := range req.Tags {
			if t.Key != "mlflow.runName" {
				tags = append(tags, compute.KeyValue{Key: t.Key, Value: t.Value})
			}
		}
		err = h.cfg.Store.LogBatch(r.Context(), run.ID, nil, nil, tags)
	}
	h.audit(r, "create", "run/"+run.ID, err)
	if err != nil {
		return err
	}
	full, err := h.cfg.Store.GetRun(r.Context(), run.ID)
	if err != nil {
		return err
	}
	return h.writeMLRun(w, r, full)
}

// randomRunName names a run the way MLflow does: adjective-animal-number.
func randomRunName() string {
	adjectives := []string{"amazing", "bold", "brave", "bright", "calm", "clever", "gentle", "happy", "keen", "lucky", "merry", "quiet", "swift", "wise"}
	animals := []string{"ant", "bat", "bee", "cat", "crab", "deer", "duck", "fox", "hare", "lynx", "moth", "owl", "seal", "wolf"}
	pick := func(n int) int {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
		if err != nil {
			return 0
		}
		return int(v.Int64())
	}
	return fmt.Sprintf("%s-%s-%d", adjectives[pick(len(adjectives))], animals[pick(len(animals))], pick(1000))
}

// mlMetricIn is a metric as the client sends it. The value may arrive as a
// number or, for NaN and infinities, as a string.
type mlMetricIn struct {
	RunID     string          `json:"run_id"`
	RunUUID   string          `json:"run_uuid"`
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	Timestamp int64           `json:"timestamp"`
	Step      int64           `json:"step"`
}

func (m mlMetricIn) metric(now time.Time) (compute.Metric, error) {
	v, err := parseMetricValue(m.Value)
	if err != nil {
		return compute.Metric{}, compute.Invalid("value", "Metric %q: %v.", m.Key, err)
	}
	t := now
	if m.Timestamp != 0 {
		t = time.UnixMilli(m.Timestamp).UTC()
	}
	return compute.Metric{Key: m.Key, Value: v, Step: m.Step, Time: t}, nil
}

func parseMetricValue(raw json.RawMessage) (float64, error) {
	if len(raw) == 0 {
		return 0, errors.New("missing value")
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, errors.New("the value is not a number")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// MLflowLogParameter handles POST runs/log-parameter {run_id, key, value}.
func (h *Handlers) MLflowLogParameter(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string `json:"run_id"`
		RunUUID string `json:"run_uuid"`
		Key     string `json:"key"`
		Value   string `json:"value"`
	}
	if err := decodeJSON(w, r, maxMLflowBody, &req); err != nil {
		return err
	}
	return h.mlLog(w, r, runIDOf(req.RunID, req.RunUUID), nil, []compute.KeyValue{{Key: req.Key, Value: req.Value}}, nil)
}

// MLflowSetTag handles POST runs/set-tag {run_id, key, value}.
func (h *Handlers) MLflowSetTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string `json:"run_id"`
		RunUUID string `json:"run_uuid"`
		Key     string `json:"key"`
		Value   string `json:"value"`
	}
	if err := decodeJSON(w, r, maxMLflowBody, &req); err != nil {
		return err
	}
	return h.mlLog(w, r, runIDOf(req.RunID, req.RunUUID), nil, nil, []compute.KeyValue{{Key: req.Key, Value: req.Value}})
}

// MLflowLogMetric handles POST runs/log-metric {run_id, key, value,
// timestamp, step}.
func (h *Handlers) MLflowLogMetric(w http.ResponseWriter, r *http.Request) error {
	var req mlMetricIn
	if err := decodeJSON(w, r, maxMLflowBody, &req); err != nil {
		return err
	}
	m, err := req.metric(h.cfg.Now())
	if err != nil {
		return err
	}
	return h.mlLog(w, r, runIDOf(req.RunID, req.RunUUID), []compute.Metric{m}, nil, nil)
}

// MLflowLogBatch handles POST runs/log-batch {run_id, metrics, params, tags}.
func (h *Handlers) MLflowLogBatch(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string       `json:"run_id"`
		Metrics []mlMetricIn `json:"metrics"`
		Params  []mlKeyValue `json:"params"`
		Tags    []mlKeyValue `json:"tags"`
	}
	if err := decodeJSON(w, r, maxMLflowBody, &req); err != nil {
		return err
	}
	now := h.cfg.Now()
	metrics := make([]compute.Metric, 0, len(req.Metrics))
	for _, in := range req.Metrics {
		m, err := in.metric(now)
		if err != nil {
			return err
		}
		metrics = append(metrics, m)
	}
	params := make([]compute.KeyValue, 0, len(req.Params))
	for _, p := range req.Params {
		params = append(params, compute.KeyValue{Key: p.Key, Value: p.Value})
	}
	tags := make([]compute.KeyValue, 0, len(req.Tags))
	for _, t := range req.Tags {
		tags = append(tags, compute.KeyValue{Key: t.Key, Value: t.Value})
	}
	return h.mlLog(w, r, req.RunID, metrics, params, tags)
}

// mlLog checks access and records one batch; MLflow answers {}.
func (h *Handlers) mlLog(w http.ResponseWriter, r *http.Request, runID string, metrics []compute.Metric, params, tags []compute.KeyValue) error {
	run, err := h.mlRunFor(r, runID, true)
	if err != nil {
		return err
	}
	if err := h.cfg.Store.LogBatch(r.Context(), runID, metrics, params, tags); err != nil {
		return err
	}
	if run != nil && run.ParentID != "" && len(metrics) > 0 {
		// A sweep's child logged: the sweep driver (in the dispatcher's
		// pass) judges it by the early-termination policy now.
		h.kickRuns()
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// MLflowMetricHistory handles GET metrics/get-history?run_id=&metric_key=.
func (h *Handlers) MLflowMetricHistory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	id := runIDOf(q.Get("run_id"), q.Get("run_uuid"))
	key := q.Get("metric_key")
	if key == "" {
		return compute.Invalid("metric_key", "Missing value for required parameter 'metric_key'.")
	}
	if _, err := h.mlRunFor(r, id, false); err != nil {
		return err
	}
	hist, err := h.cfg.Store.MetricHistory(r.Context(), id, key)
	if err != nil {
		return err
	}
	out := struct {
		Metrics []mlMetric `json:"metrics"`
	}{Metrics: make([]mlMetric, 0, len(hist))}
	for _, m := range hist {
		out.Metrics = append(out.Metrics, mlMetric{Key: m.Key, Value: jsonFloat(m.Value), Timestamp: ms(m.Time), Step: m.Step})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// MLflowGetExperimentByName handles GET experiments/get-by-name?experiment_name=.
func (h *Handlers) MLflowGetExperimentByName(w http.ResponseWriter, r *http.Request) error {
	name := r.URL.Query().Get("experiment_name")
	if name == "" {
		return compute.Invalid("experiment_name", "Missing value for required parameter 'experiment_name'.")
	}
	e, err := h.cfg.Store.GetExperimentByName(r.Context(), name)
	if errors.Is(err, compute.ErrNotFound) {
		return mlflowNotFound("Could not find experiment with name '%s'", name)
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Experiment mlExperiment `json:"experiment"`
	}{toMLExperiment(e)})
	return nil
}

// MLflowGetExperiment handles GET experiments/get?experiment_id=.
func (h *Handlers) MLflowGetExperiment(w http.ResponseWriter, r *http.Request) error {
	raw := r.URL.Query().Get("experiment_id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return mlflowNotFound("No Experiment with id=%s exists", raw)
	}
	e, err := h.cfg.Store.GetExperiment(r.Context(), id)
	if errors.Is(err, compute.ErrNotFound) {
		return mlflowNotFound("No Experiment with id=%d exists", id)
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Experiment mlExperiment `json:"experiment"`
	}{toMLExperiment(e)})
	return nil
}

// MLflowCreateExperiment handles POST experiments/create {name}: a name in
// use is RESOURCE_ALREADY_EXISTS.
func (h *Handlers) MLflowCreateExperiment(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, maxMLflowBody, &req); err != nil {
		return err
	}
	e, err := h.cfg.Store.CreateExperiment(r.Context(), req.Name)
	if err != nil {
		return err
	}
	h.audit(r, "create", "experiment/"+e.Name, nil)
	writeJSON(w, http.StatusOK, struct {
		ExperimentID string `json:"experiment_id"`
	}{strconv.FormatInt(e.ID, 10)})
	return nil
}

// MLflowPutArtifact handles PUT /api/2.0/mlflow-artifacts/artifacts/
// <experiment>/<run>/artifacts/<path>: the raw body becomes the run's
// artifacts/<path>. Paths that could leave the run's folder are refused.
func (h *Handlers) MLflowPutArtifact(w http.ResponseWriter, r *http.Request) error {
	rest := strings.TrimPrefix(r.URL.Path, MLflowArtifactsPrefix+"artifacts/")
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) != 4 || parts[2] != "artifacts" || parts[3] == "" {
		return compute.Invalid("path", "Artifact paths look like <experiment_id>/<run_id>/artifacts/<path>.")
	}
	expID, runID, p := parts[0], parts[1], parts[3]
	if msg := store.CheckSnapshotPath(p); msg != "" {
		return compute.Invalid("path", "Invalid artifact path %q: %s.", p, msg)
	}
	run, err := h.mlRunFor(r, runID, true)
	if err != nil {
		return err
	}
	if strconv.FormatInt(run.ExperimentID, 10) != expID {
		return mlflowNotFound("Run '%s' is not in experiment %s.", runID, expID)
	}
	body := http.MaxBytesReader(w, r.Body, maxArtifactBytes+1)
	if err := h.cfg.Store.PutArtifact(r.Context(), runID, p, body, maxArtifactBytes); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// MLflowWrap is Wrap for the tracking API: errors become MLflow's body.
func (h *Handlers) MLflowWrap(fn HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.failMLflow(w, r, err)
		}
	}
}
