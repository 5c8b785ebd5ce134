package eval

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// PSIFloor is the smallest share PSI uses: a bin empty in one population
// counts as holding this share, so the index stays finite (the usual
// practice; a bin empty in both adds 0).
const PSIFloor = 1e-4

// PSI returns the population stability index between two distributions
// over the same bins, given as counts (or shares): Σ (a_i - e_i)·ln(a_i/e_i)
// with e and a the shares of expected (the baseline, e.g. training) and
// actual (e.g. this month's applicants), each floored at PSIFloor. Common
// reading: below 0.1 stable, 0.1 to 0.25 some shift, above 0.25 a major
// shift.
func PSI(expected, actual []float64) (float64, error) {
	if len(expected) != len(actual) || len(expected) == 0 {
		return 0, fmt.Errorf("eval: PSI over %d and %d bins", len(expected), len(actual))
	}
	var E, A float64
	for i := range expected {
		e, a := expected[i], actual[i]
		if !(e >= 0) || !(a >= 0) || math.IsInf(e, 1) || math.IsInf(a, 1) {
			return 0, fmt.Errorf("eval: PSI bin %d has counts (%v, %v)", i, e, a)
		}
		E += e
		A += a
	}
	if E == 0 || A == 0 {
		return 0, errors.New("eval: PSI of an empty distribution")
	}
	var psi float64
	for i := range expected {
		if expected[i] == 0 && actual[i] == 0 {
			continue
		}
		e := max(expected[i]/E, PSIFloor)
		a := max(actual[i]/A, PSIFloor)
		psi += (a - e) * math.Log(a/e)
	}
	return psi, nil
}

// CSI returns the characteristic stability index of each feature: the
// PSI of its bin counts at scoring time (actual[j]) against training
// (expected[j]), e.g. features.Pipeline.TrainingBinCounts against summed
// Pipeline.BinCounts.
func CSI(expected, actual [][]float64) ([]float64, error) {
	if len(expected) != len(actual) {
		return nil, fmt.Errorf("eval: CSI of %d and %d features", len(expected), len(actual))
	}
	out := make([]float64, len(expected))
	for j := range expected {
		v, err := PSI(expected[j], actual[j])
		if err != nil {
			return nil, fmt.Errorf("eval: CSI feature %d: %w", j, err)
		}
		out[j] = v
	}
	return out, nil
}

// ScorePSI returns the PSI between two score samples over groups bins cut
// at the quantiles of the expected sample (numpy's default, linear
// interpolation, at i/groups for i = 1..groups-1; repeated cuts are
// dropped). A score x falls in the bin of the number of cuts at or below
// it, as everywhere in fedscore binning.
func ScorePSI(expected, actual []float64, groups int) (float64, error) {
	if len(expected) == 0 || len(actual) == 0 || groups < 1 {
		return 0, errors.New("eval: ScorePSI needs two non-empty samples and at least one group")
	}
	for _, v := range append(slices.Clone(expected), actual...) {
		if math.IsNaN(v) {
			return 0, errors.New("eval: NaN score")
		}
	}
	s := slices.Clone(expected)
	slices.Sort(s)
	var cuts []float64
	for i := 1; i < groups; i++ {
		h := float64(len(s)-1) * float64(i) / float64(groups)
		lo := int(math.Floor(h))
		c := s[lo]
		if lo+1 < len(s) {
			c += (h - float64(lo)) * (s[lo+1] - s[lo])
		}
		if len(cuts) == 0 || c > cuts[len(cuts)-1] {
			cuts = append(cuts, c)
		}
	}
	count := func(xs []float64) []float64 {
		out := make([]float64, len(cuts)+1)
		for _, x := range xs {
			k, _ := slices.BinarySearchFunc(cuts, x, func(c, x float64) int {
				if c <= x {
					return -1
				}
				return 1
			})
			out[k]++
		}
		return out
	}
	return PSI(count(expected), count(actual))
}

// PSI returns the population stability index of the scores in actual
// against h, the baseline, over groups bins of about equal baseline
// population cut at histogram bin edges (the edge nearest each quantile
// i/groups; groups that would be empty are dropped). Both histograms must
// have the same bins; classes are pooled.
func (h ScoreHistogram) PSI(actual ScoreHistogram, groups int) (float64, error) {
	if err := h.validate(); err != nil {
		return 0, err
	}
	if err := actual.validate(); err != nil {
		return 0, err
	}
	if h.Bins() != actual.Bins() {
		return 0, fmt.Errorf("eval: PSI of histograms with %d and %d bins", h.Bins(), actual.Bins())
	}
	if groups < 1 {
		return 0, fmt.Errorf("eval: %d groups", groups)
	}
	b := h.Bins()
	base, cur := make([]float64, b), make([]float64, b)
	var N float64
	for k := range b {
		base[k] = h.Pos[k] + h.Neg[k]
		cur[k] = actual.Pos[k] + actual.Neg[k]
		N += base[k]
	}
	if N == 0 {
		return 0, errors.New("eval: PSI against an empty baseline")
	}
	// starts[g] is the first bin of group g.
	starts := []int{0}
	var cum float64
	next := 1
	for k := range b {
		before := cum
		cum += base[k]
		for next < groups && cum/N >= float64(next)/float64(groups) {
			t := float64(next) / float64(groups)
			cut := k + 1 // the edge after bin k
			if t-before/N < cum/N-t {
				cut = k // the edge before bin k is nearer
			}
			if cut > starts[len(starts)-1] && cut < b {
				starts = append(starts, cut)
			}
			next++
		}
	}
	eg, ag := make([]float64, len(starts)), make([]float64, len(starts))
	g := 0
	for k := range b {
		if g+1 < len(starts) && k >= starts[g+1] {
			g++
		}
		eg[g] += base[k]
		ag[g] += cur[k]
	}
	return PSI(eg, ag)
}
