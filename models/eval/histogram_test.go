package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHistogramSmallCases(t *testing.T) {
	// Where every probability sits in its own bin, or ties are exact, the
	// histogram reproduces the exact (sklearn-informed) figures.
	for _, tc := range binaryCases {
		h := NewScoreHistogram(DefaultBins)
		if err := h.AddAll(tc.scores, tc.labels); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		auc, err := h.AUC()
		if err != nil || math.Abs(auc-tc.auc) > 1e-15 {
			t.Errorf("%s: histogram AUC = %v, %v; want %v", tc.name, auc, err, tc.auc)
		}
		ks, err := h.KS()
		if err != nil || math.Abs(ks-tc.ks) > 1e-15 {
			t.Errorf("%s: histogram KS = %v, %v; want %v", tc.name, ks, err, tc.ks)
		}
	}
}

func TestHistogramBins(t *testing.T) {
	h := NewScoreHistogram(20) // one bin per unit of log-odds
	logistic := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	cases := []struct {
		p    float64
		want int
	}{
		{0, 0}, {1e-300, 0}, {logistic(-12), 0}, {logistic(-9.5), 0}, {logistic(-8.5), 1},
		{0.5, 10}, {logistic(0.5), 10}, {logistic(-0.5), 9}, {logistic(9.5), 19},
		{logistic(30), 19}, {1, 19},
	}
	for _, tc := range cases {
		if got := h.Bin(tc.p); got != tc.want {
			t.Errorf("Bin(%v) = %d, want %d", tc.p, got, tc.want)
		}
	}
	if NewScoreHistogram(0).Bins() != DefaultBins {
		t.Errorf("NewScoreHistogram(0) has %d bins, want DefaultBins", NewScoreHistogram(0).Bins())
	}
}

// TestHistogramAUCAccuracy compares histogram and exact metrics on 100k
// realistic credit scores.
func TestHistogramAUCAccuracy(t *testing.T) {
	probs, labels := creditScores(rand.New(rand.NewPCG(2024, 1)), 100_000)
	exactAUC, err := AUC(probs, labels)
	if err != nil {
		t.Fatal(err)
	}
	exactKS, _ := KS(probs, labels)
	if exactAUC < 0.7 || exactAUC > 0.9 {
		t.Fatalf("exact AUC %v: the test data is not realistic", exactAUC)
	}
	for _, tc := range []struct {
		bins          int
		aucTol, ksTol float64
	}{
		{bins: DefaultBins, aucTol: 1e-4, ksTol: 2e-3},
		{bins: 200, aucTol: 1e-3, ksTol: 1e-2},
	} {
		h := NewScoreHistogram(tc.bins)
		if err := h.AddAll(probs, labels); err != nil {
			t.Fatal(err)
		}
		auc, err := h.AUC()
		if err != nil || math.Abs(auc-exactAUC) > tc.aucTol {
			t.Errorf("%d bins: histogram AUC %v, exact %v (diff %.2g)", tc.bins, auc, exactAUC, auc-exactAUC)
		}
		ks, err := h.KS()
		if err != nil || ks > exactKS || exactKS-ks > tc.ksTol {
			t.Errorf("%d bins: histogram KS %v, exact %v", tc.bins, ks, exactKS)
		}
	}
}

func TestHistogramMergeAndVector(t *testing.T) {
	probs, labels := creditScores(rand.New(rand.NewPCG(7, 7)), 10_000)
	all := NewScoreHistogram(DefaultBins)
	if err := all.AddAll(probs, labels); err != nil {
		t.Fatal(err)
	}
	// Three parties with uneven shares; the zero histogram adopts the bins.
	var merged ScoreHistogram
	for _, cut := range [][2]int{{0, 1234}, {1234, 1240}, {1240, 10_000}} {
		part := NewScoreHistogram(DefaultBins)
		for i := cut[0]; i < cut[1]; i++ {
			part.Add(probs[i], labels[i])
		}
		// Parties ship Vectors; the coordinator decodes the sum.
		back, err := ScoreHistogramFromVector(part.Vector())
		if err != nil {
			t.Fatal(err)
		}
		if err := merged.Merge(back); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(merged.Pos, all.Pos) || !slices.Equal(merged.Neg, all.Neg) {
		t.Fatal("merged histogram differs from the histogram of the union")
	}
	v := all.Vector()
	if len(v) != 2*DefaultBins || !slices.Equal(v[:DefaultBins], all.Pos) || !slices.Equal(v[DefaultBins:], all.Neg) {
		t.Fatal("Vector is not [pos..., neg...]")
	}
	back, err := ScoreHistogramFromVector(v)
	if err != nil {
		t.Fatal(err)
	}
	v[0] = -1 // the result must not alias the vector
	if !slices.Equal(back.Pos, all.Pos) || !slices.Equal(back.Neg, all.Neg) {
		t.Fatal("Vector round trip changed the histogram")
	}

	if err := merged.Merge(NewScoreHistogram(10)); err == nil {
		t.Error("Merge of different bin counts: no error")
	}
	bad := NewScoreHistogram(DefaultBins)
	bad.Neg[3] = math.NaN()
	if err := merged.Merge(bad); err == nil {
		t.Error("Merge of an invalid histogram: no error")
	}
	if !slices.Equal(merged.Pos, all.Pos) || !slices.Equal(merged.Neg, all.Neg) {
		t.Error("failed Merge changed the histogram")
	}
	for _, v := range [][]float64{nil, {1, 2, 3}, {1, math.NaN()}, {1, -1}, {math.Inf(1), 0}} {
		if _, err := ScoreHistogramFromVector(v); err == nil {
			t.Errorf("ScoreHistogramFromVector(%v): no error", v)
		}
	}
}

func TestHistogramBadInput(t *testing.T) {
	h := NewScoreHistogram(100)
	if err := h.AddAll([]float64{0.2, 0.9}, []float64{0, 1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ probs, labels []float64 }{
		{[]float64{0.5}, nil},
		{[]float64{0.5, math.NaN()}, []float64{0, 1}},
		{[]float64{0.5, 1.01}, []float64{0, 1}},
		{[]float64{0.5, 0.6}, []float64{0, 0.5}},
	} {
		if err := h.AddAll(tc.probs, tc.labels); err == nil {
			t.Errorf("AddAll(%v, %v): no error", tc.probs, tc.labels)
		}
	}
	if auc, err := h.AUC(); err != nil || auc != 1 {
		t.Errorf("failed AddAll changed the histogram: AUC %v, %v", auc, err)
	}

	var one ScoreHistogram
	one.Add(0.3, 1)
	if one.Bins() != DefaultBins {
		t.Errorf("zero histogram took %d bins, want DefaultBins", one.Bins())
	}
	if _, err := one.AUC(); !errors.Is(err, ErrOneClass) {
		t.Errorf("AUC with one class: %v, want ErrOneClass", err)
	}
	if _, err := one.KS(); !errors.Is(err, ErrOneClass) {
		t.Errorf("KS with one class: %v, want ErrOneClass", err)
	}
	// Add cannot return an error, so it poisons the histogram instead.
	h.Add(math.NaN(), 1)
	if _, err := h.AUC(); err == nil {
		t.Error("AUC after Add(NaN): no error")
	}
	if _, err := h.KS(); err == nil {
		t.Error("KS after Add(NaN): no error")
	}
	if _, err := ScoreHistogramFromVector(h.Vector()); err == nil {
		t.Error("ScoreHistogramFromVector of a poisoned histogram: no error")
	}
	if _, err := (ScoreHistogram{}).AUC(); err == nil {
		t.Error("AUC of the zero histogram: no error")
	}
}

func BenchmarkScoreHistogramAddAll(b *testing.B) {
	probs, labels := creditScores(rand.New(rand.NewPCG(1, 2)), 100_000)
	h := NewScoreHistogram(DefaultBins)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.AddAll(probs, labels); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(probs)), "ns/score")
}
