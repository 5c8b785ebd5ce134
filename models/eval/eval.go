// Package eval computes metrics of binary classifiers: ROC AUC, the
// Kolmogorov–Smirnov statistic and log loss.
//
// The exact metrics take every score and label. ScoreHistogram computes AUC
// and KS from a histogram of scores by class instead; its counts add across
// parties, so a federation can evaluate a model under secure aggregation
// without any single prediction leaving the node that made it.
//
// Labels are float64 and must be exactly 0 (negative) or 1 (positive).
// Functions return an error, never panic, on mismatched lengths, NaN or
// out-of-range input.
package eval

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrOneClass is returned when AUC or KS is asked of data that holds only
// positives or only negatives.
var ErrOneClass = errors.New("eval: need both positive and negative labels")

// checkInputs validates a score/label pair of slices and counts positives.
// probs restricts scores to [0, 1].
func checkInputs(scores, labels []float64, probs bool) (pos int, err error) {
	if len(scores) != len(labels) {
		return 0, fmt.Errorf("eval: %d scores and %d labels", len(scores), len(labels))
	}
	if len(scores) == 0 {
		return 0, errors.New("eval: no scores")
	}
	for i, s := range scores {
		if math.IsNaN(s) {
			return 0, fmt.Errorf("eval: score at index %d is NaN", i)
		}
		if probs && !(s >= 0 && s <= 1) {
			return 0, fmt.Errorf("eval: probability %v at index %d is outside [0, 1]", s, i)
		}
		switch labels[i] {
		case 1:
			pos++
		case 0:
		default:
			return 0, fmt.Errorf("eval: label %v at index %d is not 0 or 1", labels[i], i)
		}
	}
	return pos, nil
}

type scored struct {
	s   float64
	pos bool
}

// aucKS computes the exact AUC and KS with a single sort. The inputs must
// have passed checkInputs, and both classes must be present.
func aucKS(scores, labels []float64, nPos int) (auc, ks float64) {
	n := len(scores)
	xs := make([]scored, n)
	for i, s := range scores {
		xs[i] = scored{s: s, pos: labels[i] == 1}
	}
	slices.SortFunc(xs, func(a, b scored) int { return cmp.Compare(a.s, b.s) })

	nNeg := n - nPos
	// Walk groups of tied scores from lowest to highest. For each group,
	// every positive beats every negative below the group and ties half of
	// the negatives inside it (Mann–Whitney U). KS compares the two
	// classes' empirical CDFs after each whole group, as scipy's ks_2samp
	// does, so ties never split.
	var u, negBelow, posBelow float64
	for i := 0; i < n; {
		var p, q float64
		j := i
		for ; j < n && xs[j].s == xs[i].s; j++ {
			if xs[j].pos {
				p++
			} else {
				q++
			}
		}
		u += p*negBelow + 0.5*p*q
		negBelow += q
		posBelow += p
		ks = max(ks, math.Abs(negBelow/float64(nNeg)-posBelow/float64(nPos)))
		i = j
	}
	return u / (float64(nPos) * float64(nNeg)), ks
}

// AUC returns the area under the ROC curve of scores against labels: the
// probability that a random positive scores above a random negative, with
// ties counted half (the Mann–Whitney U statistic over nPos*nNeg). It
// returns ErrOneClass if a class is absent.
func AUC(scores, labels []float64) (float64, error) {
	pos, err := checkInputs(scores, labels, false)
	if err != nil {
		return 0, err
	}
	if pos == 0 || pos == len(scores) {
		return 0, ErrOneClass
	}
	auc, _ := aucKS(scores, labels, pos)
	return auc, nil
}

// KS returns the Kolmogorov–Smirnov statistic of scores against labels: the
// largest gap |TPR - FPR| over all thresholds, which equals the two-sample
// KS statistic between the positives' and the negatives' scores. Tied scores
// move together, so a threshold never splits them (as in sklearn's
// roc_curve and scipy's ks_2samp). It returns ErrOneClass if a class is
// absent.
func KS(scores, labels []float64) (float64, error) {
	pos, err := checkInputs(scores, labels, false)
	if err != nil {
		return 0, err
	}
	if pos == 0 || pos == len(scores) {
		return 0, ErrOneClass
	}
	_, ks := aucKS(scores, labels, pos)
	return ks, nil
}

// LogLossEps is the clipping applied by LogLoss: probabilities are clipped
// to [LogLossEps, 1-LogLossEps] so that a confident mistake costs about 34.5
// nats rather than infinity. It is sklearn's historical default (sklearn
// 1.2 and later default to the float64 machine epsilon instead; pass
// eps=1e-15 to compare).
const LogLossEps = 1e-15

// LogLoss returns the mean negative log-likelihood of labels under
// probabilities probs, clipped by LogLossEps. Probabilities must lie in
// [0, 1]. Unlike AUC, one class alone is allowed.
func LogLoss(probs, labels []float64) (float64, error) {
	if _, err := checkInputs(probs, labels, true); err != nil {
		return 0, err
	}
	return logLoss(probs, labels), nil
}

func logLoss(probs, labels []float64) float64 {
	var sum float64
	for i, p := range probs {
		p = min(max(p, LogLossEps), 1-LogLossEps)
		if labels[i] == 1 {
			sum -= math.Log(p)
		} else {
			sum -= math.Log1p(-p)
		}
	}
	return sum / float64(len(probs))
}

// Binary holds the usual metrics of a binary classifier on one data set.
type Binary struct {
	AUC, KS, LogLoss float64
	N                int // number of examples
	Positives        int // number of examples labelled 1
}

// BinaryMetrics computes AUC, KS and LogLoss of predicted probabilities in
// one pass over sorted scores. It returns ErrOneClass if a class is absent.
func BinaryMetrics(probs, labels []float64) (Binary, error) {
	pos, err := checkInputs(probs, labels, true)
	if err != nil {
		return Binary{}, err
	}
	if pos == 0 || pos == len(probs) {
		return Binary{}, ErrOneClass
	}
	auc, ks := aucKS(probs, labels, pos)
	return Binary{AUC: auc, KS: ks, LogLoss: logLoss(probs, labels), N: len(probs), Positives: pos}, nil
}
