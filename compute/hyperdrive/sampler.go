package hyperdrive

import (
	"errors"
	"math/rand/v2"
)

// ParamSpec is one entry of a search space: the parameter (a script
// argument such as --lr, or a v2 name) and its expression.
type ParamSpec struct {
	Name string
	Expr Expression
}

// Space is a search space in its declared order.
type Space []ParamSpec

// Trial is what a sampler knows of one child already asked for: the params
// it was given, whether it has ended, and its score — the best value of the
// primary metric it logged (max when maximizing, min when minimizing;
// docs/design/hyperdrive.md §4.5), nil when it logged none.
type Trial struct {
	Params Params
	Ended  bool
	Score  *float64
	// Censored says the early-termination policy stopped the child: Score
	// is where it stood then, a bound on what it would have reached (its
	// best logged value can only get better with more training), not its
	// result.
	Censored bool
}

// Sampler proposes the params of the next child.
//
// Next receives every child proposed so far, in proposal order, and returns
// the next one's params. Samplers keep no state between calls: the answer
// is a function of the seed and the history. That is what lets a sweep
// resume sampling after a server restart from the children it finds, and
// what makes a seeded sweep reproducible. When the space is used up (the
// grid's end) Next returns ErrExhausted.
type Sampler interface {
	Next(history []Trial) (Params, error)
}

// ErrExhausted is returned by Next when no sample is left (grid sampling
// after the last combination).
var ErrExhausted = errors.New("hyperdrive: the search space is exhausted")

// RandomSampler draws every parameter independently from its
// distribution. Child i's params come from a PCG generator seeded with
// (Seed, i), so they depend only on the seed and the index.
type RandomSampler struct {
	Space Space
	Seed  uint64
}

// Next draws the params of child len(history).
func (s *RandomSampler) Next(history []Trial) (Params, error) {
	r := rand.New(rand.NewPCG(s.Seed, uint64(len(history))))
	out := make(Params, len(s.Space))
	for i, p := range s.Space {
		out[i] = Param{Name: p.Name, Value: p.Expr.FromUnit(r.Float64())}
	}
	return out, nil
}

// SobolSampler maps point i of a scrambled Sobol sequence (one dimension
// per parameter) through each expression's inverse distribution function,
// so every expression keeps its documented distribution while the points
// cover the space more evenly than independent draws.
type SobolSampler struct {
	Space Space
	seq   *Sobol
}

// NewSobolSampler returns a Sobol sampler for space, scrambled with seed.
func NewSobolSampler(space Space, seed uint64) (*SobolSampler, error) {
	seq, err := NewSobol(len(space), true, seed)
	if err != nil {
		return nil, err
	}
	return &SobolSampler{Space: space, seq: seq}, nil
}

// Next returns the params of point len(history).
func (s *SobolSampler) Next(history []Trial) (Params, error) {
	u := s.seq.Point(uint64(len(history)))
	out := make(Params, len(s.Space))
	for i, p := range s.Space {
		out[i] = Param{Name: p.Name, Value: p.Expr.FromUnit(u[i])}
	}
	return out, nil
}

// GridSampler enumerates the Cartesian product of the choices in
// row-major order: the first parameter varies slowest, the last fastest
// (as Python's itertools.product). Child i gets combination i; after the
// last Next returns ErrExhausted. When max_total_runs is smaller than the
// grid, the first max_total_runs combinations run (docs/design/hyperdrive.md §8.7).
type GridSampler struct {
	Space Space
}

// Size is the number of combinations, saturating at 1<<62.
func (g *GridSampler) Size() int64 {
	n := int64(1)
	for _, p := range g.Space {
		k := int64(len(p.Expr.Options))
		if k == 0 {
			return 0
		}
		if n > (1<<62)/k {
			return 1 << 62
		}
		n *= k
	}
	return n
}

// Next returns combination len(history).
func (g *GridSampler) Next(history []Trial) (Params, error) {
	i := int64(len(history))
	if i >= g.Size() {
		return nil, ErrExhausted
	}
	out := make(Params, len(g.Space))
	for j := len(g.Space) - 1; j >= 0; j-- {
		opts := g.Space[j].Expr.Options
		k := int64(len(opts))
		out[j] = Param{Name: g.Space[j].Name, Value: opts[i%k]}
		i /= k
	}
	return out, nil
}
