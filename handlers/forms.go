package handlers

import (
	"net/http"
)

// FormRoutes are the three routes of one form: show, post and live validate.
type FormRoutes struct {
	Path     string
	Show     http.HandlerFunc
	Post     http.HandlerFunc
	Validate http.HandlerFunc
}

// Form returns the routes of the create wizard or attach form at path
// (/computes/new/cluster, /computes/attach/slurm, …). The route table names
// every form's path; one that names no form is a mistake in the table, so
// it panics when the server is built.
func (h *Handlers) Form(path string) FormRoutes {
	specs := []*formSpec{clusterForm(), instanceForm()}
	for _, a := range attachTypes {
		specs = append(specs, attachForm(a.id))
	}
	for _, f := range specs {
		if f.path == path {
			return FormRoutes{Path: f.path, Show: h.Wrap(h.showForm(f)), Post: h.Wrap(h.postForm(f)), Validate: h.Wrap(h.validateField(f))}
		}
	}
	panic("handlers: no form at " + path)
}

// AttachIndex handles GET /computes/attach: the first attach form.
func (h *Handlers) AttachIndex(w http.ResponseWriter, r *http.Request) error {
	http.Redirect(w, r, "/computes/attach/virtualmachine", http.StatusSeeOther)
	return nil
}
