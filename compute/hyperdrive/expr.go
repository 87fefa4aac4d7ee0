// Package hyperdrive is the pure-logic core of HyperDrive sweeps
// (docs/design/hyperdrive.md): parameter expressions, the
// samplers (random, Sobol, grid, Bayesian), the early-termination policies
// and the sweep specification. Nothing here does I/O or reads the clock, so
// every decision is reproducible from its inputs and unit-testable.
package hyperdrive

import (
	"fmt"
	"math"
	"strconv"
)

// Kind names a parameter expression, spelled as in the SDK (docs/design/hyperdrive.md §1).
type Kind string

// The ten parameter expressions.
const (
	Choice      Kind = "choice"
	RandInt     Kind = "randint"
	Uniform     Kind = "uniform"
	QUniform    Kind = "quniform"
	LogUniform  Kind = "loguniform"
	QLogUniform Kind = "qloguniform"
	Normal      Kind = "normal"
	QNormal     Kind = "qnormal"
	LogNormal   Kind = "lognormal"
	QLogNormal  Kind = "qlognormal"
)

// Kinds lists the expressions in the documentation's order.
var Kinds = []Kind{Choice, RandInt, Uniform, QUniform, LogUniform, QLogUniform, Normal, QNormal, LogNormal, QLogNormal}

// argNames are each numeric expression's positional arguments: the hdconfig
// `values` list maps onto them in this order (docs/design/hyperdrive.md §8.6, decided
// positional as the runconfig package already does).
var argNames = map[Kind][]string{
	RandInt:     {"upper"},
	Uniform:     {"min_value", "max_value"},
	QUniform:    {"min_value", "max_value", "q"},
	LogUniform:  {"min_value", "max_value"},
	QLogUniform: {"min_value", "max_value", "q"},
	Normal:      {"mu", "sigma"},
	QNormal:     {"mu", "sigma", "q"},
	LogNormal:   {"mu", "sigma"},
	QLogNormal:  {"mu", "sigma", "q"},
}

// ArgNames returns the positional argument names of k (nil for choice,
// whose arguments are its options).
func ArgNames(k Kind) []string { return argNames[k] }

// Value is one sampled (or chosen) hyperparameter value: a number, or a
// string for choice options that are not numbers. Integral says the value
// is an integer by construction (randint, q-expressions with integral q,
// integral choice options) so that it reaches the child as "32", not
// "32.0", which argparse's type=int would refuse.
type Value struct {
	Num      float64
	Str      string
	IsString bool
	Integral bool
}

// Num returns a numeric Value; integral when x is a whole number.
func Num(x float64) Value {
	return Value{Num: x, Integral: x == math.Trunc(x) && !math.IsInf(x, 0) && math.Abs(x) < 1<<53}
}

// Str returns a string Value.
func Str(s string) Value { return Value{Str: s, IsString: true} }

// String formats the value as it reaches the child's command line: strings
// verbatim, integers without a fraction, other numbers in the shortest form
// that parses back to the same float64 (Python's float() reads it).
func (v Value) String() string {
	switch {
	case v.IsString:
		return v.Str
	case v.Integral:
		return strconv.FormatFloat(v.Num, 'f', -1, 64)
	}
	return strconv.FormatFloat(v.Num, 'g', -1, 64)
}

// Equal reports whether two values are the same option.
func (v Value) Equal(w Value) bool {
	if v.IsString || w.IsString {
		return v.IsString == w.IsString && v.Str == w.Str
	}
	return v.Num == w.Num
}

// Expression is a validated parameter expression. Build it with
// NewExpression so that its arguments are known to be valid.
type Expression struct {
	Kind    Kind
	Args    []float64 // positional numeric arguments (see ArgNames); nil for choice
	Options []Value   // choice's options; nil otherwise
}

// ExprError is a rejected expression: the parameter, the argument at fault
// (empty when the whole expression is), and the SDK-style message
// "{expression} expects {condition}" (docs/design/hyperdrive.md §1).
type ExprError struct {
	Param   string
	Arg     string
	Message string
}

// Error renders "param: message" or "param.arg: message".
func (e *ExprError) Error() string {
	p := e.Param
	if e.Arg != "" {
		p += "." + e.Arg
	}
	return p + ": " + e.Message
}

// NewExpression validates kind and values for parameter name and returns
// the expression. values are float64 (ints also accepted) or strings, as
// the hdconfig decoder yields them; strings are allowed only as choice
// options.
func NewExpression(name string, kind Kind, values []any) (Expression, error) {
	fail := func(arg, format string, args ...any) (Expression, error) {
		return Expression{}, &ExprError{Param: name, Arg: arg, Message: fmt.Sprintf(format, args...)}
	}
	if kind == Choice {
		if len(values) == 0 {
			return fail("", "Please specify an input for choice.")
		}
		opts := make([]Value, len(values))
		for i, v := range values {
			switch x := v.(type) {
			case string:
				opts[i] = Str(x)
			default:
				f, ok := toFloat(v)
				if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
					return fail(fmt.Sprintf("values[%d]", i), "'choice' values should be 'int', 'string' or 'float'.")
				}
				opts[i] = Num(f)
			}
		}
		return Expression{Kind: Choice, Options: opts}, nil
	}
	names, ok := argNames[kind]
	if !ok {
		return fail("", "unknown expression %q: use one of choice, randint, uniform, quniform, loguniform, qloguniform, normal, qnormal, lognormal, qlognormal", string(kind))
	}
	if len(values) != len(names) {
		return fail("", "%s expects %d values (%s), not %d", kind, len(names), joinNames(names), len(values))
	}
	args := make([]float64, len(values))
	for i, v := range values {
		f, ok := toFloat(v)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return fail(names[i], "%s expects numbers (%s), not %q", kind, joinNames(names), fmt.Sprint(v))
		}
		args[i] = f
	}
	switch kind {
	case RandInt:
		if args[0] < 1 || args[0] != math.Trunc(args[0]) || args[0] > 1<<53 {
			return fail("upper", "randint expects a positive number as input")
		}
	case Uniform, QUniform:
		if !(args[0] < args[1]) {
			return fail("max_value", "%s expects min_value to be less than max_value", kind)
		}
	case LogUniform, QLogUniform:
		if !(args[0] <= args[1]) {
			return fail("max_value", "%s expects min_value to be at most max_value", kind)
		}
		// exp(709.78) overflows float64: the bounds are exponents.
		if args[1] > 709 {
			return fail("max_value", "%s expects max_value (an exponent: the value is exp(max_value)) to be at most 709", kind)
		}
	case Normal, QNormal, LogNormal, QLogNormal:
		if args[1] < 0 {
			return fail("sigma", "%s expects sigma to be non negative", kind)
		}
	}
	if len(args) == 3 {
		// q is integral in the SDK ("q to be an int"); 0 would divide by zero,
		// so Trainyard also requires at least 1 (docs/DECISIONS.md).
		if q := args[2]; q != math.Trunc(q) || q < 1 {
			return fail("q", "%s expects q to be an int of at least 1", kind)
		}
	}
	return Expression{Kind: kind, Args: args}, nil
}

func joinNames(n []string) string {
	s := ""
	for i, x := range n {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	}
	return 0, false
}

// FromUnit maps u in [0, 1) to a value of the expression by the inverse of
// its distribution function. Every sampler draws through here, so random,
// Sobol and Bayesian share one definition of each expression's maths:
//
//	choice       options[floor(u·n)]
//	randint      floor(u·upper), in [0, upper)
//	uniform      min + u·(max−min)
//	quniform     round(uniform/q)·q
//	loguniform   exp(uniform(min, max))
//	qloguniform  round(exp(uniform)/q)·q
//	normal       mu + sigma·Φ⁻¹(u)
//	qnormal      round(normal/q)·q
//	lognormal    exp(normal)
//	qlognormal   round(exp(normal)/q)·q
//
// round is half-to-even, as numpy's (the SDK's service is Python).
func (e Expression) FromUnit(u float64) Value {
	u = clamp01(u)
	a := e.Args
	switch e.Kind {
	case Choice:
		return e.Options[index(u, len(e.Options))]
	case RandInt:
		return Num(float64(index(u, int(a[0]))))
	case Uniform:
		return Value{Num: a[0] + u*(a[1]-a[0])}
	case QUniform:
		return quant(a[0]+u*(a[1]-a[0]), a[2])
	case LogUniform:
		return Value{Num: math.Exp(a[0] + u*(a[1]-a[0]))}
	case QLogUniform:
		return quant(math.Exp(a[0]+u*(a[1]-a[0])), a[2])
	case Normal:
		return Value{Num: a[0] + a[1]*normInv(u)}
	case QNormal:
		return quant(a[0]+a[1]*normInv(u), a[2])
	case LogNormal:
		return Value{Num: math.Exp(a[0] + a[1]*normInv(u))}
	case QLogNormal:
		return quant(math.Exp(a[0]+a[1]*normInv(u)), a[2])
	}
	panic("hyperdrive: FromUnit on an unvalidated expression " + string(e.Kind))
}

// ToUnit is the inverse of FromUnit for the expressions Bayesian sampling
// models (choice, uniform, quniform): the centre of the choice's cell, or
// the position between the bounds, clamped to [0, 1].
func (e Expression) ToUnit(v Value) float64 {
	switch e.Kind {
	case Choice:
		for i, o := range e.Options {
			if o.Equal(v) {
				return (float64(i) + 0.5) / float64(len(e.Options))
			}
		}
		return 0.5
	case Uniform, QUniform:
		return min(max((v.Num-e.Args[0])/(e.Args[1]-e.Args[0]), 0), 1)
	}
	panic("hyperdrive: ToUnit on " + string(e.Kind))
}

// quant is round(x/q)·q; with an integral q the result is an integer.
func quant(x, q float64) Value {
	return Num(math.RoundToEven(x/q) * q)
}

// index is floor(u·n) kept inside [0, n).
func index(u float64, n int) int {
	i := int(u * float64(n))
	return min(max(i, 0), n-1)
}

// clamp01 keeps u in [0, 1); NaN becomes 0.5.
func clamp01(u float64) float64 {
	switch {
	case math.IsNaN(u):
		return 0.5
	case u < 0:
		return 0
	case u >= 1:
		return math.Nextafter(1, 0)
	}
	return u
}

// normInv is Φ⁻¹, the standard normal quantile. u is kept 2⁻⁵³ away from 0
// and 1 so that a draw never becomes ±Inf.
func normInv(u float64) float64 {
	const eps = 1.0 / (1 << 53)
	u = min(max(u, eps), 1-eps)
	return math.Sqrt2 * math.Erfinv(2*u-1)
}

// Param is one named, sampled hyperparameter.
type Param struct {
	Name  string
	Value Value
}

// Params is one sample of the search space, in the space's order (so the
// child's command line is stable).
type Params []Param

// Args renders the params as the child's extra arguments: "--name value"
// pairs in order. A name without leading dashes (v2 search spaces name
// parameters, not arguments) gets "--" prepended.
func (p Params) Args() []string {
	out := make([]string, 0, 2*len(p))
	for _, x := range p {
		n := x.Name
		if len(n) == 0 || n[0] != '-' {
			n = "--" + n
		}
		out = append(out, n, x.Value.String())
	}
	return out
}

// Get returns the value of the named parameter.
func (p Params) Get(name string) (Value, bool) {
	for _, x := range p {
		if x.Name == name {
			return x.Value, true
		}
	}
	return Value{}, false
}

// Map returns the params as name → value text, the form stored as a
// child's `hyperparameters`.
func (p Params) Map() map[string]string {
	m := make(map[string]string, len(p))
	for _, x := range p {
		m[x.Name] = x.Value.String()
	}
	return m
}

// MergeArgs builds a child's arguments from the parent's (base) and its
// sampled params (docs/design/hyperdrive.md §4.6).
//
//   - v2 (trainyard job create): when base holds any
//     ${{search_space.<name>}}, it is the trial command's template. Each
//     such placeholder is replaced by the value, in place and inside a
//     larger word too ("--lr=${{search_space.lr}}"), as one argv word
//     (never through a shell); nothing is appended, so a parameter the
//     command does not mention is not passed (v2 passes values only
//     through the command).
//   - v1 (submit-hyperdrive, hdconfig): params are appended as
//     "--name value"; an argument the search space also sets is removed
//     from base together with its value, as HyperDrive's
//     `_remove_duplicate_arguments` does: the parameter space wins. A base
//     argument "--x=1" is matched too.
func MergeArgs(base []string, p Params) []string {
	if HasTemplate(base) {
		out := make([]string, len(base))
		for i, a := range base {
			out[i] = searchRef.ReplaceAllStringFunc(a, func(ref string) string {
				if v, ok := p.Get(searchRef.FindStringSubmatch(ref)[1]); ok {
					return v.String()
				}
				return ref
			})
		}
		return out
	}
	set := map[string]bool{}
	args := p.Args()
	for i := 0; i < len(args); i += 2 {
		set[args[i]] = true
	}
	out := make([]string, 0, len(base)+len(args))
	for i := 0; i < len(base); i++ {
		a := base[i]
		if set[a] {
			if i+1 < len(base) && !isFlag(base[i+1]) {
				i++
			}
			continue
		}
		if k, _, ok := cutEq(a); ok && set[k] {
			continue
		}
		out = append(out, a)
	}
	return append(out, args...)
}

func isFlag(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err != nil // "-1" is a value, "--x" a flag
}

func cutEq(s string) (string, string, bool) {
	if len(s) < 2 || s[0] != '-' {
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// HasTemplate reports whether args hold a ${{search_space.<name>}}
// placeholder, i.e. are a v2 trial command's template.
func HasTemplate(args []string) bool {
	for _, a := range args {
		if searchRef.MatchString(a) {
			return true
		}
	}
	return false
}
