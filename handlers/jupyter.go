package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
)

// JupyterProxy is what serves an instance's Jupyter (web/jupyter.Manager).
type JupyterProxy interface {
	Handler(ctx context.Context, t *compute.Target, so compute.SessionOpener) (http.Handler, error)
}

// Jupyter handles /computes/{name}/apps/jupyter/…, every method: the
// instance's own Jupyter Notebook, started on demand in its sandbox and
// reverse-proxied, its kernels' WebSockets included. Only the instance's
// user gets through (403 for everyone else, audited); a WebSocket upgrade
// must come from this server's origin, as every POST, PUT, PATCH and
// DELETE must (CrossOriginProtection).
func (h *Handlers) Jupyter(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	if h.cfg.Jupyter == nil {
		return compute.NotFoundf("name", "This server does not serve Jupyter (jupyter-notebook is not installed).")
	}
	t, so, err := h.appsOpener(r, name, "jupyter")
	if err != nil {
		return err
	}
	upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	if upgrade && !sameOrigin(r) {
		err := &compute.CodedError{Kind: compute.ErrForbidden, Code: "BadOrigin", Message: "A WebSocket to Jupyter must come from this server's own pages."}
		h.audit(r, "open jupyter", auditObject("compute", name), err)
		return err
	}
	if r.URL.Path == strings.TrimSuffix(jupyterPrefix(name), "/") {
		http.Redirect(w, r, jupyterPrefix(name)+"tree", http.StatusSeeOther)
		return nil
	}
	proxy, err := h.cfg.Jupyter.Handler(r.Context(), t, so)
	if err != nil {
		return err
	}
	if upgrade {
		clearDeadlines(w)
	}
	// Jupyter's pages run inline scripts and eval (RequireJS); they carry
	// Jupyter's own policy instead of Trainyard's strict one.
	w.Header().Del("Content-Security-Policy")
	proxy.ServeHTTP(w, r)
	return nil
}

func jupyterPrefix(name string) string { return "/computes/" + url.PathEscape(name) + "/apps/jupyter/" }

// sameOrigin reports whether a request's Origin, if it has one, is this
// server (a browser always sends it on a WebSocket upgrade; a client
// without one is no browser, so no other site's page).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
