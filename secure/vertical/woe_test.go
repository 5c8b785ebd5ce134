package vertical

import (
	"errors"
	"math"
	mrand "math/rand/v2"
	"slices"
	"testing"
)

func TestFitBinningQuantiles(t *testing.T) {
	// 0..999 in 10 quantile bins: cut at 100, 200, ..., 900 (the values at
	// ranks q·n/k, as the Taiwan test's binning has always cut), 100 rows
	// each; a value equal to a cut point belongs to the bin above it.
	x := Matrix{Rows: 1000, Cols: 1, Data: make([]float64, 1000)}
	for i := range x.Data {
		x.Data[i] = float64(999 - i) // order must not matter
	}
	b, err := FitBinning(x, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{100, 200, 300, 400, 500, 600, 700, 800, 900}; !slices.Equal(b.Edges[0], want) {
		t.Fatalf("edges %v, want %v", b.Edges[0], want)
	}
	if binOf(99, b.Edges[0]) != 0 || binOf(100, b.Edges[0]) != 1 || binOf(1e9, b.Edges[0]) != 9 {
		t.Fatal("values are not binned by the number of edges at or below them")
	}
}

func TestFitBinningMergesSmallBins(t *testing.T) {
	// A skewed column: 70% zeros, then a long tail. Quantile cut points
	// repeat (deduplicated) and the tail bins are merged until each holds
	// at least minRows rows.
	rng := mrand.New(mrand.NewPCG(5, 5))
	const rows, minRows = 2000, 150
	x := Matrix{Rows: rows, Cols: 2, Data: make([]float64, rows*2)}
	for i := range rows {
		if rng.Float64() < 0.7 {
			x.Data[i*2] = 0
		} else {
			x.Data[i*2] = math.Exp(3 * rng.NormFloat64())
		}
		x.Data[i*2+1] = 7 // a constant column is one bin
	}
	b, err := FitBinning(x, 10, minRows)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Bins(); got[1] != 1 || got[0] < 2 || got[0] > 10 || b.Total() != got[0]+got[1] {
		t.Fatalf("bins %v, total %d", got, b.Total())
	}
	labels := make([]float64, rows)
	for i := range labels {
		labels[i] = float64(i % 5 / 4) // 20% bad
	}
	counts, bad, err := b.Counts(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	sum0 := 0
	for k := range b.Bins()[0] {
		if counts[k] < minRows {
			t.Fatalf("bin %d holds %d rows, fewer than %d", k, counts[k], minRows)
		}
		sum0 += counts[k]
	}
	if last := counts[len(counts)-1]; sum0 != rows || last != rows || bad[len(bad)-1] != rows/5 {
		t.Fatalf("counts %v, bad %v", counts, bad)
	}
}

func TestBinningTransform(t *testing.T) {
	x := Matrix{Rows: 6, Cols: 2, Data: []float64{
		1, 10,
		2, 10,
		3, 20,
		4, 20,
		5, 30,
		6, 30,
	}}
	labels := []float64{0, 0, 1, 0, 1, 1}
	b := &Binning{Edges: [][]float64{{3.5}, {20, 30}}}
	rows, bad, err := b.Counts(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows, []int{3, 3, 2, 2, 2}) || !slices.Equal(bad, []int{1, 2, 0, 1, 2}) {
		t.Fatalf("counts %v, bad %v", rows, bad)
	}
	if _, err := b.Transform(x); !errors.Is(err, ErrNotReady) {
		t.Fatalf("transform without WOE: %v", err)
	}
	if err := b.SetCounts(rows, bad); err != nil {
		t.Fatal(err)
	}
	w, err := b.Transform(x)
	if err != nil {
		t.Fatal(err)
	}
	woe := WOE(rows, bad)
	for i := range 6 {
		want := []float64{woe[i/3], woe[2+i/2]}
		if got := w.Row(i); !slices.Equal(got, want) {
			t.Fatalf("row %d: %v, want %v", i, got, want)
		}
	}
	// WOE rises with the bad rate: the second feature's bins go 0/2, 1/2, 2/2.
	if !(woe[2] < woe[3] && woe[3] < woe[4]) {
		t.Fatalf("WOE %v", woe)
	}
}

func TestBinningRefuses(t *testing.T) {
	x := Matrix{Rows: 4, Cols: 1, Data: []float64{1, 2, 3, 4}}
	b := &Binning{Edges: [][]float64{{2.5}}}
	for name, err := range map[string]error{
		"no bins": func() error { _, err := FitBinning(x, -1, 0); return err }(),
		"empty":   func() error { _, err := FitBinning(Matrix{}, 0, 0); return err }(),
		"NaN": func() error {
			_, err := FitBinning(Matrix{Rows: 1, Cols: 1, Data: []float64{math.NaN()}}, 0, 0)
			return err
		}(),
		"wrong columns":  func() error { _, err := b.Assign(Matrix{Rows: 2, Cols: 2, Data: make([]float64, 4)}); return err }(),
		"label 2":        func() error { _, _, err := b.Counts(x, []float64{0, 1, 2, 0}); return err }(),
		"labels short":   func() error { _, _, err := b.Counts(x, []float64{0, 1}); return err }(),
		"counts short":   b.SetCounts([]int{4}, []int{1}),
		"bad above rows": b.SetCounts([]int{2, 2}, []int{3, 0}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
