package hyperdrive

import (
	"math"
	"os"
	"testing"
	"time"
)

// hartmann6 is the 6-D Hartmann function on [0,1]^6; minimum −3.32237.
func hartmann6(x []float64) float64 {
	alpha := []float64{1.0, 1.2, 3.0, 3.2}
	A := [][]float64{{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14}, {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}}
	P := [][]float64{{1312, 1696, 5569, 124, 8283, 5886}, {2329, 4135, 8307, 3736, 1004, 9991}, {2348, 1451, 3522, 2883, 3047, 6650}, {4047, 8828, 8732, 5743, 1091, 381}}
	s := 0.0
	for i := range 4 {
		in := 0.0
		for j := range 6 {
			in += A[i][j] * math.Pow(x[j]-P[i][j]*1e-4, 2)
		}
		s += alpha[i] * math.Exp(-in)
	}
	return -s
}

// TestRegret reports median regret of the samplers on Branin and
// Hartmann-6 (sequential, in-process; not the end-to-end make bench).
// Opt in with HYPERDRIVE_REGRET=1: it takes about a minute.
func TestRegret(t *testing.T) {
	if os.Getenv("HYPERDRIVE_REGRET") == "" {
		t.Skip("set HYPERDRIVE_REGRET=1")
	}
	var h6 Space
	for i := range 6 {
		h6 = append(h6, ParamSpec{string(rune('a' + i)), mustExpr(t, Uniform, 0.0, 1.0)})
	}
	funcs := []struct {
		name string
		sp   Space
		f    func(Params) float64
		opt  float64
	}{
		{"branin", Space{{"x1", mustExpr(t, Uniform, -5.0, 10.0)}, {"x2", mustExpr(t, Uniform, 0.0, 15.0)}}, func(p Params) float64 {
			return branin(p[0].Value.Num, p[1].Value.Num)
		}, 0.397887},
		{"hartmann6", h6, func(p Params) float64 {
			x := make([]float64, 6)
			for i := range x {
				x[i] = p[i].Value.Num
			}
			return hartmann6(x)
		}, -3.32237},
	}
	const seeds, n = 10, 100
	for _, fn := range funcs {
		for _, kind := range []SamplingKind{SamplingBayesian, SamplingSobol, SamplingRandom} {
			var at25, at50, at100 []float64
			start := time.Now()
			for seed := range uint64(seeds) {
				sw := &Sweep{Space: fn.sp, Sampling: kind, Seed: seed, Goal: Minimize}
				smp, err := sw.Sampler()
				if err != nil {
					t.Fatal(err)
				}
				var h []Trial
				best := math.Inf(1)
				for i := 1; i <= n; i++ {
					p, err := smp.Next(h)
					if err != nil {
						t.Fatal(err)
					}
					y := fn.f(p)
					best = min(best, y)
					h = append(h, Trial{Params: p, Ended: true, Score: &y})
					switch i {
					case 25:
						at25 = append(at25, best-fn.opt)
					case 50:
						at50 = append(at50, best-fn.opt)
					case 100:
						at100 = append(at100, best-fn.opt)
					}
				}
			}
			t.Logf("%-9s %-8s median regret @25 %.4f @50 %.4f @100 %.4f  (%.0f ms per suggestion)", fn.name, kind,
				median(at25), median(at50), median(at100), float64(time.Since(start).Milliseconds())/(seeds*n))
		}
	}
}
