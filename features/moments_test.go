package features

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// randomMatrix draws n rows whose columns have very different locations
// and scales, as raw credit features do (a ratio, an amount, a count, a
// centred score).
func randomMatrix(rng *rand.Rand, n int) *mat.Dense {
	loc := []float64{0.3, 25_000, 3, 0}
	scale := []float64{0.1, 8_000, 2, 1}
	X := mat.NewDense(n, len(loc), nil)
	for i := range n {
		for j := range loc {
			X.Set(i, j, loc[j]+scale[j]*rng.NormFloat64())
		}
	}
	return X
}

// TestMomentsMergeProperty splits a matrix into random row ranges, takes
// each range's Moments as a party would, ships them as Vectors and merges
// them; the result must equal the pooled Moments, for many random splits.
func TestMomentsMergeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, d = 2000, 4
	X := randomMatrix(rng, n)
	pooled := NewMoments(d)
	if err := pooled.Add(X); err != nil {
		t.Fatal(err)
	}
	for trial := range 50 {
		parts := 1 + rng.IntN(8)
		cuts := []int{0, n}
		for range parts - 1 {
			cuts = append(cuts, rng.IntN(n+1)) // duplicate cuts give empty parties
		}
		slices.Sort(cuts)

		var total Moments // the zero Moments adopts the dimension
		for k := 0; k+1 < len(cuts); k++ {
			local := NewMoments(d)
			if cuts[k] < cuts[k+1] {
				local.AddMatrix(X.Slice(cuts[k], cuts[k+1], 0, d))
			}
			v := local.Vector()
			if len(v) != 1+2*d {
				t.Fatalf("Vector has length %d, want %d", len(v), 1+2*d)
			}
			back, err := MomentsFromVector(v, d)
			if err != nil {
				t.Fatal(err)
			}
			if err := total.Merge(back); err != nil {
				t.Fatal(err)
			}
		}
		if total.Count != pooled.Count {
			t.Fatalf("trial %d (cuts %v): count %v, pooled %v", trial, cuts, total.Count, pooled.Count)
		}
		// Sums in a different order differ by rounding only.
		if !floats.EqualApprox(total.Sum, pooled.Sum, 1e-12*n) ||
			!floats.EqualApprox(total.SumSq, pooled.SumSq, 1e-12*n*25_000*25_000) {
			t.Fatalf("trial %d (cuts %v): merged %+v, pooled %+v", trial, cuts, total, pooled)
		}
		for j := range d {
			if math.Abs(total.Sum[j]-pooled.Sum[j]) > 1e-12*math.Abs(pooled.Sum[j])+1e-9 ||
				math.Abs(total.SumSq[j]-pooled.SumSq[j]) > 1e-12*pooled.SumSq[j] {
				t.Fatalf("trial %d column %d: merged (%v, %v), pooled (%v, %v)", trial, j,
					total.Sum[j], total.SumSq[j], pooled.Sum[j], pooled.SumSq[j])
			}
		}
	}

	// The pooled Standardizer agrees with a two-pass mean and population
	// standard deviation (gonum stat.PopMeanStdDev).
	s, err := pooled.Standardizer()
	if err != nil {
		t.Fatal(err)
	}
	for j := range d {
		mean, std := stat.PopMeanStdDev(mat.Col(nil, j, X), nil)
		if math.Abs(s.Mean[j]-mean) > 1e-12*math.Max(1, math.Abs(mean)) || math.Abs(s.Std[j]-std) > 1e-9*std {
			t.Errorf("column %d: mean, std = %v, %v; two-pass %v, %v", j, s.Mean[j], s.Std[j], mean, std)
		}
	}
}

// smallX is standardised below; the expected numbers are informed by
// sklearn 1.2.1 preprocessing.StandardScaler().fit(smallX): mean_, scale_
// and transform(smallX). Column 2 is constant (0.1), for which sklearn sets
// the scale to 1.
var smallX = [][]float64{
	{1, 200, 0.1, -0.5},
	{2, 180, 0.1, 0.25},
	{4, 260, 0.1, 1.75},
	{8, 210, 0.1, -2},
	{-1, 150, 0.1, 0},
}

var (
	sklearnMean  = []float64{2.8, 200, 0.1, -0.1}
	sklearnScale = []float64{3.059411708155671, 36.3318042491699, 1.0, 1.2103718436910205}
	sklearnT     = [][]float64{
		{-0.588348405414552, 0.0, 0.0, -0.33047695390881104},
		{-0.2614881801842453, -0.5504818825631803, 0.0, 0.2891673346702096},
		{0.39223227027636814, 1.651445647689541, 0.0, 1.528455911828251},
		{1.699673171197595, 0.27524094128159016, 0.0, -1.5697655310668523},
		{-1.2420688558751656, -1.3762047064079508, 0.0, 0.08261923847720276},
	}
)

func denseOf(rows [][]float64) *mat.Dense {
	X := mat.NewDense(len(rows), len(rows[0]), nil)
	for i, r := range rows {
		X.SetRow(i, r)
	}
	return X
}

func TestStandardizerMatchesSklearn(t *testing.T) {
	X := denseOf(smallX)
	m := NewMoments(4)
	m.AddMatrix(X)
	s, err := m.Standardizer()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if !floats.EqualApprox(s.Mean, sklearnMean, 1e-14) || !floats.EqualApprox(s.Std, sklearnScale, 1e-13) {
		t.Fatalf("mean, std = %v, %v; sklearn %v, %v", s.Mean, s.Std, sklearnMean, sklearnScale)
	}
	want := denseOf(sklearnT)
	got := s.Transform(X)
	if !mat.EqualApprox(got, want, 1e-14) {
		t.Errorf("Transform =\n%v\nsklearn\n%v", mat.Formatted(got), mat.Formatted(want))
	}
	if !mat.Equal(X, denseOf(smallX)) {
		t.Error("Transform modified its input")
	}
	// Any mat.Matrix, here a transposed view.
	if got := s.Transform(mat.DenseCopyOf(X.T()).T()); !mat.EqualApprox(got, want, 1e-14) {
		t.Errorf("Transform of a view =\n%v", mat.Formatted(got))
	}
	// In place, on a submatrix view with a stride wider than its columns.
	wide := mat.NewDense(5, 6, nil)
	wide.Slice(0, 5, 1, 5).(*mat.Dense).Copy(X)
	s.TransformInPlace(wide.Slice(0, 5, 1, 5).(*mat.Dense))
	if !mat.EqualApprox(wide.Slice(0, 5, 1, 5), want, 1e-14) || wide.At(0, 0) != 0 || wide.At(0, 5) != 0 {
		t.Errorf("TransformInPlace on a view =\n%v", mat.Formatted(wide))
	}
}

func TestConstantColumns(t *testing.T) {
	// Constant columns whose one-pass variance E[x²]-E[x]² rounds to a
	// tiny positive or negative number rather than 0.
	for _, c := range []float64{0.1, 1.0 / 3, 12345.678, -7e-5, 1e9 + 0.3} {
		X := mat.NewDense(10_000, 1, nil)
		for i := range 10_000 {
			X.Set(i, 0, c)
		}
		m := NewMoments(1)
		m.AddMatrix(X)
		s, err := m.Standardizer()
		if err != nil {
			t.Fatal(err)
		}
		if s.Std[0] != 1 || math.Abs(s.Mean[0]-c) > 1e-15*math.Abs(c) {
			t.Errorf("constant %v: mean, std = %v, %v; want %v, 1", c, s.Mean[0], s.Std[0], c)
		}
		for i, v := range s.Transform(X).RawMatrix().Data {
			if math.Abs(v) > 1e-15*math.Abs(c) {
				t.Fatalf("constant %v: row %d standardised to %v", c, i, v)
			}
		}
	}
	// A small but real spread is kept: std/rms = 7e-6 is above the 1e-6
	// cut. The one-pass variance keeps only about five of its digits here
	// (E[x²] = 1e6, var = 5e-5), hence the tolerance.
	X := mat.NewDense(4, 1, []float64{1000, 1000.01, 999.99, 1000})
	m := NewMoments(1)
	m.AddMatrix(X)
	s, _ := m.Standardizer()
	if want := math.Sqrt(0.0002 / 4); math.Abs(s.Std[0]-want) > 1e-5*want {
		t.Errorf("std = %v, want %v", s.Std[0], want)
	}
	// A spread of std/rms = 7e-7 is below it and counts as constant.
	X = mat.NewDense(4, 1, []float64{1000, 1000.001, 999.999, 1000})
	m = NewMoments(1)
	m.AddMatrix(X)
	if s, _ := m.Standardizer(); s.Std[0] != 1 {
		t.Errorf("std = %v, want 1 (constant)", s.Std[0])
	}
}

func TestMomentsErrors(t *testing.T) {
	X := denseOf(smallX)
	m := NewMoments(4)
	if err := m.Add(X); err != nil {
		t.Fatal(err)
	}
	before := m.Vector()
	bad := denseOf(smallX)
	bad.Set(2, 3, math.Inf(1))
	for name, err := range map[string]error{
		"nil":           m.Add(nil),
		"nil dense":     m.Add((*mat.Dense)(nil)),
		"columns":       m.Add(mat.NewDense(2, 3, nil)),
		"Inf":           m.Add(bad),
		"merge dims":    m.Merge(NewMoments(3)),
		"merge invalid": m.Merge(Moments{Count: math.NaN(), Sum: make([]float64, 4), SumSq: make([]float64, 4)}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if !slices.Equal(m.Vector(), before) {
		t.Fatalf("failed calls changed the moments: %v, was %v", m.Vector(), before)
	}
	if err := m.Add(&mat.Dense{}); err != nil {
		t.Errorf("Add of an empty matrix: %v", err)
	}

	// AddMatrix cannot return an error, so it poisons the count instead.
	m.AddMatrix(mat.NewDense(2, 3, nil))
	if !math.IsNaN(m.Count) {
		t.Errorf("AddMatrix with wrong columns left count %v", m.Count)
	}
	if _, err := m.Standardizer(); err == nil {
		t.Error("Standardizer of poisoned moments: no error")
	}
	if _, err := MomentsFromVector(m.Vector(), 4); err == nil {
		t.Error("MomentsFromVector of poisoned moments: no error")
	}
	if _, err := NewMoments(2).Standardizer(); err == nil {
		t.Error("Standardizer of empty moments: no error")
	}
	for _, tc := range []struct {
		v []float64
		d int
	}{
		{nil, 0}, {[]float64{1, 2}, 1}, {[]float64{1, 2, 3}, -1}, {[]float64{-1, 2, 3}, 1}, {[]float64{1, math.NaN(), 3}, 1},
	} {
		if _, err := MomentsFromVector(tc.v, tc.d); err == nil {
			t.Errorf("MomentsFromVector(%v, %d): no error", tc.v, tc.d)
		}
	}
	if z, err := MomentsFromVector([]float64{3}, 0); err != nil || z.Count != 3 || z.Dim() != 0 {
		t.Errorf("MomentsFromVector([3], 0) = %+v, %v", z, err)
	}
}

func TestStandardizerMismatch(t *testing.T) {
	s := Standardizer{Mean: []float64{1, 2}, Std: []float64{1, 2}}
	X := mat.NewDense(2, 3, []float64{1, 2, 3, 4, 5, 6})
	for _, v := range s.Transform(X).RawMatrix().Data {
		if !math.IsNaN(v) {
			t.Fatalf("Transform with wrong dimension gave %v, want NaN", v)
		}
	}
	if mat.Equal(X, mat.NewDense(2, 3, []float64{1, 2, 3, 4, 5, 6})) == false {
		t.Error("Transform modified its input")
	}
	s.TransformInPlace(X)
	if !math.IsNaN(X.At(1, 2)) {
		t.Error("TransformInPlace with wrong dimension did not fill NaN")
	}
	for _, bad := range []Standardizer{
		{Mean: []float64{1}, Std: []float64{1, 2}},
		{Mean: []float64{1, 2}, Std: []float64{1, 0}},
		{Mean: []float64{math.NaN(), 2}, Std: []float64{1, 1}},
		{Mean: []float64{1, 2}, Std: []float64{1, math.Inf(1)}},
	} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v): no error", bad)
		}
		for _, v := range bad.Transform(mat.NewDense(1, 2, []float64{1, 2})).RawMatrix().Data {
			if !math.IsNaN(v) {
				t.Errorf("Transform with invalid %+v gave %v, want NaN", bad, v)
			}
		}
	}
	if got := s.Transform(nil); !got.IsEmpty() {
		t.Error("Transform(nil) is not empty")
	}
	s.TransformInPlace(nil) // must not panic
}
