package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/web/pagecache"
)

// Route is one entry of the table of contents: who may call what.
type Route struct {
	Method  string
	Pattern string
	// Role is the least role allowed; RoleNone marks a public route.
	Role    compute.Role
	Handler http.HandlerFunc
	// AllowRunToken lets a run's own tracking token call the route (the
	// handler then checks the run); every other route refuses such tokens.
	AllowRunToken bool
	// Cached lets the page cache answer the route (web/pagecache): a read
	// whose answer depends only on the store, the caller and the request.
	Cached bool
}

// Routes is the one table of every route the server answers, grouped as a
// user meets them. Role is the least role; where a route also needs a
// particular object (the instance's assigned user, the run's submitter),
// the handler checks it and the comment says so.
func Routes(h *handlers.Handlers, static http.Handler) []Route {
	w := h.Wrap
	ml := h.MLflowWrap
	const (
		public   = compute.RoleNone
		reader   = compute.RoleReader
		user     = compute.RoleComputeUser
		ds       = compute.RoleDataScientist
		operator = compute.RoleComputeOperator
		admin    = compute.RoleAdmin
	)
	// form is a create wizard or attach form: the page, its post and the
	// live validation of one field.
	form := func(path string) []Route {
		f := h.Form(path)
		return []Route{
			{Method: "GET", Pattern: f.Path, Role: operator, Handler: f.Show},
			{Method: "POST", Pattern: f.Path, Role: operator, Handler: f.Post},
			{Method: "POST", Pattern: f.Path + "/validate", Role: operator, Handler: f.Validate},
		}
	}
	// mlflow is a route of the MLflow tracking REST API
	// (docs/design/mlflow-api.md); a run's own token may call it, and the
	// handler keeps that token to its run.
	mlflow := func(method, path string, role compute.Role, fn handlers.HandlerFunc) Route {
		return Route{Method: method, Pattern: handlers.MLflowPrefix + path, Role: role, Handler: ml(fn), AllowRunToken: true}
	}

	rs := []Route{
		// Public: health, static files, signing in and out. The OpenID
		// provider sends the browser back to /auth/callback.
		{Method: "GET", Pattern: "/healthz", Role: public, Handler: h.Health},
		{Method: "GET", Pattern: "/static/*", Role: public, Handler: static.ServeHTTP},
		{Method: "GET", Pattern: "/login", Role: public, Handler: w(h.Login)},
		{Method: "GET", Pattern: "/auth/callback", Role: public, Handler: w(h.AuthCallback)},
		{Method: "GET", Pattern: "/signed-out", Role: public, Handler: w(h.SignedOut)},
		{Method: "POST", Pattern: "/logout", Role: public, Handler: w(h.Logout)},

		// The event stream of live pages: which of the objects a page shows
		// changed (no content; the page fetches its sections again).
		{Method: "GET", Pattern: "/events", Role: reader, Handler: w(h.Events)},

		// Compute pages.
		{Method: "GET", Pattern: "/", Role: reader, Handler: redirectTo("/computes")},
		{Method: "GET", Pattern: "/computes", Role: reader, Handler: w(h.ComputeList), Cached: true},
		{Method: "GET", Pattern: "/computes/attach", Role: operator, Handler: w(h.AttachIndex)},
		{Method: "GET", Pattern: "/computes/{name}", Role: reader, Handler: w(h.ComputeDetails), Cached: true},
		// The list's command bar over checked rows; each compute is checked
		// as its own action is (power: per object; delete/detach: operator).
		{Method: "POST", Pattern: "/computes/bulk", Role: user, Handler: w(h.ComputeBulk)},
		// Start/stop/restart: an operator, or the instance's assigned data
		// scientist (checked per object in the handler); delete/detach:
		// ComputeOperator, checked in the handler.
		{Method: "POST", Pattern: "/computes/{name}/{action}", Role: user, Handler: w(h.ComputeAction)},
		// An instance's applications: only the user it is assigned to, not
		// even an Admin (checked per object in the handler, audited). The
		// terminal's WebSocket also checks the Origin.
		{Method: "GET", Pattern: "/computes/{name}/terminal", Role: ds, Handler: w(h.Terminal)},
		{Method: "GET", Pattern: "/computes/{name}/terminal/socket", Role: ds, Handler: w(h.TerminalSocket)},
		{Method: "GET", Pattern: "/computes/{name}/apps/jupyter", Role: ds, Handler: w(h.Jupyter)},
		// Replace an SSH target's credentials (write-only form on the details page).
		{Method: "POST", Pattern: "/computes/{name}/update-secrets", Role: operator, Handler: w(h.UpdateSecretsPage)},
		// Min/max nodes and idle seconds of a Slurm partition of power-saving nodes.
		{Method: "POST", Pattern: "/computes/{name}/scale-settings", Role: operator, Handler: w(h.ScaleSettingsPage)},
		// Prices per node-hour are the Admin's (?workspace= for a workspace's compute).
		{Method: "POST", Pattern: "/computes/{name}/node-hour-price", Role: admin, Handler: w(h.NodeHourPricePage)},
	}
	// Create wizards and attach forms.
	for _, path := range []string{
		"/computes/new/cluster", "/computes/new/instance",
		"/computes/attach/virtualmachine", "/computes/attach/hdinsight", "/computes/attach/databricks",
		"/computes/attach/adla", "/computes/attach/batch", "/computes/attach/slurm",
	} {
		rs = append(rs, form(path)...)
	}
	// An instance's Jupyter, every method its API uses (same rule as the terminal).
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		rs = append(rs, Route{Method: m, Pattern: "/computes/{name}/apps/jupyter/*", Role: ds, Handler: w(h.Jupyter)})
	}
	rs = append(rs, []Route{
		// Compute JSON API (Azure Resource Manager shape).
		{Method: "GET", Pattern: "/api/v1/computes", Role: reader, Handler: w(h.APIListComputes), Cached: true},
		{Method: "GET", Pattern: "/api/v1/computes/{name}", Role: reader, Handler: w(h.APIGetCompute), Cached: true},
		{Method: "PUT", Pattern: "/api/v1/computes/{name}", Role: operator, Handler: w(h.APIPutCompute)},
		{Method: "DELETE", Pattern: "/api/v1/computes/{name}", Role: operator, Handler: w(h.APIDeleteCompute)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/listNodes", Role: reader, Handler: w(h.APIListNodes)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/approveHostKey", Role: operator, Handler: w(h.APIApproveHostKey)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/updateSecrets", Role: operator, Handler: w(h.APIUpdateSecrets)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/updateScaleSettings", Role: operator, Handler: w(h.APIUpdateScaleSettings)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/updateNodeHourPrice", Role: admin, Handler: w(h.APIUpdateNodeHourPrice)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/{action:start|stop|restart}", Role: user, Handler: w(h.APIPower)}, // per object, as above

		// Azure ML workspaces: registering and removing one is the Admin's;
		// their computes mirror /api/v1/computes (ARM's shape), carried out in
		// Azure as the caller (their delegated token, else the service
		// principal), so Azure RBAC decides too.
		{Method: "GET", Pattern: "/api/v1/workspaces", Role: reader, Handler: w(h.APIListWorkspaces)},
		{Method: "GET", Pattern: "/api/v1/workspaces/{alias}", Role: reader, Handler: w(h.APIGetWorkspace)},
		{Method: "PUT", Pattern: "/api/v1/workspaces/{alias}", Role: admin, Handler: w(h.APIPutWorkspace)},
		{Method: "DELETE", Pattern: "/api/v1/workspaces/{alias}", Role: admin, Handler: w(h.APIDeleteWorkspace)},
		{Method: "GET", Pattern: "/api/v1/workspaces/{alias}/computes", Role: reader, Handler: w(h.APIListWorkspaceComputes), Cached: true},
		{Method: "GET", Pattern: "/api/v1/workspaces/{alias}/computes/{name}", Role: reader, Handler: w(h.APIGetWorkspaceCompute), Cached: true},
		{Method: "PUT", Pattern: "/api/v1/workspaces/{alias}/computes/{name}", Role: operator, Handler: w(h.APIPutWorkspaceCompute)},
		{Method: "DELETE", Pattern: "/api/v1/workspaces/{alias}/computes/{name}", Role: operator, Handler: w(h.APIDeleteWorkspaceCompute)},
		{Method: "POST", Pattern: "/api/v1/workspaces/{alias}/computes/{name}/listNodes", Role: reader, Handler: w(h.APIWorkspaceListNodes)},
		{Method: "POST", Pattern: "/api/v1/workspaces/{alias}/computes/{name}/updateScaleSettings", Role: operator, Handler: w(h.APIWorkspaceUpdateScale)},
		{Method: "POST", Pattern: "/api/v1/workspaces/{alias}/computes/{name}/updateNodeHourPrice", Role: admin, Handler: w(h.APIUpdateNodeHourPrice)},
		{Method: "POST", Pattern: "/api/v1/workspaces/{alias}/computes/{name}/{action:start|stop|restart}", Role: user, Handler: w(h.APIWorkspacePower)}, // per object: the instance's assigned user

		// Experiment and run pages. Cancel also needs the submitter or an
		// Admin (checked in the handler). Each page answers htmx polls of
		// its live parts itself; a sweep's dashboard is part of its
		// parent's run page.
		{Method: "GET", Pattern: "/experiments", Role: reader, Handler: w(h.Experiments), Cached: true},
		{Method: "GET", Pattern: "/experiments/{name}", Role: reader, Handler: w(h.Experiment), Cached: true},
		{Method: "GET", Pattern: "/runs", Role: reader, Handler: w(h.RunsList), Cached: true},
		{Method: "GET", Pattern: "/runs/new", Role: ds, Handler: w(h.SubmitForm)},
		{Method: "POST", Pattern: "/runs/new", Role: ds, Handler: w(h.SubmitPost)},
		{Method: "POST", Pattern: "/runs/new/upload", Role: ds, Handler: w(h.SubmitUpload)},
		// The argument list the Arguments box gives, as the user types.
		{Method: "POST", Pattern: "/runs/new/arguments", Role: ds, Handler: w(h.ArgumentsPreview)},
		// The HyperDrive form; its add/remove-parameter buttons post the whole form.
		{Method: "GET", Pattern: "/runs/new/hyperdrive", Role: ds, Handler: w(h.HyperdriveForm)},
		{Method: "POST", Pattern: "/runs/new/hyperdrive", Role: ds, Handler: w(h.HyperdrivePost)},
		{Method: "POST", Pattern: "/runs/new/hyperdrive/validate", Role: ds, Handler: w(h.HyperdriveValidate)},
		{Method: "GET", Pattern: "/runs/{runId}", Role: reader, Handler: w(h.RunPage), Cached: true},
		{Method: "GET", Pattern: "/runs/{runId}/log", Role: reader, Handler: w(h.RunLog)},
		{Method: "GET", Pattern: "/runs/{runId}/outputs/*", Role: reader, Handler: w(h.RunOutputFile)},
		{Method: "GET", Pattern: "/runs/{runId}/snapshot/*", Role: reader, Handler: w(h.RunSnapshotFile)},
		{Method: "POST", Pattern: "/runs/{runId}/cancel", Role: ds, Handler: w(h.CancelRunPage)},
		{Method: "POST", Pattern: "/runs/{runId}/resubmit", Role: ds, Handler: w(h.ResubmitRun)},

		// Snapshots: content-addressed source folders.
		{Method: "POST", Pattern: "/api/v1/snapshots/missing", Role: ds, Handler: w(h.APIMissingBlobs)},
		{Method: "PUT", Pattern: "/api/v1/blobs/{sha256}", Role: ds, Handler: w(h.APIPutBlob)},
		{Method: "POST", Pattern: "/api/v1/snapshots", Role: ds, Handler: w(h.APICreateSnapshot)},
		{Method: "POST", Pattern: "/api/v1/snapshots/archive", Role: ds, Handler: w(h.APIUploadArchive)},
		{Method: "GET", Pattern: "/api/v1/snapshots/{id}", Role: reader, Handler: w(h.APIGetSnapshot)},
		{Method: "GET", Pattern: "/api/v1/snapshots/{id}/files/*", Role: reader, Handler: w(h.APISnapshotFile)},

		// Experiments, runs and sweeps JSON API (cancel: the submitter or an Admin).
		{Method: "POST", Pattern: "/api/v1/experiments", Role: ds, Handler: w(h.APICreateExperiment)},
		{Method: "GET", Pattern: "/api/v1/experiments", Role: reader, Handler: w(h.APIListExperiments)},
		{Method: "POST", Pattern: "/api/v1/runs", Role: ds, Handler: w(h.APISubmitRun)},
		{Method: "POST", Pattern: "/api/v1/sweeps", Role: ds, Handler: w(h.APISubmitSweep)},
		{Method: "GET", Pattern: "/api/v1/runs", Role: reader, Handler: w(h.APIListRuns), Cached: true},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}", Role: reader, Handler: w(h.APIGetRun), Cached: true},
		{Method: "POST", Pattern: "/api/v1/runs/{runId}/cancel", Role: ds, Handler: w(h.APICancelRun)},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}/logs", Role: reader, Handler: w(h.APIRunLogs)},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}/outputs", Role: reader, Handler: w(h.APIRunOutputs)},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}/outputs/*", Role: reader, Handler: w(h.APIRunOutputFile)},
		{Method: "GET", Pattern: "/api/v1/runs/{runId}/metrics/*", Role: reader, Handler: w(h.APIRunMetric)},

		// MLflow tracking REST API.
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

		// Profile: every role has one, with its own tokens and sessions.
		{Method: "GET", Pattern: "/profile", Role: reader, Handler: w(h.Profile)},
		{Method: "POST", Pattern: "/profile/tokens", Role: reader, Handler: w(h.CreateToken)},
		{Method: "POST", Pattern: "/profile/tokens/{id}/revoke", Role: reader, Handler: w(h.RevokeToken)},
		{Method: "POST", Pattern: "/profile/sessions/revoke", Role: reader, Handler: w(h.SignOutEverywhere)},
		{Method: "GET", Pattern: "/api/v1/me", Role: reader, Handler: w(h.Me)},

		// Audit log and session kill switch.
		{Method: "GET", Pattern: "/audit", Role: admin, Handler: w(h.AuditLog)},
		{Method: "GET", Pattern: "/audit/sessions", Role: admin, Handler: w(h.AuditSessions)},
		{Method: "POST", Pattern: "/audit/sessions/{handle}/revoke", Role: admin, Handler: w(h.RevokeSession)},
	}...)
	return rs
}

// mount registers the table on a router, each route behind its role check.
func mount(r chi.Router, h *handlers.Handlers, routes []Route, cache *pagecache.Cache) {
	for _, rt := range routes {
		handler := http.Handler(rt.Handler)
		if rt.Cached && cache != nil {
			handler = cache.Handler(handler)
		}
		if rt.Role != compute.RoleNone {
			handler = requireRole(h, rt.Role, rt.AllowRunToken)(handler)
		}
		r.Method(rt.Method, rt.Pattern, handler)
	}
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, path, http.StatusSeeOther) }
}
