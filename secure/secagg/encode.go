package secagg

import (
	"fmt"
	"math"
)

// Fixed-point encoding of real vectors into Z_{2^64}.
//
// A coordinate x is checked (NaN and ±Inf are refused, before clipping,
// because int64(NaN) silently becomes −2^63), clipped to [−C, C] and encoded
// as uint64(int64(round(x·2^f))). A sum of n such words, read as int64 and
// divided by 2^f, is the sum of the clipped inputs within
//
//	|Decode(Σ Encode(x_i)) − Σ clip(x_i)| ≤ n·2^−(f+1) + |Σ clip(x_i)|·2^−53
//
// per coordinate: half a unit in the last fixed-point place per input from
// rounding, plus one float64 rounding of the result. The sum cannot wrap as
// long as n·C·2^f < 2^63; Decode checks this. With the defaults C = 2^8 and
// f = 24 that allows n < 2^31, and the rounding term is n·3·10^−8.
//
// Weighted FedAvg: send ω·x and ω with ω = min(w, w_max)/w_max ∈ [0, 1] so
// the bound is unchanged. Sums of squares: use C² as the clip. Counts and
// histograms need no scaling: EncodeInts.

// Defaults of FixedPoint.
const (
	DefaultClip     = 256.0 // C = 2^8
	DefaultFracBits = 24    // f
)

// FixedPoint is the encoding's parameters; zero fields mean the defaults.
type FixedPoint struct {
	Clip     float64 // C > 0: inputs are clipped to [−C, C]
	FracBits uint    // f: the scale is 2^f
}

func (fp FixedPoint) resolve() (c float64, f uint, err error) {
	c, f = fp.Clip, fp.FracBits
	if c == 0 {
		c = DefaultClip
	}
	if f == 0 {
		f = DefaultFracBits
	}
	if !(c > 0) || math.IsInf(c, 0) || f > 62 || c*math.Ldexp(1, int(f)) >= 1<<62 {
		return 0, 0, fmt.Errorf("%w: fixed point needs 0 < C and C·2^f < 2^62 (C = %v, f = %d)", ErrParams, fp.Clip, fp.FracBits)
	}
	return c, f, nil
}

// MaxParticipants is the largest n whose sum cannot wrap: n·C·2^f < 2^63.
func (fp FixedPoint) MaxParticipants() (int, error) {
	c, f, err := fp.resolve()
	if err != nil {
		return 0, err
	}
	top := math.Round(c * math.Ldexp(1, int(f))) // largest |encoded word|
	n := math.Floor((math.Ldexp(1, 63) - 1) / top)
	if n > math.MaxInt32 {
		n = math.MaxInt32
	}
	return int(n), nil
}

// ErrorBound is the per-coordinate bound on the rounding error of a decoded
// sum of n inputs, n·2^−(f+1), not counting the final float64 rounding.
func (fp FixedPoint) ErrorBound(n int) float64 {
	_, f, err := fp.resolve()
	if err != nil {
		return math.NaN()
	}
	return float64(n) * math.Ldexp(1, -int(f)-1)
}

// Encode appends the encoding of x to dst and returns it. It refuses NaN and
// ±Inf, reporting the first offending index.
func (fp FixedPoint) Encode(dst []uint64, x []float64) ([]uint64, error) {
	c, f, err := fp.resolve()
	if err != nil {
		return dst, err
	}
	scale := math.Ldexp(1, int(f))
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return dst, fmt.Errorf("%w at index %d", ErrNotFinite, i)
		}
		v = min(max(v, -c), c)
		dst = append(dst, uint64(int64(math.Round(v*scale))))
	}
	return dst, nil
}

// Decode appends to dst the real vector that sum encodes, sum being the
// unmasked sum of n participants' encodings. It refuses n beyond
// MaxParticipants, where the sum could have wrapped.
func (fp FixedPoint) Decode(dst []float64, sum []uint64, n int) ([]float64, error) {
	_, f, err := fp.resolve()
	if err != nil {
		return dst, err
	}
	maxN, _ := fp.MaxParticipants()
	if n < 0 || n > maxN {
		return dst, fmt.Errorf("%w: %d participants, at most %d", ErrTooManyToDecode, n, maxN)
	}
	inv := math.Ldexp(1, -int(f))
	for _, w := range sum {
		dst = append(dst, float64(int64(w))*inv)
	}
	return dst, nil
}

// EncodeInts appends signed integers (counts, histogram bins) to dst,
// unscaled, in two's complement.
func EncodeInts(dst []uint64, x []int64) []uint64 {
	for _, v := range x {
		dst = append(dst, uint64(v))
	}
	return dst
}

// DecodeInts appends the signed integers that sum encodes. The caller keeps
// the true sum within int64 (for counts, n·max count < 2^63).
func DecodeInts(dst []int64, sum []uint64) []int64 {
	for _, w := range sum {
		dst = append(dst, int64(w))
	}
	return dst
}
