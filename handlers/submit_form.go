package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/runconfig"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// formSubmit is the body of POST /api/v1/runs (docs/API-runs.md) as the
// browser's form and Resubmit build it: both go through the API's own
// checks (newRun), so a run submitted from a page is held to the same rules.
type formSubmit struct {
	ExperimentName        string   `json:"experimentName"`
	SnapshotID            string   `json:"snapshotId"`
	Script                string   `json:"script"`
	Arguments             []string `json:"arguments"`
	Target                string   `json:"target"`
	NodeCount             *int     `json:"nodeCount,omitempty"`
	MaxRunDurationSeconds *int64   `json:"maxRunDurationSeconds,omitempty"`
	// Environment has the API's shape, as a run reads back.
	Environment      apiEnvironment  `json:"environment"`
	RunConfiguration json.RawMessage `json:"runConfiguration,omitempty"`
}

// submitForm checks and stores a run as POST /api/v1/runs does, and wakes
// the dispatcher.
func (h *Handlers) submitForm(r *http.Request, fs formSubmit) (*compute.Run, error) {
	if len(fs.RunConfiguration) == 0 {
		fs.RunConfiguration = nil
	}
	if len(fs.Environment.Python.CondaDependencies) == 0 {
		fs.Environment.Python.CondaDependencies = nil
	}
	body, err := json.Marshal(fs)
	if err != nil {
		return nil, err
	}
	var req submitRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	run, err := h.newRun(r, &req)
	if err != nil {
		return nil, err
	}
	err = h.cfg.Store.CreateRun(r.Context(), run)
	h.audit(r, "submit", "run/"+run.ID, err)
	if err != nil {
		return nil, err
	}
	h.kickRuns()
	return run, nil
}

// submitState is the submit form between requests: the values typed, the
// snapshot uploaded, the run configuration carried, and the errors by field.
type submitState struct {
	v       url.Values
	errs    *compute.ValidationError
	snap    *compute.Snapshot
	notes   []string
	rcName  string
	rcText  string
	rcUsed  *runconfig.RunConfig
	summary string
}

// SubmitForm handles GET /runs/new: the form, with the experiment and the
// target taken from the query when given.
func (h *Handlers) SubmitForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := url.Values{"experiment": {q.Get("experiment")}, "target": {q.Get("target")}, "envType": {"python"}, "nodeCount": {"1"}}
	return h.renderSubmit(w, r, http.StatusOK, &submitState{v: v, errs: &compute.ValidationError{}})
}

// SubmitPost handles POST /runs/new: the source (an uploaded folder or
// archive, or the snapshot an earlier upload made), an optional .runconfig
// and the fields become a run, checked like POST /api/v1/runs; the browser
// goes to the new run. Problems show under their fields with every value
// kept; nothing is created unless all is well (an uploaded snapshot is
// kept, so fixing a field does not mean uploading again).
func (h *Handlers) SubmitPost(w http.ResponseWriter, r *http.Request) error {
	st, up, err := h.openSubmit(w, r)
	if err != nil {
		return err
	}
	defer up.Close()
	if len(st.errs.Fields) > 0 {
		// The form could not be read to its end: say why, and only that.
		return h.renderSubmit(w, r, http.StatusUnprocessableEntity, st)
	}
	h.takeSource(r, up, st)
	h.takeRunConfig(up, st)
	fs := parseSubmitValues(st)
	status := http.StatusUnprocessableEntity
	if len(st.errs.Fields) == 0 {
		run, err := h.submitForm(r, fs)
		if err == nil {
			setFlash(w, "Run "+run.ID+" was submitted.")
			http.Redirect(w, r, runPath(run.ID), http.StatusSeeOther)
			return nil
		}
		if mapSubmitError(err, st) != nil {
			return err
		}
		status = h.formStatus(r, err)
	}
	return h.renderSubmit(w, r, status, st)
}

// SubmitUpload handles POST /runs/new/upload, which the form makes as soon
// as a folder or an archive is chosen: the snapshot is made and the source
// part of the form comes back with the script list filled from it.
func (h *Handlers) SubmitUpload(w http.ResponseWriter, r *http.Request) error {
	st, up, err := h.openSubmit(w, r)
	if err != nil {
		return err
	}
	defer up.Close()
	if !up.hasSource() && st.v.Get("snapshotId") == "" {
		st.errs.Add("source", "Choose a folder, or a .zip or .tar.gz of it.")
	} else {
		h.takeSource(r, up, st)
	}
	if !isHTMX(r) {
		return h.renderSubmit(w, r, http.StatusOK, st)
	}
	// htmx swaps only 2xx answers: problems are shown in the part itself.
	return h.render(w, r, http.StatusOK, pages.SubmitSource(h.sourceVM(st)))
}

// openSubmit checks the role and reads a submit form: its values, what it
// uploaded, and the problems reading it (on their fields).
func (h *Handlers) openSubmit(w http.ResponseWriter, r *http.Request) (*submitState, *uploadSpool, error) {
	if err := require(r, compute.RoleDataScientist); err != nil {
		return nil, nil, err
	}
	st := &submitState{errs: &compute.ValidationError{}}
	v, up, err := h.readSubmit(w, r)
	if err := formErr(err, st.errs); err != nil {
		up.Close()
		return nil, nil, err
	}
	if v == nil {
		v = url.Values{}
	}
	st.v = v
	return st, up, nil
}

// formErr records a problem reading the form on its field; other errors
// are returned.
func formErr(err error, errs *compute.ValidationError) error {
	if err == nil {
		return nil
	}
	var ve *compute.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			errs.Add(f.Field, "%s", f.Message)
		}
		return nil
	}
	return err
}

// takeSource makes the snapshot from the uploaded folder or archive, or
// finds the one an earlier upload made.
func (h *Handlers) takeSource(r *http.Request, up *uploadSpool, st *submitState) {
	if st.errs.For("source") != "" {
		return
	}
	if up.hasSource() {
		snap, notes, err := h.importSource(r.Context(), up, actor(r))
		if formErr(err, st.errs) != nil {
			h.cfg.Logger.ErrorContext(r.Context(), "importing an uploaded source", "err", err)
			st.errs.Add("source", "The upload could not be stored; try again.")
		}
		st.snap, st.notes = snap, notes
		return
	}
	id := strings.TrimSpace(st.v.Get("snapshotId"))
	if id == "" {
		st.errs.Add("source", "Upload the source folder, or a .zip or .tar.gz of it.")
		return
	}
	snap, err := h.cfg.Store.GetSnapshot(r.Context(), id)
	if err != nil {
		st.errs.Add("source", "The uploaded source is no longer there; upload it again.")
		return
	}
	st.snap = snap
}

// takeRunConfig reads an uploaded (or carried) .runconfig.
func (h *Handlers) takeRunConfig(up *uploadSpool, st *submitState) {
	st.rcName, st.rcText = st.v.Get("runconfigName"), st.v.Get("runconfigText")
	if st.v.Get("runconfigClear") != "" {
		st.rcName, st.rcText = "", ""
	}
	if up != nil && up.rcError != "" {
		st.errs.Add("runconfig", "%s", up.rcError)
		return
	}
	if up != nil && up.rcName != "" {
		st.rcName, st.rcText = up.rcName, up.rcText
	}
	if st.rcText == "" {
		return
	}
	if st.rcName == "" {
		st.rcName = "run configuration"
	}
	rc, err := runconfig.Parse(st.rcName, []byte(st.rcText))
	if err == nil {
		err = rc.Validate()
	}
	if err != nil {
		st.errs.Add("runconfig", "%s", err.Error())
		return
	}
	st.rcUsed = rc
	showRunConfig(st.v, rc)
}

// showRunConfig puts a run configuration's settings into the form's
// values, so the form shows what the run will use.
func showRunConfig(v url.Values, rc *runconfig.RunConfig) {
	v.Set("script", rc.Script)
	v.Set("arguments", runconfig.JoinArguments(rc.Arguments))
	v.Set("target", rc.EffectiveTarget())
	v.Set("nodeCount", "1")
	if rc.NodeCount != nil {
		v.Set("nodeCount", strconv.Itoa(*rc.NodeCount))
	}
	v.Set("maxRunDuration", "")
	if rc.MaxRunDurationSeconds != nil {
		v.Set("maxRunDuration", strconv.FormatInt(*rc.MaxRunDurationSeconds, 10))
	}
	v.Set("envType", "python")
	v.Set("interpreterPath", "")
	var vars []string
	if e := rc.Environment; e != nil {
		for _, k := range slices.Sorted(maps.Keys(e.EnvironmentVariables)) {
			vars = append(vars, k+"="+e.EnvironmentVariables[k])
		}
		if py := e.Python; py != nil {
			v.Set("interpreterPath", py.InterpreterPath)
			if !py.UserManagedDependencies {
				v.Set("envType", "conda")
				if b, err := json.MarshalIndent(py.CondaDependencies, "", "  "); err == nil && py.CondaDependencies != nil {
					v.Set("condaDependencies", string(b))
				} else if py.CondaDependenciesFile != "" {
					v.Set("condaDependencies", py.CondaDependenciesFile)
				}
			}
		}
		if d := e.Docker; d != nil && d.Enabled {
			v.Set("envType", "docker")
			v.Set("dockerImage", d.BaseImage)
		}
	}
	v.Set("envVars", strings.Join(vars, "\n"))
}

// lines splits a textarea into its non-empty lines (a trailing \r is cut).
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// parseSubmitValues turns the form (or the run configuration it carries)
// into a submit, recording what the form itself can tell is wrong.
func parseSubmitValues(st *submitState) formSubmit {
	v, errs := st.v, st.errs
	var fs formSubmit
	fs.ExperimentName = strings.TrimSpace(v.Get("experiment"))
	if msg := compute.ValidateExperimentName(fs.ExperimentName); msg != "" {
		errs.Add("experiment", "%s", msg)
	}
	if st.snap != nil {
		fs.SnapshotID = st.snap.ID
	}
	fs.Script = strings.TrimSpace(v.Get("script"))
	if fs.Script == "" {
		errs.Add("script", "Choose the script to run (a file of the uploaded folder, e.g. train.py).")
	}
	args, err := runconfig.SplitArguments(v.Get("arguments"))
	if err != nil {
		errs.Add("arguments", "The arguments cannot be read: %s. Quote a value with spaces or special characters ('a b'), or give one argument per line.", err)
		args = []string{}
	}
	fs.Arguments = args
	fs.Target = strings.TrimSpace(v.Get("target"))
	if fs.Target == "" {
		fs.Target = compute.LocalTargetName
	}
	nodes := 1
	if s := strings.TrimSpace(v.Get("nodeCount")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			errs.Add("nodeCount", "The node count is a whole number from 1 to 100 (got %q).", s)
		} else {
			nodes = n
		}
	}
	fs.NodeCount = &nodes
	if secs, msg := parseMaxDuration(v.Get("maxRunDuration")); msg != "" {
		errs.Add("maxRunDuration", "%s", msg)
	} else {
		fs.MaxRunDurationSeconds = secs
	}
	vars := map[string]string{}
	for i, l := range lines(v.Get("envVars")) {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		k, val, ok := strings.Cut(l, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			errs.Add("envVars", "Line %d: write NAME=value (got %q).", i+1, l)
			continue
		}
		vars[k] = val
	}
	if len(vars) > 0 {
		fs.Environment.EnvironmentVariables = vars
	}
	py := &fs.Environment.Python
	py.InterpreterPath = strings.TrimSpace(v.Get("interpreterPath"))
	switch v.Get("envType") {
	case "python", "":
		py.UserManagedDependencies = true
	case "conda":
		text := strings.TrimSpace(v.Get("condaDependencies"))
		if text == "" {
			errs.Add("condaDependencies", "Enter the conda environment (YAML or JSON) or the pip requirements to record, or choose User-managed Python.")
		}
		if json.Valid([]byte(text)) {
			py.CondaDependencies = json.RawMessage(text)
		} else {
			py.CondaDependencies, _ = json.Marshal(text)
		}
	case "docker":
		py.UserManagedDependencies = true
		fs.Environment.Docker.Enabled = true
		fs.Environment.Docker.BaseImage = strings.TrimSpace(v.Get("dockerImage"))
		if fs.Environment.Docker.BaseImage == "" {
			errs.Add("dockerImage", "Enter the Docker image to record, e.g. mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04.")
		}
	default:
		errs.Add("envType", "Choose an environment.")
	}
	if rc := st.rcUsed; rc != nil {
		if b, err := json.Marshal(rc); err == nil {
			fs.RunConfiguration = b
		}
		if rc.Environment != nil && rc.Environment.Python != nil && rc.Environment.Python.CondaDependencies != nil {
			py.CondaDependencies, _ = json.Marshal(rc.Environment.Python.CondaDependencies)
		}
	}
	return fs
}

// parseMaxDuration reads the max run duration: empty or 0 for no limit,
// whole seconds, or a duration such as 90m or 2h30m.
func parseMaxDuration(s string) (*int64, string) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return nil, ""
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return nil, "The maximum run duration cannot be negative."
		}
		return &n, ""
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Sprintf("Write seconds (3600) or a duration such as 90m or 2h30m (got %q).", s)
	}
	if d < time.Second {
		return nil, "The maximum run duration is at least 1 second; leave it empty for no limit."
	}
	n := int64(d / time.Second)
	return &n, ""
}

// apiFields maps the runs API's field names onto the form's.
var apiFields = map[string]string{
	"experimentName": "experiment", "snapshotId": "source", "script": "script", "nodeCount": "nodeCount",
	"maxRunDurationSeconds": "maxRunDuration", "environment.environmentVariables": "envVars",
	"environment.python.interpreterPath": "interpreterPath", "runConfiguration": "runconfig", "target": "target",
}

// mapSubmitError puts the API's verdict on a submit under the form's
// fields; errors that are not about the input are returned.
func mapSubmitError(err error, st *submitState) error {
	var (
		ve    *compute.ValidationError
		coded *compute.CodedError
	)
	switch {
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			field := apiFields[f.Field]
			if strings.HasPrefix(f.Field, "arguments") {
				field = "arguments"
			}
			if field == "" {
				st.summary = f.Message
				continue
			}
			st.errs.Add(field, "%s", f.Message)
			if st.rcUsed != nil && field != "experiment" && field != "source" {
				st.errs.Add("runconfig", "%s: %s", st.rcName, f.Message)
			}
		}
		return nil
	case errors.As(err, &coded) && coded.Target == "target":
		st.errs.Add("target", "%s", coded.Message)
		if st.rcUsed != nil {
			st.errs.Add("runconfig", "%s: %s", st.rcName, coded.Message)
		}
		return nil
	}
	return err
}

// renderSubmit shows the form with the values, upload and errors kept.
func (h *Handlers) renderSubmit(w http.ResponseWriter, r *http.Request, status int, st *submitState) error {
	vm, err := h.submitVM(r, st)
	if err != nil {
		return err
	}
	return h.render(w, r, status, pages.SubmitRun(vm))
}

// submitVM builds the submit form's view model; the HyperDrive form shows
// the same run fields (hyperdrive_form.go).
func (h *Handlers) submitVM(r *http.Request, st *submitState) (pages.SubmitVM, error) {
	v, errs := st.v, st.errs
	vm := pages.SubmitVM{Action: "/runs/new", CancelHref: "/runs", EnvType: v.Get("envType"), EnvError: errs.For("envType")}
	if vm.EnvType == "" {
		vm.EnvType = "python"
	}
	if h.cfg.Assets != nil {
		vm.ScriptURL = h.cfg.Assets.URL("js/runs.js")
	}
	vm.Page = h.page(r, "Submit a run", "runs", []layout.Crumb{{Label: "Runs", Href: "/runs"}, {Label: "Submit a run"}})
	if n := len(errs.Fields); n > 0 {
		vm.Summary = fmt.Sprintf("Fix %d problem(s) below to submit the run.", n)
		if st.summary != "" {
			vm.Summary += " " + st.summary
		}
	} else if st.summary != "" {
		vm.Summary = st.summary
	}
	vm.Source = h.sourceVM(st)
	vm.RunConfig = pages.RunConfigFileVM{Name: st.rcName, Text: st.rcText, Error: errs.For("runconfig")}
	exps, err := h.cfg.Store.ListExperiments(r.Context())
	if err != nil {
		return vm, err
	}
	for _, e := range exps {
		vm.Experiments = append(vm.Experiments, e.Name)
	}
	targets, err := h.targetOptions(r, v.Get("target"))
	if err != nil {
		return vm, err
	}
	field := func(in components.Input) components.Input {
		in.Error = errs.For(in.Name)
		if in.Value == "" && in.Type != "select" {
			in.Value = v.Get(in.Name)
		}
		return in
	}
	vm.Experiment = field(components.Input{Name: "experiment", Label: "Experiment", Required: true, Autocomplete: "off",
		Hint: "Runs are grouped in experiments; a new name creates one. Letters, digits, _, - and . only.",
		Live: templ.Attributes{"list": "experiment-names"}})
	vm.Arguments = field(components.Input{Name: "arguments", Label: "Arguments", Type: "textarea",
		Hint: "A command line, split as a shell would (--lr 0.01 --name \"my run\"), or one argument per line. They reach the script as they are, never through a shell.",
		Live: templ.Attributes{"hx-post": "/runs/new/arguments", "hx-trigger": "input changed delay:250ms", "hx-target": "#arguments-preview", "hx-swap": "outerHTML"}})
	vm.ArgumentsPreview = argumentsPreview(v.Get("arguments"))
	vm.Target = field(components.Input{Name: "target", Label: "Compute target", Type: "select", Value: orLocal(v.Get("target")), Options: targets})
	vm.NodeCount = field(components.Input{Name: "nodeCount", Label: "Node count", Type: "number", Hint: "Processes to start, one per node (1 on the local target)."})
	vm.MaxDuration = field(components.Input{Name: "maxRunDuration", Label: "Max run duration", Autocomplete: "off",
		Hint: "Seconds (3600) or a duration (90m, 2h30m); empty for no limit. The run is canceled when it is reached."})
	vm.Interpreter = field(components.Input{Name: "interpreterPath", Label: "Python interpreter", Autocomplete: "off",
		Hint: "Empty: the target's python3. Or a path such as /opt/venv/bin/python."})
	vm.Conda = field(components.Input{Name: "condaDependencies", Label: "Dependencies", Type: "textarea",
		Hint: "A conda environment (YAML or JSON) or pip requirements, one per line. Recorded with the run, not installed."})
	vm.Docker = field(components.Input{Name: "dockerImage", Label: "Image", Autocomplete: "off",
		Hint: "E.g. mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04. Recorded with the run; the script runs with the target's python3."})
	vm.EnvVars = field(components.Input{Name: "envVars", Label: "Environment variables", Type: "textarea",
		Hint: "NAME=value, one per line. TRAINYARD_RUN_ID and the MLFLOW_* variables are set for every run."})
	return vm, nil
}

func orLocal(s string) string {
	if strings.TrimSpace(s) == "" {
		return compute.LocalTargetName
	}
	return s
}

// targetOptions lists the targets that can run jobs; a value that is not
// one of them stays selectable so its error shows beside it.
func (h *Handlers) targetOptions(r *http.Request, current string) ([]components.Option, error) {
	targets, _, err := h.cfg.Store.ListTargets(r.Context(), compute.TargetFilter{Limit: 500})
	if err != nil {
		return nil, err
	}
	var out []components.Option
	found := strings.TrimSpace(current) == ""
	for _, t := range targets {
		if h.cfg.Backends.Backend(t.Kind) == nil {
			continue
		}
		out = append(out, components.Option{Value: t.Name, Label: t.Name + " (" + t.Kind.Label() + ")"})
		found = found || strings.EqualFold(t.Name, current)
	}
	if !found {
		out = append(out, components.Option{Value: current, Label: current + " (cannot run jobs here)"})
	}
	return out, nil
}

// sourceVM is the source part of the form: what was uploaded and the
// script picked from it.
func (h *Handlers) sourceVM(st *submitState) pages.SourceVM {
	vm := pages.SourceVM{UploadURL: "/runs/new/upload", Notes: st.notes, Error: st.errs.For("source")}
	script := components.Input{Name: "script", Label: "Script", Required: true, Value: strings.TrimSpace(st.v.Get("script")), Error: st.errs.For("script"), Autocomplete: "off",
		Hint: "The file to run, relative to the source folder, e.g. train.py. Upload the source first to pick it from a list."}
	if s := st.snap; s != nil {
		vm.SnapshotID = s.ID
		vm.Summary = fmt.Sprintf("%s files, %s", thousands(s.FileCount), components.FormatBytes(s.TotalBytes))
		var scripts, others []string
		for _, f := range s.Files {
			switch strings.ToLower(path.Ext(f.Path)) {
			case ".py", ".sh", ".r", ".jl":
				scripts = append(scripts, f.Path)
			default:
				others = append(others, f.Path)
			}
		}
		if len(scripts) == 0 {
			scripts = others
		}
		if script.Value == "" || !slices.Contains(scripts, script.Value) {
			switch {
			case slices.Contains(scripts, "train.py"):
				script.Value = "train.py"
			case len(scripts) == 1:
				script.Value = scripts[0]
			}
		}
		script.Type = "select"
		script.Hint = "The file to run, from the uploaded folder."
		script.Options = []components.Option{{Value: "", Label: "Choose the script"}}
		if script.Value != "" && !slices.Contains(scripts, script.Value) {
			script.Options = append(script.Options, components.Option{Value: script.Value, Label: script.Value + " (not in the upload)"})
		}
		for _, p := range scripts {
			script.Options = append(script.Options, components.Option{Value: p, Label: p})
		}
	}
	vm.Script = script
	return vm
}

// argumentsPreview is the argument list the Arguments box gives.
func argumentsPreview(text string) pages.ArgumentsPreviewVM {
	words, err := runconfig.SplitArguments(text)
	if err != nil {
		return pages.ArgumentsPreviewVM{Error: err.Error()}
	}
	return pages.ArgumentsPreviewVM{Words: words}
}

// ArgumentsPreview handles POST /runs/new/arguments: the submit form's
// preview of the argument list, as the user types.
func (h *Handlers) ArgumentsPreview(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return compute.Invalid("arguments", "The form could not be read: %v.", err)
	}
	return h.render(w, r, http.StatusOK, pages.ArgumentsPreview(argumentsPreview(r.PostForm.Get("arguments"))))
}
