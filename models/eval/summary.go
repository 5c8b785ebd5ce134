package eval

import (
	"errors"
	"fmt"
	"math"
)

// Gini returns the Gini coefficient (accuracy ratio) of scores against
// labels, 2·AUC - 1. It returns ErrOneClass if a class is absent.
func Gini(scores, labels []float64) (float64, error) {
	auc, err := AUC(scores, labels)
	if err != nil {
		return 0, err
	}
	return 2*auc - 1, nil
}

// Brier returns the Brier score, the mean of (p - y)². One class alone is
// allowed.
func Brier(probs, labels []float64) (float64, error) {
	if _, err := checkInputs(probs, labels, true); err != nil {
		return 0, err
	}
	var s float64
	for i, p := range probs {
		d := p - labels[i]
		s += d * d
	}
	return s / float64(len(probs)), nil
}

// BinOf returns the bin of probability p in a ScoreHistogram with the
// given number of bins (ScoreHistogram.Bin without a histogram).
func BinOf(p float64, bins int) int { return bin(p, max(bins, 1)) }

// Edge returns the probability at the lower edge of bin k of a histogram
// with the given number of bins: 0 for k = 0 (bin 0 also takes every
// score below its upper edge), 1 for k = bins.
func Edge(k, bins int) float64 {
	if k <= 0 {
		return 0
	}
	if k >= bins {
		return 1
	}
	z := logitMin + float64(k)*(logitMax-logitMin)/float64(bins)
	return 1 / (1 + math.Exp(-z))
}

// BinarySummary is everything needed to evaluate a binary classifier on a
// data set, as sums that add across parties: the class-wise score
// histogram, the sum of predicted probabilities per histogram bin (for
// calibration), the sum of squared errors (Brier) and the sum of log
// losses. Its Vector has a fixed length, 3·bins+2, known in advance.
//
// The zero BinarySummary has no bins; AddAll gives it DefaultBins and Merge
// the bins of the summary merged in.
type BinarySummary struct {
	Hist       ScoreHistogram
	SumProb    []float64 // Σp per bin, both classes
	SumSqErr   float64   // Σ(p - y)²
	SumLogLoss float64   // Σ log loss, clipped as LogLoss
}

// BinarySummaryLen is the length of a BinarySummary vector with the given
// number of bins: [pos (bins) | neg (bins) | sum of p (bins) | Σ(p-y)² |
// Σ log loss]. The first 2·bins entries are integer counts, the rest
// reals.
func BinarySummaryLen(bins int) int { return 3*bins + 2 }

// NewBinarySummary returns an empty summary; bins below 1 means
// DefaultBins.
func NewBinarySummary(bins int) BinarySummary {
	h := NewScoreHistogram(bins)
	return BinarySummary{Hist: h, SumProb: make([]float64, h.Bins())}
}

func (s *BinarySummary) init() {
	if s.Hist.Bins() == 0 && len(s.SumProb) == 0 {
		*s = NewBinarySummary(DefaultBins)
	}
}

func (s BinarySummary) validate() error {
	if err := s.Hist.validate(); err != nil {
		return err
	}
	if len(s.SumProb) != s.Hist.Bins() {
		return fmt.Errorf("eval: summary has %d probability sums for %d bins", len(s.SumProb), s.Hist.Bins())
	}
	for k, v := range s.SumProb {
		if !(v >= 0) || math.IsInf(v, 1) {
			return fmt.Errorf("eval: summary bin %d has probability sum %v", k, v)
		}
	}
	if !(s.SumSqErr >= 0) || math.IsInf(s.SumSqErr, 1) || !(s.SumLogLoss >= 0) || math.IsInf(s.SumLogLoss, 1) {
		return fmt.Errorf("eval: summary sums (%v, %v) are not finite and non-negative", s.SumSqErr, s.SumLogLoss)
	}
	return nil
}

// AddAll adds every probability with its label. It returns an error, and
// leaves s unchanged, on mismatched lengths, a probability outside [0, 1]
// or a label other than 0 or 1.
func (s *BinarySummary) AddAll(probs, labels []float64) error {
	if len(probs) != len(labels) {
		return fmt.Errorf("eval: %d probabilities and %d labels", len(probs), len(labels))
	}
	for i, p := range probs {
		if err := checkObservation(p, labels[i]); err != nil {
			return fmt.Errorf("%w (index %d)", err, i)
		}
	}
	s.init()
	if err := s.validate(); err != nil {
		return err
	}
	bins := s.Hist.Bins()
	for i, p := range probs {
		k := bin(p, bins)
		if labels[i] == 1 {
			s.Hist.Pos[k]++
		} else {
			s.Hist.Neg[k]++
		}
		s.SumProb[k] += p
		d := p - labels[i]
		s.SumSqErr += d * d
	}
	s.SumLogLoss += logLoss(probs, labels) * float64(len(probs))
	return nil
}

// Merge adds o into s; both must have the same bins (the zero summary
// takes o's). On error s is unchanged.
func (s *BinarySummary) Merge(o BinarySummary) error {
	if err := o.validate(); err != nil {
		return err
	}
	if s.Hist.Bins() == 0 && len(s.SumProb) == 0 {
		*s = NewBinarySummary(o.Hist.Bins())
	}
	if err := s.validate(); err != nil {
		return err
	}
	if s.Hist.Bins() != o.Hist.Bins() {
		return fmt.Errorf("eval: merge: %d bins into %d", o.Hist.Bins(), s.Hist.Bins())
	}
	for k := range s.SumProb {
		s.Hist.Pos[k] += o.Hist.Pos[k]
		s.Hist.Neg[k] += o.Hist.Neg[k]
		s.SumProb[k] += o.SumProb[k]
	}
	s.SumSqErr += o.SumSqErr
	s.SumLogLoss += o.SumLogLoss
	return nil
}

// Vector returns the summary as one summable vector laid out as
// BinarySummaryLen describes. It is a new slice.
func (s BinarySummary) Vector() []float64 {
	v := make([]float64, 0, BinarySummaryLen(s.Hist.Bins()))
	v = append(v, s.Hist.Pos...)
	v = append(v, s.Hist.Neg...)
	v = append(v, s.SumProb...)
	return append(v, s.SumSqErr, s.SumLogLoss)
}

// BinarySummaryFromVector is the inverse of Vector. The result does not
// alias v.
func BinarySummaryFromVector(v []float64) (BinarySummary, error) {
	if len(v) < 5 || (len(v)-2)%3 != 0 {
		return BinarySummary{}, fmt.Errorf("eval: summary vector has length %d, want 3·bins+2", len(v))
	}
	b := (len(v) - 2) / 3
	s := BinarySummary{
		Hist:       ScoreHistogram{Pos: append([]float64(nil), v[:b]...), Neg: append([]float64(nil), v[b:2*b]...)},
		SumProb:    append([]float64(nil), v[2*b:3*b]...),
		SumSqErr:   v[3*b],
		SumLogLoss: v[3*b+1],
	}
	if err := s.validate(); err != nil {
		return BinarySummary{}, err
	}
	return s, nil
}

// Totals returns the number of rows and of positives.
func (s BinarySummary) Totals() (n, pos float64) {
	for k := range s.Hist.Pos {
		pos += s.Hist.Pos[k]
		n += s.Hist.Pos[k] + s.Hist.Neg[k]
	}
	return n, pos
}

// SummaryMetrics are the figures a BinarySummary gives. AUC, KS and Gini
// come from the histogram (see ScoreHistogram.AUC), LogLoss and Brier are
// exact.
type SummaryMetrics struct {
	AUC, KS, Gini, LogLoss, Brier float64
	N, Positives                  float64
}

// Metrics computes the summary's metrics. It returns ErrOneClass if a
// class is absent, and an error for an empty summary.
func (s BinarySummary) Metrics() (SummaryMetrics, error) {
	if err := s.validate(); err != nil {
		return SummaryMetrics{}, err
	}
	n, pos := s.Totals()
	if n == 0 {
		return SummaryMetrics{}, errors.New("eval: empty summary")
	}
	auc, err := s.Hist.AUC()
	if err != nil {
		return SummaryMetrics{}, err
	}
	ks, err := s.Hist.KS()
	if err != nil {
		return SummaryMetrics{}, err
	}
	return SummaryMetrics{
		AUC: auc, KS: ks, Gini: 2*auc - 1,
		LogLoss: s.SumLogLoss / n, Brier: s.SumSqErr / n,
		N: n, Positives: pos,
	}, nil
}

// ROCPoint is one point of a ROC curve.
type ROCPoint struct{ FPR, TPR float64 }

// ROC returns the ROC curve from the histogram: thresholds at every bin
// edge from the highest scores down, starting at (0, 0) and ending at
// (1, 1). Empty bins add no point.
func (h ScoreHistogram) ROC() ([]ROCPoint, error) {
	pos, neg, err := h.totals()
	if err != nil {
		return nil, err
	}
	out := []ROCPoint{{0, 0}}
	var tp, fp float64
	for k := len(h.Pos) - 1; k >= 0; k-- {
		if h.Pos[k] == 0 && h.Neg[k] == 0 {
			continue
		}
		tp += h.Pos[k]
		fp += h.Neg[k]
		out = append(out, ROCPoint{FPR: fp / neg, TPR: tp / pos})
	}
	return out, nil
}

// KSPoint is one point of a KS curve: at threshold probability Threshold
// (a bin edge), the share of positives and of negatives scored below it.
type KSPoint struct {
	Threshold      float64
	CumPos, CumNeg float64
}

// KSCurve returns the two cumulative distributions whose largest gap is
// KS, at every bin edge where a bin has rows, from low scores to high.
func (h ScoreHistogram) KSCurve() ([]KSPoint, error) {
	pos, neg, err := h.totals()
	if err != nil {
		return nil, err
	}
	bins := len(h.Pos)
	var out []KSPoint
	var cp, cn float64
	for k := range bins {
		if h.Pos[k] == 0 && h.Neg[k] == 0 {
			continue
		}
		if len(out) == 0 {
			out = append(out, KSPoint{Threshold: Edge(k, bins)})
		}
		cp += h.Pos[k]
		cn += h.Neg[k]
		out = append(out, KSPoint{Threshold: Edge(k+1, bins), CumPos: cp / pos, CumNeg: cn / neg})
	}
	return out, nil
}
