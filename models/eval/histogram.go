package eval

import (
	"errors"
	"fmt"
	"math"
)

// DefaultBins is the number of bins NewScoreHistogram callers should use
// unless they have a reason not to: bins 0.01 wide in log-odds, fine enough
// that histogram AUC is within about 1e-4 of the exact AUC on realistic
// credit scores, and small enough (2 x 2000 float64) to aggregate cheaply.
const DefaultBins = 2000

// Log-odds range covered by the histogram's bins. Probabilities whose logit
// falls outside it go to the end bins.
const (
	logitMin = -10.0
	logitMax = 10.0
)

// ScoreHistogram counts predicted probabilities by class in bins uniform in
// logit(p) = log(p/(1-p)) over [-10, 10]; scores beyond either end (p below
// about 4.5e-5 or above 1-4.5e-5) are clamped into the end bins. Bins are
// uniform in log-odds rather than in p because credit-risk probabilities
// are dense near 0 (default rates of a few percent): uniform-in-p bins
// would put most scores in a handful of bins and lose the ordering that AUC
// and KS measure, while in log-odds the same number of bins gives even
// relative resolution from 0.01% to 99.99%, and log-odds is also the scale
// on which scorecard points are linear.
//
// Pos[k] and Neg[k] are the counts of positives and negatives in bin k.
// Counts of histograms with the same bins add, so parties can sum their
// Vectors under secure aggregation and compute AUC and KS from the total.
//
// The zero ScoreHistogram has no bins; Add and AddAll give it DefaultBins,
// and Merge gives it the bins of the histogram merged in.
type ScoreHistogram struct {
	Pos, Neg []float64
}

// NewScoreHistogram returns an empty histogram with the given number of
// bins. A bins below 1 is treated as DefaultBins.
func NewScoreHistogram(bins int) ScoreHistogram {
	if bins < 1 {
		bins = DefaultBins
	}
	return ScoreHistogram{Pos: make([]float64, bins), Neg: make([]float64, bins)}
}

// Bins returns the number of bins.
func (h ScoreHistogram) Bins() int { return len(h.Pos) }

// Bin returns the index of the bin that holds probability p. p must be in
// [0, 1]; 0 and 1 go to the end bins.
func (h ScoreHistogram) Bin(p float64) int {
	return bin(p, len(h.Pos))
}

func bin(p float64, bins int) int {
	z := math.Log(p / (1 - p)) // -Inf at 0, +Inf at 1
	k := math.Floor((z - logitMin) * float64(bins) / (logitMax - logitMin))
	if !(k >= 0) { // also catches NaN, which cannot arise for p in [0, 1]
		return 0
	}
	if k >= float64(bins) {
		return bins - 1
	}
	return int(k)
}

func (h *ScoreHistogram) init() {
	if len(h.Pos) == 0 && len(h.Neg) == 0 {
		*h = NewScoreHistogram(DefaultBins)
	}
}

func checkObservation(p, label float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("eval: probability %v is outside [0, 1]", p)
	}
	if label != 0 && label != 1 {
		return fmt.Errorf("eval: label %v is not 0 or 1", label)
	}
	return nil
}

// Add counts one probability p with its label. Add cannot return an error:
// if p is NaN or outside [0, 1], or label is not 0 or 1, Add marks the
// histogram invalid (it adds NaN to a count) and AUC, KS, Merge and
// ScoreHistogramFromVector then return an error. Use AddAll to have bad
// input reported at once.
func (h *ScoreHistogram) Add(p, label float64) {
	h.init()
	if len(h.Pos) != len(h.Neg) || len(h.Pos) == 0 {
		return // already invalid; validate reports it
	}
	if checkObservation(p, label) != nil {
		h.Pos[0] = math.NaN()
		return
	}
	k := bin(p, len(h.Pos))
	if label == 1 {
		h.Pos[k]++
	} else {
		h.Neg[k]++
	}
}

// AddAll counts every probability with its label. It returns an error, and
// leaves h unchanged, if the lengths differ, a probability is NaN or
// outside [0, 1], or a label is not 0 or 1.
func (h *ScoreHistogram) AddAll(probs, labels []float64) error {
	if len(probs) != len(labels) {
		return fmt.Errorf("eval: %d probabilities and %d labels", len(probs), len(labels))
	}
	for i, p := range probs {
		if err := checkObservation(p, labels[i]); err != nil {
			return fmt.Errorf("%w (index %d)", err, i)
		}
	}
	h.init()
	if err := h.validate(); err != nil {
		return err
	}
	bins := len(h.Pos)
	for i, p := range probs {
		k := bin(p, bins)
		if labels[i] == 1 {
			h.Pos[k]++
		} else {
			h.Neg[k]++
		}
	}
	return nil
}

// validate checks that h has bins, equal lengths and finite non-negative
// counts.
func (h ScoreHistogram) validate() error {
	if len(h.Pos) == 0 {
		return errors.New("eval: histogram has no bins")
	}
	if len(h.Pos) != len(h.Neg) {
		return fmt.Errorf("eval: histogram has %d positive and %d negative bins", len(h.Pos), len(h.Neg))
	}
	for k := range h.Pos {
		if !(h.Pos[k] >= 0 && h.Neg[k] >= 0) || math.IsInf(h.Pos[k], 1) || math.IsInf(h.Neg[k], 1) {
			return fmt.Errorf("eval: histogram bin %d has invalid counts (%v, %v)", k, h.Pos[k], h.Neg[k])
		}
	}
	return nil
}

// Merge adds the counts of o into h. Both must have the same number of bins
// (the zero ScoreHistogram takes o's) and o must be valid; on error h is
// unchanged.
func (h *ScoreHistogram) Merge(o ScoreHistogram) error {
	if err := o.validate(); err != nil {
		return err
	}
	if len(h.Pos) == 0 && len(h.Neg) == 0 {
		*h = NewScoreHistogram(len(o.Pos))
	}
	if len(h.Pos) != len(o.Pos) || len(h.Neg) != len(o.Neg) {
		return fmt.Errorf("eval: merge: %d bins into %d", len(o.Pos), len(h.Pos))
	}
	for k := range o.Pos {
		h.Pos[k] += o.Pos[k]
		h.Neg[k] += o.Neg[k]
	}
	return nil
}

// totals validates h and returns its class totals, or ErrOneClass.
func (h ScoreHistogram) totals() (pos, neg float64, err error) {
	if err := h.validate(); err != nil {
		return 0, 0, err
	}
	for k := range h.Pos {
		pos += h.Pos[k]
		neg += h.Neg[k]
	}
	if pos == 0 || neg == 0 {
		return 0, 0, ErrOneClass
	}
	return pos, neg, nil
}

// AUC returns the area under the ROC curve computed from the histogram.
// Scores in different bins are ordered by bin; pairs within one bin count
// half, as exact ties do in AUC, so the error against the exact AUC is at
// most half the fraction of positive-negative pairs that share a bin.
func (h ScoreHistogram) AUC() (float64, error) {
	pos, neg, err := h.totals()
	if err != nil {
		return 0, err
	}
	var u, negBelow float64
	for k := range h.Pos {
		u += h.Pos[k]*negBelow + 0.5*h.Pos[k]*h.Neg[k]
		negBelow += h.Neg[k]
	}
	return u / (pos * neg), nil
}

// KS returns the Kolmogorov–Smirnov statistic computed from the histogram:
// the largest |TPR - FPR| over thresholds at bin edges. Since it sees only
// those thresholds it never exceeds the exact KS.
func (h ScoreHistogram) KS() (float64, error) {
	pos, neg, err := h.totals()
	if err != nil {
		return 0, err
	}
	var ks, cumPos, cumNeg float64
	for k := range h.Pos {
		cumPos += h.Pos[k]
		cumNeg += h.Neg[k]
		ks = max(ks, math.Abs(cumNeg/neg-cumPos/pos))
	}
	return ks, nil
}

// Vector returns the histogram as one summable vector, [pos..., neg...]. It
// is a new slice.
func (h ScoreHistogram) Vector() []float64 {
	v := make([]float64, 0, len(h.Pos)+len(h.Neg))
	v = append(v, h.Pos...)
	return append(v, h.Neg...)
}

// ScoreHistogramFromVector is the inverse of Vector. It returns an error if
// v is empty or of odd length, or holds NaN, Inf or negative counts. The
// result does not alias v.
func ScoreHistogramFromVector(v []float64) (ScoreHistogram, error) {
	if len(v) == 0 || len(v)%2 != 0 {
		return ScoreHistogram{}, fmt.Errorf("eval: histogram vector has length %d, want a positive even length", len(v))
	}
	b := len(v) / 2
	h := ScoreHistogram{Pos: append([]float64(nil), v[:b]...), Neg: append([]float64(nil), v[b:]...)}
	if err := h.validate(); err != nil {
		return ScoreHistogram{}, err
	}
	return h, nil
}
