package hyperdrive

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/trainyard/trainyard/compute/runconfig"
)

// SamplingKind names a sampler.
type SamplingKind string

// The samplers. Sobol is v2's `random` with `rule: sobol`.
const (
	SamplingRandom   SamplingKind = "Random"
	SamplingSobol    SamplingKind = "Sobol"
	SamplingGrid     SamplingKind = "Grid"
	SamplingBayesian SamplingKind = "Bayesian"
)

// Service limits and defaults (docs/design/hyperdrive.md §4.1).
const (
	MaxTotalRunsLimit       = 1000
	MaxConcurrentRunsLimit  = 100
	MaxDurationMinutesLimit = 10080 // also the default
	// BayesianRunsPerParam is the recommended minimum of runs per
	// hyperparameter for Bayesian sampling; fewer gives a warning.
	BayesianRunsPerParam = 20
	// BayesianMaxConcurrent is the recommended maximum concurrency for
	// Bayesian sampling; more gives a warning.
	BayesianMaxConcurrent = 20
)

// Sweep is a validated-or-not sweep definition, whatever it was written in
// (browser form, hdconfig YAML, v2 sweep job).
type Sweep struct {
	Space    Space
	Sampling SamplingKind
	// Seed makes sampling reproducible. v1 has no seed (docs/design/hyperdrive.md §8.8): whoever
	// creates the sweep draws one and stores it, so a restarted sweep
	// continues the same sequence.
	Seed               uint64
	Policy             Policy
	PrimaryMetric      string
	Goal               Goal
	MaxTotalRuns       int
	MaxConcurrentRuns  int // 0: all at once, i.e. MaxTotalRuns (the SDK's None)
	MaxDurationMinutes int // 0: the 10080-minute default
	// BayesianEarlyTermination lets an early-termination policy run with
	// Bayesian sampling, which Azure refuses; the sampler then takes the
	// children the policy stopped as censored (BayesianSampler). Off by
	// default, so a sweep written for Azure is judged as Azure judges it.
	BayesianEarlyTermination bool
}

// FieldError is a rejected sweep field; Field uses the hdconfig's spelling
// (sampling.parameter_space[i].values, policy.slack_factor, max_total_runs).
type FieldError struct {
	Field   string
	Message string
}

// Error renders "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate returns the first rule the sweep breaks (as a *FieldError), and
// warnings that are shown but not fatal. It applies the same rules as
// runconfig.HDConfig.Validate so that a sweep from the browser form is
// rejected exactly as its hdconfig would be.
func (s *Sweep) Validate() (warnings []string, err error) {
	fe := func(field, format string, a ...any) ([]string, error) {
		return warnings, &FieldError{Field: field, Message: fmt.Sprintf(format, a...)}
	}
	switch s.Sampling {
	case SamplingRandom, SamplingSobol, SamplingGrid, SamplingBayesian:
	case "":
		return fe("sampling.type", "required: Random, Grid or Bayesian")
	default:
		return fe("sampling.type", "%q is not one of Random, Sobol, Grid, Bayesian", string(s.Sampling))
	}
	if len(s.Space) == 0 {
		return fe("sampling.parameter_space", "required: at least one {name, expression, values}")
	}
	names := map[string]bool{}
	for i, p := range s.Space {
		f := fmt.Sprintf("sampling.parameter_space[%d]", i)
		switch {
		case strings.TrimSpace(p.Name) == "":
			return fe(f+".name", "required: the script argument to set, e.g. --lr")
		case names[p.Name]:
			return fe(f+".name", "%s is in the parameter space twice", p.Name)
		}
		names[p.Name] = true
		if p.Expr.Kind == Choice && len(p.Expr.Options) == 0 {
			return fe(f+".values", "choice expects non-empty single list, non-empty single range() or a positive number of arbitrary comma separated inputs.")
		}
		switch s.Sampling {
		case SamplingGrid:
			if p.Expr.Kind != Choice {
				return fe(f+".expression", "This sampling method expects only the following distributions: [choice]")
			}
			strs := 0
			for _, o := range p.Expr.Options {
				if o.IsString {
					strs++
				}
			}
			if strs != 0 && strs != len(p.Expr.Options) {
				return fe(f+".values", "Either all or none of the 'choice' values should be 'str' type.")
			}
		case SamplingBayesian:
			switch p.Expr.Kind {
			case Choice, Uniform:
			case QUniform:
				a := p.Expr.Args
				if a[0] != math.Trunc(a[0]) || a[1] != math.Trunc(a[1]) {
					return fe(f+".values", "Expected quniform arguments to be int.")
				}
				if (a[1]-a[0])/a[2] > 100000 {
					return fe(f+".values", "Too many discrete points for quniform distribution. Use larger q or uniform instead.")
				}
			default:
				return fe(f+".expression", "This sampling method expects only the following distributions: [choice, uniform, quniform]")
			}
		case SamplingSobol:
			if len(s.Space) > SobolMaxDims {
				return fe("sampling.parameter_space", "Sobol sampling supports at most %d parameters, not %d", SobolMaxDims, len(s.Space))
			}
		}
	}
	if err := s.Policy.Validate(); err != nil {
		var pe *PolicyError
		errors.As(err, &pe)
		return fe(pe.Field, "%s", pe.Message)
	}
	if s.Sampling == SamplingBayesian && s.Policy.Active() && !s.BayesianEarlyTermination {
		return fe("policy.type", "Early termination policy for Bayesian sampling. is not implemented for HyperDrive run")
	}
	if strings.TrimSpace(s.PrimaryMetric) == "" {
		return fe("primary_metric_name", "required: the metric the script logs, e.g. accuracy")
	}
	if s.Goal != Maximize && s.Goal != Minimize {
		return fe("primary_metric_goal", "The primary metric goal expects either 'maximize' or 'minimize'.")
	}
	if s.MaxTotalRuns < 1 || s.MaxTotalRuns > MaxTotalRunsLimit {
		return fe("max_total_runs", "must be an integer between 1 and 1000")
	}
	if c := s.MaxConcurrentRuns; c < 0 || c > MaxConcurrentRunsLimit {
		return fe("max_concurrent_runs", "must be an integer between 1 and 100")
	}
	if s.MaxDurationMinutes < 0 {
		return fe("max_duration_minutes", "must be at least 1")
	}
	if s.MaxDurationMinutes > MaxDurationMinutesLimit {
		warnings = append(warnings, fmt.Sprintf("max_duration_minutes %d is above the service limit; the sweep stops after %d minutes", s.MaxDurationMinutes, MaxDurationMinutesLimit))
	}
	switch s.Sampling {
	case SamplingBayesian:
		if want := BayesianRunsPerParam * len(s.Space); s.MaxTotalRuns < want {
			warnings = append(warnings, fmt.Sprintf("Bayesian sampling works best with max_total_runs at least %d × the number of hyperparameters (%d); this sweep has %d", BayesianRunsPerParam, want, s.MaxTotalRuns))
		}
		if s.ConcurrentRuns() > BayesianMaxConcurrent {
			warnings = append(warnings, fmt.Sprintf("Bayesian sampling converges better with max_concurrent_runs at most %d; this sweep runs %d at a time", BayesianMaxConcurrent, s.ConcurrentRuns()))
		}
	case SamplingGrid:
		g := (&GridSampler{Space: s.Space}).Size()
		if g < int64(s.MaxTotalRuns) {
			warnings = append(warnings, fmt.Sprintf("the grid has %d combinations: the sweep ends after %d runs, not max_total_runs %d", g, g, s.MaxTotalRuns))
		} else if g > int64(s.MaxTotalRuns) {
			warnings = append(warnings, fmt.Sprintf("the grid has %d combinations: only the first %d (in grid order) will run", g, s.MaxTotalRuns))
		}
	}
	return warnings, nil
}

// ConcurrentRuns is max_concurrent_runs with its default (max_total_runs).
func (s *Sweep) ConcurrentRuns() int {
	if s.MaxConcurrentRuns <= 0 {
		return s.MaxTotalRuns
	}
	return s.MaxConcurrentRuns
}

// DurationMinutes is max_duration_minutes with its default, capped at the
// service limit.
func (s *Sweep) DurationMinutes() int {
	if s.MaxDurationMinutes <= 0 || s.MaxDurationMinutes > MaxDurationMinutesLimit {
		return MaxDurationMinutesLimit
	}
	return s.MaxDurationMinutes
}

// Sampler returns the sweep's sampler.
func (s *Sweep) Sampler() (Sampler, error) {
	switch s.Sampling {
	case SamplingRandom:
		return &RandomSampler{Space: s.Space, Seed: s.Seed}, nil
	case SamplingSobol:
		return NewSobolSampler(s.Space, s.Seed)
	case SamplingGrid:
		return &GridSampler{Space: s.Space}, nil
	case SamplingBayesian:
		return NewBayesianSampler(s.Space, s.Goal, s.Seed)
	}
	return nil, &FieldError{Field: "sampling.type", Message: fmt.Sprintf("%q is not one of Random, Sobol, Grid, Bayesian", string(s.Sampling))}
}

// FromHDConfig builds a sweep from a parsed hdconfig, after the hdconfig's
// own Validate (whose errors carry file and line) and then the sweep's
// (which adds warnings). seed is the sweep's seed (an hdconfig has none).
// A policy with no evaluation_interval gets 1, the v1 default.
func FromHDConfig(h *runconfig.HDConfig, seed uint64) (*Sweep, []string, error) {
	if err := h.Validate(); err != nil {
		return nil, nil, err
	}
	s := &Sweep{Sampling: SamplingKind(h.Sampling.Type), Seed: seed, PrimaryMetric: h.PrimaryMetricName, MaxTotalRuns: h.MaxTotalRuns}
	goal, err := ParseGoal(h.PrimaryMetricGoal)
	if err != nil {
		return nil, nil, &FieldError{"primary_metric_goal", err.Error()}
	}
	s.Goal = goal
	if h.MaxConcurrentRuns != nil {
		s.MaxConcurrentRuns = *h.MaxConcurrentRuns
	}
	if h.MaxDurationMinutes != nil {
		s.MaxDurationMinutes = *h.MaxDurationMinutes
	}
	for i, p := range h.Sampling.ParameterSpace {
		e, err := NewExpression(p.Name, Kind(strings.ToLower(p.Expression)), p.Values)
		if err != nil {
			var xe *ExprError
			errors.As(err, &xe)
			return nil, nil, &FieldError{Field: fmt.Sprintf("sampling.parameter_space[%d].values", i), Message: xe.Message}
		}
		s.Space = append(s.Space, ParamSpec{Name: p.Name, Expr: e})
	}
	if hp := h.Policy; hp != nil {
		s.Policy = policyFromHD(hp)
	}
	s.BayesianEarlyTermination = h.BayesianEarlyTermination != nil && *h.BayesianEarlyTermination
	w, err := s.Validate()
	if err != nil {
		return nil, nil, err
	}
	return s, w, nil
}

// policyFromHD maps a parsed early-termination policy (hdconfig policy: or
// sweep job early_termination:, both decode to runconfig.HDPolicy) onto a
// Policy. Fields left out keep Policy's zero value, except
// evaluation_interval, which defaults to 1 as in v1 and v2 alike.
func policyFromHD(hp *runconfig.HDPolicy) Policy {
	p := Policy{Kind: PolicyKind(hp.Type), EvaluationInterval: 1}
	if hp.EvaluationInterval != nil {
		p.EvaluationInterval = *hp.EvaluationInterval
	}
	if hp.DelayEvaluation != nil {
		p.DelayEvaluation = *hp.DelayEvaluation
	}
	if hp.SlackFactor != nil {
		p.SlackFactor = *hp.SlackFactor
	}
	if hp.SlackAmount != nil {
		p.SlackAmount = *hp.SlackAmount
	}
	if hp.TruncationPercentage != nil {
		p.TruncationPercentage = *hp.TruncationPercentage
	}
	if hp.ExcludeFinishedJobs != nil {
		p.ExcludeFinishedJobs = *hp.ExcludeFinishedJobs
	}
	return p
}
