package round

import (
	"fmt"
	"math"

	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models/eval"
)

// Layout fixes the meaning of every coordinate of a contribution vector.
//
// Everything a participant returns is a vector that the coordinator only
// ever sums: weighted parameters and their weights, loss sums, counts and
// histograms. That is what lets secure aggregation replace the plain sum
// without changing the round machine or the strategy: the machine sees the
// sum of the cohort's vectors and nothing else.
type Layout struct {
	// Dim is the number of features; a model has Dim+1 parameters.
	Dim int
	// Bins is the number of score-histogram bins used for validation.
	Bins int
}

// Validate reports whether the layout can describe a contribution.
func (l Layout) Validate() error {
	if l.Dim < 1 {
		return fmt.Errorf("round: layout needs at least one feature, got %d", l.Dim)
	}
	if l.Bins < 2 {
		return fmt.Errorf("round: layout needs at least two histogram bins, got %d", l.Bins)
	}
	return nil
}

// Len is the length of a contribution for a phase.
func (l Layout) Len(p Phase) int {
	switch p {
	case Stats:
		return 2 + 2*l.Dim // count, sums, sums of squares, positives
	case Train:
		return (l.Dim + 1) + 3 + l.validationLen() // ω·θ, ω, examples, loss sum, validation
	case Eval:
		return l.validationLen()
	}
	return 0
}

func (l Layout) validationLen() int { return 2*l.Bins + 2 }

// StatsContribution is one participant's (or the cohort's summed) feature
// statistics.
type StatsContribution struct {
	Moments   features.Moments
	Positives float64
}

// Validation is what a participant reports about the global model on its
// validation rows: a score histogram by class, and the log-loss sum.
type Validation struct {
	Hist     eval.ScoreHistogram
	LossSum  float64
	Examples float64
}

// TrainContribution is one participant's (or the cohort's summed) training
// result. Validation is of the global model the participant received,
// measured before it trained.
type TrainContribution struct {
	WeightedParams []float64
	Weight         float64
	Examples       float64
	LossSum        float64
	Validation     Validation
}

// PackStats lays out a stats contribution.
func (l Layout) PackStats(s StatsContribution) ([]float64, error) {
	if len(s.Moments.Sum) != l.Dim || len(s.Moments.SumSq) != l.Dim {
		return nil, fmt.Errorf("round: stats for %d features, layout has %d", len(s.Moments.Sum), l.Dim)
	}
	v := make([]float64, 0, l.Len(Stats))
	v = append(v, s.Moments.Vector()...)
	return append(v, s.Positives), nil
}

// UnpackStats reads a stats contribution.
func (l Layout) UnpackStats(v []float64) (StatsContribution, error) {
	if err := l.checkLen(Stats, v); err != nil {
		return StatsContribution{}, err
	}
	m, err := features.MomentsFromVector(v[:1+2*l.Dim], l.Dim)
	if err != nil {
		return StatsContribution{}, err
	}
	return StatsContribution{Moments: m, Positives: v[1+2*l.Dim]}, nil
}

// PackTrain lays out a training contribution.
func (l Layout) PackTrain(t TrainContribution) ([]float64, error) {
	if len(t.WeightedParams) != l.Dim+1 {
		return nil, fmt.Errorf("round: %d weighted parameters, layout needs %d", len(t.WeightedParams), l.Dim+1)
	}
	v := make([]float64, 0, l.Len(Train))
	v = append(v, t.WeightedParams...)
	v = append(v, t.Weight, t.Examples, t.LossSum)
	return l.appendValidation(v, t.Validation)
}

// UnpackTrain reads a training contribution.
func (l Layout) UnpackTrain(v []float64) (TrainContribution, error) {
	if err := l.checkLen(Train, v); err != nil {
		return TrainContribution{}, err
	}
	d := l.Dim + 1
	val, err := l.validation(v[d+3:])
	if err != nil {
		return TrainContribution{}, err
	}
	return TrainContribution{
		WeightedParams: append([]float64(nil), v[:d]...),
		Weight:         v[d],
		Examples:       v[d+1],
		LossSum:        v[d+2],
		Validation:     val,
	}, nil
}

// PackEval lays out an evaluation contribution.
func (l Layout) PackEval(val Validation) ([]float64, error) {
	return l.appendValidation(make([]float64, 0, l.Len(Eval)), val)
}

// UnpackEval reads an evaluation contribution.
func (l Layout) UnpackEval(v []float64) (Validation, error) {
	if err := l.checkLen(Eval, v); err != nil {
		return Validation{}, err
	}
	return l.validation(v)
}

func (l Layout) appendValidation(v []float64, val Validation) ([]float64, error) {
	if len(val.Hist.Pos) != l.Bins || len(val.Hist.Neg) != l.Bins {
		return nil, fmt.Errorf("round: validation histogram has %d bins, layout has %d", len(val.Hist.Pos), l.Bins)
	}
	v = append(v, val.Hist.Vector()...)
	return append(v, val.LossSum, val.Examples), nil
}

func (l Layout) validation(v []float64) (Validation, error) {
	h, err := eval.ScoreHistogramFromVector(v[:2*l.Bins])
	if err != nil {
		return Validation{}, err
	}
	return Validation{Hist: h, LossSum: v[2*l.Bins], Examples: v[2*l.Bins+1]}, nil
}

func (l Layout) checkLen(p Phase, v []float64) error {
	if want := l.Len(p); len(v) != want {
		return fmt.Errorf("%w: %s contribution has %d values, want %d", ErrBadContribution, p, len(v), want)
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: %s contribution value %d is %v", ErrBadContribution, p, i, x)
		}
	}
	return nil
}

// Metrics summarises a validation aggregate.
type Metrics struct {
	AUC, KS, LogLoss    float64
	Examples, Positives float64
}

// Metrics computes AUC and KS from the summed histograms and the mean log
// loss from the summed losses; no single prediction is needed.
func (v Validation) Metrics() (Metrics, error) {
	m := Metrics{Examples: v.Examples}
	for _, c := range v.Hist.Pos {
		m.Positives += c
	}
	if v.Examples > 0 {
		m.LogLoss = v.LossSum / v.Examples
	}
	auc, err := v.Hist.AUC()
	if err != nil {
		return m, err
	}
	ks, err := v.Hist.KS()
	if err != nil {
		return m, err
	}
	m.AUC, m.KS = auc, ks
	return m, nil
}
