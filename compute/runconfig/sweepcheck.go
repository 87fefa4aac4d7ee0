package runconfig

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// SweepRules, when set, applies the sweep rules of POST /api/v1/sweeps to a
// parsed sweep job and returns the warnings, or the v2 field (e.g.
// search_space.lr.max_value, limits.max_total_trials) and message of the
// first rule broken. Package hyperdrive sets it (it owns the rules and
// imports this package); without it Validate falls back to the hdconfig
// rules of HDConfig.Validate, renamed to v2 fields.
var SweepRules func(j *SweepJob) (warnings []string, field, message string)

// HDConfig is the sweep part of the job in the hdconfig's form, the body
// POST /api/v1/sweeps takes as "sweep": the same sampling (Sobol for
// random with rule: sobol), parameters named as in search_space, the
// policy, the objective and the limits (timeout in whole minutes, rounded
// up; v2's defaults: 1000 trials).
func (j *SweepJob) HDConfig() *HDConfig {
	h := &HDConfig{File: j.File, PrimaryMetricName: j.PrimaryMetric, PrimaryMetricGoal: j.Goal, MaxTotalRuns: 1000, Policy: j.EarlyTermination}
	switch j.Sampling.Type {
	case "random":
		h.Sampling.Type = "Random"
		if j.Sampling.Rule == "sobol" {
			h.Sampling.Type = "Sobol"
		}
	case "grid":
		h.Sampling.Type = "Grid"
	case "bayesian":
		h.Sampling.Type = "Bayesian"
	}
	for _, p := range j.SearchSpace {
		h.Sampling.ParameterSpace = append(h.Sampling.ParameterSpace, Parameter{Name: p.Name, Expression: p.Type, Values: p.Values})
	}
	if l := j.Limits.MaxTotalTrials; l != nil {
		h.MaxTotalRuns = *l
	}
	h.MaxConcurrentRuns = j.Limits.MaxConcurrentTrials
	if t := j.Limits.Timeout; t != nil {
		m := min((*t+59)/60, MaxDurationMinutesLimit)
		if *t < 1 {
			m = 0
		}
		mi := int(m)
		h.MaxDurationMinutes = &mi
	}
	return h
}

// sweepV1ToV2 renames hdconfig fields to the v2 sweep job's.
var sweepV1ToV2 = []struct{ v1, v2 string }{
	{"sampling.type", "sampling_algorithm"},
	{"sampling.parameter_space", "search_space"},
	{"policy.type", "early_termination.type"},
	{"policy", "early_termination"},
	{"primary_metric_name", "objective.primary_metric"},
	{"primary_metric_goal", "objective.goal"},
	{"max_total_runs", "limits.max_total_trials"},
	{"max_concurrent_runs", "limits.max_concurrent_trials"},
	{"max_duration_minutes", "limits.timeout"},
}

var hdParamIndex = regexp.MustCompile(`^sampling\.parameter_space\[(\d+)\](\.(name|expression|values))?`)

func (j *SweepJob) v2Field(f string) string {
	if m := hdParamIndex.FindStringSubmatch(f); m != nil {
		i, _ := strconv.Atoi(m[1])
		name := ""
		if i < len(j.SearchSpace) {
			name = j.SearchSpace[i].Name
		}
		return "search_space." + name + map[string]string{"": "", "name": "", "expression": ".type", "values": ""}[m[3]]
	}
	for _, r := range sweepV1ToV2 {
		if f == r.v1 || strings.HasPrefix(f, r.v1+".") {
			return r.v2 + strings.TrimPrefix(f, r.v1)
		}
	}
	return f
}

// searchSpaceRef is ${{search_space.<name>}} in a trial command.
var searchSpaceRef = regexp.MustCompile(`^search_space\.(.+)$`)

// Validate checks the sweep job as POST /api/v1/sweeps would check the
// sweep it becomes (SweepRules), plus the trial: every ${{…}} in
// trial.command names a search_space parameter, a declared input or
// output; counts are at least 1; a local trial.code exists (relative to the
// file). It returns the warnings (not fatal) and the first problem as an
// *Error naming the file, line and v2 field.
func (j *SweepJob) Validate() ([]string, error) {
	var probs []*Error
	add := func(field, format string, args ...any) {
		probs = append(probs, &Error{File: j.File, Line: j.line(field), Field: field, Message: fmt.Sprintf(format, args...)})
	}
	params := map[string]bool{}
	for _, p := range j.SearchSpace {
		params[p.Name] = true
	}
	for _, m := range exprRe.FindAllStringSubmatch(j.TrialCommand, -1) {
		expr := m[1]
		switch {
		case strings.HasPrefix(expr, "inputs."):
			if name := strings.TrimPrefix(expr, "inputs."); !hasKey(j.Inputs, name) {
				add("trial.command", "${{%s}} names no input: declare inputs.%s", expr, name)
			}
		case strings.HasPrefix(expr, "outputs."):
			if name := strings.TrimPrefix(expr, "outputs."); !hasKey(j.Outputs, name) {
				add("trial.command", "${{%s}} names no output: declare outputs.%s", expr, name)
			}
		case searchSpaceRef.MatchString(expr):
			if name := searchSpaceRef.FindStringSubmatch(expr)[1]; !params[name] {
				add("trial.command", "${{search_space.%s}} is not in search_space", name)
			}
		default:
			add("trial.command", "unknown expression ${{%s}}; a trial knows ${{search_space.<name>}}, ${{inputs.<name>}} and ${{outputs.<name>}}", expr)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(j.Inputs)) {
		in := j.Inputs[name]
		if !in.Literal && in.Type == "" && in.Path == "" && in.Value == "" {
			add("inputs."+name, "a data input needs type and path (or give a literal value)")
		}
	}
	if j.TrialInstanceCount != nil && *j.TrialInstanceCount < 1 {
		add("trial.resources.instance_count", "must be at least 1, not %d", *j.TrialInstanceCount)
	}
	if t := j.Limits.TrialTimeout; t != nil && *t < 1 {
		add("limits.trial_timeout", "must be at least 1 second, not %d", *t)
	}
	for k := range j.TrialEnvironmentVariables {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, "=\x00") {
			add("trial.environment_variables."+k, "not a valid environment variable name")
		}
	}
	if c := strings.TrimSpace(j.TrialCode); c != "" && !strings.Contains(c, "://") && !strings.HasPrefix(strings.ToLower(c), "azureml:") && j.File != "" {
		p := c
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(j.File), filepath.FromSlash(c))
		}
		if info, err := os.Stat(p); err != nil || !info.IsDir() {
			add("trial.code", "%q is not a folder (a local code path is relative to the job file)", c)
		}
	}
	var warnings []string
	if SweepRules != nil {
		w, field, msg := SweepRules(j)
		warnings = w
		if msg != "" {
			add(field, "%s", msg)
		}
	} else {
		h := j.HDConfig()
		if t := j.Limits.Timeout; t != nil && *t < 1 {
			add("limits.timeout", "must be at least 1 second")
		} else if err := h.Validate(); err != nil {
			if e, ok := err.(*Error); ok {
				add(j.v2Field(e.Field), "%s", e.Message)
			} else {
				add("", "%s", err.Error())
			}
		}
	}
	if len(probs) == 0 {
		return warnings, nil
	}
	sortErrors(probs)
	return warnings, probs[0]
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// line returns the line of field or its closest recorded parent.
func (j *SweepJob) line(field string) int { return fieldLine(j.lines, field) }

// Line is the line of a v2 field in the file (or of its closest parent).
func (j *SweepJob) Line(field string) int { return j.line(field) }

// EffectiveCompute is the compute the trials go to: Compute, or local.
func (j *SweepJob) EffectiveCompute() string {
	if strings.TrimSpace(j.Compute) == "" {
		return LocalTarget
	}
	return j.Compute
}

// Summary describes the sweep job in one line.
func (j *SweepJob) Summary() string {
	sampling := j.Sampling.Type
	if j.Sampling.Rule == "sobol" {
		sampling = "random (sobol)"
	}
	total := 1000
	if j.Limits.MaxTotalTrials != nil {
		total = *j.Limits.MaxTotalTrials
	}
	parts := []string{"sweep job", "sampling " + sampling, plural(len(j.SearchSpace), "parameter"),
		j.Goal + " " + j.PrimaryMetric, plural(total, "trial")}
	if c := j.Limits.MaxConcurrentTrials; c != nil {
		parts = append(parts, strconv.Itoa(*c)+" at a time")
	}
	if p := j.EarlyTermination; p != nil {
		parts = append(parts, "policy "+p.Type)
	}
	parts = append(parts, "compute "+j.EffectiveCompute())
	return strings.Join(parts, ", ")
}
