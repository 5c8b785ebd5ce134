package eval

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// The rounded-scores case of binaryCases: 20 scores with many ties.
var (
	tieScores = []float64{0.3, 0.7, 0.2, 0.9, 0.5, 0.5, 0.1, 0.8, 0.3, 0.6, 0.4, 0.7, 0.2, 0.5, 0.9, 0.3, 0.6, 0.1, 0.4, 0.8}
	tieLabels = []float64{0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0}
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func nearAll(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !near(a[i], b[i], tol) {
			return false
		}
	}
	return true
}

func TestGiniBrier(t *testing.T) {
	// Informed by sklearn 1.2.1: 2*roc_auc_score(y, s)-1 and
	// brier_score_loss(y, s) on the same arrays.
	cases := []struct {
		name          string
		scores, label []float64
		gini, brier   float64
	}{
		{"ties", tieScores, tieLabels, 0.6969696969696968, 0.162},
		{"sklearn doc", []float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.5, 0.15812500000000002},
	}
	for _, c := range cases {
		g, err := Gini(c.scores, c.label)
		if err != nil || !near(g, c.gini, 1e-15) {
			t.Errorf("%s: Gini = %v, %v; want %v", c.name, g, err, c.gini)
		}
		b, err := Brier(c.scores, c.label)
		if err != nil || !near(b, c.brier, 1e-15) {
			t.Errorf("%s: Brier = %v, %v; want %v", c.name, b, err, c.brier)
		}
		s := NewBinarySummary(DefaultBins)
		if err := s.AddAll(c.scores, c.label); err != nil {
			t.Fatal(err)
		}
		m, err := s.Metrics()
		if err != nil || !near(m.Gini, c.gini, 1e-12) || !near(m.Brier, c.brier, 1e-15) {
			t.Errorf("%s: summary %+v, %v", c.name, m, err)
		}
	}
	if _, err := Gini([]float64{0.2, 0.3}, []float64{1, 1}); err != ErrOneClass {
		t.Errorf("one class: %v", err)
	}
}

func TestCalibrationDeciles(t *testing.T) {
	// 20 distinct probabilities in 5 groups of 4. Expected values informed
	// by sklearn 1.2.1 calibration.calibration_curve(y, p, n_bins=5,
	// strategy="quantile"), which lists groups from low to high.
	p := []float64{0.62, 0.881, 0.765, 0.236, 0.308, 0.859, 0.025, 0.808, 0.785, 0.469, 0.311, 0.287, 0.265, 0.447, 0.504, 0.551, 0.976, 0.781, 0.617, 0.969}
	y := []float64{1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1}
	probTrue := []float64{0.75, 0.5, 0.5, 0.75, 1.0}
	probPred := []float64{0.20325000000000001, 0.38375, 0.5730000000000001, 0.7847500000000001, 0.92125}
	d, err := Deciles(p, y, 5)
	if err != nil {
		t.Fatal(err)
	}
	var rate, mean []float64
	for i := len(d) - 1; i >= 0; i-- {
		rate = append(rate, d[i].Rate)
		mean = append(mean, d[i].MeanScore)
	}
	if !nearAll(rate, probTrue, 1e-12) || !nearAll(mean, probPred, 1e-12) {
		t.Errorf("calibration observed %v predicted %v", rate, mean)
	}
}

func TestLiftGainTies(t *testing.T) {
	// Ties straddling group boundaries are shared out pro rata. Expected
	// values computed with numpy 1.24 by an independent method: the
	// cumulative positives as a function of rank, spread evenly inside
	// each tie group (np.interp), read at ranks k·n/groups.
	cases := []struct {
		groups                         int
		rate, mean, lift, gain, cumlft []float64
	}{
		{4,
			[]float64{0.8, 0.6666666666666666, 0.2666666666666666, 0.06666666666666679},
			[]float64{0.8200000000000001, 0.5800000000000001, 0.3799999999999999, 0.18000000000000008},
			[]float64{1.777777777777778, 1.4814814814814814, 0.5925925925925924, 0.14814814814814842},
			[]float64{0.4444444444444444, 0.8148148148148148, 0.9629629629629629, 1.0},
			[]float64{1.7777777777777777, 1.6296296296296295, 1.2839506172839505, 1.0}},
		{10,
			[]float64{1.0, 0.5, 1.0, 0.5, 0.6666666666666665, 0.3333333333333335, 0.16666666666666696, 0.33333333333333304, 0.0, 0.0},
			[]float64{0.9, 0.8000000000000002, 0.7000000000000002, 0.6000000000000001, 0.5, 0.44999999999999973, 0.35000000000000053, 0.2999999999999998, 0.20000000000000018, 0.09999999999999964},
			[]float64{2.2222222222222223, 1.1111111111111112, 2.2222222222222223, 1.1111111111111112, 1.4814814814814812, 0.740740740740741, 0.370370370370371, 0.74074074074074, 0.0, 0.0},
			[]float64{0.2222222222222222, 0.3333333333333333, 0.5555555555555556, 0.6666666666666666, 0.8148148148148148, 0.8888888888888888, 0.925925925925926, 1.0, 1.0, 1.0},
			[]float64{2.222222222222222, 1.6666666666666665, 1.851851851851852, 1.6666666666666665, 1.6296296296296295, 1.4814814814814814, 1.322751322751323, 1.25, 1.1111111111111112, 1.0}},
	}
	for _, c := range cases {
		d, err := Deciles(tieScores, tieLabels, c.groups)
		if err != nil {
			t.Fatal(err)
		}
		var rate, mean, lift, gain, cl []float64
		for _, g := range d {
			rate, mean, lift, gain, cl = append(rate, g.Rate), append(mean, g.MeanScore), append(lift, g.Lift), append(gain, g.CumGain), append(cl, g.CumLift)
		}
		for _, x := range []struct {
			name      string
			got, want []float64
		}{{"rate", rate, c.rate}, {"mean", mean, c.mean}, {"lift", lift, c.lift}, {"gain", gain, c.gain}, {"cumulative lift", cl, c.cumlft}} {
			if !nearAll(x.got, x.want, 1e-12) {
				t.Errorf("%d groups: %s %v, want %v", c.groups, x.name, x.got, x.want)
			}
		}
		// Shuffling the rows changes nothing: ties are split pro rata.
		perm := rand.New(rand.NewPCG(1, uint64(c.groups))).Perm(len(tieScores))
		s2, y2 := make([]float64, len(perm)), make([]float64, len(perm))
		for i, j := range perm {
			s2[i], y2[i] = tieScores[j], tieLabels[j]
		}
		d2, _ := Deciles(s2, y2, c.groups)
		if !slices.Equal(d, d2) {
			t.Errorf("%d groups: row order changed the table", c.groups)
		}
	}
	// No positives: lifts and gains are 0, never NaN.
	d, err := Deciles([]float64{0.1, 0.2, 0.3}, []float64{0, 0, 0}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range d {
		if math.IsNaN(g.Lift) || math.IsNaN(g.CumGain) || math.IsNaN(g.Rate) || math.IsNaN(g.MeanScore) {
			t.Fatalf("NaN in %+v", g)
		}
	}
}

func TestPSI(t *testing.T) {
	// Informed by numpy 1.24: shares floored at 1e-4, bins empty in both
	// skipped, Σ(a-e)·ln(a/e).
	psi, err := PSI([]float64{120, 300, 250, 200, 100, 30, 0}, []float64{100, 280, 260, 220, 90, 40, 10})
	if err != nil || !near(psi, 0.0568463100156156, 1e-14) {
		t.Errorf("PSI = %v, %v", psi, err)
	}
	if _, err := PSI([]float64{1, 2}, []float64{0, 0}); err == nil {
		t.Error("empty actual accepted")
	}
	// Cuts at numpy quantiles of the expected sample (np.quantile, linear),
	// bins by np.searchsorted(cuts, x, side="right").
	ex := []float64{-0.11, 0.11, 0.06, -1.23, 0.08, 1.36, -1.55, 0.86, 0.12, -0.64, 2.0, 0.76, -1.2, 0.07, 0.58, -0.19, 0.68, -0.07, 0.67, 1.44, -0.68, 0.2, -0.46, 0.13, -1.19, -0.58, -0.2, 0.9, 1.15, -1.32, -0.79, 0.65, -1.99, -0.46, -0.1, 1.26, 0.69, -0.33, -0.37, -0.25, 1.52, -0.43, -0.3, 0.35, -0.12, -0.2, -1.11, -0.01, -0.44, 1.17}
	ac := []float64{1.08, 0.27, 1.1, -0.11, 1.56, 0.29, 1.0, -1.25, 0.72, -1.73, -2.14, -0.07, -0.78, 0.5, 2.99, -0.7, -0.45, 0.55, 0.89, 0.09, 0.05, 1.14, 0.92, -0.94, 0.2, 0.34, -0.97, 0.61, -0.73, 1.47, 0.53, 0.41, -0.41, 0.16, -2.1, -1.06, 0.74, -2.25, 1.32, -1.8}
	psi, err = ScorePSI(ex, ac, 10)
	if err != nil || !near(psi, 0.8551028843539936, 1e-12) {
		t.Errorf("ScorePSI = %v, %v", psi, err)
	}
	csi, err := CSI([][]float64{{1, 1}, {5, 5}}, [][]float64{{1, 1}, {9, 1}})
	if err != nil || csi[0] != 0 || !(csi[1] > 0.5) {
		t.Errorf("CSI = %v, %v", csi, err)
	}
}

func TestMulticlass(t *testing.T) {
	// Informed by sklearn 1.2.1 on the same arrays: accuracy_score,
	// f1_score(average="macro"), recall_score / precision_score / f1_score
	// (average=None, zero_division=0), confusion_matrix, and
	// log_loss(y, P, eps=1e-15). Rows 2 and 10 tie for the top class and
	// go to the lower index, as numpy's argmax does.
	P := mat.NewDense(10, 3, []float64{
		0.7, 0.2, 0.1, 0.4, 0.4, 0.2, 0.1, 0.3, 0.6, 0.2, 0.5, 0.3, 0.3, 0.3, 0.4,
		0.5, 0.25, 0.25, 0.1, 0.8, 0.1, 0.6, 0.3, 0.1, 0.2, 0.2, 0.6, 0.45, 0.45, 0.1,
	})
	y := []float64{0, 1, 2, 1, 0, 2, 1, 0, 2, 2}
	m, err := MulticlassMetrics(P, y)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.Accuracy, 0.6, 1e-15) || !near(m.MacroF1, 0.6238095238095238, 1e-15) || !near(m.LogLoss, 0.8614585537424887, 1e-15) {
		t.Errorf("accuracy %v macro-F1 %v log loss %v", m.Accuracy, m.MacroF1, m.LogLoss)
	}
	if !nearAll(m.Recall, []float64{0.6666666666666666, 0.6666666666666666, 0.5}, 1e-15) ||
		!nearAll(m.Precision, []float64{0.4, 1.0, 0.6666666666666666}, 1e-15) ||
		!nearAll(m.F1, []float64{0.5, 0.8, 0.5714285714285715}, 1e-15) {
		t.Errorf("recall %v precision %v F1 %v", m.Recall, m.Precision, m.F1)
	}
	want := [][]float64{{2, 0, 1}, {1, 2, 0}, {2, 0, 2}}
	for i := range want {
		if !slices.Equal(m.Confusion[i], want[i]) {
			t.Errorf("confusion row %d = %v, want %v", i, m.Confusion[i], want[i])
		}
	}
	// A class never predicted: precision 0 (zero_division=0). sklearn
	// log_loss(..., labels=[0, 1, 2]).
	P2 := mat.NewDense(4, 3, []float64{0.6, 0.3, 0.1, 0.5, 0.4, 0.1, 0.2, 0.7, 0.1, 0.3, 0.6, 0.1})
	m2, err := MulticlassMetrics(P2, []float64{0, 1, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	if !near(m2.Accuracy, 0.25, 1e-15) || !near(m2.MacroF1, 0.2222222222222222, 1e-15) || !near(m2.LogLoss, 1.5080716354070591, 1e-15) ||
		!nearAll(m2.Precision, []float64{0.5, 0, 0}, 0) || !nearAll(m2.Recall, []float64{1, 0, 0}, 0) {
		t.Errorf("never predicted: %+v", m2)
	}
	// A fourth class in neither labels nor predictions is left out of the
	// macro average, as sklearn does by default.
	P4 := mat.NewDense(10, 4, nil)
	for i := range 10 {
		for k := range 3 {
			P4.Set(i, k, P.At(i, k))
		}
	}
	m4, err := MulticlassMetrics(P4, y)
	if err != nil || !near(m4.MacroF1, m.MacroF1, 1e-15) {
		t.Errorf("absent class: macro-F1 %v, %v", m4.MacroF1, err)
	}
	if _, err := MulticlassMetrics(P, []float64{0, 1, 2, 1, 0, 2, 1, 0, 2, 3}); err == nil {
		t.Error("label 3 of 3 classes accepted")
	}
}

// TestFederatedEqualsPooled splits scored rows among parties, has each
// compute its summaries, sums their Vectors as secure aggregation would,
// and compares every figure with the same summary of the pooled rows
// (equal but for the order of floating-point sums) and with the exact
// pooled metrics (equal within the histogram's resolution).
func TestFederatedEqualsPooled(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const n = 5000
	probs, labels := make([]float64, n), make([]float64, n)
	P := mat.NewDense(n, 3, nil)
	cls := make([]float64, n)
	for i := range n {
		z := rng.NormFloat64() * 1.5
		probs[i] = math.Round(1000/(1+math.Exp(-z))) / 1000 // rounded: many ties
		if rng.Float64() < probs[i] {
			labels[i] = 1
		}
		row := []float64{rng.Float64(), rng.Float64(), rng.Float64()}
		s := row[0] + row[1] + row[2]
		for k := range row {
			P.Set(i, k, row[k]/s)
		}
		cls[i] = float64(rng.IntN(3))
	}
	pooled := NewBinarySummary(DefaultBins)
	if err := pooled.AddAll(probs, labels); err != nil {
		t.Fatal(err)
	}
	mPooled := NewMulticlassSummary(3)
	if err := mPooled.AddAll(P, cls); err != nil {
		t.Fatal(err)
	}
	cuts := []int{0, 700, 701, 2300, 4100, n} // one party has one row
	var sum, msum []float64
	for k := 0; k+1 < len(cuts); k++ {
		a, b := cuts[k], cuts[k+1]
		s := NewBinarySummary(DefaultBins)
		if err := s.AddAll(probs[a:b], labels[a:b]); err != nil {
			t.Fatal(err)
		}
		ms := NewMulticlassSummary(3)
		if err := ms.AddAll(P.Slice(a, b, 0, 3), cls[a:b]); err != nil {
			t.Fatal(err)
		}
		v, mv := s.Vector(), ms.Vector()
		if len(v) != BinarySummaryLen(DefaultBins) || len(mv) != MulticlassSummaryLen(3) {
			t.Fatalf("vector lengths %d, %d", len(v), len(mv))
		}
		if sum == nil {
			sum, msum = make([]float64, len(v)), make([]float64, len(mv))
		}
		for i := range v {
			sum[i] += v[i]
		}
		for i := range mv {
			msum[i] += mv[i]
		}
	}
	fed, err := BinarySummaryFromVector(sum)
	if err != nil {
		t.Fatal(err)
	}
	fm, _ := fed.Metrics()
	pm, _ := pooled.Metrics()
	if !slices.Equal(fed.Hist.Pos, pooled.Hist.Pos) || !slices.Equal(fed.Hist.Neg, pooled.Hist.Neg) ||
		fm.AUC != pm.AUC || fm.KS != pm.KS || !near(fm.Brier, pm.Brier, 1e-15) || !near(fm.LogLoss, pm.LogLoss, 1e-14) {
		t.Errorf("federated %+v, pooled %+v", fm, pm)
	}
	fd, _ := fed.Deciles(10)
	pd, _ := pooled.Deciles(10)
	ed, _ := Deciles(probs, labels, 10)
	for g := range fd {
		if !near(fd[g].CumGain, pd[g].CumGain, 1e-12) || !near(fd[g].MeanScore, pd[g].MeanScore, 1e-12) {
			t.Errorf("decile %d: federated %+v, pooled %+v", g+1, fd[g], pd[g])
		}
		// Histogram bins are 0.01 wide in log-odds, so a bin holds a few
		// distinct probabilities near 0.5 and is shared out as one tie.
		if !near(fd[g].CumGain, ed[g].CumGain, 1e-3) || !near(fd[g].Rate, ed[g].Rate, 5e-3) || !near(fd[g].MeanScore, ed[g].MeanScore, 1e-4) {
			t.Errorf("decile %d: histogram %+v, exact %+v", g+1, fd[g], ed[g])
		}
	}
	auc, _ := AUC(probs, labels)
	brier, _ := Brier(probs, labels)
	ll, _ := LogLoss(probs, labels)
	gini, _ := Gini(probs, labels)
	if !near(fm.AUC, auc, 1e-5) || !near(fm.Gini, gini, 2e-5) || !near(fm.Brier, brier, 1e-12) || !near(fm.LogLoss, ll, 1e-12) {
		t.Errorf("federated %+v; exact AUC %v Gini %v Brier %v log loss %v", fm, auc, gini, brier, ll)
	}
	// PSI of the federated histogram against itself is 0, against the
	// scores shifted up is positive, and the same as pooled.
	if v, err := fed.Hist.PSI(pooled.Hist, 10); err != nil || v != 0 {
		t.Errorf("PSI against itself %v, %v", v, err)
	}
	shifted := NewScoreHistogram(DefaultBins)
	for _, p := range probs {
		shifted.Add(min(p*1.3, 1), 0)
	}
	a, _ := fed.Hist.PSI(shifted, 10)
	b, _ := pooled.Hist.PSI(shifted, 10)
	e, _ := ScorePSI(probs, func() []float64 {
		out := make([]float64, n)
		for i, p := range probs {
			out[i] = min(p*1.3, 1)
		}
		return out
	}(), 10)
	if a != b || !(a > 0.05) || !near(a, e, 0.02) {
		t.Errorf("PSI of shifted scores: federated %v, pooled %v, exact %v", a, b, e)
	}
	mf, err := MulticlassSummaryFromVector(msum, 3)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := mf.Metrics()
	y, _ := mPooled.Metrics()
	z, _ := MulticlassMetrics(P, cls)
	if x.Accuracy != y.Accuracy || x.MacroF1 != y.MacroF1 || !near(x.LogLoss, y.LogLoss, 1e-14) || !near(x.LogLoss, z.LogLoss, 1e-14) || x.MacroF1 != z.MacroF1 {
		t.Errorf("multiclass federated %+v pooled %+v exact %+v", x, y, z)
	}
}

func TestCurves(t *testing.T) {
	h := NewScoreHistogram(DefaultBins)
	if err := h.AddAll(tieScores, tieLabels); err != nil {
		t.Fatal(err)
	}
	roc, err := h.ROC()
	if err != nil {
		t.Fatal(err)
	}
	first, last := roc[0], roc[len(roc)-1]
	if first != (ROCPoint{0, 0}) || last != (ROCPoint{1, 1}) {
		t.Errorf("ROC from %v to %v", first, last)
	}
	// Trapezoids under the histogram ROC give the histogram AUC.
	var area float64
	for i := 1; i < len(roc); i++ {
		area += (roc[i].FPR - roc[i-1].FPR) * (roc[i].TPR + roc[i-1].TPR) / 2
	}
	auc, _ := h.AUC()
	if !near(area, auc, 1e-12) {
		t.Errorf("ROC area %v, AUC %v", area, auc)
	}
	ks, err := h.KSCurve()
	if err != nil {
		t.Fatal(err)
	}
	var gap float64
	for _, p := range ks {
		gap = max(gap, math.Abs(p.CumNeg-p.CumPos))
	}
	want, _ := h.KS()
	if !near(gap, want, 1e-12) || ks[len(ks)-1].CumPos != 1 {
		t.Errorf("KS curve gap %v, KS %v", gap, want)
	}
	if Edge(0, 10) != 0 || Edge(10, 10) != 1 || !near(Edge(5, 10), 0.5, 1e-15) || BinOf(0.5, 10) != 5 {
		t.Error("edges")
	}
}
