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
}

// Routes is the one table of every route the server answers.
func Routes(h *handlers.Handlers, static http.Handler) []Route {
	w := h.Wrap
	rs := []Route{
		// Public: health, static files, the login link.
		{"GET", "/healthz", compute.RoleNone, h.Health},
		{"GET", "/static/*", compute.RoleNone, static.ServeHTTP},
		{"GET", "/login", compute.RoleNone, w(h.Login)},
		{"GET", "/signed-out", compute.RoleNone, w(h.SignedOut)},
		{"POST", "/logout", compute.RoleNone, w(h.Logout)},

		// Compute pages.
		{"GET", "/", compute.RoleReader, redirectTo("/computes")},
		{"GET", "/computes", compute.RoleReader, w(h.ComputeList)},
		{"GET", "/computes/attach", compute.RoleComputeOperator, w(h.AttachIndex)},
		{"GET", "/computes/{name}", compute.RoleReader, w(h.ComputeDetails)},
		// Start/stop/restart need DataScientist (and the instance's owner);
		// delete/detach check ComputeOperator in the handler.
		{"POST", "/computes/{name}/{action}", compute.RoleDataScientist, w(h.ComputeAction)},

		// JSON API (Azure Resource Manager shape).
		{"GET", "/api/v1/computes", compute.RoleReader, w(h.APIListComputes)},
		{"GET", "/api/v1/computes/{name}", compute.RoleReader, w(h.APIGetCompute)},
		{"PUT", "/api/v1/computes/{name}", compute.RoleComputeOperator, w(h.APIPutCompute)},
		{"DELETE", "/api/v1/computes/{name}", compute.RoleComputeOperator, w(h.APIDeleteCompute)},
		{"POST", "/api/v1/computes/{name}/listNodes", compute.RoleReader, w(h.APIListNodes)},
		{"POST", "/api/v1/computes/{name}/{action:start|stop|restart}", compute.RoleDataScientist, w(h.APIPower)},
	}
	// Create wizards and attach forms.
	for _, f := range h.Forms() {
		rs = append(rs,
			Route{"GET", f.Path, compute.RoleComputeOperator, f.Show},
			Route{"POST", f.Path, compute.RoleComputeOperator, f.Post},
			Route{"POST", f.Path + "/validate", compute.RoleComputeOperator, f.Validate},
		)
	}
	return rs
}

// mount registers the table on a router, each route behind its role check.
func mount(r chi.Router, h *handlers.Handlers, routes []Route) {
	for _, rt := range routes {
		handler := http.Handler(rt.Handler)
		if rt.Role != compute.RoleNone {
			handler = requireRole(h, rt.Role)(handler)
		}
		r.Method(rt.Method, rt.Pattern, handler)
	}
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, path, http.StatusSeeOther) }
}
