package runconfig

import (
	"fmt"
	"strings"
)

// SweepJob is the sweep part of an Azure ML v2 sweep job YAML (type: sweep,
// docs/design/hyperdrive.md §6 and SWY): sampling, search space, objective, early
// termination and limits, plus the trial's command and environment as
// written. The rest of the trial (code, inputs, distribution) is read by the
// command-job decoder once it accepts ${{search_space.…}} in a trial.
type SweepJob struct {
	Name             string        `json:"name,omitempty"`
	DisplayName      string        `json:"displayName,omitempty"`
	ExperimentName   string        `json:"experimentName,omitempty"`
	Description      string        `json:"description,omitempty"`
	Compute          string        `json:"compute,omitempty"` // without the azureml: prefix
	Sampling         SweepSampling `json:"samplingAlgorithm"`
	SearchSpace      []SearchParam `json:"searchSpace"`
	PrimaryMetric    string        `json:"primaryMetric"`
	Goal             string        `json:"goal"`
	EarlyTermination *HDPolicy     `json:"earlyTermination,omitempty"` // Type in the hdconfig spelling (BanditPolicy, …)
	Limits           SweepLimits   `json:"limits"`
	TrialCommand     string        `json:"trialCommand"`
	TrialEnvironment string        `json:"trialEnvironment,omitempty"` // a reference, or "(inline)"
	// TrialCode is trial.code: the local folder the trials run in (relative
	// to the job file), or a reference.
	TrialCode                 string            `json:"trialCode,omitempty"`
	TrialEnvironmentVariables map[string]string `json:"trialEnvironmentVariables,omitempty"`
	TrialInstanceCount        *int              `json:"trialInstanceCount,omitempty"`
	// Inputs and Outputs are the job's, which trial.command refers to as
	// ${{inputs.<name>}} and ${{outputs.<name>}}.
	Inputs  map[string]JobInput  `json:"inputs,omitempty"`
	Outputs map[string]JobOutput `json:"outputs,omitempty"`
	Tags    map[string]string    `json:"tags,omitempty"`

	// Notes are the az CLI preview forms the file uses, each with what
	// Trainyard does with it (shown as warnings; the file is valid).
	Notes []Note `json:"-"`

	// File is the name errors give for the file.
	File  string `json:"-"`
	lines map[string]int
}

// SweepSampling is sampling_algorithm: a bare name, or {type, seed, rule}.
type SweepSampling struct {
	Type string `json:"type"`           // random, grid or bayesian
	Seed *int64 `json:"seed,omitempty"` // random only
	Rule string `json:"rule,omitempty"` // random only: random (default) or sobol
}

// SearchParam is one search_space entry. Values holds choice's values, or
// the numeric arguments in the SDK's positional order (as an hdconfig's
// values), so one validator serves both formats.
type SearchParam struct {
	Name   string `json:"name"`
	Type   string `json:"type"` // one of Expressions
	Values []any  `json:"values"`
}

// SweepLimits is the limits section; nil fields take the v2 defaults
// (max_total_trials 1000, max_concurrent_trials = max_total_trials,
// timeout 5,184,000 s).
type SweepLimits struct {
	MaxTotalTrials      *int   `json:"maxTotalTrials,omitempty"`
	MaxConcurrentTrials *int   `json:"maxConcurrentTrials,omitempty"`
	Timeout             *int64 `json:"timeout,omitempty"`      // seconds, the whole sweep
	TrialTimeout        *int64 `json:"trialTimeout,omitempty"` // seconds, each trial
}

// v2PolicyTypes maps early_termination.type to the hdconfig spelling.
var v2PolicyTypes = map[string]string{"bandit": "BanditPolicy", "median_stopping": "MedianStoppingPolicy", "truncation_selection": "TruncationSelectionPolicy"}

// v2Args are the keys of each expression's arguments, in positional order.
var v2Args = map[string][]string{
	"randint": {"upper"}, "uniform": {"min_value", "max_value"}, "quniform": {"min_value", "max_value", "q"},
	"loguniform": {"min_value", "max_value"}, "qloguniform": {"min_value", "max_value", "q"},
	"normal": {"mu", "sigma"}, "qnormal": {"mu", "sigma", "q"}, "lognormal": {"mu", "sigma"}, "qlognormal": {"mu", "sigma", "q"},
}

// ParseSweepJob reads the sweep part of a v2 sweep job. Keys and enum
// values match case-insensitively; unknown keys are ignored. It checks the
// shape (required sections, types); the sweep rules are applied by
// hyperdrive.FromSweepJob, as for an hdconfig.
func ParseSweepJob(file string, data []byte) (*SweepJob, error) {
	root, err := parseTree(file, data)
	if err != nil {
		return nil, err
	}
	return decodeSweepJob(file, root)
}

func decodeSweepJob(file string, root *node) (*SweepJob, error) {
	d := newDecoder(file)
	if root.kind != mapNode {
		return nil, d.errf(root, "", "a sweep job is a mapping (type, trial, search_space, …), not %s", root.kind)
	}
	d.lines[""] = root.line
	j := &SweepJob{File: file}
	typ, err := d.str(root.get("type"), "type")
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(strings.TrimSpace(typ), "sweep") {
		return nil, d.errf(root.get("type"), "type", "must be sweep, not %q", typ)
	}
	var errs [5]error
	j.Name, errs[0] = d.str(root.get("name"), "name")
	j.DisplayName, errs[1] = d.str(root.get("display_name"), "display_name")
	j.ExperimentName, errs[2] = d.str(root.get("experiment_name"), "experiment_name")
	j.Description, errs[3] = d.str(root.get("description"), "description")
	j.Compute, errs[4] = d.str(root.get("compute"), "compute")
	if e := firstErr(errs[:]...); e != nil {
		return nil, e
	}
	j.Compute = strings.TrimPrefix(strings.TrimSpace(j.Compute), "azureml:")

	// trial: command and environment are required.
	trial, err := d.object(root.get("trial"), "trial")
	if err != nil {
		return nil, err
	}
	if trial == nil {
		return nil, d.errf(root, "trial", "required: the command each trial runs, with ${{search_space.<name>}} for the sampled values")
	}
	if j.TrialCommand, err = d.str(trial.get("command"), "trial.command"); err != nil {
		return nil, err
	}
	if strings.TrimSpace(j.TrialCommand) == "" {
		return nil, d.errf(trial, "trial.command", "required: the command each trial runs")
	}
	if env := trial.get("environment"); env != nil && env.kind == mapNode {
		j.TrialEnvironment = "(inline)"
	} else if j.TrialEnvironment, err = d.str(env, "trial.environment"); err != nil {
		return nil, err
	}
	if strings.TrimSpace(j.TrialEnvironment) == "" {
		return nil, d.errf(trial, "trial.environment", "required: an environment reference (azureml:name:version) or an inline environment")
	}
	// trial.code: a path, or (preview files) {local_path: …}.
	if c := trial.get("code"); c != nil && c.kind == mapNode {
		d.see(c, "trial.code")
		j.TrialCode, err = d.str(c.get("local_path"), "trial.code.local_path")
		if err == nil {
			d.note(c.get("local_path"), "trial.code.local_path", previewCodeNote, j.TrialCode)
		}
	} else {
		j.TrialCode, err = d.str(c, "trial.code")
	}
	if err != nil {
		return nil, err
	}
	if j.TrialEnvironmentVariables, err = d.strMap(trial.get("environment_variables"), "trial.environment_variables"); err != nil {
		return nil, err
	}
	if r, err := d.object(trial.get("resources"), "trial.resources"); err != nil {
		return nil, err
	} else if r != nil {
		if j.TrialInstanceCount, err = d.int32v(r.get("instance_count"), "trial.resources.instance_count"); err != nil {
			return nil, err
		}
	}
	if j.Inputs, err = decodeInputs(d, root.get("inputs")); err != nil {
		return nil, err
	}
	if j.Outputs, err = decodeOutputs(d, root.get("outputs")); err != nil {
		return nil, err
	}
	if j.Tags, err = d.strMap(root.get("tags"), "tags"); err != nil {
		return nil, err
	}

	// sampling_algorithm: random | grid | bayesian, or {type, seed, rule}.
	sa := root.get("sampling_algorithm")
	d.see(sa, "sampling_algorithm")
	switch {
	case sa.isNull():
		return nil, d.errf(root, "sampling_algorithm", "required: random, grid or bayesian")
	case sa.kind == mapNode:
		if j.Sampling.Type, err = d.enum(sa.get("type"), "sampling_algorithm.type", "random", "grid", "bayesian"); err != nil {
			return nil, err
		}
		if j.Sampling.Seed, err = d.integer(sa.get("seed"), "sampling_algorithm.seed"); err != nil {
			return nil, err
		}
		if j.Sampling.Rule, err = d.enum(sa.get("rule"), "sampling_algorithm.rule", "random", "sobol"); err != nil {
			return nil, err
		}
	default:
		if j.Sampling.Type, err = d.enum(sa, "sampling_algorithm", "random", "grid", "bayesian"); err != nil {
			return nil, err
		}
	}
	if j.Sampling.Type == "" {
		return nil, d.errf(sa, "sampling_algorithm", "required: random, grid or bayesian")
	}
	if j.Sampling.Type != "random" && (j.Sampling.Seed != nil || j.Sampling.Rule != "") {
		return nil, d.errf(sa, "sampling_algorithm", "seed and rule belong to random sampling, not %s", j.Sampling.Type)
	}

	// search_space: name → {type, values | min_value/max_value/q | mu/sigma/q | upper}.
	ss, err := d.object(root.get("search_space"), "search_space")
	if err != nil {
		return nil, err
	}
	if ss == nil || len(ss.keys) == 0 {
		return nil, d.errf(root, "search_space", "required: at least one parameter, e.g. lr: {type: uniform, min_value: 0.01, max_value: 0.1}")
	}
	for i, k := range ss.keys {
		f := "search_space." + k.text
		o, err := d.object(ss.vals[i], f)
		if err != nil {
			return nil, err
		}
		if o == nil {
			return nil, d.errf(k, f, "must be a mapping with a type")
		}
		p := SearchParam{Name: k.text}
		if p.Type, err = d.enum(o.get("type"), f+".type", Expressions...); err != nil {
			return nil, err
		}
		if p.Type == "" {
			return nil, d.errf(o, f+".type", "required: one of %s", strings.Join(Expressions, ", "))
		}
		if p.Type == "choice" {
			v := o.get("values")
			d.see(v, f+".values")
			if v.isNull() || v.kind != seqNode {
				return nil, d.errf(o, f+".values", "choice expects a non-empty list of values")
			}
			for n, it := range v.items {
				if it.kind != scalarNode {
					return nil, d.errf(it, fmt.Sprintf("%s.values[%d]", f, n), "must be a number or a string, not %s", it.kind)
				}
				p.Values = append(p.Values, scalarValue(it))
			}
		} else {
			for _, a := range v2Args[p.Type] {
				x, err := d.number(o.get(a), f+"."+a)
				if err != nil {
					return nil, err
				}
				if x == nil {
					return nil, d.errf(o, f+"."+a, "required: %s takes %s", p.Type, strings.Join(v2Args[p.Type], ", "))
				}
				p.Values = append(p.Values, *x)
			}
		}
		j.SearchSpace = append(j.SearchSpace, p)
	}

	// objective: primary_metric and goal.
	obj, err := d.object(root.get("objective"), "objective")
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, d.errf(root, "objective", "required: {primary_metric, goal}")
	}
	if j.PrimaryMetric, err = d.str(obj.get("primary_metric"), "objective.primary_metric"); err != nil {
		return nil, err
	}
	if j.Goal, err = d.str(obj.get("goal"), "objective.goal"); err != nil {
		return nil, err
	}

	// early_termination: {type: bandit|median_stopping|truncation_selection, …}.
	if et, err := d.object(root.get("early_termination"), "early_termination"); err != nil {
		return nil, err
	} else if et != nil {
		t, err := d.enum(et.get("type"), "early_termination.type", "bandit", "median_stopping", "truncation_selection")
		if err != nil {
			return nil, err
		}
		if t == "" {
			return nil, d.errf(et, "early_termination.type", "required: bandit, median_stopping or truncation_selection")
		}
		p := &HDPolicy{Type: v2PolicyTypes[t]}
		var errs [6]error
		p.EvaluationInterval, errs[0] = d.int32v(et.get("evaluation_interval"), "early_termination.evaluation_interval")
		p.DelayEvaluation, errs[1] = d.int32v(et.get("delay_evaluation"), "early_termination.delay_evaluation")
		p.SlackFactor, errs[2] = d.number(et.get("slack_factor"), "early_termination.slack_factor")
		p.SlackAmount, errs[3] = d.number(et.get("slack_amount"), "early_termination.slack_amount")
		p.TruncationPercentage, errs[4] = d.int32v(et.get("truncation_percentage"), "early_termination.truncation_percentage")
		p.ExcludeFinishedJobs, errs[5] = d.boolean(et.get("exclude_finished_jobs"), "early_termination.exclude_finished_jobs")
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
		j.EarlyTermination = p
	}

	// limits.
	if l, err := d.object(root.get("limits"), "limits"); err != nil {
		return nil, err
	} else if l != nil {
		var errs [4]error
		j.Limits.MaxTotalTrials, errs[0] = d.int32v(l.get("max_total_trials"), "limits.max_total_trials")
		j.Limits.MaxConcurrentTrials, errs[1] = d.int32v(l.get("max_concurrent_trials"), "limits.max_concurrent_trials")
		j.Limits.Timeout, errs[2] = d.integer(l.get("timeout"), "limits.timeout")
		j.Limits.TrialTimeout, errs[3] = d.integer(l.get("trial_timeout"), "limits.trial_timeout")
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
	}
	j.lines, j.Notes = d.lines, d.notes
	return j, nil
}
