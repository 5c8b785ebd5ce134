package vertical

import (
	"io"
	"math"
	mrand "math/rand/v2"
	"sort"
	"testing"
)

func seeded(seed uint64) io.Reader {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return mrand.NewChaCha8(s)
}

// auc is the Mann–Whitney AUC with ties counted half.
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
		r := float64(i+j+1) / 2 // average 1-based rank
		for k := i; k < j; k++ {
			if labels[idx[k]] == 1 {
				rankSum += r
				pos++
			} else {
				neg++
			}
		}
		i = j
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

func TestAUC(t *testing.T) {
	// Informed by sklearn.metrics.roc_auc_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.75
	// and ([0,1,0,1], [0.1,0.4,0.4,0.8]) = 0.875.
	if a := auc([]float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}); a != 0.75 {
		t.Fatal(a)
	}
	if a := auc([]float64{0.1, 0.4, 0.4, 0.8}, []float64{0, 1, 0, 1}); a != 0.875 {
		t.Fatal(a)
	}
}

// split cuts a synthetic problem into train and test rows.
func (s *Synthetic) split(train int) (tr, te *Synthetic) {
	cut := func(m Matrix, lo, hi int) Matrix {
		return Matrix{Rows: hi - lo, Cols: m.Cols, Data: m.Data[lo*m.Cols : hi*m.Cols]}
	}
	n := len(s.Labels)
	return &Synthetic{Bank: cut(s.Bank, 0, train), Partner: cut(s.Partner, 0, train), Labels: s.Labels[:train]},
		&Synthetic{Bank: cut(s.Bank, train, n), Partner: cut(s.Partner, train, n), Labels: s.Labels[train:]}
}

func testAUC(t *testing.T, b *BankModel, p *PartnerModel, te *Synthetic) float64 {
	t.Helper()
	ps, err := p.PartialScores(te.Partner)
	if err != nil {
		t.Fatal(err)
	}
	z, err := b.Logits(te.Bank, ps)
	if err != nil {
		t.Fatal(err)
	}
	return auc(z, te.Labels)
}

// TestMatchesPlainTaylor: the vertical model equals the plaintext
// Taylor-LR on the joined table within fixed-point error, and so does its
// test AUC (within 0.005, and in fact to 4 decimals).
func TestMatchesPlainTaylor(t *testing.T) {
	data := NewSynthetic(40000, 5, 12, 3)
	tr, te := data.split(30000)
	params := Params{Job: "equal", Rows: 30000, BankFeatures: 5, PartnerFeatures: 12, Epochs: 8, Momentum: 0.8, L2: 1e-4}
	res, err := RunLocal(LocalConfig{Params: params, Bank: tr.Bank, Labels: tr.Labels, Partner: tr.Partner, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := TrainPlain(PlainConfig{Params: params, Bank: tr.Bank, Labels: tr.Labels, Partner: tr.Partner, BankInit: res.BankInit})
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for j, w := range res.Bank.Weights {
		worst = math.Max(worst, math.Abs(w-plain.Bank.Weights[j]))
	}
	for j, w := range res.Partner.Weights {
		worst = math.Max(worst, math.Abs(w-plain.Partner.Weights[j]))
	}
	t.Logf("largest weight difference %.2e; bank %v", worst, res.Bank.Weights)
	if worst > 1e-4 {
		t.Fatalf("vertical and plaintext weights differ by %v", worst)
	}
	va, pa := testAUC(t, res.Bank, res.Partner, te), testAUC(t, plain.Bank, plain.Partner, te)
	exact, err := TrainPlain(PlainConfig{Params: params, Bank: tr.Bank, Labels: tr.Labels, Partner: tr.Partner, Sigmoid: true})
	if err != nil {
		t.Fatal(err)
	}
	ea := testAUC(t, exact.Bank, exact.Partner, te)
	t.Logf("test AUC: vertical %.5f, plaintext Taylor %.5f, plaintext logistic %.5f", va, pa, ea)
	if math.Abs(va-pa) > 1e-4 || math.Abs(va-ea) > 0.005 {
		t.Fatalf("AUC vertical %.5f, plaintext Taylor %.5f, logistic %.5f", va, pa, ea)
	}
}

func sortByValue(idx []int, x []float64) {
	sort.Slice(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
}
