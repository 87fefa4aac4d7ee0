package web

import (
	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
)

// runRoutes are experiments, runs, snapshots and the MLflow tracking API.
// Submitting and cancelling need DataScientist (cancel also the submitter or
// an Admin, checked in the handler); reads need Reader. The tracking routes
// accept a run's own token (the handlers keep it to its run).
func runRoutes(h *handlers.Handlers) []Route {
	w := h.Wrap
	ml := h.MLflowWrap
	const (
		reader = compute.RoleReader
		ds     = compute.RoleDataScientist
	)
	mlflow := func(method, path string, role compute.Role, fn handlers.HandlerFunc) Route {
		return Route{Method: method, Pattern: handlers.MLflowPrefix + path, Role: role, Handler: ml(fn), AllowRunToken: true}
	}
	return []Route{
		// Snapshots: content-addressed source folders.
		{Method: "POST", Pattern: "/api/v1/snapshots/missing", Role: ds, Handler: w(h.APIMissingBlobs)},
		{Method: "PUT", Pattern: "/api/v1/blobs/{sha256}", Role: ds, Handler: w(h.APIPutBlob)},
		{Method: "POST", Pattern: "/api/v1/snapshots", Role: ds, Handler: w(h.APICreateSnapshot)},
		{Method: "POST", Pattern: "/api/v1/snapshots/archive", Role: ds, Handler: w(h.APIUploadArchive)},
		{Method: "GET", Pattern: "/api/v1/snapshots/{id}", Role: reader, Handler: w(h.APIGetSnapshot)},
		{Method: "GET", Pattern: "/api/v1/snapshots/{id}/files/*", Role: reader, Handler: w(h.APISnapshotFile)},

		// Experiments and runs.
		{Method: "POST", Pattern: "/api/v1/experiments", Role: ds, Handler: w(h.APICreateExperiment)},
		{Method: "GET", Pattern: "/api/v1/experiments", Role: reader, Handler: w(h.APIListExperiments)},
		{Method: "POST", Pattern: "/api/v1/runs", Role: ds, Handler: w(h.APISubmitRun)},
		{Method: "POST", Pattern: "/api/v1/sweeps", Role: ds, Handler: w(h.APISubmitSweep)},
		{Method: "GET", Pattern: "/api/v1/runs", Role: reader, Handler: w(h.APIListRuns)},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}", Role: reader, Handler: w(h.APIGetRun)},
		{Method: "POST", Pattern: "/api/v1/runs/{runId}/cancel", Role: ds, Handler: w(h.APICancelRun)},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}/logs", Role: reader, Handler: w(h.APIRunLogs)},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}/outputs", Role: reader, Handler: w(h.APIRunOutputs)},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}/outputs/*", Role: reader, Handler: w(h.APIRunOutputFile)},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}/metrics/*", Role: reader, Handler: w(h.APIRunMetric)},

		// MLflow tracking REST API (docs/design/mlflow-api.md).
		mlflow("GET", "runs/get", reader, h.MLflowGetRun),
		mlflow("POST", "runs/update", ds, h.MLflowUpdateRun),
		mlflow("POST", "runs/create", ds, h.MLflowCreateRun),
		mlflow("POST", "runs/log-parameter", ds, h.MLflowLogParameter),
		mlflow("POST", "runs/log-metric", ds, h.MLflowLogMetric),
		mlflow("POST", "runs/log-batch", ds, h.MLflowLogBatch),
		mlflow("POST", "runs/set-tag", ds, h.MLflowSetTag),
		mlflow("GET", "metrics/get-history", reader, h.MLflowMetricHistory),
		mlflow("GET", "experiments/get-by-name", reader, h.MLflowGetExperimentByName),
		mlflow("GET", "experiments/get", reader, h.MLflowGetExperiment),
		mlflow("POST", "experiments/create", ds, h.MLflowCreateExperiment),
		{Method: "PUT", Pattern: handlers.MLflowArtifactsPrefix + "artifacts/*", Role: ds, Handler: ml(h.MLflowPutArtifact), AllowRunToken: true},
	}
}
