package hyperdrive

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
)

// TestSobolUnscrambled checks the first points against the published
// Joe–Kuo sequence (as SciPy's Sobol(scramble=False) prints them).
func TestSobolUnscrambled(t *testing.T) {
	s, err := NewSobol(3, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{
		{0, 0, 0},
		{0.5, 0.5, 0.5},
		{0.75, 0.25, 0.25},
		{0.25, 0.75, 0.75},
		{0.375, 0.375, 0.625},
		{0.875, 0.875, 0.125},
		{0.625, 0.125, 0.875},
		{0.125, 0.625, 0.375},
	}
	for i, w := range want {
		if got := s.Point(uint64(i)); !reflect.DeepEqual(got, w) {
			t.Errorf("point %d: %v, want %v", i, got, w)
		}
	}
}

// TestSobolNets: in every dimension, the first 2^m points of a Sobol
// sequence (scrambled or not) put exactly one point in each interval
// [k/2^m, (k+1)/2^m), and every pair of dimensions does so on 2^a × 2^b
// boxes with a+b = m for small m (0-discrepancy in 1-D, net in 2-D for
// dimension 1 and 2). This catches a wrong direction number.
func TestSobolNets(t *testing.T) {
	for _, scramble := range []bool{false, true} {
		s, err := NewSobol(SobolMaxDims, scramble, 42)
		if err != nil {
			t.Fatal(err)
		}
		const m = 10
		pts := make([][]float64, 1<<m)
		for i := range pts {
			pts[i] = s.Point(uint64(i))
		}
		for d := range SobolMaxDims {
			seen := make([]bool, 1<<m)
			for _, p := range pts {
				k := int(p[d] * (1 << m))
				if seen[k] {
					t.Fatalf("scramble=%v dim %d: two of the first %d points in cell %d", scramble, d+1, 1<<m, k)
				}
				seen[k] = true
			}
		}
		// Dimensions 1 and 2 form a (0, m, 2)-net.
		for a := 0; a <= m; a++ {
			b := m - a
			seen := map[[2]int]bool{}
			for _, p := range pts {
				c := [2]int{int(p[0] * float64(int(1)<<a)), int(p[1] * float64(int(1)<<b))}
				if seen[c] {
					t.Fatalf("scramble=%v: dims 1-2 are not a net on %d×%d boxes", scramble, 1<<a, 1<<b)
				}
				seen[c] = true
			}
		}
	}
	if _, err := NewSobol(SobolMaxDims+1, true, 0); err == nil {
		t.Error("too many dimensions accepted")
	}
}

func TestSobolScramblingIsSeeded(t *testing.T) {
	a, _ := NewSobol(4, true, 7)
	b, _ := NewSobol(4, true, 7)
	c, _ := NewSobol(4, true, 8)
	if !reflect.DeepEqual(a.Point(5), b.Point(5)) {
		t.Error("same seed, different points")
	}
	if reflect.DeepEqual(a.Point(5), c.Point(5)) {
		t.Error("different seeds, same points")
	}
	if reflect.DeepEqual(a.Point(0), []float64{0, 0, 0, 0}) {
		t.Error("scrambled point 0 is the origin")
	}
}

func testSpace(t testing.TB) Space {
	return Space{
		{"--lr", mustExpr(t, LogUniform, -7.0, -1.0)},
		{"--batch", mustExpr(t, Choice, 16.0, 32.0, 64.0)},
		{"--opt", mustExpr(t, Choice, "adam", "sgd")},
		{"--seed", mustExpr(t, RandInt, 1000.0)},
		{"--drop", mustExpr(t, QUniform, 0.0, 50.0, 5.0)},
		{"--mom", mustExpr(t, Normal, 0.9, 0.01)},
	}
}

// TestRandomAndSobolReproducible: the same seed and history give the same
// params, child by child, whatever happened in between (restart safety).
func TestRandomAndSobolReproducible(t *testing.T) {
	sob, err := NewSobolSampler(testSpace(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	sob2, _ := NewSobolSampler(testSpace(t), 3)
	for _, pair := range [][2]Sampler{
		{&RandomSampler{Space: testSpace(t), Seed: 3}, &RandomSampler{Space: testSpace(t), Seed: 3}},
		{sob, sob2},
	} {
		var h []Trial
		seen := map[string]bool{}
		for range 50 {
			p, err := pair[0].Next(h)
			if err != nil {
				t.Fatal(err)
			}
			q, _ := pair[1].Next(h)
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("%T: not reproducible: %v vs %v", pair[0], p, q)
			}
			if len(p) != 6 || p[0].Name != "--lr" || p[5].Name != "--mom" {
				t.Fatalf("order: %v", p)
			}
			lr, _ := p.Get("--lr")
			if lr.Num < math.Exp(-7) || lr.Num > math.Exp(-1) {
				t.Fatalf("lr %v", lr.Num)
			}
			seen[fmt.Sprint(p.Args())] = true
			h = append(h, Trial{Params: p})
		}
		if len(seen) != 50 {
			t.Errorf("%T: %d distinct samples of 50", pair[0], len(seen))
		}
	}
	a, _ := (&RandomSampler{Space: testSpace(t), Seed: 1}).Next(nil)
	b, _ := (&RandomSampler{Space: testSpace(t), Seed: 2}).Next(nil)
	if reflect.DeepEqual(a, b) {
		t.Error("seed ignored")
	}
}

// TestSobolCoversEvenly: 64 Sobol points over a 4-way choice hit each
// option exactly 16 times; random draws need not.
func TestSobolCoversEvenly(t *testing.T) {
	sp := Space{{"--c", mustExpr(t, Choice, "a", "b", "c", "d")}, {"--u", mustExpr(t, Uniform, 0.0, 1.0)}}
	s, _ := NewSobolSampler(sp, 11)
	count := map[string]int{}
	var h []Trial
	for range 64 {
		p, _ := s.Next(h)
		h = append(h, Trial{Params: p})
		v, _ := p.Get("--c")
		count[v.Str]++
	}
	for _, o := range []string{"a", "b", "c", "d"} {
		if count[o] != 16 {
			t.Errorf("option %s drawn %d times, want 16", o, count[o])
		}
	}
}

func TestGridOrder(t *testing.T) {
	g := &GridSampler{Space: Space{
		{"--a", mustExpr(t, Choice, 1.0, 2.0, 3.0)},
		{"--b", mustExpr(t, Choice, "x", "y")},
	}}
	if g.Size() != 6 { // TH1: 3 × 2 = 6 samples
		t.Fatalf("size %d", g.Size())
	}
	want := []string{"[--a 1 --b x]", "[--a 1 --b y]", "[--a 2 --b x]", "[--a 2 --b y]", "[--a 3 --b x]", "[--a 3 --b y]"}
	var h []Trial
	for _, w := range want {
		p, err := g.Next(h)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(p.Args()); got != w {
			t.Errorf("combination %d: %s, want %s", len(h), got, w)
		}
		h = append(h, Trial{Params: p})
	}
	if _, err := g.Next(h); !errors.Is(err, ErrExhausted) {
		t.Errorf("after the grid: %v", err)
	}
	big := &GridSampler{}
	for i := range 40 {
		big.Space = append(big.Space, ParamSpec{fmt.Sprint(i), mustExpr(t, Choice, 1.0, 2.0, 3.0, 4.0)})
	}
	if big.Size() != 1<<62 {
		t.Errorf("saturation: %d", big.Size())
	}
}

// branin is the Branin–Hoo function on [-5,10]×[0,15]; minimum 0.397887.
func branin(x1, x2 float64) float64 {
	b, c := 5.1/(4*math.Pi*math.Pi), 5/math.Pi
	return math.Pow(x2-b*x1*x1+c*x1-6, 2) + 10*(1-1/(8*math.Pi))*math.Cos(x1) + 10
}

// runSampler minimises f with s for n trials, one at a time, and returns
// the best value found.
func runSampler(t testing.TB, s Sampler, n int, f func(Params) float64) float64 {
	var h []Trial
	best := math.Inf(1)
	for range n {
		p, err := s.Next(h)
		if err != nil {
			t.Fatal(err)
		}
		y := f(p)
		best = min(best, y)
		h = append(h, Trial{Params: p, Ended: true, Score: &y})
	}
	return best
}

// TestBayesianBeatsRandomOnBranin: over 5 seeds and 30 trials, the GP's
// median regret on Branin is well below random search's (a smoke test of
// the optimiser; the full benchmark is the next engineer's make bench).
func TestBayesianBeatsRandomOnBranin(t *testing.T) {
	if testing.Short() {
		t.Skip("optimiser benchmark")
	}
	sp := Space{{"x1", mustExpr(t, Uniform, -5.0, 10.0)}, {"x2", mustExpr(t, Uniform, 0.0, 15.0)}}
	f := func(p Params) float64 {
		a, _ := p.Get("x1")
		b, _ := p.Get("x2")
		return branin(a.Num, b.Num)
	}
	var bo, rs []float64
	for seed := range uint64(5) {
		b, err := NewBayesianSampler(sp, Minimize, seed)
		if err != nil {
			t.Fatal(err)
		}
		bo = append(bo, runSampler(t, b, 30, f)-0.397887)
		rs = append(rs, runSampler(t, &RandomSampler{Space: sp, Seed: seed}, 30, f)-0.397887)
	}
	mb, mr := median(bo), median(rs)
	t.Logf("Branin, 30 trials, median regret: bayesian %.4f, random %.4f", mb, mr)
	if mb > 0.05 || mb > mr/10 {
		t.Errorf("bayesian regret %.4f vs random %.4f", mb, mr)
	}
}

// TestBayesianDetails: expression rules, the Sobol start, determinism,
// and that running children and categorical options are handled.
func TestBayesianDetails(t *testing.T) {
	if _, err := NewBayesianSampler(Space{{"--m", mustExpr(t, Normal, 0.0, 1.0)}}, Maximize, 0); err == nil ||
		err.Error() != "--m: This sampling method expects only the following distributions: [choice, uniform, quniform]" {
		t.Errorf("normal accepted: %v", err)
	}
	sp := Space{
		{"--opt", mustExpr(t, Choice, "adam", "sgd", "rmsprop")},
		{"--lr", mustExpr(t, Uniform, 0.0, 1.0)},
		{"--layers", mustExpr(t, QUniform, 1.0, 8.0, 1.0)},
	}
	b, err := NewBayesianSampler(sp, Maximize, 9)
	if err != nil {
		t.Fatal(err)
	}
	sob, _ := NewSobolSampler(sp, 9)
	// The start is the Sobol design.
	var h []Trial
	for range b.InitialPoints {
		p, _ := b.Next(h)
		q, _ := sob.Next(h)
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("initial point %d: %v, want Sobol %v", len(h), p, q)
		}
		h = append(h, Trial{Params: p}) // running: not yet observations
	}
	// With observations: the best is "sgd" with lr near 0.7 and 4 layers.
	score := func(p Params) float64 {
		o, _ := p.Get("--opt")
		lr, _ := p.Get("--lr")
		l, _ := p.Get("--layers")
		s := -math.Pow(lr.Num-0.7, 2) - 0.05*math.Pow(l.Num-4, 2)
		if o.Str == "sgd" {
			s += 1
		}
		return s
	}
	for i := range h {
		y := score(h[i].Params)
		h[i].Ended, h[i].Score = true, &y
	}
	for range 25 {
		p, err := b.Next(h)
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := b.Next(h)
		if !reflect.DeepEqual(p, p2) {
			t.Fatal("not deterministic")
		}
		l, _ := p.Get("--layers")
		if !l.Integral || l.Num < 1 || l.Num > 8 {
			t.Fatalf("layers %v", l)
		}
		y := score(p)
		h = append(h, Trial{Params: p, Ended: true, Score: &y})
	}
	best := slices.MaxFunc(h, func(a, c Trial) int { return cmpDesc(*c.Score, *a.Score) })
	o, _ := best.Params.Get("--opt")
	if o.Str != "sgd" || *best.Score < 0.95 {
		t.Errorf("best after 25 BO steps: %v score %v", best.Params.Args(), *best.Score)
	}
	// Pending children push the next suggestion away from themselves.
	p, _ := b.Next(h)
	h2 := append(slices.Clone(h), Trial{Params: p})
	q, _ := b.Next(h2)
	if reflect.DeepEqual(p, q) {
		t.Error("a running child's params were suggested again")
	}
}

func TestBayesianSubset(t *testing.T) {
	var X [][]float64
	var y []float64
	for i := range 10 {
		X = append(X, []float64{float64(i)})
		y = append(y, float64((i*7)%10)) // 0 7 4 1 8 5 2 9 6 3
	}
	sx, sy := subset(X, y, 4)
	// The best two (9 at index 7, 8 at index 4) and the two most recent others (indexes 8, 9).
	if fmt.Sprint(sx) != "[[4] [7] [8] [9]]" || fmt.Sprint(sy) != "[8 9 6 3]" {
		t.Errorf("subset %v %v", sx, sy)
	}
	if sx, _ := subset(X, y, 20); len(sx) != 10 {
		t.Error("small sets are kept whole")
	}
	if w := warp([]float64{1, 1, 1}); fmt.Sprint(w) != "[1 1 1]" {
		t.Errorf("warp of equal scores %v", w)
	}
	if w := warp([]float64{10, 9, 0}); w[0] != 0 || !(w[1] > w[2]) {
		t.Errorf("warp keeps order, best at 0: %v", w)
	}
}

// A child the policy stopped is censored, not a result: its poor partial
// score beside the best point does not make the sampler flee the best
// point's neighbourhood, as the same score told as a result does.
func TestBayesianCensoredChildIsNotAResult(t *testing.T) {
	sp := Space{{"--x", mustExpr(t, Uniform, 0.0, 1.0)}}
	f := func(x float64) float64 { return -math.Pow(x-0.3, 2) }
	var base []Trial
	for _, x := range []float64{0.05, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 0.98} {
		y := f(x)
		base = append(base, Trial{Params: Params{{Name: "--x", Value: Value{Num: x}}}, Ended: true, Score: &y})
	}
	proposal := func(censored bool) float64 {
		h := slices.Clone(base)
		for _, x := range []float64{0.28, 0.32, 0.34} {
			partial := -5.0 // stopped early, far below what it would have reached
			h = append(h, Trial{Params: Params{{Name: "--x", Value: Value{Num: x}}}, Ended: true, Score: &partial, Censored: censored})
		}
		b, err := NewBayesianSampler(sp, Maximize, 3)
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Next(h)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := p.Get("--x")
		return v.Num
	}
	if x := proposal(true); math.Abs(x-0.3) > 0.1 {
		t.Errorf("with the stopped children censored the sampler proposed x = %.3f, want near the best (0.3)", x)
	}
	if x := proposal(false); math.Abs(x-0.3) <= 0.1 {
		t.Errorf("with the same scores told as results the sampler still proposed x = %.3f near 0.3: the test does not tell the two apart", x)
	}
}

// warpOne warps a score as warp warped the scores it was fitted on.
func TestWarpOneMatchesWarp(t *testing.T) {
	y := []float64{-3, -1, 0.5, 2, 2.5, 7}
	top, scale := warpScale(y)
	for i, w := range warp(y) {
		if got := warpOne(y[i], top, scale); math.Abs(got-w) > 1e-12 {
			t.Errorf("warpOne(%v) = %v, warp gave %v", y[i], got, w)
		}
	}
	if got := warpOne(top+5, top, scale); got != 0 {
		t.Errorf("a score past the best warps to %v, want 0", got)
	}
}
