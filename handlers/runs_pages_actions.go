package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
)

// CancelRunPage handles POST /runs/{runId}/cancel from the pages: only the
// submitter or an Admin may cancel. htmx gets the runs-changed event (the
// live parts refresh at once); a plain form post is redirected back.
func (h *Handlers) CancelRunPage(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "runId")
	err := h.cancelRun(r, id)
	h.audit(r, "cancel", "run/"+id, err)
	if err != nil {
		return err
	}
	h.kickRuns()
	if isHTMX(r) {
		w.Header().Set("HX-Trigger", "runs-changed")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	setFlash(w, "Run "+id+" is being canceled.")
	http.Redirect(w, r, runPath(id), http.StatusSeeOther)
	return nil
}

// ResubmitRun handles POST /runs/{runId}/resubmit: a new run of the same
// snapshot with the same script, arguments, target and environment, checked
// as POST /api/v1/runs checks a submit. The browser goes to the new run.
func (h *Handlers) ResubmitRun(w http.ResponseWriter, r *http.Request) error {
	old, err := h.cfg.Store.GetRun(r.Context(), chi.URLParam(r, "runId"))
	if err != nil {
		return err
	}
	if old.Kind != compute.RunKindScript || old.SnapshotID == "" {
		return compute.Conflictf("CannotResubmit", "runId", "Run '%s' was not submitted as a script (it was created over the MLflow API), so there is nothing to run again.", old.ID)
	}
	fs := formSubmit{
		ExperimentName: old.ExperimentName, SnapshotID: old.SnapshotID, Script: old.Script, Arguments: old.Arguments,
		Target: old.Target, NodeCount: &old.NodeCount, RunConfiguration: json.RawMessage(old.RunConfiguration),
	}
	if old.MaxRunDuration > 0 {
		s := int64(old.MaxRunDuration / time.Second)
		fs.MaxRunDurationSeconds = &s
	}
	e := old.Environment
	fs.Environment.EnvironmentVariables = e.Variables
	fs.Environment.Python.InterpreterPath = e.InterpreterPath
	fs.Environment.Python.UserManagedDependencies = e.UserManagedDependencies
	fs.Environment.Python.CondaDependencies = json.RawMessage(e.CondaDependencies)
	fs.Environment.Docker.Enabled, fs.Environment.Docker.BaseImage = e.DockerEnabled, e.DockerBaseImage
	run, err := h.submitForm(r, fs)
	if err != nil {
		var ve *compute.ValidationError
		if errors.As(err, &ve) {
			// The old settings no longer pass (e.g. the target was deleted):
			// say so in one message.
			return compute.Conflictf("CannotResubmit", "runId", "Run '%s' cannot be resubmitted as it was: %s", old.ID, ve.Error())
		}
		return err
	}
	setFlash(w, "Run "+run.ID+" was submitted (a resubmit of "+old.ID+").")
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", runPath(run.ID))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	http.Redirect(w, r, runPath(run.ID), http.StatusSeeOther)
	return nil
}
