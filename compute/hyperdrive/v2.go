package hyperdrive

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/trainyard/trainyard/compute/runconfig"
)

func init() {
	// runconfig.Check (trainyard validate) applies these rules to sweep jobs.
	runconfig.SweepRules = func(j *runconfig.SweepJob) ([]string, string, string) {
		_, w, err := FromSweepJob(j, 0)
		if err == nil {
			return w, "", ""
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			return w, fe.Field, fe.Message
		}
		return w, "", err.Error()
	}
}

// FromSweepJob builds a sweep from a parsed v2 sweep job (see
// runconfig.ParseSweepJob). seed is used when sampling_algorithm has none.
// Errors name the v2 fields (search_space.lr.min_value,
// limits.max_total_trials, early_termination.slack_factor).
//
// Defaults are v2's: max_total_trials 1000, max_concurrent_trials equal to
// it, evaluation_interval 1 and delay_evaluation 0. limits.timeout is
// seconds, rounded up to whole minutes; above 10080 minutes (including
// v2's documented default of 5,184,000 s when written out) the sweep is
// capped at 10080 with a warning, as for an hdconfig.
func FromSweepJob(j *runconfig.SweepJob, seed uint64) (*Sweep, []string, error) {
	s := &Sweep{Seed: seed, PrimaryMetric: j.PrimaryMetric, MaxTotalRuns: 1000}
	switch j.Sampling.Type {
	case "random":
		s.Sampling = SamplingRandom
		if j.Sampling.Rule == "sobol" {
			s.Sampling = SamplingSobol
		}
	case "grid":
		s.Sampling = SamplingGrid
	case "bayesian":
		s.Sampling = SamplingBayesian
	default:
		return nil, nil, &FieldError{"sampling_algorithm", fmt.Sprintf("%q is not one of random, grid, bayesian", j.Sampling.Type)}
	}
	if j.Sampling.Seed != nil {
		s.Seed = uint64(*j.Sampling.Seed)
	}
	goal, err := ParseGoal(j.Goal)
	if err != nil {
		return nil, nil, &FieldError{"objective.goal", err.Error()}
	}
	s.Goal = goal
	for _, p := range j.SearchSpace {
		e, err := NewExpression(p.Name, Kind(p.Type), p.Values)
		if err != nil {
			var xe *ExprError
			errors.As(err, &xe)
			f := "search_space." + p.Name
			if xe.Arg != "" && !strings.HasPrefix(xe.Arg, "values[") {
				f += "." + xe.Arg
			} else if p.Type == string(Choice) {
				f += ".values"
			}
			return nil, nil, &FieldError{f, xe.Message}
		}
		s.Space = append(s.Space, ParamSpec{Name: p.Name, Expr: e})
	}
	if hp := j.EarlyTermination; hp != nil {
		s.Policy = policyFromHD(hp)
		if hp.SlackFactor != nil && *hp.SlackFactor == 0 || hp.SlackAmount != nil && *hp.SlackAmount == 0 {
			return nil, nil, &FieldError{"early_termination", "a slack of 0 is not allowed: give slack_factor or slack_amount more than 0"}
		}
	}
	l := j.Limits
	if l.MaxTotalTrials != nil {
		s.MaxTotalRuns = *l.MaxTotalTrials
	}
	if l.MaxConcurrentTrials != nil {
		s.MaxConcurrentRuns = *l.MaxConcurrentTrials
		if s.MaxConcurrentRuns == 0 {
			return nil, nil, &FieldError{"limits.max_concurrent_trials", "must be an integer between 1 and 100"}
		}
	}
	if l.Timeout != nil {
		if *l.Timeout < 1 {
			return nil, nil, &FieldError{"limits.timeout", "must be at least 1 second"}
		}
		m := (*l.Timeout + 59) / 60
		s.MaxDurationMinutes = int(min(m, 1<<30))
	}
	if err := checkCommand(j.TrialCommand, s.Space); err != nil {
		return nil, nil, err
	}
	w, err := s.Validate()
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, nil, &FieldError{v2Field(fe.Field, s.Space), fe.Message}
		}
		return nil, nil, err
	}
	return s, w, nil
}

var v1ToV2 = []struct{ v1, v2 string }{
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

var paramIndex = regexp.MustCompile(`^sampling\.parameter_space\[(\d+)\](\.(name|expression|values))?`)

// v2Field renames a Sweep.Validate field (hdconfig spelling) to v2's.
func v2Field(f string, space Space) string {
	if m := paramIndex.FindStringSubmatch(f); m != nil {
		var i int
		fmt.Sscan(m[1], &i)
		name := ""
		if i < len(space) {
			name = space[i].Name
		}
		rest := map[string]string{"": "", "name": "", "expression": ".type", "values": ".values"}[m[3]]
		return "search_space." + name + rest
	}
	for _, r := range v1ToV2 {
		if f == r.v1 || strings.HasPrefix(f, r.v1+".") {
			return r.v2 + strings.TrimPrefix(f, r.v1)
		}
	}
	return f
}

var searchRef = regexp.MustCompile(`\$\{\{\s*search_space\.([A-Za-z0-9_.\-]+)\s*\}\}`)

// checkCommand rejects a trial command that refers to a parameter the
// search space does not define. A parameter the command never mentions is
// allowed: v2 passes values only through the command, so it is unused.
func checkCommand(cmd string, space Space) error {
	for _, m := range searchRef.FindAllStringSubmatch(cmd, -1) {
		found := false
		for _, p := range space {
			if p.Name == m[1] {
				found = true
			}
		}
		if !found {
			return &FieldError{"trial.command", fmt.Sprintf("${{search_space.%s}} is not in search_space", m[1])}
		}
	}
	return nil
}
