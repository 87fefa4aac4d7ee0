package web

import (
	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
)

// runPageRoutes are the browser pages for experiments, runs and submitting.
// Reading needs Reader; submitting, resubmitting and cancelling need
// DataScientist (cancel also the submitter or an Admin, checked in the
// handler). Each page answers htmx polls of its live parts itself.
func runPageRoutes(h *handlers.Handlers) []Route {
	w := h.Wrap
	const (
		reader = compute.RoleReader
		ds     = compute.RoleDataScientist
	)
	return []Route{
		{Method: "GET", Pattern: "/experiments", Role: reader, Handler: w(h.Experiments)},
		{Method: "GET", Pattern: "/experiments/{name}", Role: reader, Handler: w(h.Experiment)},

		{Method: "GET", Pattern: "/runs", Role: reader, Handler: w(h.RunsList)},
		{Method: "GET", Pattern: "/runs/new", Role: ds, Handler: w(h.SubmitForm)},
		{Method: "POST", Pattern: "/runs/new", Role: ds, Handler: w(h.SubmitPost)},
		{Method: "POST", Pattern: "/runs/new/upload", Role: ds, Handler: w(h.SubmitUpload)},
		{Method: "GET", Pattern: "/runs/{runId}", Role: reader, Handler: w(h.RunPage)},
		{Method: "GET", Pattern: "/runs/{runId}/log", Role: reader, Handler: w(h.RunLog)},
		{Method: "GET", Pattern: "/runs/{runId}/outputs/*", Role: reader, Handler: w(h.RunOutputFile)},
		{Method: "GET", Pattern: "/runs/{runId}/snapshot/*", Role: reader, Handler: w(h.RunSnapshotFile)},
		{Method: "POST", Pattern: "/runs/{runId}/cancel", Role: ds, Handler: w(h.CancelRunPage)},
		{Method: "POST", Pattern: "/runs/{runId}/resubmit", Role: ds, Handler: w(h.ResubmitRun)},
	}
}
