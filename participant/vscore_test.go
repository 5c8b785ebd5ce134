package participant

import (
	"math"
	"slices"
	"testing"

	"github.com/fedscore/fedscore/secure/vertical"
)

// Reason codes are the characteristics that raise the log-odds most above
// an average customer's: the bank's columns one by one (weight times the
// standardised value), the partner's as one code (its partial score).
// Expected values worked by hand from the weights below.
func TestVerticalScoresReasons(t *testing.T) {
	mf := &VerticalModelFile{Job: "j", Features: []string{"age", "debt"}, Bank: &vertical.BankModel{
		Job: "j", Scaler: vertical.Scaler{Mean: []float64{40, 100}, Std: []float64{10, 50}},
		Weights: []float64{-1, -0.5, 0.8}, FracBits: 16, Clip: 8,
	}}
	x := vertical.Matrix{Rows: 2, Cols: 2, Data: []float64{
		20, 200, // age -2σ: +1.0; debt +2σ: +1.6
		60, 50, // age +2σ: -1.0; debt -1σ: -0.8
	}}
	ps := &vertical.PartialScores{Job: "j", Scores: []float64{1.2, 0.5}}
	rows, err := VerticalScores(mf, x, []string{"A", "B"}, ps, PartnerReason("p1"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"debt", "partner:p1", "age"}; !slices.Equal(rows[0].Reasons, want) {
		t.Fatalf("reasons of A: %v, want %v", rows[0].Reasons, want)
	}
	if want := []string{"partner:p1"}; !slices.Equal(rows[1].Reasons, want) {
		t.Fatalf("reasons of B: %v, want %v (only what raises the risk)", rows[1].Reasons, want)
	}
	// z = -1 + 1.0 + 1.6 + 1.2 = 2.8 for A.
	if pd := 1 / (1 + math.Exp(-2.8)); math.Abs(rows[0].PD-pd) > 1e-6 {
		t.Fatalf("PD of A %v, want %v", rows[0].PD, pd)
	}
	// Points fall as the PD rises: 600 at 50:1 good:bad, 20 to double.
	if want := 600 - 20/math.Ln2*(math.Log(50)+2.8); math.Abs(rows[0].Points-want) > 1e-3 {
		t.Fatalf("points of A %v, want %v", rows[0].Points, want)
	}
}
