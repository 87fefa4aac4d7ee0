package hyperdrive

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// BayesianSampler is Bayesian optimisation with a Gaussian process.
//
//   - Space: choice, uniform and quniform only (docs/design/hyperdrive.md §2). Each
//     parameter is one coordinate u ∈ [0, 1) of a latent unit cube, mapped
//     to a value by Expression.FromUnit. The GP sees features of the value,
//     not of u: uniform and quniform as their position between the bounds
//     (quniform after rounding, so points that round alike look alike);
//     numeric choices by index, (i+½)/n, since numeric options are usually
//     ordered (batch sizes, depths); string choices one-hot, since their
//     order means nothing.
//   - Model: zero-mean GP on warped, standardised scores (see warp), Matérn 5/2 kernel with
//     per-dimension length scales and a noise term, chosen by maximising
//     the log marginal likelihood (a grid over an isotropic scale and the
//     noise, then one coordinate pass over the per-dimension scales). The
//     Cholesky factorisation and solves are gonum's.
//   - Observations: every ended child with a score (at most 200: the best
//     100 and the 100 most recent of the rest). Children that ended
//     without a score (failed) enter at the worst score seen, so failing
//     regions are avoided. Children still running enter as the model
//     fitted without them expects them to end ("kriging believer"): a
//     batch of concurrent suggestions spreads out where the model is sure
//     and stays near the optimum where it is not, which the pessimistic
//     "constant liar" at the worst score, used before, did not: it pushed
//     the batch away from the best point (docs/BENCHMARKS.md, "Bayesian
//     sampler, 8 at a time").
//   - Censored children (stopped by an early-termination policy, which
//     Trainyard allows with Bayesian sampling when the sweep opts in) are
//     not results: the score they stood at is a bound their training would
//     only have improved on. Each enters at the better of that bound and
//     what the model fitted without them predicts there (the imputation
//     SMAC uses for censored runtimes), so a stopped child still marks its
//     region as poor without being taken for a finished one.
//   - Acquisition: expected improvement, maximised over 1,000 random points
//     plus perturbations of the five best children, then refined by a
//     shrinking-step local search from the five best candidates. Its margin
//     ξ is 0.01 in standardised units when no child is running, so a lone
//     suggestion explores a little, and 0 while children are running: their
//     believed results already keep a batch apart (the model is sure where
//     they are), and the margin only pulled the suggestions made without
//     their results away from refining the best (Branin 8 at a time, median
//     regret at 100 trials: 0.0025 with ξ = 0.01, 1.5e-5 with ξ = 0;
//     docs/BENCHMARKS.md, "The Bayesian sampler 8 at a time"). One child at
//     a time nothing is running when a child is suggested, so that path is
//     unchanged.
//   - Start: the first InitialPoints children (default max(5, 2·#params))
//     are scrambled Sobol points, so the GP starts from an even design.
//
// Like every sampler it keeps no state: the suggestion for child i is a
// function of Seed, i and the history.
type BayesianSampler struct {
	Space         Space
	Goal          Goal
	Seed          uint64
	InitialPoints int
	sobol         *Sobol
}

// NewBayesianSampler checks that space holds only choice, uniform and
// quniform and returns the sampler.
func NewBayesianSampler(space Space, goal Goal, seed uint64) (*BayesianSampler, error) {
	for _, p := range space {
		switch p.Expr.Kind {
		case Choice, Uniform, QUniform:
		default:
			return nil, &ExprError{Param: p.Name, Message: "This sampling method expects only the following distributions: [choice, uniform, quniform]"}
		}
	}
	sq, err := NewSobol(len(space), true, seed)
	if err != nil {
		return nil, err
	}
	return &BayesianSampler{Space: space, Goal: goal, Seed: seed, InitialPoints: max(5, 2*len(space)), sobol: sq}, nil
}

// Next suggests the params of child len(history).
func (b *BayesianSampler) Next(history []Trial) (Params, error) {
	i := len(history)
	var obsX, failX, pendX, cenX [][]float64
	var obsY, cenY []float64
	for _, t := range history {
		x, err := b.features(t.Params)
		if err != nil {
			return nil, err
		}
		switch {
		case t.Ended && t.Score != nil && !math.IsNaN(*t.Score) && !math.IsInf(*t.Score, 0):
			y := *t.Score
			if b.Goal == Minimize {
				y = -y // the model always maximises
			}
			if t.Censored {
				cenX, cenY = append(cenX, x), append(cenY, y)
			} else {
				obsX, obsY = append(obsX, x), append(obsY, y)
			}
		case t.Ended:
			failX = append(failX, x)
		default:
			pendX = append(pendX, x)
		}
	}
	if len(obsY)+len(cenY) < b.InitialPoints || len(obsY) < 2 {
		return b.params(b.sobol.Point(uint64(i))), nil
	}
	obsX, obsY = subset(obsX, obsY, maxModelPoints)
	failX, pendX, cenX = lastN(failX, maxModelPoints/2), lastN(pendX, maxModelPoints/2), lastN(cenX, maxModelPoints/2)
	cenY = cenY[len(cenY)-len(cenX):]
	warpTop, warpGap := warpScale(obsY)
	obsY = warp(obsY)
	// Standardise, then add the failed children at the worst standardised
	// score.
	mean, sd := meanSD(obsY)
	y := make([]float64, 0, len(obsY)+len(failX)+len(pendX)+len(cenX))
	best, worst := math.Inf(-1), math.Inf(1)
	for _, v := range obsY {
		z := (v - mean) / sd
		y = append(y, z)
		best, worst = max(best, z), min(worst, z)
	}
	X := append(slices.Clone(obsX), failX...)
	for range failX {
		y = append(y, worst)
	}
	// Running children as the model believes they will end (kriging
	// believer), censored ones at the better of their bound and that belief;
	// both read from the model fitted without them.
	if len(pendX)+len(cenX) > 0 {
		if gp0, err := fitGP(X, y); err == nil {
			for _, x := range pendX {
				m, _ := gp0.predict(x)
				X, y = append(X, x), append(y, m)
			}
			for k, x := range cenX {
				bound := (warpOne(cenY[k], warpTop, warpGap) - mean) / sd
				m, _ := gp0.predict(x)
				X, y = append(X, x), append(y, max(bound, m))
			}
		}
	}
	gp, err := fitGP(X, y)
	if err != nil {
		return b.params(b.sobol.Point(uint64(i))), nil //nolint:nilerr // a degenerate model falls back to space filling
	}
	r := rand.New(rand.NewPCG(b.Seed, uint64(i)^0xb4e5))
	d := len(b.Space)
	// EI's margin ξ makes a lone suggestion explore; with children running,
	// their believed results already keep the batch apart (the model is
	// sure where they are), so the margin only pulls the suggestions made
	// without their results away from refining the best.
	xi := 0.01
	if len(pendX) > 0 {
		xi = 0
	}
	ei := func(u []float64) float64 {
		m, s := gp.predict(b.featuresU(u))
		return expectedImprovement(m, s, best, xi)
	}
	type cand struct {
		u  []float64
		ei float64
	}
	var cands []cand
	add := func(u []float64) { cands = append(cands, cand{u, ei(u)}) }
	for range 1000 {
		u := make([]float64, d)
		for k := range u {
			u[k] = r.Float64()
		}
		add(u)
	}
	// Perturb the best children (in latent coordinates) to exploit near them.
	order := make([]int, len(obsY))
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(a, c int) int { return cmpDesc(obsY[a], obsY[c]) })
	for _, k := range order[:min(5, len(order))] {
		base := b.latent(obsX[k])
		for range 20 {
			u := slices.Clone(base)
			for j := range u {
				u[j] = clamp01(u[j] + 0.05*r.NormFloat64())
			}
			add(u)
		}
	}
	slices.SortStableFunc(cands, func(a, c cand) int { return cmpDesc(a.ei, c.ei) })
	top := cands[0]
	for _, c := range cands[:min(5, len(cands))] {
		u, v := slices.Clone(c.u), c.ei
		step := 0.1
		for it := 0; it < 40 && step > 1e-4; it++ {
			w := slices.Clone(u)
			for j := range w {
				w[j] = clamp01(w[j] + step*r.NormFloat64())
			}
			if e := ei(w); e > v {
				u, v = w, e
			} else {
				step *= 0.8
			}
		}
		if v > top.ei {
			top = cand{u, v}
		}
	}
	return b.params(top.u), nil
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// latent finds a latent point whose features are x: the inverse of
// featuresU, used to perturb around an observed child.
func (b *BayesianSampler) latent(x []float64) []float64 {
	u := make([]float64, len(b.Space))
	col := 0
	for j, p := range b.Space {
		if p.Expr.Kind == Choice && stringChoice(p.Expr) {
			n := len(p.Expr.Options)
			for k := range n {
				if x[col+k] == 1 {
					u[j] = (float64(k) + 0.5) / float64(n)
				}
			}
			col += n
			continue
		}
		u[j] = x[col]
		col++
	}
	return u
}

func (b *BayesianSampler) params(u []float64) Params {
	out := make(Params, len(b.Space))
	for i, p := range b.Space {
		out[i] = Param{Name: p.Name, Value: p.Expr.FromUnit(u[i])}
	}
	return out
}

func (b *BayesianSampler) featuresU(u []float64) []float64 {
	x, _ := b.features(b.params(u))
	return x
}

// features encodes params for the GP (see BayesianSampler).
func (b *BayesianSampler) features(p Params) ([]float64, error) {
	var x []float64
	for _, s := range b.Space {
		v, ok := p.Get(s.Name)
		if !ok {
			return nil, fmt.Errorf("hyperdrive: a child has no value for %s", s.Name)
		}
		if s.Expr.Kind == Choice && stringChoice(s.Expr) {
			for _, o := range s.Expr.Options {
				if o.Equal(v) {
					x = append(x, 1)
				} else {
					x = append(x, 0)
				}
			}
			continue
		}
		x = append(x, s.Expr.ToUnit(v))
	}
	return x, nil
}

func stringChoice(e Expression) bool {
	for _, o := range e.Options {
		if o.IsString {
			return true
		}
	}
	return false
}

// maxModelPoints caps the children the GP is fitted on: the fit is
// O(n³) per candidate kernel, and 200 points keep a suggestion under half a
// second while a 1,000-run sweep still models its best region finely.
const maxModelPoints = 200

// subset keeps at most n observations: the best half by score and the most
// recent of the rest, in their original order.
func subset(X [][]float64, y []float64, n int) ([][]float64, []float64) {
	if len(y) <= n {
		return X, y
	}
	order := make([]int, len(y))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpDesc(y[a], y[b]) })
	keep := make([]bool, len(y))
	for _, i := range order[:n/2] {
		keep[i] = true
	}
	for i, left := len(y)-1, n-n/2; i >= 0 && left > 0; i-- {
		if !keep[i] {
			keep[i], left = true, left-1
		}
	}
	var sx [][]float64
	var sy []float64
	for i, k := range keep {
		if k {
			sx, sy = append(sx, X[i]), append(sy, y[i])
		}
	}
	return sx, sy
}

// warp compresses scores far below the best, −log(1 + gap/median gap),
// keeping their order. Objectives such as losses span orders of magnitude;
// without it a few very bad children dominate the standardised scale and
// the GP cannot resolve the good region, where the decisions are.
// lastN is the last n of xs (all of them when there are fewer).
func lastN(xs [][]float64, n int) [][]float64 {
	if len(xs) > n {
		return xs[len(xs)-n:]
	}
	return xs
}

func warp(y []float64) []float64 {
	top, scale := warpScale(y)
	if scale <= 0 {
		return y
	}
	out := make([]float64, len(y))
	for i, v := range y {
		out[i] = warpOne(v, top, scale)
	}
	return out
}

// warpScale is warp's reference point (the best score) and scale (the
// median gap to it).
func warpScale(y []float64) (top, scale float64) {
	top = slices.Max(y)
	gaps := make([]float64, len(y))
	for i, v := range y {
		gaps[i] = top - v
	}
	return top, median(gaps)
}

// warpOne warps one score as warp warped the scores top and scale came
// from; a score past the best warps to the best's value (0).
func warpOne(v, top, scale float64) float64 {
	if scale <= 0 {
		return v
	}
	return -math.Log1p(max(top-v, 0) / scale)
}

func meanSD(y []float64) (float64, float64) {
	var m float64
	for _, v := range y {
		m += v
	}
	m /= float64(len(y))
	var ss float64
	for _, v := range y {
		ss += (v - m) * (v - m)
	}
	sd := math.Sqrt(ss / float64(len(y)))
	if sd < 1e-12 {
		sd = 1
	}
	return m, sd
}

// gp is a fitted Gaussian process.
type gp struct {
	X     [][]float64
	ls    []float64
	noise float64
	chol  mat.Cholesky
	alpha *mat.VecDense
}

// matern52 is the Matérn ν=5/2 kernel with unit signal variance and
// per-dimension length scales.
func matern52(a, b, ls []float64) float64 {
	var r2 float64
	for i := range a {
		d := (a[i] - b[i]) / ls[i]
		r2 += d * d
	}
	r := math.Sqrt(5 * r2)
	return (1 + r + r*r/3) * math.Exp(-r)
}

// newGP factorises K + noise·I for the given scales; it returns the log
// marginal likelihood, or an error when K is not positive definite.
func newGP(X [][]float64, y []float64, ls []float64, noise float64) (*gp, float64, error) {
	n := len(X)
	K := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			k := matern52(X[i], X[j], ls)
			if i == j {
				k += noise
			}
			K.SetSym(i, j, k)
		}
	}
	g := &gp{X: X, ls: ls, noise: noise}
	if ok := g.chol.Factorize(K); !ok {
		return nil, 0, fmt.Errorf("hyperdrive: kernel matrix not positive definite")
	}
	yv := mat.NewVecDense(n, slices.Clone(y))
	g.alpha = mat.NewVecDense(n, nil)
	if err := g.chol.SolveVecTo(g.alpha, yv); err != nil {
		return nil, 0, err
	}
	lml := -0.5*mat.Dot(yv, g.alpha) - 0.5*g.chol.LogDet() - 0.5*float64(n)*math.Log(2*math.Pi)
	return g, lml, nil
}

// fitGP chooses length scales and noise by marginal likelihood.
func fitGP(X [][]float64, y []float64) (*gp, error) {
	d := len(X[0])
	var best *gp
	bestL := math.Inf(-1)
	try := func(ls []float64, noise float64) {
		g, l, err := newGP(X, y, ls, noise)
		if err == nil && l > bestL {
			best, bestL = g, l
		}
	}
	for _, l := range []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.3, 2} {
		for _, nz := range []float64{1e-6, 1e-3, 1e-1} {
			try(uniformLS(d, l), nz)
		}
	}
	if best == nil {
		return nil, fmt.Errorf("hyperdrive: no kernel fits")
	}
	if len(X) >= 10 && d > 1 {
		for j := range d {
			base := slices.Clone(best.ls)
			for _, f := range []float64{0.25, 0.5, 2, 4} {
				ls := slices.Clone(base)
				ls[j] = min(max(ls[j]*f, 0.01), 20)
				try(ls, best.noise)
			}
		}
	}
	return best, nil
}

func uniformLS(d int, l float64) []float64 {
	ls := make([]float64, d)
	for i := range ls {
		ls[i] = l
	}
	return ls
}

// predict returns the posterior mean and standard deviation at x.
func (g *gp) predict(x []float64) (float64, float64) {
	n := len(g.X)
	ks := mat.NewVecDense(n, nil)
	for i := range n {
		ks.SetVec(i, matern52(x, g.X[i], g.ls))
	}
	m := mat.Dot(ks, g.alpha)
	w := mat.NewVecDense(n, nil)
	if err := g.chol.SolveVecTo(w, ks); err != nil {
		return m, 0
	}
	v := 1 - mat.Dot(ks, w)
	return m, math.Sqrt(max(v, 0))
}

// expectedImprovement is EI for maximisation over the incumbent best.
func expectedImprovement(mu, sigma, best, xi float64) float64 {
	imp := mu - best - xi
	if sigma < 1e-12 {
		return max(imp, 0)
	}
	z := imp / sigma
	return imp*normCDF(z) + sigma*normPDF(z)
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
func normPDF(z float64) float64 { return math.Exp(-0.5*z*z) / math.Sqrt(2*math.Pi) }
