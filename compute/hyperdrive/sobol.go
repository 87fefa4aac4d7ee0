package hyperdrive

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// joeKuo holds the Joe–Kuo direction-number seeds (file new-joe-kuo-6.21201,
// dimensions 2–32: degree s, coefficient a, initial m_1..m_s). Dimension 1 is
// the van der Corput sequence and needs none. The same table drives SciPy's
// and Optuna's Sobol samplers.
var joeKuo = [][]uint32{
	{1, 0, 1},
	{2, 1, 1, 3},
	{3, 1, 1, 3, 1},
	{3, 2, 1, 1, 1},
	{4, 1, 1, 1, 3, 3},
	{4, 4, 1, 3, 5, 13},
	{5, 2, 1, 1, 5, 5, 17},
	{5, 4, 1, 1, 5, 5, 5},
	{5, 7, 1, 1, 7, 11, 19},
	{5, 11, 1, 1, 5, 1, 1},
	{5, 13, 1, 1, 1, 3, 11},
	{5, 14, 1, 3, 5, 5, 31},
	{6, 1, 1, 3, 3, 9, 7, 49},
	{6, 13, 1, 1, 1, 15, 21, 21},
	{6, 16, 1, 3, 1, 13, 27, 49},
	{6, 19, 1, 1, 1, 15, 7, 5},
	{6, 22, 1, 3, 1, 15, 13, 25},
	{6, 25, 1, 1, 5, 5, 19, 61},
	{7, 1, 1, 3, 7, 11, 23, 15, 103},
	{7, 4, 1, 3, 7, 13, 13, 15, 69},
	{7, 7, 1, 1, 3, 13, 7, 35, 63},
	{7, 8, 1, 3, 5, 9, 1, 25, 53},
	{7, 14, 1, 3, 1, 13, 9, 35, 107},
	{7, 19, 1, 3, 1, 5, 27, 61, 31},
	{7, 21, 1, 1, 5, 11, 19, 41, 61},
	{7, 28, 1, 3, 5, 3, 3, 13, 69},
	{7, 31, 1, 1, 7, 13, 1, 19, 1},
	{7, 32, 1, 3, 7, 5, 13, 19, 59},
	{7, 37, 1, 1, 3, 9, 25, 29, 41},
	{7, 41, 1, 3, 5, 13, 23, 1, 55},
	{7, 42, 1, 3, 7, 3, 13, 59, 17},
}

// SobolMaxDims is how many dimensions the Sobol sequence supports.
const SobolMaxDims = 32

const sobolBits = 32

// directions returns the 32 direction numbers of dimension d (0-based),
// each left-aligned in a uint32 (bit 31 is the 1/2 digit).
func directions(d int) [sobolBits]uint32 {
	var v [sobolBits]uint32
	if d == 0 {
		for k := range v {
			v[k] = 1 << (31 - k)
		}
		return v
	}
	row := joeKuo[d-1]
	s, a, m := int(row[0]), row[1], row[2:]
	for k := 0; k < s && k < sobolBits; k++ {
		v[k] = m[k] << (31 - k)
	}
	// Bratley–Fox recurrence: v_k = v_{k-s} ⊕ (v_{k-s} >> s) ⊕ ⊕_j a_j·v_{k-j}.
	for k := s; k < sobolBits; k++ {
		v[k] = v[k-s] ^ (v[k-s] >> s)
		for j := 1; j < s; j++ {
			if (a>>(s-1-j))&1 == 1 {
				v[k] ^= v[k-j]
			}
		}
	}
	return v
}

// Sobol is a Sobol low-discrepancy sequence in up to SobolMaxDims
// dimensions, optionally scrambled. Scrambling is Matoušek's random linear
// matrix scrambling plus a random digital shift (the "LMS + shift" SciPy's
// and Optuna's samplers use): each dimension's direction numbers are
// multiplied by a random lower-triangular binary matrix with a unit
// diagonal, and each point is XORed with a random 32-bit shift. Both keep
// the (t, m, s)-net property, so coverage stays even, while the seed makes
// the points reproducible. Point i is computed directly from i (Gray-code
// order), so a sequence can resume at any index with no state.
type Sobol struct {
	v     [][sobolBits]uint32
	shift []uint32
}

// NewSobol returns the sequence for dims dimensions; scrambled with seed
// when scramble is set, else the plain Joe–Kuo sequence (point 0 is the
// origin).
func NewSobol(dims int, scramble bool, seed uint64) (*Sobol, error) {
	if dims < 1 || dims > SobolMaxDims {
		return nil, fmt.Errorf("sobol sampling supports 1 to %d parameters, not %d", SobolMaxDims, dims)
	}
	s := &Sobol{v: make([][sobolBits]uint32, dims), shift: make([]uint32, dims)}
	r := rand.New(rand.NewPCG(seed, 0x50b01))
	for d := range dims {
		v := directions(d)
		if scramble {
			// Row i of the lower-triangular matrix: random bits above digit i, 1 on it.
			var rows [sobolBits]uint32
			for i := range rows {
				high := ^uint32(0) << (32 - i) // digits 0..i-1 (i = 0 gives no bits)
				if i == 0 {
					high = 0
				}
				rows[i] = (r.Uint32() & high) | 1<<(31-i)
			}
			for k := range v {
				var out uint32
				for i := range rows {
					if bits.OnesCount32(v[k]&rows[i])&1 == 1 {
						out |= 1 << (31 - i)
					}
				}
				v[k] = out
			}
			s.shift[d] = r.Uint32()
		}
		s.v[d] = v
	}
	return s, nil
}

// Point returns point i of the sequence, each coordinate in [0, 1).
func (s *Sobol) Point(i uint64) []float64 {
	g := i ^ (i >> 1) // Gray code: point i is the XOR of the directions of g's set bits
	out := make([]float64, len(s.v))
	for d := range s.v {
		x := s.shift[d]
		for k := 0; k < sobolBits && g>>k != 0; k++ {
			if (g>>k)&1 == 1 {
				x ^= s.v[d][k]
			}
		}
		out[d] = float64(x) / (1 << 32)
	}
	return out
}
