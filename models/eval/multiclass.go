package eval

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// MulticlassSummary is everything needed to evaluate a K-class classifier
// on a data set, as sums that add across parties: the K×K confusion matrix
// (row = true class, column = predicted class, the most probable one, the
// lowest index on a tie) and the sum of log losses. Its Vector has length
// K·K+1: K·K integer counts, then one real.
type MulticlassSummary struct {
	Classes    int
	Confusion  []float64 // Classes×Classes, row-major
	SumLogLoss float64
}

// MulticlassSummaryLen is the length of a MulticlassSummary vector.
func MulticlassSummaryLen(k int) int { return k*k + 1 }

// NewMulticlassSummary returns an empty summary for k classes (k below 2
// is treated as 2).
func NewMulticlassSummary(k int) MulticlassSummary {
	k = max(k, 2)
	return MulticlassSummary{Classes: k, Confusion: make([]float64, k*k)}
}

func (s MulticlassSummary) validate() error {
	if s.Classes < 2 || len(s.Confusion) != s.Classes*s.Classes {
		return fmt.Errorf("eval: multiclass summary with %d classes has %d cells", s.Classes, len(s.Confusion))
	}
	for i, v := range s.Confusion {
		if !(v >= 0) || math.IsInf(v, 1) {
			return fmt.Errorf("eval: confusion cell %d is %v", i, v)
		}
	}
	if !(s.SumLogLoss >= 0) || math.IsInf(s.SumLogLoss, 1) {
		return fmt.Errorf("eval: log loss sum %v", s.SumLogLoss)
	}
	return nil
}

// AddAll adds the rows of probs (n×Classes, each row a distribution) with
// their class labels 0..Classes-1. The log loss of a row clips its
// probabilities to [LogLossEps, 1-LogLossEps] and renormalises them, as
// sklearn's log_loss does. It returns an error, and leaves s unchanged, on
// a shape mismatch, a label that is not a class, or a probability that is
// NaN or outside [0, 1].
func (s *MulticlassSummary) AddAll(probs mat.Matrix, labels []float64) error {
	if err := s.validate(); err != nil {
		return err
	}
	if probs == nil {
		return errors.New("eval: nil probabilities")
	}
	if d, ok := probs.(*mat.Dense); ok && (d == nil || d.IsEmpty()) {
		if len(labels) == 0 {
			return nil
		}
		return errors.New("eval: empty probabilities")
	}
	r, c := probs.Dims()
	K := s.Classes
	if c != K || r != len(labels) {
		return fmt.Errorf("eval: %d×%d probabilities for %d labels and %d classes", r, c, len(labels), K)
	}
	row := make([]float64, K)
	for i := range r {
		mat.Row(row, i, probs)
		for _, p := range row {
			if !(p >= 0 && p <= 1) {
				return fmt.Errorf("eval: probability %v in row %d is outside [0, 1]", p, i)
			}
		}
		y := labels[i]
		if !(y >= 0 && y < float64(K)) || y != math.Trunc(y) {
			return fmt.Errorf("eval: label %v at index %d is not a class in 0..%d", y, i, K-1)
		}
	}
	conf := append([]float64(nil), s.Confusion...)
	var ll float64
	for i := range r {
		mat.Row(row, i, probs)
		y := int(labels[i])
		best := 0
		var sum float64
		for k, p := range row {
			if p > row[best] {
				best = k
			}
			sum += min(max(p, LogLossEps), 1-LogLossEps)
		}
		conf[y*K+best]++
		ll -= math.Log(min(max(row[y], LogLossEps), 1-LogLossEps) / sum)
	}
	s.Confusion = conf
	s.SumLogLoss += ll
	return nil
}

// Merge adds o into s; both must have the same classes. On error s is
// unchanged.
func (s *MulticlassSummary) Merge(o MulticlassSummary) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := s.validate(); err != nil {
		return err
	}
	if s.Classes != o.Classes {
		return fmt.Errorf("eval: merge: %d classes into %d", o.Classes, s.Classes)
	}
	for i := range s.Confusion {
		s.Confusion[i] += o.Confusion[i]
	}
	s.SumLogLoss += o.SumLogLoss
	return nil
}

// Vector returns the summary as one summable vector, [confusion (K·K,
// row-major) | Σ log loss]. It is a new slice.
func (s MulticlassSummary) Vector() []float64 {
	return append(append(make([]float64, 0, len(s.Confusion)+1), s.Confusion...), s.SumLogLoss)
}

// MulticlassSummaryFromVector is the inverse of Vector for k classes.
func MulticlassSummaryFromVector(v []float64, k int) (MulticlassSummary, error) {
	if k < 2 || len(v) != MulticlassSummaryLen(k) {
		return MulticlassSummary{}, fmt.Errorf("eval: multiclass vector has length %d, want %d", len(v), MulticlassSummaryLen(k))
	}
	s := MulticlassSummary{Classes: k, Confusion: append([]float64(nil), v[:k*k]...), SumLogLoss: v[k*k]}
	if err := s.validate(); err != nil {
		return MulticlassSummary{}, err
	}
	return s, nil
}

// Multiclass are the metrics of a K-class classifier.
type Multiclass struct {
	Accuracy float64
	// MacroF1 is the unweighted mean of F1 over the classes that occur
	// as a true or a predicted class (sklearn's average="macro").
	MacroF1   float64
	LogLoss   float64
	Precision []float64 // per class; 0 when the class is never predicted
	Recall    []float64 // per class; 0 when the class never occurs
	F1        []float64 // per class; 0 when precision and recall are 0
	Confusion [][]float64
	N         float64
}

// Metrics computes accuracy, macro-F1, per-class precision, recall and F1,
// and log loss from the summary. It returns an error for an empty summary.
func (s MulticlassSummary) Metrics() (Multiclass, error) {
	if err := s.validate(); err != nil {
		return Multiclass{}, err
	}
	K := s.Classes
	m := Multiclass{Precision: make([]float64, K), Recall: make([]float64, K), F1: make([]float64, K), Confusion: make([][]float64, K)}
	trueN, predN := make([]float64, K), make([]float64, K)
	var correct float64
	for i := range K {
		m.Confusion[i] = append([]float64(nil), s.Confusion[i*K:(i+1)*K]...)
		for j := range K {
			v := s.Confusion[i*K+j]
			m.N += v
			trueN[i] += v
			predN[j] += v
		}
		correct += s.Confusion[i*K+i]
	}
	if m.N == 0 {
		return Multiclass{}, errors.New("eval: empty summary")
	}
	m.Accuracy = correct / m.N
	m.LogLoss = s.SumLogLoss / m.N
	var f1Sum float64
	var present int
	for k := range K {
		tp := s.Confusion[k*K+k]
		if predN[k] > 0 {
			m.Precision[k] = tp / predN[k]
		}
		if trueN[k] > 0 {
			m.Recall[k] = tp / trueN[k]
		}
		if p, r := m.Precision[k], m.Recall[k]; p+r > 0 {
			m.F1[k] = 2 * p * r / (p + r)
		}
		if trueN[k] > 0 || predN[k] > 0 {
			f1Sum += m.F1[k]
			present++
		}
	}
	m.MacroF1 = f1Sum / float64(present)
	return m, nil
}

// MulticlassMetrics computes the metrics of class probabilities (n×K)
// against class labels on pooled data.
func MulticlassMetrics(probs mat.Matrix, labels []float64) (Multiclass, error) {
	if probs == nil {
		return Multiclass{}, errors.New("eval: nil probabilities")
	}
	if d, ok := probs.(*mat.Dense); ok && (d == nil || d.IsEmpty()) {
		return Multiclass{}, errors.New("eval: empty probabilities")
	}
	_, k := probs.Dims()
	if k < 2 {
		return Multiclass{}, fmt.Errorf("eval: %d classes", k)
	}
	s := NewMulticlassSummary(k)
	if err := s.AddAll(probs, labels); err != nil {
		return Multiclass{}, err
	}
	return s.Metrics()
}
