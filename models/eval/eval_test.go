package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// Expected AUC and KS informed by sklearn 1.2.1 roc_auc_score and
// scipy 1.10.1 ks_2samp(scores[labels==1], scores[labels==0]).statistic,
// which equals max |tpr - fpr| from sklearn's roc_curve in every case.
var binaryCases = []struct {
	name    string
	scores  []float64
	labels  []float64
	auc, ks float64
}{
	{name: "separable", scores: []float64{0.1, 0.2, 0.3, 0.4}, labels: []float64{0, 0, 1, 1}, auc: 1, ks: 1},
	// KS is two-sided: a perfectly wrong ranking has KS 1 (max(tpr-fpr)
	// from roc_curve would say 0).
	{name: "reversed", scores: []float64{0.1, 0.2, 0.3, 0.4}, labels: []float64{1, 1, 0, 0}, auc: 0, ks: 1},
	{name: "sklearn doc", scores: []float64{0.1, 0.4, 0.35, 0.8}, labels: []float64{0, 0, 1, 1}, auc: 0.75, ks: 0.5},
	{name: "ties", scores: []float64{0.1, 0.4, 0.4, 0.8}, labels: []float64{0, 1, 0, 1}, auc: 0.875, ks: 0.5},
	// A threshold that split the tie could report KS 2/3.
	{name: "all tied", scores: []float64{0.5, 0.5, 0.5, 0.5, 0.5}, labels: []float64{0, 1, 0, 1, 1}, auc: 0.5, ks: 0},
	{
		name:   "ties across classes",
		scores: []float64{0.2, 0.2, 0.2, 0.5, 0.5, 0.9, 0.9, 0.9, 0.1, 0.5},
		labels: []float64{0, 0, 1, 0, 1, 1, 1, 0, 0, 1},
		auc:    0.72, ks: 0.4,
	},
	{
		name:   "rounded scores",
		scores: []float64{0.3, 0.7, 0.2, 0.9, 0.5, 0.5, 0.1, 0.8, 0.3, 0.6, 0.4, 0.7, 0.2, 0.5, 0.9, 0.3, 0.6, 0.1, 0.4, 0.8},
		labels: []float64{0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0},
		auc:    0.8484848484848484, ks: 0.6161616161616161,
	},
}

func TestAUCKS(t *testing.T) {
	const tol = 1e-15
	cases := append(binaryCases[:len(binaryCases):len(binaryCases)], struct {
		name    string
		scores  []float64
		labels  []float64
		auc, ks float64
	}{
		// Scores need not be probabilities. sklearn rejects Inf, so the
		// reference used ±1e300 in their place (the same ranking).
		name:   "logits and inf",
		scores: []float64{-3.5, math.Inf(-1), 2, 0, math.Inf(1), -1, 2, 0},
		labels: []float64{0, 0, 1, 0, 1, 1, 0, 1},
		auc:    0.75, ks: 0.5,
	})
	for _, tc := range cases {
		auc, err := AUC(tc.scores, tc.labels)
		if err != nil || math.Abs(auc-tc.auc) > tol {
			t.Errorf("%s: AUC = %v, %v; want %v", tc.name, auc, err, tc.auc)
		}
		ks, err := KS(tc.scores, tc.labels)
		if err != nil || math.Abs(ks-tc.ks) > tol {
			t.Errorf("%s: KS = %v, %v; want %v", tc.name, ks, err, tc.ks)
		}
	}
}

func TestLogLoss(t *testing.T) {
	// Informed by sklearn.metrics.log_loss(labels, probs, eps=1e-15,
	// labels=[0, 1]) (sklearn 1.2.1).
	cases := []struct {
		name          string
		probs, labels []float64
		want          float64
	}{
		{name: "typical", probs: []float64{0.9, 0.1, 0.8, 0.35, 0.6, 0.2}, labels: []float64{1, 0, 1, 0, 0, 1}, want: 0.5650626905050954},
		// Confident mistakes are clipped to -log(1e-15) = 34.54; half the
		// rows are right, so the mean is 17.27.
		{name: "clipped", probs: []float64{1, 0, 1, 0}, labels: []float64{1, 0, 0, 1}, want: 17.26958809681289},
		{name: "one class", probs: []float64{0.2, 0.7, 0.9}, labels: []float64{1, 1, 1}, want: 0.6904911240102196},
	}
	for _, tc := range cases {
		got, err := LogLoss(tc.probs, tc.labels)
		if err != nil || math.Abs(got-tc.want) > 1e-12*tc.want {
			t.Errorf("%s: LogLoss = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestBinaryMetrics(t *testing.T) {
	for _, tc := range binaryCases {
		got, err := BinaryMetrics(tc.scores, tc.labels)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ll, _ := LogLoss(tc.scores, tc.labels)
		pos := 0
		for _, l := range tc.labels {
			pos += int(l)
		}
		auc, _ := AUC(tc.scores, tc.labels)
		ks, _ := KS(tc.scores, tc.labels)
		want := Binary{AUC: auc, KS: ks, LogLoss: ll, N: len(tc.labels), Positives: pos}
		if got != want || math.Abs(got.AUC-tc.auc) > 1e-15 || math.Abs(got.KS-tc.ks) > 1e-15 {
			t.Errorf("%s: BinaryMetrics = %+v, want %+v", tc.name, got, want)
		}
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name          string
		scores, label []float64
		oneClass      bool
		probsOnly     bool // only invalid as probabilities
	}{
		{name: "empty", scores: nil, label: nil},
		{name: "lengths", scores: []float64{0.1, 0.2}, label: []float64{0}},
		{name: "NaN score", scores: []float64{0.1, math.NaN()}, label: []float64{0, 1}},
		{name: "label 2", scores: []float64{0.1, 0.2}, label: []float64{0, 2}},
		{name: "label NaN", scores: []float64{0.1, 0.2}, label: []float64{0, math.NaN()}},
		{name: "only positives", scores: []float64{0.1, 0.2}, label: []float64{1, 1}, oneClass: true},
		{name: "only negatives", scores: []float64{0.1, 0.2}, label: []float64{0, 0}, oneClass: true},
		{name: "probability above 1", scores: []float64{0.1, 1.5}, label: []float64{0, 1}, probsOnly: true},
		{name: "negative probability", scores: []float64{-0.1, 0.5}, label: []float64{0, 1}, probsOnly: true},
	}
	for _, tc := range cases {
		_, errA := AUC(tc.scores, tc.label)
		_, errK := KS(tc.scores, tc.label)
		_, errB := BinaryMetrics(tc.scores, tc.label)
		if tc.probsOnly {
			if errA != nil || errK != nil {
				t.Errorf("%s: AUC, KS errors %v, %v; scores need not be probabilities", tc.name, errA, errK)
			}
		} else if errA == nil || errK == nil {
			t.Errorf("%s: AUC, KS errors %v, %v; want errors", tc.name, errA, errK)
		}
		if errB == nil {
			t.Errorf("%s: BinaryMetrics: no error", tc.name)
		}
		if tc.oneClass && (!errors.Is(errA, ErrOneClass) || !errors.Is(errK, ErrOneClass) || !errors.Is(errB, ErrOneClass)) {
			t.Errorf("%s: errors %v, %v, %v; want ErrOneClass", tc.name, errA, errK, errB)
		}
		_, errL := LogLoss(tc.scores, tc.label)
		if (errL == nil) != tc.oneClass {
			t.Errorf("%s: LogLoss error %v", tc.name, errL)
		}
	}
}

// creditScores draws n predicted default probabilities shaped like a credit
// portfolio: about 5% defaults, log-odds N(-3.4, 1) for non-defaulters and
// N(-2.2, 1.1) for defaulters (AUC near 0.8), so most scores lie between
// 0.5% and 20%.
func creditScores(rng *rand.Rand, n int) (probs, labels []float64) {
	probs = make([]float64, n)
	labels = make([]float64, n)
	for i := range n {
		z := -3.4 + rng.NormFloat64()
		if rng.Float64() < 0.05 {
			labels[i] = 1
			z = -2.2 + 1.1*rng.NormFloat64()
		}
		probs[i] = 1 / (1 + math.Exp(-z))
	}
	return probs, labels
}
