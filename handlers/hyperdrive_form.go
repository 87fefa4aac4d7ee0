package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/compute/runconfig"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// The HyperDrive form (/runs/new/hyperdrive) is the script submit form plus
// a sweep definition. The sweep part becomes the parsed hdconfig
// (runconfig.HDConfig) that POST /api/v1/sweeps accepts as `sweep`, and is
// judged by the very checks the API and `trainyard validate` apply
// (hyperdrive.FromHDConfig → HDConfig.Validate and Sweep.Validate): the
// form only reads its fields and says where each verdict belongs.

// Paths of the HyperDrive form.
const (
	hyperdrivePath         = "/runs/new/hyperdrive"
	hyperdriveValidatePath = hyperdrivePath + "/validate"
	// maxSweepParams bounds the search-space rows a form may have (the
	// multipart reader takes 200 fields in all).
	maxSweepParams = 30
)

// samplingChoices and policyChoices are the form's selects, with the
// hdconfig's spelling as values.
var (
	samplingChoices = []components.Option{
		{Value: string(hyperdrive.SamplingRandom), Label: "Random"},
		{Value: string(hyperdrive.SamplingSobol), Label: "Sobol (random, quasi-random sequence)"},
		{Value: string(hyperdrive.SamplingGrid), Label: "Grid (choice parameters only)"},
		{Value: string(hyperdrive.SamplingBayesian), Label: "Bayesian (choice, uniform, quniform)"},
	}
	policyChoices = []components.Option{
		{Value: string(hyperdrive.NoTermination), Label: "None"},
		{Value: string(hyperdrive.Bandit), Label: "Bandit"},
		{Value: string(hyperdrive.MedianStopping), Label: "Median stopping"},
		{Value: string(hyperdrive.TruncationSelection), Label: "Truncation selection"},
	}
)

// HyperdriveForm handles GET /runs/new/hyperdrive: an empty sweep with one
// parameter row and the usual defaults.
func (h *Handlers) HyperdriveForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := url.Values{"experiment": {q.Get("experiment")}, "target": {q.Get("target")}, "envType": {"python"}, "nodeCount": {"1"},
		"params": {"1"}, "param-0-expression": {"choice"}, "sampling": {string(hyperdrive.SamplingRandom)},
		"policy": {string(hyperdrive.NoTermination)}, "slackKind": {"slack_factor"}, "evaluationInterval": {"1"}, "delayEvaluation": {"0"},
		"primaryMetricGoal": {"Maximize"}, "maxTotalRuns": {"20"}, "maxConcurrentRuns": {"4"}}
	return h.renderHyperdrive(w, r, http.StatusOK, &submitState{v: v, errs: &compute.ValidationError{}}, nil)
}

// HyperdrivePost handles POST /runs/new/hyperdrive. The buttons that add
// or remove a parameter row (and, without JavaScript, "Update the form")
// post the whole form too, with action set: the form comes back with the
// change and everything typed kept. Otherwise the sweep is created through
// the API's own path (createSweep) and the browser goes to the parent run;
// problems show under their fields, nothing created.
func (h *Handlers) HyperdrivePost(w http.ResponseWriter, r *http.Request) error {
	st, up, err := h.openSubmit(w, r)
	if err != nil {
		return err
	}
	defer up.Close()
	if len(st.errs.Fields) > 0 {
		return h.renderHyperdrive(w, r, http.StatusUnprocessableEntity, st, nil)
	}
	if editSweepRows(st.v) {
		// Keep what came with the form: an upload made now is not lost.
		h.keepSource(r, up, st)
		h.takeRunConfig(up, st)
		return h.renderHyperdrive(w, r, http.StatusOK, st, nil)
	}
	h.takeSource(r, up, st)
	h.takeRunConfig(up, st)
	fs := parseSubmitValues(st)
	hd, seed := parseSweepForm(st.v, st.errs)
	verdict := judgeSweep(hd, seed)
	for _, fe := range verdict.errs {
		st.errs.Add(fe.Field, "%s", fe.Message)
	}
	status := http.StatusUnprocessableEntity
	if len(st.errs.Fields) == 0 {
		run, warnings, err := h.submitSweepForm(r, fs, hd, seed)
		if err == nil {
			msg := "Sweep " + run.ID + " was submitted."
			if len(warnings) > 0 {
				msg += " Note: " + strings.Join(warnings, "; ") + "."
			}
			setFlash(w, msg)
			http.Redirect(w, r, runPath(run.ID), http.StatusSeeOther)
			return nil
		}
		if mapSweepError(err, st) != nil {
			return err
		}
		status = h.formStatus(r, err)
	}
	return h.renderHyperdrive(w, r, status, st, verdict.warnings)
}

// HyperdriveValidate handles POST /runs/new/hyperdrive/validate, which the
// form makes on every change of its sweep part (and for the add and remove
// buttons): the sweep part comes back with the checks' verdict. Fields
// still empty are not scolded yet; submitting says what is missing.
func (h *Handlers) HyperdriveValidate(w http.ResponseWriter, r *http.Request) error {
	st, up, err := h.openSubmit(w, r)
	if err != nil {
		return err
	}
	up.Close() // files are never judged here (the form leaves them out)
	edited := editSweepRows(st.v)
	errs := &compute.ValidationError{}
	hd, seed := parseSweepForm(st.v, errs)
	verdict := judgeSweep(hd, seed)
	for _, fe := range verdict.errs {
		errs.Add(fe.Field, "%s", fe.Message)
	}
	shown := &compute.ValidationError{}
	if !edited {
		for _, fe := range errs.Fields {
			if strings.TrimSpace(st.v.Get(fe.Field)) != "" || fe.Field == "params" {
				shown.Add(fe.Field, "%s", fe.Message)
			}
		}
	}
	// htmx swaps only 2xx answers: the verdict is in the part itself.
	vm := sweepDefinitionVM(st.v, shown, verdict.warnings)
	if r.URL.Query().Get("part") == "messages" {
		return h.render(w, r, http.StatusOK, pages.SweepMessages(vm))
	}
	return h.render(w, r, http.StatusOK, pages.SweepDefinition(vm))
}

// keepSource makes the snapshot of an upload that came with the form, or
// finds the one an earlier upload made, without asking for one.
func (h *Handlers) keepSource(r *http.Request, up *uploadSpool, st *submitState) {
	if up.hasSource() || strings.TrimSpace(st.v.Get("snapshotId")) != "" {
		h.takeSource(r, up, st)
		if st.snap == nil {
			// Gone or broken: the submit will say so; an edit does not.
			st.errs = &compute.ValidationError{}
		}
	}
}

// editSweepRows applies the add/remove buttons to the form's values and
// reports whether the post was such an edit (or a plain refresh).
func editSweepRows(v url.Values) bool {
	action := v.Get("action")
	n := sweepRowCount(v)
	switch {
	case action == "add-param":
		if n < maxSweepParams {
			v.Set(fmt.Sprintf("param-%d-expression", n), string(hyperdrive.Choice))
			v.Set("params", strconv.Itoa(n+1))
		}
	case strings.HasPrefix(action, "remove-param-"):
		i, err := strconv.Atoi(strings.TrimPrefix(action, "remove-param-"))
		if err != nil || i < 0 || i >= n {
			return true
		}
		for j := i; j < n-1; j++ {
			for _, f := range []string{"name", "expression", "values"} {
				v.Set(fmt.Sprintf("param-%d-%s", j, f), v.Get(fmt.Sprintf("param-%d-%s", j+1, f)))
			}
		}
		for _, f := range []string{"name", "expression", "values"} {
			v.Del(fmt.Sprintf("param-%d-%s", n-1, f))
		}
		v.Set("params", strconv.Itoa(max(n-1, 0)))
	case action == "refresh":
	default:
		return false
	}
	v.Del("action")
	return true
}

// sweepRowCount is how many search-space rows the form has.
func sweepRowCount(v url.Values) int {
	n, err := strconv.Atoi(v.Get("params"))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, maxSweepParams)
}

// parseSweepForm reads the sweep part into the hdconfig's parsed form,
// as the hdconfig decoder would from YAML: numbers where numbers are
// written, text otherwise. What cannot be read at all (a word where a whole
// number goes) is recorded on its field; the rules are left to judgeSweep.
func parseSweepForm(v url.Values, errs *compute.ValidationError) (runconfig.HDConfig, *uint64) {
	hd := runconfig.HDConfig{File: "sweep",
		Sampling:          runconfig.Sampling{Type: strings.TrimSpace(v.Get("sampling"))},
		PrimaryMetricName: strings.TrimSpace(v.Get("primaryMetricName")), PrimaryMetricGoal: strings.TrimSpace(v.Get("primaryMetricGoal"))}
	whole := func(field, what string) *int {
		s := strings.TrimSpace(v.Get(field))
		if s == "" {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			errs.Add(field, "Write %s as a whole number (got %q).", what, s)
			return nil
		}
		return &n
	}
	if n := whole("maxTotalRuns", "max total runs"); n != nil {
		hd.MaxTotalRuns = *n
	}
	hd.MaxConcurrentRuns = whole("maxConcurrentRuns", "max concurrent runs")
	hd.MaxDurationMinutes = whole("maxDurationMinutes", "the max duration in minutes")
	for i := range sweepRowCount(v) {
		f := func(name string) string { return fmt.Sprintf("param-%d-%s", i, name) }
		hd.Sampling.ParameterSpace = append(hd.Sampling.ParameterSpace, runconfig.Parameter{
			Name: strings.TrimSpace(v.Get(f("name"))), Expression: strings.TrimSpace(v.Get(f("expression"))), Values: parseSweepValues(v.Get(f("values")))})
	}
	if pt := strings.TrimSpace(v.Get("policy")); pt != "" {
		p := &runconfig.HDPolicy{Type: pt}
		p.EvaluationInterval = whole("evaluationInterval", "the evaluation interval")
		p.DelayEvaluation = whole("delayEvaluation", "the delay")
		if pt == string(hyperdrive.Bandit) {
			if s := strings.TrimSpace(v.Get("slack")); s != "" {
				x, err := strconv.ParseFloat(s, 64)
				if err != nil {
					errs.Add("slack", "Write the slack as a number, e.g. 0.1 (got %q).", s)
				} else if v.Get("slackKind") == "slack_amount" {
					p.SlackAmount = &x
				} else {
					p.SlackFactor = &x
				}
			}
		}
		if pt == string(hyperdrive.TruncationSelection) {
			p.TruncationPercentage = whole("truncationPercentage", "the truncation percentage")
		}
		hd.Policy = p
	}
	var seed *uint64
	if s := strings.TrimSpace(v.Get("seed")); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			errs.Add("seed", "The seed is a whole number from 0 to %d, or empty for a random one (got %q).", uint64(1<<64-1), s)
		} else {
			seed = &n
		}
	}
	return hd, seed
}

// parseSweepValues reads a values field: comma-separated, optionally in
// [brackets]; a token that reads as a number is one, a quoted token is
// text (so "1" can be a string option).
func parseSweepValues(s string) []any {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []any
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if len(tok) >= 2 && (tok[0] == '"' || tok[0] == '\'') && tok[len(tok)-1] == tok[0] {
			out = append(out, tok[1:len(tok)-1])
			continue
		}
		if x, err := strconv.ParseFloat(strings.ReplaceAll(tok, "_", ""), 64); err == nil {
			out = append(out, x)
			continue
		}
		out = append(out, tok)
	}
	return out
}

// sweepVerdict is what the sweep checks say of a form: problems by form
// field, and warnings.
type sweepVerdict struct {
	errs     []compute.FieldError
	warnings []string
	sweep    *hyperdrive.Sweep
}

// judgeSweep runs the API's sweep checks (hyperdrive.FromHDConfig) on the
// form. Those checks stop at the first problem; so that each field shows
// its own, a field found at fault is set aside (given a value the checks
// accept) and the checks run again, until they pass. No rule is written
// here. Warnings are kept only when nothing they depend on was set aside.
func judgeSweep(hd runconfig.HDConfig, seed *uint64) sweepVerdict {
	var out sweepVerdict
	s := uint64(0)
	if seed != nil {
		s = *seed
	}
	hd.Sampling.ParameterSpace = append([]runconfig.Parameter(nil), hd.Sampling.ParameterSpace...)
	if hd.Policy != nil {
		p := *hd.Policy
		hd.Policy = &p
	}
	seen := map[string]bool{}
	trusted := true
	for range 64 {
		sw, warnings, err := hyperdrive.FromHDConfig(&hd, s)
		if err == nil {
			out.sweep = sw
			if trusted {
				out.warnings = warnings
			}
			return out
		}
		field, msg := sweepErrorField(err)
		if seen[field] {
			return out // setting it aside did not help: said once is enough
		}
		seen[field] = true
		out.errs = append(out.errs, compute.FieldError{Field: sweepFormField(field), Message: msg})
		if !setAside(&hd, field) {
			return out
		}
		if !strings.HasPrefix(field, "policy") && !strings.HasPrefix(field, "primary_metric") {
			trusted = false
		}
	}
	return out
}

// sweepErrorField returns the hdconfig field and the message of a sweep
// check's error.
func sweepErrorField(err error) (string, string) {
	var (
		re *runconfig.Error
		fe *hyperdrive.FieldError
	)
	switch {
	case errors.As(err, &re):
		return re.Field, re.Message
	case errors.As(err, &fe):
		return fe.Field, fe.Message
	}
	return "", err.Error()
}

// setAside replaces field's value with one the checks accept and reports
// whether it could.
func setAside(hd *runconfig.HDConfig, field string) bool {
	placeholder := func(i int) runconfig.Parameter {
		return runconfig.Parameter{Name: fmt.Sprintf("--set-aside-%d", i), Expression: string(hyperdrive.Choice), Values: []any{1.0}}
	}
	one, ten := 1, 10
	switch {
	case field == "sampling.type":
		hd.Sampling.Type = string(hyperdrive.SamplingRandom)
	case field == "sampling.parameter_space":
		if len(hd.Sampling.ParameterSpace) == 0 {
			hd.Sampling.ParameterSpace = []runconfig.Parameter{placeholder(0)}
		} else {
			hd.Sampling.Type = string(hyperdrive.SamplingRandom) // a sampler's limit on the number of parameters
		}
	case strings.HasPrefix(field, "sampling.parameter_space["):
		idx, _, _ := strings.Cut(strings.TrimPrefix(field, "sampling.parameter_space["), "]")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= len(hd.Sampling.ParameterSpace) {
			return false
		}
		hd.Sampling.ParameterSpace[i] = placeholder(i)
	case hd.Policy != nil && (field == "policy" || field == "policy.slack_factor" || field == "policy.slack_amount"):
		f := 0.1
		hd.Policy.SlackFactor, hd.Policy.SlackAmount = &f, nil
	case hd.Policy != nil && field == "policy.truncation_percentage":
		hd.Policy.TruncationPercentage = &ten
	case hd.Policy != nil && field == "policy.evaluation_interval":
		hd.Policy.EvaluationInterval = &one
	case hd.Policy != nil && field == "policy.delay_evaluation":
		zero := 0
		hd.Policy.DelayEvaluation = &zero
	case hd.Policy != nil && field == "policy.type":
		hd.Policy.Type = string(hyperdrive.NoTermination)
	case field == "primary_metric_name":
		hd.PrimaryMetricName = "metric"
	case field == "primary_metric_goal":
		hd.PrimaryMetricGoal = "maximize"
	case field == "max_total_runs":
		hd.MaxTotalRuns = 1
	case field == "max_concurrent_runs":
		hd.MaxConcurrentRuns = &one
	case field == "max_duration_minutes":
		hd.MaxDurationMinutes = &one
	default:
		return false
	}
	return true
}

// sweepFormField names the form field of an hdconfig field.
func sweepFormField(field string) string {
	if rest, ok := strings.CutPrefix(field, "sampling.parameter_space["); ok {
		i, part, _ := strings.Cut(rest, "].")
		part, _, _ = strings.Cut(part, "[") // values[2] → values
		if part == "" {
			part = "values"
		}
		return "param-" + i + "-" + part
	}
	switch field {
	case "sampling.type":
		return "sampling"
	case "sampling.parameter_space", "sampling":
		return "params"
	case "policy", "policy.slack_factor", "policy.slack_amount":
		return "slack"
	case "policy.type":
		return "policy"
	case "policy.evaluation_interval":
		return "evaluationInterval"
	case "policy.delay_evaluation":
		return "delayEvaluation"
	case "policy.truncation_percentage":
		return "truncationPercentage"
	case "primary_metric_name":
		return "primaryMetricName"
	case "primary_metric_goal":
		return "primaryMetricGoal"
	case "max_total_runs":
		return "maxTotalRuns"
	case "max_concurrent_runs":
		return "maxConcurrentRuns"
	case "max_duration_minutes":
		return "maxDurationMinutes"
	}
	return "params"
}

// submitSweepForm turns the form into the body of POST /api/v1/sweeps and
// creates the sweep through the API's own path.
func (h *Handlers) submitSweepForm(r *http.Request, fs formSubmit, hd runconfig.HDConfig, seed *uint64) (*compute.Run, []string, error) {
	if len(fs.RunConfiguration) == 0 {
		fs.RunConfiguration = nil
	}
	if len(fs.Environment.Python.CondaDependencies) == 0 {
		fs.Environment.Python.CondaDependencies = nil
	}
	body, err := json.Marshal(fs)
	if err != nil {
		return nil, nil, fmt.Errorf("sweep form: %w", err)
	}
	req := sweepRequest{Sweep: &hd, Seed: seed}
	if err := json.Unmarshal(body, &req.submitRequest); err != nil {
		return nil, nil, fmt.Errorf("sweep form: %w", err)
	}
	return h.createSweep(r, &req)
}

// mapSweepError puts the API's verdict on a sweep submit under the form's
// fields; errors that are not about the input are returned.
func mapSweepError(err error, st *submitState) error {
	var ve *compute.ValidationError
	if errors.As(err, &ve) {
		rest := &compute.ValidationError{}
		for _, f := range ve.Fields {
			// judgeSweep ran the same checks before, so this is rare (a
			// race with nothing); the message is shown as the API gives it.
			if hf, ok := strings.CutPrefix(f.Field, "sweep."); ok {
				st.errs.Add(sweepFormField(hf), "%s", f.Message)
				continue
			}
			rest.Fields = append(rest.Fields, f)
		}
		if len(rest.Fields) == 0 {
			return nil
		}
		err = rest
	}
	return mapSubmitError(err, st)
}

// renderHyperdrive shows the form with the values, upload and errors kept.
func (h *Handlers) renderHyperdrive(w http.ResponseWriter, r *http.Request, status int, st *submitState, warnings []string) error {
	run, err := h.submitVM(r, st)
	if err != nil {
		return err
	}
	run.Action, run.CancelHref = hyperdrivePath, "/runs"
	run.Page = h.page(r, "Submit a HyperDrive sweep", "runs", []layout.Crumb{{Label: "Runs", Href: "/runs"}, {Label: "Submit a HyperDrive sweep"}})
	if n := len(st.errs.Fields); n > 0 {
		run.Summary = fmt.Sprintf("Fix %d problem(s) below to submit the sweep.", n)
		if st.summary != "" {
			run.Summary += " " + st.summary
		}
	}
	return h.render(w, r, status, pages.HyperdriveSubmit(pages.HyperdriveFormVM{Run: run, Sweep: sweepDefinitionVM(st.v, st.errs, warnings)}))
}

// sweepDefinitionVM builds the sweep part of the form from its values.
func sweepDefinitionVM(v url.Values, errs *compute.ValidationError, warnings []string) pages.SweepDefinitionVM {
	field := func(in components.Input) components.Input {
		in.Error = errs.For(in.Name)
		if in.Value == "" {
			in.Value = v.Get(in.Name)
		}
		// A choice changes which fields the part has: the part comes back
		// whole. Typing only needs the verdict: the messages come back out
		// of band and the inputs are left alone, so keystrokes made while
		// the answer travels are not lost.
		if in.Type == "select" {
			in.Live = templ.Attributes{"hx-post": hyperdriveValidatePath, "hx-trigger": "change", "hx-target": "#sweep-definition", "hx-swap": "outerHTML"}
		} else {
			in.Live = templ.Attributes{"hx-post": hyperdriveValidatePath + "?part=messages", "hx-trigger": "change", "hx-swap": "none"}
		}
		return in
	}
	vm := pages.SweepDefinitionVM{ValidateURL: hyperdriveValidatePath, ParamsError: errs.For("params"), Warnings: warnings}
	var exprs []components.Option
	for _, k := range hyperdrive.Kinds {
		exprs = append(exprs, components.Option{Value: string(k), Label: string(k)})
	}
	n := sweepRowCount(v)
	for i := range n {
		name := func(f string) string { return fmt.Sprintf("param-%d-%s", i, f) }
		kind := hyperdrive.Kind(strings.ToLower(strings.TrimSpace(v.Get(name("expression")))))
		row := pages.SweepParamRowVM{Label: fmt.Sprintf("Parameter %d", i+1), RemoveValue: fmt.Sprintf("remove-param-%d", i), CanRemove: n > 1}
		row.Name = field(components.Input{Name: name("name"), Label: "Script argument", Autocomplete: "off", Hint: "E.g. --learning_rate; the child gets it with its sampled value."})
		row.Expression = field(components.Input{Name: name("expression"), Label: "Expression", Type: "select", Value: string(kind), Options: exprs})
		row.Values = field(components.Input{Name: name("values"), Label: "Values", Autocomplete: "off", Hint: valuesHint(kind)})
		vm.Params = append(vm.Params, row)
	}
	sampling := v.Get("sampling")
	vm.Sampling = field(components.Input{Name: "sampling", Label: "Sampling", Type: "select", Value: sampling, Options: samplingChoices})
	vm.ShowSeed = sampling != string(hyperdrive.SamplingGrid)
	vm.Seed = field(components.Input{Name: "seed", Label: "Seed", Type: "number", Autocomplete: "off",
		Hint: "Makes the sampling reproducible; empty draws one (it is shown on the sweep's page)."})
	policy := v.Get("policy")
	vm.Policy = field(components.Input{Name: "policy", Label: "Early termination policy", Type: "select", Value: policy, Options: policyChoices})
	vm.ShowBandit = policy == string(hyperdrive.Bandit)
	vm.ShowTruncation = policy == string(hyperdrive.TruncationSelection)
	vm.ShowInterval = policy != "" && policy != string(hyperdrive.NoTermination)
	vm.SlackKind = field(components.Input{Name: "slackKind", Label: "Slack as", Type: "select", Value: v.Get("slackKind"),
		Options: []components.Option{{Value: "slack_factor", Label: "slack_factor (a ratio to the best)"}, {Value: "slack_amount", Label: "slack_amount (a distance from the best)"}}})
	vm.Slack = field(components.Input{Name: "slack", Label: "Slack", Autocomplete: "off", Hint: "E.g. 0.1: with slack_factor, runs below best/1.1 (maximize) are canceled."})
	vm.Interval = field(components.Input{Name: "evaluationInterval", Label: "Evaluation interval", Type: "number", Hint: "Apply the policy every this many loggings of the primary metric."})
	vm.Delay = field(components.Input{Name: "delayEvaluation", Label: "Delay evaluation", Type: "number", Hint: "Not before this many loggings."})
	vm.Truncation = field(components.Input{Name: "truncationPercentage", Label: "Truncation percentage", Type: "number", Hint: "Cancel the lowest X % of runs at each evaluation (1–99)."})
	vm.Metric = field(components.Input{Name: "primaryMetricName", Label: "Primary metric", Required: true, Autocomplete: "off", Hint: "The metric the script logs (mlflow.log_metric), e.g. accuracy."})
	vm.Goal = field(components.Input{Name: "primaryMetricGoal", Label: "Goal", Type: "select", Value: v.Get("primaryMetricGoal"),
		Options: []components.Option{{Value: "Maximize", Label: "Maximize"}, {Value: "Minimize", Label: "Minimize"}}})
	vm.MaxTotal = field(components.Input{Name: "maxTotalRuns", Label: "Max total runs", Type: "number", Required: true, Hint: "1 to 1000."})
	vm.MaxParallel = field(components.Input{Name: "maxConcurrentRuns", Label: "Max concurrent runs", Type: "number", Hint: "1 to 100; empty runs them all at once."})
	vm.MaxMinutes = field(components.Input{Name: "maxDurationMinutes", Label: "Max duration (minutes)", Type: "number", Hint: "Empty: 10080 (7 days). The sweep is canceled when it is reached."})
	return vm
}

// valuesHint says what an expression's values are.
func valuesHint(k hyperdrive.Kind) string {
	if k == hyperdrive.Choice || k == "" {
		return "choice: the options, comma-separated, e.g. 16, 32, 64 or relu, tanh."
	}
	names := hyperdrive.ArgNames(k)
	if names == nil {
		return "Comma-separated values."
	}
	return string(k) + ": " + strings.Join(names, ", ") + ", comma-separated."
}
