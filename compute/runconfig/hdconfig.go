package runconfig

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// HDConfig is an az ml v1 HyperDrive configuration file (hdconfig.yml):
// the sampling, the early-termination policy, the primary metric and the
// budget of a hyperparameter sweep (docs/design/hyperdrive.md §6).
type HDConfig struct {
	Sampling           Sampling  `json:"sampling"`
	Policy             *HDPolicy `json:"policy,omitempty"`
	PrimaryMetricName  string    `json:"primaryMetricName"`
	PrimaryMetricGoal  string    `json:"primaryMetricGoal"` // maximize or minimize
	MaxTotalRuns       int       `json:"maxTotalRuns"`
	MaxConcurrentRuns  *int      `json:"maxConcurrentRuns,omitempty"`
	MaxDurationMinutes *int      `json:"maxDurationMinutes,omitempty"`
	// BayesianEarlyTermination (bayesian_early_termination, a Trainyard
	// key) lets a policy run with Bayesian sampling, which Azure refuses;
	// the sampler takes the children it stops as censored.
	BayesianEarlyTermination *bool `json:"bayesianEarlyTermination,omitempty"`

	// File is the name errors give for the file.
	File  string `json:"-"`
	lines map[string]int
}

// Sampling is the sampling section: Random, Grid or Bayesian.
type Sampling struct {
	Type           string      `json:"type"`
	ParameterSpace []Parameter `json:"parameterSpace"`
}

// Parameter is one entry of the parameter space: a script argument, an
// expression and its values (taken positionally as the SDK's arguments).
type Parameter struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
	Values     []any  `json:"values"` // float64, or string for choice values that are not numbers
}

// HDPolicy is the early-termination policy.
type HDPolicy struct {
	Type                 string   `json:"type"`
	EvaluationInterval   *int     `json:"evaluationInterval,omitempty"`
	DelayEvaluation      *int     `json:"delayEvaluation,omitempty"`
	SlackFactor          *float64 `json:"slackFactor,omitempty"`
	SlackAmount          *float64 `json:"slackAmount,omitempty"`
	TruncationPercentage *int     `json:"truncationPercentage,omitempty"`
	ExcludeFinishedJobs  *bool    `json:"excludeFinishedJobs,omitempty"`
}

// Samplers, Expressions and Policies are the canonical names the hdconfig takes.
var (
	Samplers    = []string{"Random", "Grid", "Bayesian"}
	Expressions = []string{"choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal", "lognormal", "qlognormal"}
	Policies    = []string{"BanditPolicy", "MedianStoppingPolicy", "TruncationSelectionPolicy", "NoTerminationPolicy"}
)

// MaxDurationMinutesLimit is the service limit; longer durations are capped.
const MaxDurationMinutesLimit = 10080

// ParseHDConfig reads an hdconfig file. file names the file in errors.
func ParseHDConfig(file string, data []byte) (*HDConfig, error) {
	root, err := parseTree(file, data)
	if err != nil {
		return nil, err
	}
	return decodeHDConfig(file, root)
}

func decodeHDConfig(file string, root *node) (*HDConfig, error) {
	d := newDecoder(file)
	if root.kind != mapNode {
		return nil, d.errf(root, "", "an hdconfig is a mapping (sampling, policy, primary_metric_name, …), not %s", root.kind)
	}
	d.lines[""] = root.line
	h := &HDConfig{File: file}
	var errs [7]error
	var total *int
	h.PrimaryMetricName, errs[0] = d.str(root.get("primary_metric_name"), "primary_metric_name")
	h.PrimaryMetricGoal, errs[1] = d.str(root.get("primary_metric_goal"), "primary_metric_goal")
	total, errs[2] = d.int32v(root.get("max_total_runs"), "max_total_runs")
	h.MaxConcurrentRuns, errs[3] = d.int32v(root.get("max_concurrent_runs"), "max_concurrent_runs")
	h.MaxDurationMinutes, errs[4] = d.int32v(root.get("max_duration_minutes"), "max_duration_minutes")
	h.BayesianEarlyTermination, errs[6] = d.boolean(root.get("bayesian_early_termination"), "bayesian_early_termination")
	if e := firstErr(errs[:]...); e != nil {
		return nil, e
	}
	if total != nil {
		h.MaxTotalRuns = *total
	}
	s, err := d.object(root.get("sampling"), "sampling")
	if err != nil {
		return nil, err
	}
	if s != nil {
		if h.Sampling.Type, err = d.enum(s.get("type"), "sampling.type", Samplers...); err != nil {
			return nil, err
		}
		ps := s.get("parameter_space")
		d.see(ps, "sampling.parameter_space")
		if !ps.isNull() && ps.kind != seqNode {
			return nil, d.errf(ps, "sampling.parameter_space", "must be a list of {name, expression, values}, not %s", ps.kind)
		}
		if ps != nil {
			for i, item := range ps.items {
				f := fmt.Sprintf("sampling.parameter_space[%d]", i)
				o, err := d.object(item, f)
				if err != nil {
					return nil, err
				}
				if o == nil {
					return nil, d.errf(ps, f, "must be a mapping with name, expression and values")
				}
				d.lines[f] = o.line
				p, err := decodeParameter(d, o, f)
				if err != nil {
					return nil, err
				}
				h.Sampling.ParameterSpace = append(h.Sampling.ParameterSpace, p)
			}
		}
	}
	if o, err := d.object(root.get("policy"), "policy"); err != nil {
		return nil, err
	} else if o != nil {
		p := &HDPolicy{}
		var errs [7]error
		p.Type, errs[0] = d.enum(o.get("type"), "policy.type", Policies...)
		p.EvaluationInterval, errs[1] = d.int32v(o.get("evaluation_interval"), "policy.evaluation_interval")
		p.DelayEvaluation, errs[2] = d.int32v(o.get("delay_evaluation"), "policy.delay_evaluation")
		p.SlackFactor, errs[3] = d.number(o.get("slack_factor"), "policy.slack_factor")
		p.SlackAmount, errs[4] = d.number(o.get("slack_amount"), "policy.slack_amount")
		p.TruncationPercentage, errs[5] = d.int32v(o.get("truncation_percentage"), "policy.truncation_percentage")
		p.ExcludeFinishedJobs, errs[6] = d.boolean(o.get("exclude_finished_jobs"), "policy.exclude_finished_jobs")
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
		h.Policy = p
	}
	h.lines = d.lines
	return h, nil
}

func decodeParameter(d *decoder, o *node, f string) (Parameter, error) {
	var p Parameter
	var err error
	if p.Name, err = d.str(o.get("name"), f+".name"); err != nil {
		return p, err
	}
	if p.Expression, err = d.enum(o.get("expression"), f+".expression", Expressions...); err != nil {
		return p, err
	}
	v := o.get("values")
	d.see(v, f+".values")
	switch {
	case v.isNull():
	case v.kind == scalarNode:
		p.Values = []any{scalarValue(v)}
	case v.kind == seqNode:
		for i, it := range v.items {
			if it.kind != scalarNode {
				return p, d.errf(it, fmt.Sprintf("%s.values[%d]", f, i), "must be a number or a string, not %s", it.kind)
			}
			p.Values = append(p.Values, scalarValue(it))
		}
	default:
		return p, d.errf(v, f+".values", "must be a list, not %s", v.kind)
	}
	return p, nil
}

// scalarValue is a number when YAML resolved the scalar as one, else its text.
func scalarValue(n *node) any {
	if n.stype == intScalar || n.stype == floatScalar {
		if x, err := strconv.ParseFloat(strings.ReplaceAll(n.text, "_", ""), 64); err == nil {
			return x
		}
		if i, err := strconv.ParseInt(n.text, 0, 64); err == nil {
			return float64(i)
		}
	}
	return n.text
}

func (h *HDConfig) line(field string) int {
	for f := field; ; {
		if l := h.lines[f]; l > 0 {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	if l := h.lines[""]; l > 0 {
		return l
	}
	return 1
}

// wantArgs is how many values each expression takes.
var wantArgs = map[string]int{"randint": 1, "uniform": 2, "quniform": 3, "loguniform": 2, "qloguniform": 3, "normal": 2, "qnormal": 3, "lognormal": 2, "qlognormal": 3}

// Validate checks the rules of HyperDriveConfig and the samplers and
// policies (docs/design/hyperdrive.md §1–§4) and returns the first problem in file
// order as an *Error, or nil.
func (h *HDConfig) Validate() error {
	var probs []*Error
	add := func(field, format string, args ...any) {
		probs = append(probs, &Error{File: h.File, Line: h.line(field), Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if h.Sampling.Type == "" {
		add("sampling.type", "required: Random, Grid or Bayesian")
	}
	if len(h.Sampling.ParameterSpace) == 0 {
		add("sampling.parameter_space", "required: at least one {name, expression, values}")
	}
	names := map[string]bool{}
	for i, p := range h.Sampling.ParameterSpace {
		f := fmt.Sprintf("sampling.parameter_space[%d]", i)
		switch {
		case strings.TrimSpace(p.Name) == "":
			add(f+".name", "required: the script argument to set, e.g. --lr")
		case names[p.Name]:
			add(f+".name", "%s is in the parameter space twice", p.Name)
		}
		names[p.Name] = true
		if p.Expression == "" {
			add(f+".expression", "required: one of %s", strings.Join(Expressions, ", "))
			continue
		}
		if msg := checkExpression(p); msg != "" {
			add(f+".values", "%s", msg)
		}
		switch h.Sampling.Type {
		case "Grid":
			if p.Expression != "choice" {
				add(f+".expression", "This sampling method expects only the following distributions: [choice]")
			} else if msg := gridChoice(p.Values); msg != "" {
				add(f+".values", "%s", msg)
			}
		case "Bayesian":
			switch p.Expression {
			case "choice", "uniform":
			case "quniform":
				if len(p.Values) == 3 {
					lo, hi, q := p.Values[0], p.Values[1], p.Values[2]
					if !allInts(lo, hi, q) {
						add(f+".values", "Expected quniform arguments to be int.")
					} else if qf := q.(float64); qf > 0 && (hi.(float64)-lo.(float64))/qf > 100000 {
						add(f+".values", "Too many discrete points for quniform distribution. Use larger q or uniform instead.")
					}
				}
			default:
				add(f+".expression", "This sampling method expects only the following distributions: [choice, uniform, quniform]")
			}
		}
	}
	if p := h.Policy; p != nil {
		switch p.Type {
		case "":
			add("policy.type", "required: one of %s", strings.Join(Policies, ", "))
		case "BanditPolicy":
			switch {
			case (p.SlackFactor == nil) == (p.SlackAmount == nil):
				add("policy", "Bandit termination policy expects exactly one of slack factor or slack amount to be set.")
			case p.SlackFactor != nil && *p.SlackFactor <= 0:
				add("policy.slack_factor", "must be more than 0")
			case p.SlackAmount != nil && *p.SlackAmount <= 0:
				add("policy.slack_amount", "must be more than 0")
			}
		case "TruncationSelectionPolicy":
			if tp := p.TruncationPercentage; tp == nil || *tp < 1 || *tp > 99 {
				add("policy.truncation_percentage", "truncation_percentage expects value to be between 1 and 99.")
			}
		}
		if p.EvaluationInterval != nil && *p.EvaluationInterval < 1 {
			add("policy.evaluation_interval", "must be at least 1, not %d", *p.EvaluationInterval)
		}
		if p.DelayEvaluation != nil && *p.DelayEvaluation < 0 {
			add("policy.delay_evaluation", "must not be negative")
		}
		optedIn := h.BayesianEarlyTermination != nil && *h.BayesianEarlyTermination
		if h.Sampling.Type == "Bayesian" && p.Type != "" && p.Type != "NoTerminationPolicy" && !optedIn {
			add("policy.type", "Early termination policy for Bayesian sampling. is not implemented for HyperDrive run")
		}
	}
	if strings.TrimSpace(h.PrimaryMetricName) == "" {
		add("primary_metric_name", "required: the metric the script logs, e.g. accuracy")
	}
	switch strings.ToLower(strings.TrimSpace(h.PrimaryMetricGoal)) {
	case "maximize", "minimize":
	default:
		add("primary_metric_goal", "The primary metric goal expects either 'maximize' or 'minimize'.")
	}
	if h.MaxTotalRuns < 1 || h.MaxTotalRuns > 1000 {
		add("max_total_runs", "must be an integer between 1 and 1000")
	}
	if c := h.MaxConcurrentRuns; c != nil && (*c < 1 || *c > 100) {
		add("max_concurrent_runs", "must be an integer between 1 and 100")
	}
	if m := h.MaxDurationMinutes; m != nil && *m < 1 {
		add("max_duration_minutes", "must be at least 1")
	}
	if len(probs) == 0 {
		return nil
	}
	sortErrors(probs)
	return probs[0]
}

// checkExpression checks the number and kind of an expression's values.
func checkExpression(p Parameter) string {
	if p.Expression == "choice" {
		if len(p.Values) == 0 {
			return "choice expects non-empty single list, non-empty single range() or a positive number of arbitrary comma separated inputs."
		}
		return ""
	}
	n := wantArgs[p.Expression]
	if len(p.Values) != n {
		return fmt.Sprintf("%s expects %d values (%s), not %d", p.Expression, n, argNames(p.Expression), len(p.Values))
	}
	nums := make([]float64, n)
	for i, v := range p.Values {
		x, ok := v.(float64)
		if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprintf("%s expects numbers (%s), not %q", p.Expression, argNames(p.Expression), fmt.Sprint(v))
		}
		nums[i] = x
	}
	switch p.Expression {
	case "randint":
		if nums[0] <= 0 || nums[0] != math.Trunc(nums[0]) {
			return "randint expects a positive number as input"
		}
	case "uniform", "quniform":
		if nums[0] >= nums[1] {
			return p.Expression + " expects min_value to be less than max_value"
		}
	case "loguniform", "qloguniform":
		if nums[0] > nums[1] {
			return p.Expression + " expects min_value to be at most max_value"
		}
	case "normal", "qnormal", "lognormal", "qlognormal":
		if nums[1] < 0 {
			return p.Expression + " expects sigma to be non negative"
		}
	}
	if n == 3 && (nums[2] != math.Trunc(nums[2]) || nums[2] < 1) {
		return p.Expression + " expects q to be an int of at least 1"
	}
	return ""
}

func argNames(expr string) string {
	switch expr {
	case "randint":
		return "upper"
	case "uniform", "loguniform":
		return "min_value, max_value"
	case "quniform", "qloguniform":
		return "min_value, max_value, q"
	case "normal", "lognormal":
		return "mu, sigma"
	}
	return "mu, sigma, q"
}

// gridChoice checks Grid's rule on choice values: all or none strings.
func gridChoice(values []any) string {
	strs := 0
	for _, v := range values {
		if _, ok := v.(string); ok {
			strs++
		}
	}
	if strs != 0 && strs != len(values) {
		return "Either all or none of the 'choice' values should be 'str' type."
	}
	return ""
}

func allInts(vs ...any) bool {
	for _, v := range vs {
		x, ok := v.(float64)
		if !ok || x != math.Trunc(x) {
			return false
		}
	}
	return true
}

// Summary describes the sweep in one line.
func (h *HDConfig) Summary() string {
	parts := []string{"hdconfig", strings.ToLower(h.Sampling.Type) + " sampling of " + plural(len(h.Sampling.ParameterSpace), "parameter")}
	var ps []string
	for _, p := range h.Sampling.ParameterSpace {
		ps = append(ps, p.Name+" "+p.Expression)
	}
	if len(ps) > 0 {
		parts[1] += " (" + strings.Join(ps, ", ") + ")"
	}
	pol := "no early termination"
	if p := h.Policy; p != nil && p.Type != "" && p.Type != "NoTerminationPolicy" {
		pol = p.Type
	}
	parts = append(parts, pol, strings.ToLower(h.PrimaryMetricGoal)+" "+h.PrimaryMetricName, plural(h.MaxTotalRuns, "run"))
	if c := h.MaxConcurrentRuns; c != nil {
		parts = append(parts, strconv.Itoa(*c)+" at a time")
	}
	if m := h.MaxDurationMinutes; m != nil {
		s := "max " + strconv.Itoa(*m) + " min"
		if *m > MaxDurationMinutesLimit {
			s = "max " + strconv.Itoa(MaxDurationMinutesLimit) + " min (capped from " + strconv.Itoa(*m) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
