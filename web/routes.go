package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
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
}

// Routes is the one table of every route the server answers.
func Routes(h *handlers.Handlers, static http.Handler) []Route {
	w := h.Wrap
	rs := []Route{
		// Public: health, static files, the login link.
		{Method: "GET", Pattern: "/healthz", Role: compute.RoleNone, Handler: h.Health},
		{Method: "GET", Pattern: "/static/*", Role: compute.RoleNone, Handler: static.ServeHTTP},
		{Method: "GET", Pattern: "/login", Role: compute.RoleNone, Handler: w(h.Login)},
		{Method: "GET", Pattern: "/signed-out", Role: compute.RoleNone, Handler: w(h.SignedOut)},
		{Method: "POST", Pattern: "/logout", Role: compute.RoleNone, Handler: w(h.Logout)},

		// Compute pages.
		{Method: "GET", Pattern: "/", Role: compute.RoleReader, Handler: redirectTo("/computes")},
		{Method: "GET", Pattern: "/computes", Role: compute.RoleReader, Handler: w(h.ComputeList)},
		{Method: "GET", Pattern: "/computes/attach", Role: compute.RoleComputeOperator, Handler: w(h.AttachIndex)},
		{Method: "GET", Pattern: "/computes/{name}", Role: compute.RoleReader, Handler: w(h.ComputeDetails)},
		// Start/stop/restart: an operator, or the instance's assigned data
		// scientist (checked per object in the handler); delete/detach:
		// ComputeOperator, checked in the handler.
		{Method: "POST", Pattern: "/computes/{name}/{action}", Role: compute.RoleComputeUser, Handler: w(h.ComputeAction)},
		// Replace an SSH target's credentials (write-only form on the details page).
		{Method: "POST", Pattern: "/computes/{name}/update-secrets", Role: compute.RoleComputeOperator, Handler: w(h.UpdateSecretsPage)},
		// Min/max nodes and idle seconds of a Slurm partition of power-saving nodes.
		{Method: "POST", Pattern: "/computes/{name}/scale-settings", Role: compute.RoleComputeOperator, Handler: w(h.ScaleSettingsPage)},

		// JSON API (Azure Resource Manager shape).
		{Method: "GET", Pattern: "/api/v1/computes", Role: compute.RoleReader, Handler: w(h.APIListComputes)},
		{Method: "GET", Pattern: "/api/v1/computes/{name}", Role: compute.RoleReader, Handler: w(h.APIGetCompute)},
		{Method: "PUT", Pattern: "/api/v1/computes/{name}", Role: compute.RoleComputeOperator, Handler: w(h.APIPutCompute)},
		{Method: "DELETE", Pattern: "/api/v1/computes/{name}", Role: compute.RoleComputeOperator, Handler: w(h.APIDeleteCompute)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/listNodes", Role: compute.RoleReader, Handler: w(h.APIListNodes)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/approveHostKey", Role: compute.RoleComputeOperator, Handler: w(h.APIApproveHostKey)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/updateSecrets", Role: compute.RoleComputeOperator, Handler: w(h.APIUpdateSecrets)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/updateScaleSettings", Role: compute.RoleComputeOperator, Handler: w(h.APIUpdateScaleSettings)},
		{Method: "POST", Pattern: "/api/v1/computes/{name}/{action:start|stop|restart}", Role: compute.RoleComputeUser, Handler: w(h.APIPower)}, // per object, as above
	}
	rs = append(rs, identityRoutes(h)...)
	rs = append(rs, runRoutes(h)...)
	rs = append(rs, runPageRoutes(h)...)
	rs = append(rs, sweepRoutes(h)...)
	// Create wizards and attach forms.
	for _, f := range h.Forms() {
		rs = append(rs,
			Route{Method: "GET", Pattern: f.Path, Role: compute.RoleComputeOperator, Handler: f.Show},
			Route{Method: "POST", Pattern: f.Path, Role: compute.RoleComputeOperator, Handler: f.Post},
			Route{Method: "POST", Pattern: f.Path + "/validate", Role: compute.RoleComputeOperator, Handler: f.Validate},
		)
	}
	return rs
}

// mount registers the table on a router, each route behind its role check.
func mount(r chi.Router, h *handlers.Handlers, routes []Route) {
	for _, rt := range routes {
		handler := http.Handler(rt.Handler)
		if rt.Role != compute.RoleNone {
			handler = requireRole(h, rt.Role, rt.AllowRunToken)(handler)
		}
		r.Method(rt.Method, rt.Pattern, handler)
	}
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, path, http.StatusSeeOther) }
}
