package vertical

import (
	"errors"
	mrand "math/rand/v2"
	"testing"
)

// quantileBins assigns each value to one of k equal-frequency bins.
func quantileBins(x []float64, k int) []int {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sortByValue(idx, x)
	out := make([]int, len(x))
	for r, i := range idx {
		out[i] = r * k / len(x)
	}
	return out
}

func TestBinCounts(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	rows := 3000
	labels := make([]float64, rows)
	f0 := make([]float64, rows)
	f1 := make([]float64, rows)
	for i := range labels {
		f0[i], f1[i] = rng.NormFloat64(), rng.NormFloat64()
		if rng.Float64() < 0.2+0.1*f0[i] {
			labels[i] = 1
		}
	}
	bins := []int{10, 5}
	assign := [][]int{quantileBins(f0, 10), quantileBins(f1, 5)}
	p := BinParams{Job: "bins", Rows: rows, Bins: 15}
	var traffic int
	gotRows, gotBad, err := BinCountsLocal(p, labels, bins, assign, seeded(3), func(_, _ Role, m []byte) { traffic += len(m) })
	if err != nil {
		t.Fatal(err)
	}
	wantRows, wantBad := make([]int, 15), make([]int, 15)
	base := 0
	for j, a := range assign {
		for i, k := range a {
			wantRows[base+k]++
			wantBad[base+k] += int(labels[i])
		}
		base += bins[j]
	}
	for k := range wantBad {
		if gotRows[k] != wantRows[k] || gotBad[k] != wantBad[k] {
			t.Fatalf("bin %d: %d/%d, want %d/%d", k, gotBad[k], gotRows[k], wantBad[k], wantRows[k])
		}
	}
	woe := WOE(gotRows, gotBad)
	if !(woe[9] > woe[0]) {
		t.Fatalf("WOE does not rise with the risky feature: %v", woe[:10])
	}
	t.Logf("WOE of feature 0: %.2f; %d bytes", woe[:10], traffic)
}

func TestBinRefusals(t *testing.T) {
	rows := 400
	assign := [][]int{make([]int, rows)}
	for i := range assign[0] {
		assign[0][i] = i * 10 / rows // 40 rows per bin
	}
	if _, err := NewBinPartner(BinParams{Job: "j", Rows: rows, Bins: 10}, []int{10}, assign, seeded(1), 1); !errors.Is(err, ErrBinTooSmall) {
		t.Fatalf("40-row bins: %v", err)
	}
	if _, err := NewBinPartner(BinParams{Job: "j", Rows: rows, Bins: 10, MinCount: 20}, []int{10}, assign, seeded(1), 1); !errors.Is(err, ErrBinTooSmall) {
		t.Fatalf("minimum lowered below 50: %v", err)
	}
	if _, err := NewBinBank(BinParams{Job: "j", Rows: 70, Bins: 10}, make([]float64, 70), seeded(1), 1); !errors.Is(err, ErrParams) {
		t.Fatalf("fewer than 8 rows per bin: %v", err)
	}
}
