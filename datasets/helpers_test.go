package datasets

import (
	"math"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// auc is the area under the ROC curve of scores against 0/1 labels, by the
// Mann-Whitney U statistic with average ranks for ties.
func auc(scores, labels []float64) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // average of 1-based ranks i+1..j
		for k := i; k < j; k++ {
			if labels[idx[k]] == 1 {
				pos++
				rankSum += rank
			} else {
				neg++
			}
		}
		i = j
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

func TestAUCHelper(t *testing.T) {
	// Expected values informed by sklearn.metrics.roc_auc_score on the same
	// arrays (the first is its documentation example).
	tests := []struct {
		scores, labels []float64
		want           float64
	}{
		{[]float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.75},
		{[]float64{0.1, 0.4, 0.4, 0.8}, []float64{0, 1, 0, 1}, 0.875},
		{[]float64{1, 2, 3}, []float64{1, 0, 0}, 0},
	}
	for _, tc := range tests {
		if got := auc(tc.scores, tc.labels); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("auc(%v, %v) = %v, want %v", tc.scores, tc.labels, got, tc.want)
		}
	}
}

// logistic is a logistic regression on standardized features, fitted by
// Newton's method (iteratively reweighted least squares).
type logistic struct {
	mean, sd, w []float64 // w[0] is the intercept
}

func fitLogistic(t testing.TB, X *mat.Dense, y []float64) *logistic {
	n, p := X.Dims()
	m := &logistic{mean: make([]float64, p), sd: make([]float64, p), w: make([]float64, p+1)}
	for j := range p {
		col := mat.Col(nil, j, X)
		var s, ss float64
		for _, v := range col {
			s += v
		}
		m.mean[j] = s / float64(n)
		for _, v := range col {
			ss += (v - m.mean[j]) * (v - m.mean[j])
		}
		m.sd[j] = math.Sqrt(ss / float64(n))
		if m.sd[j] == 0 {
			m.sd[j] = 1
		}
	}
	Z := m.design(X)
	Zw := mat.NewDense(n, p+1, nil)
	resid := mat.NewVecDense(n, nil)
	eta := mat.NewVecDense(n, nil)
	var H mat.SymDense
	var g, step mat.VecDense
	for iter := 0; iter < 30; iter++ {
		eta.MulVec(Z, mat.NewVecDense(p+1, m.w))
		for i := range n {
			pr := 1 / (1 + math.Exp(-eta.AtVec(i)))
			resid.SetVec(i, y[i]-pr)
			s := math.Sqrt(pr * (1 - pr))
			for j := 0; j <= p; j++ {
				Zw.Set(i, j, s*Z.At(i, j))
			}
		}
		H.SymOuterK(1, Zw.T())
		for a := 0; a <= p; a++ {
			H.SetSym(a, a, H.At(a, a)+1e-6)
		}
		g.MulVec(Z.T(), resid)
		var ch mat.Cholesky
		if !ch.Factorize(&H) {
			t.Fatal("logistic: Hessian not positive definite")
		}
		if err := ch.SolveVecTo(&step, &g); err != nil {
			t.Fatal(err)
		}
		largest := 0.0
		for j := range m.w {
			m.w[j] += step.AtVec(j)
			largest = math.Max(largest, math.Abs(step.AtVec(j)))
		}
		if largest < 1e-8 {
			break
		}
	}
	return m
}

func (m *logistic) design(X *mat.Dense) *mat.Dense {
	n, p := X.Dims()
	Z := mat.NewDense(n, p+1, nil)
	for i := range n {
		Z.Set(i, 0, 1)
		for j := range p {
			Z.Set(i, j+1, (X.At(i, j)-m.mean[j])/m.sd[j])
		}
	}
	return Z
}

func (m *logistic) scores(X *mat.Dense) []float64 {
	Z := m.design(X)
	n, _ := Z.Dims()
	out := make([]float64, n)
	for i := range n {
		out[i] = mat.Dot(Z.RowView(i), mat.NewVecDense(len(m.w), m.w))
	}
	return out
}
