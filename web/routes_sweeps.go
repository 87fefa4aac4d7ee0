package web

import (
	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
)

// sweepRoutes are the browser's HyperDrive form: showing it, its live
// validation, and submitting it (also the add/remove-parameter buttons,
// which post the whole form). All need DataScientist, as submitting a run
// does; the posts go through the router's cross-origin protection like
// every other. A sweep's dashboard is part of its parent's run page
// (GET /runs/{runId}, Reader), which answers its htmx polls itself.
func sweepRoutes(h *handlers.Handlers) []Route {
	w := h.Wrap
	const ds = compute.RoleDataScientist
	return []Route{
		{Method: "GET", Pattern: "/runs/new/hyperdrive", Role: ds, Handler: w(h.HyperdriveForm)},
		{Method: "POST", Pattern: "/runs/new/hyperdrive", Role: ds, Handler: w(h.HyperdrivePost)},
		{Method: "POST", Pattern: "/runs/new/hyperdrive/validate", Role: ds, Handler: w(h.HyperdriveValidate)},
	}
}
