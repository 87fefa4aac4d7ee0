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

// Forms lists the create wizards and attach forms with their routes.
func (h *Handlers) Forms() []FormRoutes {
	specs := []*formSpec{clusterForm(), instanceForm()}
	for _, a := range attachTypes {
		specs = append(specs, attachForm(a.id))
	}
	out := make([]FormRoutes, 0, len(specs))
	for _, f := range specs {
		out = append(out, FormRoutes{Path: f.path, Show: h.Wrap(h.showForm(f)), Post: h.Wrap(h.postForm(f)), Validate: h.Wrap(h.validateField(f))})
	}
	return out
}

// AttachIndex handles GET /computes/attach: the first attach form.
func (h *Handlers) AttachIndex(w http.ResponseWriter, r *http.Request) error {
	http.Redirect(w, r, "/computes/attach/virtualmachine", http.StatusSeeOther)
	return nil
}
