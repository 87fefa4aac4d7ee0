package handlers

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/pages"
)

// maxBulk bounds one command over a selection (a page of the list is 25).
const maxBulk = 100

// bulkActions are the list's commands over checked rows, by tab, as Studio
// offers them: instances can be started, stopped, restarted and deleted;
// clusters deleted; attached computes detached.
func bulkActions(tab string) []string {
	switch tab {
	case compute.TabInstances:
		return []string{"start", "stop", "restart", "delete"}
	case compute.TabClusters:
		return []string{"delete"}
	case compute.TabSlurm, compute.TabAttached:
		return []string{"detach"}
	}
	return nil
}

// bulkLoss says what a command over a selection loses, for its one
// confirmation ("" when nothing is lost: no confirmation).
func bulkLoss(action string) string {
	switch action {
	case "stop":
		return "Stopping ends everything running on them (runs are canceled); their files are kept."
	case "restart":
		return "Restarting ends everything running on them (runs are canceled); their files are kept."
	case "delete":
		return "Deleting removes them for good, with their nodes and files; runs on them are canceled."
	case "detach":
		return "Detaching removes them from Trainyard (runs on them are canceled); the machines themselves are kept."
	}
	return ""
}

// ComputeBulk handles POST /computes/bulk, the list's command bar: action
// and the checked names (sel). A command that loses something first answers
// one confirmation naming every selected compute and what is lost; with
// confirm=1 (or for start) it is carried out on each, with the same role and
// per-object checks as one at a time, and each outcome is reported.
func (h *Handlers) ComputeBulk(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return compute.Invalid("sel", "The selection could not be read: %v.", err)
	}
	action, tab := r.PostForm.Get("action"), r.PostForm.Get("tab")
	if !slices.Contains(bulkActions(tab), action) {
		return compute.Invalid("action", "%q is not a command of this list.", action)
	}
	var names []string
	for _, n := range r.PostForm["sel"] {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	vm := pages.BulkVM{Action: action, Label: bulkLabel(action), Tab: tab, Names: names, Loss: bulkLoss(action)}
	switch {
	case len(names) == 0:
		vm.Error = "Select one or more computes first (the boxes at the start of each row)."
		return h.render(w, r, http.StatusOK, pages.BulkPanel(vm))
	case len(names) > maxBulk:
		return compute.Invalid("sel", "At most %d computes at once, not %d.", maxBulk, len(names))
	case vm.Loss != "" && r.PostForm.Get("confirm") != "1":
		return h.render(w, r, http.StatusOK, pages.BulkPanel(vm))
	}
	for _, name := range names {
		var err error
		switch action {
		case "start", "stop", "restart":
			err = h.power(r, name, compute.PowerAction(action))
		case "delete", "detach":
			err = h.remove(r, name, action == "detach")
		}
		res := pages.BulkResultVM{Name: name}
		if err != nil {
			var coded *compute.CodedError
			var ve *compute.ValidationError
			switch {
			case errors.As(err, &coded):
				res.Error = coded.Message
			case errors.As(err, &ve):
				res.Error = ve.Error()
			case errors.Is(err, compute.ErrNotFound):
				res.Error = "It no longer exists."
			default:
				return err
			}
		}
		vm.Results = append(vm.Results, res)
	}
	w.Header().Set("HX-Trigger", "computes-changed")
	return h.render(w, r, http.StatusOK, pages.BulkPanel(vm))
}

func bulkLabel(action string) string {
	if action == "" {
		return ""
	}
	return strings.ToUpper(action[:1]) + action[1:]
}
