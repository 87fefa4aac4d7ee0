package hyperdrive

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestNewExpressionValidation(t *testing.T) {
	tests := []struct {
		kind   Kind
		values []any
		want   string // "" = valid; else the whole error text
	}{
		{Choice, []any{16.0, 32.0, 64.0}, ""},
		{Choice, []any{"adam", "sgd"}, ""},
		{Choice, []any{1.0, "b"}, ""}, // mixed is fine outside Grid
		{Choice, nil, "--p: Please specify an input for choice."},
		{Choice, []any{math.NaN()}, "--p.values[0]: 'choice' values should be 'int', 'string' or 'float'."},
		{Choice, []any{true}, "--p.values[0]: 'choice' values should be 'int', 'string' or 'float'."},
		{RandInt, []any{5.0}, ""},
		{RandInt, []any{5}, ""},
		{RandInt, []any{0.0}, "--p.upper: randint expects a positive number as input"},
		{RandInt, []any{-3.0}, "--p.upper: randint expects a positive number as input"},
		{RandInt, []any{2.5}, "--p.upper: randint expects a positive number as input"},
		{RandInt, []any{1.0, 2.0}, "--p: randint expects 1 values (upper), not 2"},
		{Uniform, []any{0.05, 0.1}, ""},
		{Uniform, []any{1.0, 1.0}, "--p.max_value: uniform expects min_value to be less than max_value"},
		{Uniform, []any{2.0, 1.0}, "--p.max_value: uniform expects min_value to be less than max_value"},
		{Uniform, []any{"a", 1.0}, `--p.min_value: uniform expects numbers (min_value, max_value), not "a"`},
		{Uniform, []any{0.0, math.Inf(1)}, `--p.max_value: uniform expects numbers (min_value, max_value), not "+Inf"`},
		{QUniform, []any{1.0, 10.0, 2.0}, ""},
		{QUniform, []any{1.0, 10.0, 0.5}, "--p.q: quniform expects q to be an int of at least 1"},
		{QUniform, []any{1.0, 10.0, 0.0}, "--p.q: quniform expects q to be an int of at least 1"},
		{QUniform, []any{1.0, 10.0}, "--p: quniform expects 3 values (min_value, max_value, q), not 2"},
		{LogUniform, []any{-3.0, -3.0}, ""}, // ≤, not <
		{LogUniform, []any{-2.0, -3.0}, "--p.max_value: loguniform expects min_value to be at most max_value"},
		{LogUniform, []any{0.0, 800.0}, "--p.max_value: loguniform expects max_value (an exponent: the value is exp(max_value)) to be at most 709"},
		{QLogUniform, []any{0.0, 5.0, 1.0}, ""},
		{QLogUniform, []any{0.0, 5.0, 1.5}, "--p.q: qloguniform expects q to be an int of at least 1"},
		{Normal, []any{0.0, 0.0}, ""}, // sigma ≥ 0
		{Normal, []any{0.0, -1.0}, "--p.sigma: normal expects sigma to be non negative"},
		{QNormal, []any{10.0, 2.0, 1.0}, ""},
		{QNormal, []any{10.0, -2.0, 1.0}, "--p.sigma: qnormal expects sigma to be non negative"},
		{LogNormal, []any{0.0, 1.0}, ""},
		{LogNormal, []any{0.0, -0.1}, "--p.sigma: lognormal expects sigma to be non negative"},
		{QLogNormal, []any{0.0, 1.0, 2.0}, ""},
		{QLogNormal, []any{0.0, 1.0, 2.0, 3.0}, "--p: qlognormal expects 3 values (mu, sigma, q), not 4"},
		{"gauss", []any{1.0}, `--p: unknown expression "gauss": use one of choice, randint, uniform, quniform, loguniform, qloguniform, normal, qnormal, lognormal, qlognormal`},
	}
	for _, tc := range tests {
		_, err := NewExpression("--p", tc.kind, tc.values)
		got := ""
		if err != nil {
			got = err.Error()
			var xe *ExprError
			if !errors.As(err, &xe) || xe.Param != "--p" {
				t.Errorf("%s %v: error %T does not name the parameter", tc.kind, tc.values, err)
			}
		}
		if got != tc.want {
			t.Errorf("%s %v:\n got %q\nwant %q", tc.kind, tc.values, got, tc.want)
		}
	}
}

func mustExpr(t testing.TB, k Kind, v ...any) Expression {
	t.Helper()
	e, err := NewExpression("--p", k, v)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFromUnitMaths checks each expression's documented formula at fixed
// quantiles (docs/design/hyperdrive.md §1).
func TestFromUnitMaths(t *testing.T) {
	z := math.Sqrt2 * math.Erfinv(2*0.975-1) // Φ⁻¹(0.975) ≈ 1.959964
	tests := []struct {
		e    Expression
		u    float64
		want string
	}{
		{mustExpr(t, Choice, 16.0, 32.0, 64.0), 0, "16"},
		{mustExpr(t, Choice, 16.0, 32.0, 64.0), 0.34, "32"},
		{mustExpr(t, Choice, 16.0, 32.0, 64.0), 0.999999, "64"},
		{mustExpr(t, Choice, "adam", "sgd"), 0.7, "sgd"},
		{mustExpr(t, Choice, 0.5, 1.0, 1.5), 0.0, "0.5"},
		{mustExpr(t, RandInt, 5.0), 0, "0"},
		{mustExpr(t, RandInt, 5.0), 0.9999, "4"}, // [0, upper)
		{mustExpr(t, RandInt, 5.0), 0.5, "2"},
		{mustExpr(t, Uniform, 0.05, 0.1), 0.5, "0.07500000000000001"},
		{mustExpr(t, Uniform, -1.0, 1.0), 0.25, "-0.5"},
		{mustExpr(t, QUniform, 0.0, 10.0, 2.0), 0.33, "4"},            // round(3.3/2)=2 → 4
		{mustExpr(t, QUniform, 0.0, 10.0, 2.0), 0.5, "4"},             // round(5/2)=round(2.5)=2 (half to even) → 4
		{mustExpr(t, QUniform, 0.0, 10.0, 2.0), 0.7, "8"},             // round(3.5)=4 → 8
		{mustExpr(t, LogUniform, 0.0, 2.0), 0.5, "2.718281828459045"}, // exp(1)
		{mustExpr(t, QLogUniform, 0.0, 2.0, 1.0), 0.5, "3"},           // round(e)=3
		{mustExpr(t, Normal, 10.0, 2.0), 0.5, "10"},
		{mustExpr(t, Normal, 10.0, 2.0), 0.975, formatFloat(10 + 2*z)},
		{mustExpr(t, QNormal, 10.0, 2.0, 3.0), 0.975, "15"}, // round(13.92/3)=round(4.64)=5 → 15
		{mustExpr(t, LogNormal, 0.0, 1.0), 0.5, "1"},
		{mustExpr(t, QLogNormal, 1.0, 1.0, 2.0), 0.5, "2"}, // round(e/2)=round(1.359)=1 → 2
	}
	for i, tc := range tests {
		if got := tc.e.FromUnit(tc.u).String(); got != tc.want {
			t.Errorf("row %d %s%v at u=%v: got %s, want %s", i, tc.e.Kind, tc.e.Args, tc.u, got, tc.want)
		}
	}
}

func formatFloat(x float64) string { return Value{Num: x}.String() }

// TestSampleDistributions checks moments and bounds of many random draws.
func TestSampleDistributions(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 40000
	tests := []struct {
		e            Expression
		lo, hi       float64 // bounds every draw must respect
		mean, tol    float64
		integralOnly bool
	}{
		{mustExpr(t, RandInt, 10.0), 0, 9, 4.5, 0.1, true},
		{mustExpr(t, Uniform, 2.0, 4.0), 2, 4, 3, 0.02, false},
		{mustExpr(t, QUniform, 0.0, 100.0, 5.0), 0, 100, 50, 0.6, true},
		{mustExpr(t, LogUniform, 0.0, 1.0), 1, math.E, math.E - 1, 0.02, false},
		{mustExpr(t, Normal, 3.0, 2.0), math.Inf(-1), math.Inf(1), 3, 0.05, false},
		{mustExpr(t, LogNormal, 0.0, 0.5), 0, math.Inf(1), math.Exp(0.125), 0.02, false},
		{mustExpr(t, QLogNormal, 2.0, 0.3, 1.0), 0, math.Inf(1), math.Exp(2 + 0.045), 0.1, true},
	}
	for _, tc := range tests {
		var sum float64
		for range n {
			v := tc.e.FromUnit(r.Float64())
			if v.Num < tc.lo || v.Num > tc.hi {
				t.Fatalf("%s%v: draw %v outside [%v, %v]", tc.e.Kind, tc.e.Args, v.Num, tc.lo, tc.hi)
			}
			if tc.integralOnly && !v.Integral {
				t.Fatalf("%s%v: draw %v not integral", tc.e.Kind, tc.e.Args, v.Num)
			}
			sum += v.Num
		}
		if m := sum / n; math.Abs(m-tc.mean) > tc.tol {
			t.Errorf("%s%v: mean %v, want %v ± %v", tc.e.Kind, tc.e.Args, m, tc.mean, tc.tol)
		}
	}
}

var tenth = 0.1 // a variable, so 0.1 + 0.2 is rounded at run time

func TestValueFormatting(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Num(32), "32"},
		{Num(-4), "-4"},
		{Num(0.5), "0.5"},
		{Num(1e-5), "1e-05"},
		{Num(1e20), "1e+20"}, // beyond 2^53: not marked integral
		{Num(1 << 52), "4503599627370496"},
		{Value{Num: tenth + 0.2}, "0.30000000000000004"},
		{Value{Num: 3}, "3"},
		{Str("adam"), "adam"},
		{Str("a b"), "a b"},
	}
	for _, tc := range tests {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestParamsArgs(t *testing.T) {
	p := Params{{"--lr", Num(0.05)}, {"batch", Num(32)}, {"--opt", Str("adam")}}
	if got, want := p.Args(), []string{"--lr", "0.05", "--batch", "32", "--opt", "adam"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Args %q, want %q", got, want)
	}
	if got := p.Map(); got["batch"] != "32" || len(got) != 3 {
		t.Errorf("Map %v", got)
	}
	tests := []struct {
		base, want []string
	}{
		{nil, []string{"--lr", "0.05", "--batch", "32", "--opt", "adam"}},
		{[]string{"--data", "/d"}, []string{"--data", "/d", "--lr", "0.05", "--batch", "32", "--opt", "adam"}},
		{[]string{"--lr", "1", "--data", "/d"}, []string{"--data", "/d", "--lr", "0.05", "--batch", "32", "--opt", "adam"}},
		{[]string{"--lr=1", "--verbose", "--batch", "-1"}, []string{"--verbose", "--lr", "0.05", "--batch", "32", "--opt", "adam"}},
		{[]string{"--opt", "--verbose"}, []string{"--verbose", "--lr", "0.05", "--batch", "32", "--opt", "adam"}},
	}
	for _, tc := range tests {
		if got := MergeArgs(tc.base, p); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("MergeArgs(%q):\n got %q\nwant %q", tc.base, got, tc.want)
		}
	}
}

func TestToUnitRoundTrip(t *testing.T) {
	c := mustExpr(t, Choice, "a", "b", "c", "d")
	for i, o := range c.Options {
		if got := c.FromUnit(c.ToUnit(o)); !got.Equal(o) {
			t.Errorf("choice %d: round trip gives %v", i, got)
		}
	}
	u := mustExpr(t, Uniform, -2.0, 6.0)
	if got := u.ToUnit(Num(0)); got != 0.25 {
		t.Errorf("uniform ToUnit(0) = %v", got)
	}
	if got := u.ToUnit(Num(100)); got != 1 {
		t.Errorf("uniform ToUnit clamps: %v", got)
	}
}

// FuzzNewExpression: no input panics, an accepted expression only ever
// yields finite values that FromUnit respects, and a rejection names the
// parameter.
func FuzzNewExpression(f *testing.F) {
	for _, k := range Kinds {
		f.Add(string(k), 0.0, 1.0, 1.0, 3, "x")
	}
	f.Add("uniform", 5.0, -5.0, 0.0, 2, "")
	f.Add("qnormal", 1e308, 1e308, 1e308, 3, "s")
	f.Add("randint", 1e300, 0.0, 0.0, 1, "")
	f.Fuzz(func(t *testing.T, kind string, a, b, c float64, n int, s string) {
		vals := []any{a, b, c}
		if n >= 0 && n <= 3 {
			vals = vals[:n]
		}
		if s != "" && len(vals) > 0 {
			vals[0] = s
		}
		e, err := NewExpression("--f", Kind(strings.ToLower(kind)), vals)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--f") {
				t.Fatalf("error %q does not name the parameter", err)
			}
			return
		}
		for _, u := range []float64{0, 1e-300, 0.5, 1 - 1e-16, 1, -1, math.NaN()} {
			v := e.FromUnit(u)
			if !v.IsString && math.IsNaN(v.Num) {
				t.Fatalf("%s%v at %v: NaN", e.Kind, e.Args, u)
			}
			if e.Kind == RandInt && (v.Num < 0 || v.Num >= e.Args[0]) {
				t.Fatalf("randint %v gave %v", e.Args, v.Num)
			}
			if (e.Kind == Uniform) && (v.Num < e.Args[0] || v.Num > e.Args[1]) {
				t.Fatalf("uniform %v gave %v", e.Args, v.Num)
			}
			_ = v.String()
		}
	})
}
