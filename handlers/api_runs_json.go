package handlers

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// The JSON shapes of docs/API-runs.md.

// apiTime is the API's time format: RFC 3339, UTC, milliseconds.
const apiTime = "2006-01-02T15:04:05.000Z"

// utcString formats a time for the API; the zero time is "" (omitted).
func utcString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(apiTime)
}

// jsonFloat is a metric value JSON can carry: NaN becomes null.
func jsonFloat(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

type apiGit struct {
	Repository string `json:"repository,omitempty"`
	Branch     string `json:"branch,omitempty"`
	Commit     string `json:"commit,omitempty"`
	Dirty      bool   `json:"dirty"`
}

func toAPIGit(g *compute.GitInfo) *apiGit {
	if g == nil {
		return nil
	}
	return &apiGit{Repository: g.Repository, Branch: g.Branch, Commit: g.Commit, Dirty: g.Dirty}
}

type apiEvent struct {
	Status  string `json:"status"`
	TimeUtc string `json:"timeUtc"`
	Reason  string `json:"reason,omitempty"`
}

type apiEnvironment struct {
	EnvironmentVariables map[string]string `json:"environmentVariables,omitempty"`
	Python               struct {
		InterpreterPath         string          `json:"interpreterPath,omitempty"`
		UserManagedDependencies bool            `json:"userManagedDependencies"`
		CondaDependencies       json.RawMessage `json:"condaDependencies,omitempty"`
	} `json:"python"`
	Docker struct {
		Enabled   bool   `json:"enabled"`
		BaseImage string `json:"baseImage,omitempty"`
	} `json:"docker"`
}

// apiRun is one run. Lists leave out params, tags, statusHistory, the
// environment and the run configuration (GET /api/v1/runs/{id} has them).
type apiRun struct {
	RunID                 string              `json:"runId"`
	ExperimentName        string              `json:"experimentName"`
	ExperimentID          string              `json:"experimentId"`
	DisplayName           string              `json:"displayName,omitempty"`
	RunType               string              `json:"runType"`
	Status                string              `json:"status"`
	StatusReason          string              `json:"statusReason,omitempty"`
	Target                string              `json:"target"`
	ParentRunID           string              `json:"parentRunId"`
	SubmittedBy           string              `json:"submittedBy"`
	CreatedTimeUtc        string              `json:"createdTimeUtc,omitempty"`
	StartTimeUtc          string              `json:"startTimeUtc,omitempty"`
	EndTimeUtc            string              `json:"endTimeUtc,omitempty"`
	Script                string              `json:"script"`
	Arguments             []string            `json:"arguments"`
	NodeCount             int                 `json:"nodeCount"`
	MaxRunDurationSeconds int64               `json:"maxRunDurationSeconds"`
	SnapshotID            string              `json:"snapshotId"`
	Git                   *apiGit             `json:"git,omitempty"`
	Metrics               map[string]*float64 `json:"metrics"`
	Params                map[string]string   `json:"params,omitzero"`
	Tags                  map[string]string   `json:"tags,omitzero"`
	Error                 string              `json:"error,omitempty"`
	Attempt               int                 `json:"attempt"`
	StatusHistory         []apiEvent          `json:"statusHistory,omitzero"`
	Environment           *apiEnvironment     `json:"environment,omitempty"`
	RunConfiguration      json.RawMessage     `json:"runConfiguration,omitempty"`
	// HyperDrive: a child's sampled values and, when the early-termination
	// policy cancelled it, why; a parent's definition and best child.
	Hyperparameters    map[string]string `json:"hyperparameters,omitempty"`
	PolicyCancelReason string            `json:"policyCancelReason,omitempty"`
	Sweep              *apiSweep         `json:"sweep,omitempty"`
	BestChildRunID     string            `json:"bestChildRunId,omitempty"`
	Warnings           []string          `json:"warnings,omitempty"`
}

type apiRunList struct {
	Value    []apiRun `json:"value"`
	NextLink string   `json:"nextLink,omitempty"`
}

type apiOutput struct {
	Path            string `json:"path"`
	Size            int64  `json:"size"`
	ModifiedTimeUtc string `json:"modifiedTimeUtc,omitempty"`
}

type apiMetric struct {
	Step         int64    `json:"step"`
	Value        *float64 `json:"value"`
	TimestampUtc string   `json:"timestampUtc"`
}

// toAPIRun shapes a run; full adds what only the single-run read carries.
func toAPIRun(r *compute.Run, full bool) apiRun {
	out := apiRun{
		RunID: r.ID, ExperimentName: r.ExperimentName, ExperimentID: strconv.FormatInt(r.ExperimentID, 10),
		DisplayName: r.DisplayName, RunType: string(r.Kind), Status: string(r.Status), StatusReason: r.StatusReason,
		Target: r.Target, ParentRunID: r.ParentID, SubmittedBy: r.SubmittedBy,
		CreatedTimeUtc: utcString(r.CreatedAt), StartTimeUtc: utcString(r.StartedAt), EndTimeUtc: utcString(r.EndedAt),
		Script: r.Script, Arguments: r.Arguments, NodeCount: r.NodeCount,
		MaxRunDurationSeconds: int64(r.MaxRunDuration / time.Second), SnapshotID: r.SnapshotID,
		Git: toAPIGit(r.Git), Metrics: map[string]*float64{}, Attempt: r.Attempt,
	}
	if out.Arguments == nil {
		out.Arguments = []string{}
	}
	if r.Hyperparameters != nil {
		out.Hyperparameters = r.Hyperparameters.Map()
	}
	out.PolicyCancelReason, out.BestChildRunID = r.PolicyCancelReason, r.BestChildID
	if r.Sweep != nil {
		out.Sweep = toAPISweep(r.Sweep)
	}
	for k, v := range r.Metrics {
		out.Metrics[k] = jsonFloat(v)
	}
	// error is set for Failed runs, and for Canceled ones that were not
	// cancelled by a person (e.g. their target went away).
	switch r.Status {
	case compute.RunFailed:
		out.Error = r.Error
		if out.Error == "" {
			out.Error = r.StatusReason
		}
	case compute.RunCanceled:
		out.Error = r.Error
	}
	if !full {
		return out
	}
	out.Params, out.Tags = map[string]string{}, map[string]string{}
	for k, v := range r.Params {
		out.Params[k] = v
	}
	for k, v := range r.Tags {
		out.Tags[k] = v
	}
	out.StatusHistory = make([]apiEvent, 0, len(r.History))
	for _, ev := range r.History {
		out.StatusHistory = append(out.StatusHistory, apiEvent{Status: string(ev.Status), TimeUtc: utcString(ev.Time), Reason: ev.Reason})
	}
	if r.Kind != compute.RunKindTracking {
		env := &apiEnvironment{EnvironmentVariables: r.Environment.Variables}
		env.Python.InterpreterPath = r.Environment.InterpreterPath
		env.Python.UserManagedDependencies = r.Environment.UserManagedDependencies
		env.Python.CondaDependencies = r.Environment.CondaDependencies
		env.Docker.Enabled, env.Docker.BaseImage = r.Environment.DockerEnabled, r.Environment.DockerBaseImage
		out.Environment = env
	}
	out.RunConfiguration = r.RunConfiguration
	return out
}

// apiExperiment is one experiment.
type apiExperiment struct {
	Name           string `json:"name"`
	ID             string `json:"id"`
	CreatedTimeUtc string `json:"createdTimeUtc,omitempty"`
	RunCount       int    `json:"runCount"`
	LastRunTimeUtc string `json:"lastRunTimeUtc,omitempty"`
}

func toAPIExperiment(e *compute.Experiment) apiExperiment {
	return apiExperiment{Name: e.Name, ID: strconv.FormatInt(e.ID, 10), CreatedTimeUtc: utcString(e.CreatedAt),
		RunCount: e.RunCount, LastRunTimeUtc: utcString(e.LastRunAt)}
}

// APICreateExperiment handles POST /api/v1/experiments {"name"}: 201 when
// created, 200 when it already existed.
func (h *Handlers) APICreateExperiment(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	e, created, err := h.cfg.Store.EnsureExperiment(r.Context(), req.Name)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		h.audit(r, "create", "experiment/"+e.Name, nil)
	}
	writeJSON(w, status, toAPIExperiment(e))
	return nil
}

// APIListExperiments handles GET /api/v1/experiments.
func (h *Handlers) APIListExperiments(w http.ResponseWriter, r *http.Request) error {
	list, err := h.cfg.Store.ListExperiments(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Value []apiExperiment `json:"value"`
	}{Value: make([]apiExperiment, 0, len(list))}
	for _, e := range list {
		out.Value = append(out.Value, toAPIExperiment(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
