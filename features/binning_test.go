package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/fedscore/fedscore/datasets"
)

// floatCol, intCol and strCol build columns; NaN in a numeric column and
// "" in a String column are nulls.
func floatCol(name string, v []float64) *datasets.Column {
	c := &datasets.Column{Name: name, Kind: datasets.Float, Float: v}
	for i, x := range v {
		if math.IsNaN(x) {
			if c.Null == nil {
				c.Null = make([]bool, len(v))
			}
			c.Null[i] = true
		}
	}
	return c
}

func intCol(name string, v []float64) *datasets.Column {
	c := floatCol(name, v)
	c.Kind = datasets.Int
	return c
}

func strCol(name string, v []string) *datasets.Column {
	c := &datasets.Column{Name: name, Kind: datasets.String, String: v}
	for i, x := range v {
		if x == "" {
			if c.Null == nil {
				c.Null = make([]bool, len(v))
			}
			c.Null[i] = true
		}
	}
	return c
}

func table(cols ...*datasets.Column) *datasets.Table { return &datasets.Table{Columns: cols} }

func fit(t *testing.T, parts []*datasets.Table, ys [][]float64, job BinningJob) (*Pipeline, BinningTrace) {
	t.Helper()
	p, tr, err := FitBinning(parts, ys, job)
	if err != nil {
		t.Fatal(err)
	}
	return p, tr
}

// shares returns the share of present values in each value bin.
func shares(f BinnedFeature) []float64 {
	var n float64
	for _, b := range f.Bins[:len(f.Bins)-1] {
		n += b.Total()
	}
	out := make([]float64, len(f.Bins)-1)
	if n == 0 {
		return out
	}
	for i, b := range f.Bins[:len(f.Bins)-1] {
		out[i] = b.Total() / n
	}
	return out
}

// TestQuantileBinningTolerance draws continuous distributions, from the
// benign to the hostile (a few values 10^8 times the rest inflate the
// standard deviation that seeds the grid), and checks the stated
// guarantee: every bin holds 1/Bins of the rows within 2·Tolerance, in at
// most four counting rounds.
func TestQuantileBinningTolerance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20_000
	draw := map[string]func() float64{
		"normal":     func() float64 { return 50 + 10*rng.NormFloat64() },
		"lognormal":  func() float64 { return math.Exp(2 * rng.NormFloat64()) },
		"negative":   func() float64 { return -math.Exp(rng.NormFloat64()) },
		"offset":     func() float64 { return 1.7e9 + 100*rng.Float64() }, // timestamps
		"tiny scale": func() float64 { return 1e-7 * rng.NormFloat64() },
		"outliers": func() float64 {
			if rng.IntN(5000) == 0 {
				return 1e12
			}
			return 1000 * rng.ExpFloat64()
		},
	}
	for name, f := range draw {
		x := make([]float64, n)
		for i := range x {
			x[i] = f()
		}
		y := make([]float64, n)
		for i := range y {
			y[i] = float64(rng.IntN(2))
		}
		p, tr := fit(t, []*datasets.Table{table(floatCol("x", x))}, [][]float64{y}, BinningJob{Specs: []FeatureSpec{{Name: "x"}}, Classes: 2})
		bf := p.Features[0]
		sh := shares(bf)
		t.Logf("%s: %d counting rounds, vector lengths %v, shares %.4f", name, tr.CountRounds, tr.VectorLens, sh)
		if tr.CountRounds > 4 {
			t.Errorf("%s: %d counting rounds", name, tr.CountRounds)
		}
		if len(sh) != DefaultBins || bf.Approximate {
			t.Errorf("%s: %d bins (approximate %v), want %d", name, len(sh), bf.Approximate, DefaultBins)
		}
		for i, s := range sh {
			if math.Abs(s-0.1) > 2*DefaultTolerance+1e-12 {
				t.Errorf("%s: bin %d holds %.4f of the rows", name, i, s)
			}
		}
	}
}

// TestBinningAtoms covers columns where equal-frequency bins are
// impossible: few integer values, a large mass at one value, a constant,
// all missing. Cuts must then sit between values, every bin keep at least
// MinBinShare, and nothing be NaN.
func TestBinningAtoms(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 10_000
	poisson := make([]float64, n) // counts 0, 1, 2, ... (mean 1.5)
	zeros := make([]float64, n)   // 45% exact zeros, the rest lognormal amounts
	limits := make([]float64, n)  // credit limits in multiples of 10000
	constant := make([]float64, n)
	missing := make([]float64, n)
	for i := range n {
		k := 0.0 // Knuth's Poisson draw
		for p := rng.Float64(); p > math.Exp(-1.5); p *= rng.Float64() {
			k++
		}
		poisson[i] = k
		if rng.Float64() > 0.45 {
			zeros[i] = math.Round(100*math.Exp(1+rng.NormFloat64())) / 100
		}
		limits[i] = 10000 * float64(1+rng.IntN(50))
		constant[i] = 7.25
		missing[i] = math.NaN()
	}
	tab := table(intCol("poisson", poisson), floatCol("zeros", zeros), floatCol("limits", limits), floatCol("constant", constant), floatCol("missing", missing))
	y := make([]float64, n)
	for i := range y {
		y[i] = float64(rng.IntN(2))
	}
	specs := []FeatureSpec{{Name: "poisson"}, {Name: "zeros"}, {Name: "limits"}, {Name: "constant"}, {Name: "missing"}}
	p, tr := fit(t, []*datasets.Table{tab}, [][]float64{y}, BinningJob{Specs: specs, Classes: 2})
	t.Logf("%d counting rounds, vector lengths %v", tr.CountRounds, tr.VectorLens)
	if tr.CountRounds > 3 {
		t.Errorf("%d counting rounds", tr.CountRounds)
	}
	for _, f := range p.Features {
		t.Logf("%s cuts %v shares %.3f", f.Name, f.Cuts, shares(f))
		for _, b := range f.Bins {
			if math.IsNaN(b.WOE) {
				t.Errorf("%s: NaN WOE", f.Name)
			}
		}
	}
	// Poisson: cuts between integers, each value bin at least 2%.
	for _, c := range p.Features[0].Cuts {
		if c-math.Floor(c) != 0.5 {
			t.Errorf("poisson cut %v is not a half-integer", c)
		}
	}
	for i, s := range shares(p.Features[0]) {
		if s < DefaultMinBinShare {
			t.Errorf("poisson bin %d holds %v", i, s)
		}
	}
	// The zeros get a bin of their own: exactly the zero rows.
	z := p.Features[1]
	var nz float64
	for _, v := range zeros {
		if v == 0 {
			nz++
		}
	}
	if got := z.Bins[0].Total(); got != nz {
		t.Errorf("first bin of zeros holds %v rows, want the %v zeros (cuts %v)", got, nz, z.Cuts)
	}
	// Limits: 50 values of 2% each; bins of 10% within one atom.
	for i, s := range shares(p.Features[2]) {
		if math.Abs(s-0.1) > 0.02+2*DefaultTolerance {
			t.Errorf("limits bin %d holds %v", i, s)
		}
	}
	// A constant column has one value bin and no information.
	for _, name := range []string{"constant", "missing"} {
		f := p.Feature(name)
		if len(f.Cuts) != 0 || f.IV != 0 || len(f.Bins) != 2 {
			t.Errorf("%s: cuts %v, IV %v, %d bins", name, f.Cuts, f.IV, len(f.Bins))
		}
		for _, b := range f.Bins {
			if b.WOE != 0 {
				t.Errorf("%s: bin %q has WOE %v, want 0", name, b.Label, b.WOE)
			}
		}
	}
	if got := p.Feature("missing").Bins[1].Total(); got != n {
		t.Errorf("all-missing column: missing bin holds %v rows", got)
	}
	X, err := p.Transform(tab)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range X.RawMatrix().Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatal("transform produced a non-finite value")
		}
	}
}

// mixedTable draws a table with numeric, integer, categorical and missing
// values and a label that depends on them.
func mixedTable(rng *rand.Rand, n int) (*datasets.Table, []float64) {
	amount, age, region, code := make([]float64, n), make([]float64, n), make([]string, n), make([]float64, n)
	y := make([]float64, n)
	regions := []string{"north", "south", "east", "west", "islands", "abroad"}
	for i := range n {
		amount[i] = math.Round(math.Exp(7+rng.NormFloat64())*100) / 100
		if rng.IntN(20) == 0 {
			amount[i] = math.NaN()
		}
		age[i] = float64(18 + rng.IntN(60))
		r := rng.IntN(100)
		switch {
		case r < 2:
			region[i] = regions[5] // rare
		case r < 5:
			region[i] = ""
		default:
			region[i] = regions[r%5]
		}
		code[i] = float64(rng.IntN(4))
		z := -1.5 + 0.4*math.Log1p(max(amount[i], 0))/7 - 0.02*(age[i]-40) + 0.3*code[i]
		if region[i] == "south" {
			z += 0.5
		}
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y[i] = 1
		}
	}
	return table(floatCol("amount", amount), intCol("age", age), strCol("region", region), intCol("code", code)), y
}

var mixedSpecs = []FeatureSpec{{Name: "amount"}, {Name: "age"}, {Name: "region"}, {Name: "code", Categorical: true}}

// TestFederatedBinningEqualsPooled splits a table at random among up to
// eight participants (some empty, one holding a single class) and checks
// that counting per participant and summing gives exactly the pooled
// Pipeline.
func TestFederatedBinningEqualsPooled(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tab, y := mixedTable(rng, 4000)
	job := BinningJob{Specs: mixedSpecs, Classes: 2, Pipeline: PipelineConfig{Monotone: true}}
	pooled, _ := fit(t, []*datasets.Table{tab}, [][]float64{y}, job)
	want, _ := json.Marshal(pooled)
	for trial := range 20 {
		k := 1 + rng.IntN(8)
		assign := make([][]int, k)
		for i := range y {
			j := rng.IntN(k)
			if trial%2 == 0 && y[i] == 1 {
				j = rng.IntN(max(k-1, 1)) // the last participant holds only goods
			}
			assign[j] = append(assign[j], i)
		}
		var parts []*datasets.Table
		var ys [][]float64
		for _, rows := range assign {
			parts = append(parts, tab.Select(rows))
			py := make([]float64, len(rows))
			for i, r := range rows {
				py[i] = y[r]
			}
			ys = append(ys, py)
		}
		fed, _ := fit(t, parts, ys, job)
		got, _ := json.Marshal(fed)
		if !bytes.Equal(got, want) {
			t.Fatalf("trial %d with %d participants: federated pipeline differs from pooled", trial, k)
		}
	}
}

func TestCountBinsLayout(t *testing.T) {
	tab := table(
		floatCol("x", []float64{-1, 0, 0.5, 1, 2, math.NaN()}),
		strCol("c", []string{"a", "b", "a", "zz", "", "b"}),
	)
	y := []float64{0, 1, 1, 0, 1, 0}
	p := &BinPlan{Version: PlanVersion, Round: 1, Classes: 2, Features: []PlanFeature{
		{Name: "x", Edges: []float64{0, 1}},
		{Name: "c", Categorical: true, Final: true, Categories: []string{"a", "b"}},
	}}
	got, err := CountBins(tab, y, p)
	if err != nil {
		t.Fatal(err)
	}
	// x: bins [-Inf,0) [0,1) [1,Inf) missing; c: a b other missing; each
	// as (class 0, class 1).
	want := []float64{
		1, 0, 0, 2, 1, 1, 1, 0,
		1, 1, 1, 1, 1, 0, 0, 1,
	}
	if !slices.Equal(got, want) || len(got) != p.Len() {
		t.Errorf("counts %v, want %v", got, want)
	}
	if off := p.Offsets(); !slices.Equal(off, []int{0, 8}) {
		t.Errorf("offsets %v", off)
	}
	if _, err := CountBins(tab, []float64{0, 1, 2, 0, 1, 0}, p); err == nil {
		t.Error("a label 2 with 2 classes was accepted")
	}
	if _, err := CountBins(table(floatCol("x", []float64{1})), []float64{0}, p); !errors.Is(err, ErrMissingFeature) {
		t.Errorf("missing column: %v", err)
	}
}

// TestWOEIV checks the smoothed weights of evidence against the formula
// evaluated with numpy on the same counts (see WOEIV): a bin without bads
// gets a large finite WOE, an empty bin exactly 0.
func TestWOEIV(t *testing.T) {
	good := []float64{400, 300, 150, 50, 0, 100}
	bad := []float64{20, 40, 60, 80, 0, 0}
	woe, iv := WOEIV(good, bad, 0.5)
	want := []float64{1.3831774754796378, 0.4047718671791879, -0.6917611789520683, -2.072183863373551, 0.0, 5.484796933490655}
	for i := range want {
		if math.Abs(woe[i]-want[i]) > 1e-12 {
			t.Errorf("WOE[%d] = %v, want %v", i, woe[i], want[i])
		}
	}
	if math.Abs(iv-1.8283677324034202) > 1e-12 {
		t.Errorf("IV = %v", iv)
	}
	// One class: no evidence, never NaN.
	woe, iv = WOEIV([]float64{3, 4}, []float64{0, 0}, 0.5)
	if woe[0] != 0 || woe[1] != 0 || iv != 0 {
		t.Errorf("one class: %v %v", woe, iv)
	}
}

// TestBadInput: the documented rules for awkward data.
func TestBadInput(t *testing.T) {
	// Training: a category "c" only ever seen with goods, a bin without
	// bads, no missing values; scoring: a new category, a missing value.
	n := 200
	x := make([]float64, n)
	cat := make([]string, n)
	y := make([]float64, n)
	for i := range n {
		x[i] = float64(i)
		cat[i] = []string{"a", "b", "c"}[i%3]
		if i%3 != 2 && i >= 40 && i%2 == 0 {
			y[i] = 1
		}
	}
	tab := table(floatCol("x", x), strCol("cat", cat))
	job := BinningJob{Specs: []FeatureSpec{{Name: "x"}, {Name: "cat"}}, Classes: 2}
	p, _ := fit(t, []*datasets.Table{tab}, [][]float64{y}, job)
	f := p.Feature("cat")
	c := f.Bins[slices.Index(f.Categories, "c")]
	if c.Counts[1] != 0 || !(c.WOE > 0) || math.IsInf(c.WOE, 0) {
		t.Errorf("category without bads: counts %v WOE %v", c.Counts, c.WOE)
	}
	if xb := p.Feature("x").Bins[0]; xb.Counts[1] != 0 || math.IsInf(xb.WOE, 0) || math.IsNaN(xb.WOE) {
		t.Errorf("bin without bads: %+v", xb)
	}
	score := table(floatCol("x", []float64{5, math.NaN(), 1e9}), strCol("cat", []string{"new", "", "a"}))
	X, err := p.Transform(score)
	if err != nil {
		t.Fatal(err)
	}
	xc, cc := p.Feature("x").Column, f.Column
	// unseen category: the "other" bin, empty in training, WOE 0;
	// a missing value: the missing bin, empty in training, WOE 0;
	// a value beyond the training range: the last bin.
	if X.At(0, cc) != 0 || X.At(1, cc) != 0 || X.At(1, xc) != 0 {
		t.Errorf("unseen category or missing value not WOE 0: %v", X.RawMatrix().Data)
	}
	last := p.Feature("x").Bins
	if X.At(2, xc) != last[len(last)-2].WOE {
		t.Errorf("value beyond range: %v", X.At(2, xc))
	}
	// A label with one class everywhere cannot give WOE.
	if _, _, err := FitBinning([]*datasets.Table{tab}, [][]float64{make([]float64, n)}, job); !errors.Is(err, ErrOneClass) {
		t.Errorf("single class everywhere: %v", err)
	}
	// A numeric feature held as String at scoring, and a missing column.
	if _, err := p.Transform(table(strCol("x", []string{"1"}), strCol("cat", []string{"a"}))); err == nil {
		t.Error("String column for a numeric feature accepted")
	}
	if _, err := p.Transform(table(strCol("cat", []string{"a"}))); !errors.Is(err, ErrMissingFeature) {
		t.Errorf("missing column: %v", err)
	}
}

func TestRareCategoriesAndOneHot(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tab, y := mixedTable(rng, 3000)
	p, _ := fit(t, []*datasets.Table{tab}, [][]float64{y}, BinningJob{Specs: mixedSpecs, Classes: 2, Pipeline: PipelineConfig{Encoding: OneHot, MinCategoryRows: 100}})
	r := p.Feature("region")
	if slices.Contains(r.Categories, "abroad") || !slices.Equal(r.Merged, []string{"abroad"}) {
		t.Errorf("rare category not merged: categories %v merged %v", r.Categories, r.Merged)
	}
	if other := r.Bins[r.OtherBin()]; other.Total() == 0 || other.Label != "(other)" {
		t.Errorf("other bin %+v", other)
	}
	code := p.Feature("code")
	if !code.Categorical || !slices.Equal(code.Categories, []string{"0", "1", "2", "3"}) {
		t.Errorf("integer codes declared categorical: %+v", code.Categories)
	}
	X, err := p.Transform(tab)
	if err != nil {
		t.Fatal(err)
	}
	rows, cols := X.Dims()
	if cols != p.NumColumns() || len(p.Columns()) != cols {
		t.Fatalf("%d columns, NumColumns %d", cols, p.NumColumns())
	}
	// Each row has exactly one 1 per feature whose bin has a column.
	for i := range rows {
		var s float64
		for _, v := range X.RawRowView(i) {
			s += v
		}
		if s != float64(len(p.Features)) {
			t.Fatalf("row %d has %v ones", i, s)
		}
	}
}

func TestMonotoneMerge(t *testing.T) {
	// The event rate falls with x except for a bump in the middle.
	rng := rand.New(rand.NewPCG(9, 10))
	n := 20_000
	x, y := make([]float64, n), make([]float64, n)
	for i := range n {
		x[i] = rng.Float64() * 100
		rate := 0.4 - 0.003*x[i]
		if x[i] > 45 && x[i] < 55 {
			rate += 0.15
		}
		if rng.Float64() < rate {
			y[i] = 1
		}
	}
	tab := table(floatCol("x", x))
	plain, _ := fit(t, []*datasets.Table{tab}, [][]float64{y}, BinningJob{Specs: []FeatureSpec{{Name: "x"}}, Classes: 2})
	mono, _ := fit(t, []*datasets.Table{tab}, [][]float64{y}, BinningJob{Specs: []FeatureSpec{{Name: "x"}}, Classes: 2, Pipeline: PipelineConfig{Monotone: true}})
	f := mono.Features[0]
	if f.Monotone != "decreasing" || len(f.Bins) >= len(plain.Features[0].Bins) {
		t.Fatalf("monotone %q with %d bins (plain %d)", f.Monotone, len(f.Bins), len(plain.Features[0].Bins))
	}
	for b := 1; b < len(f.Bins)-1; b++ {
		r0 := f.Bins[b-1].Counts[1] / f.Bins[b-1].Total()
		r1 := f.Bins[b].Counts[1] / f.Bins[b].Total()
		if !(r1 < r0) {
			t.Errorf("bin %d rate %v after %v", b, r1, r0)
		}
	}
	if f.IV > plain.Features[0].IV {
		t.Errorf("merging raised IV from %v to %v", plain.Features[0].IV, f.IV)
	}
}

func TestIVSelectionAndJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	tab, y := mixedTable(rng, 3000)
	noise := make([]float64, len(y))
	for i := range noise {
		noise[i] = rng.NormFloat64()
	}
	tab.Columns = append(tab.Columns, floatCol("noise", noise))
	specs := append(slices.Clone(mixedSpecs), FeatureSpec{Name: "noise"})
	p, _ := fit(t, []*datasets.Table{tab}, [][]float64{y}, BinningJob{Specs: specs, Classes: 2, Pipeline: PipelineConfig{MinIV: 0.02}})
	if f := p.Feature("noise"); f.Selected || f.Column != -1 || f.IV >= 0.02 {
		t.Errorf("noise: selected %v column %d IV %v", f.Selected, f.Column, f.IV)
	}
	if f := p.Feature("age"); !f.Selected {
		t.Errorf("age IV %v not selected", f.IV)
	}
	cols := p.Columns()
	if slices.Contains(cols, "noise") || len(cols) != len(p.Selected()) {
		t.Errorf("columns %v", cols)
	}
	// A table without the unselected column still transforms.
	slim := table(tab.Columns[:4]...)
	if _, err := p.Transform(slim); err != nil {
		t.Errorf("transform without an unselected column: %v", err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePipeline(data)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Transform(tab)
	b, _ := back.Transform(tab)
	if !slices.Equal(a.RawMatrix().Data, b.RawMatrix().Data) {
		t.Error("decoded pipeline transforms differently")
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	m["version"] = PipelineVersion + 1
	bad, _ := json.Marshal(m)
	if _, err := ParsePipeline(bad); err == nil {
		t.Errorf("version %d accepted", PipelineVersion+1)
	}
}

func TestDerive(t *testing.T) {
	tab := table(floatCol("a", []float64{1, 4, math.NaN(), 3}), intCol("b", []float64{2, 0, 1, -1}))
	defs := []Derived{
		{Name: "r", Op: "ratio", Inputs: []string{"a", "b"}},
		{Name: "d", Op: "diff", Inputs: []string{"a", "b"}},
		{Name: "s", Op: "sum", Inputs: []string{"a", "b"}},
		{Name: "m", Op: "mean", Inputs: []string{"a", "b"}},
		{Name: "lo", Op: "min", Inputs: []string{"a", "b"}},
		{Name: "hi", Op: "max", Inputs: []string{"a", "b", "r"}},
		{Name: "k", Op: "count_positive", Inputs: []string{"a", "b"}},
	}
	out, err := Derive(tab, defs)
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	want := map[string][]float64{
		"r":  {0.5, nan, nan, -3},
		"d":  {-1, 4, nan, 4},
		"s":  {3, 4, nan, 2},
		"m":  {1.5, 2, nan, 1},
		"lo": {1, 0, nan, -1},
		"hi": {2, nan, nan, 3},
		"k":  {2, 1, nan, 1},
	}
	for name, w := range want {
		c := out.Column(name)
		for i, v := range w {
			if math.IsNaN(v) != c.IsNull(i) || (!math.IsNaN(v) && c.Float[i] != v) {
				t.Errorf("%s[%d] = %v (null %v), want %v", name, i, c.Float[i], c.IsNull(i), v)
			}
		}
	}
	if len(tab.Columns) != 2 {
		t.Error("Derive modified its input")
	}
	for _, bad := range []Derived{{Name: "x", Op: "pow", Inputs: []string{"a"}}, {Name: "x", Op: "ratio", Inputs: []string{"a"}}, {Name: "a", Op: "sum", Inputs: []string{"b"}}, {Name: "x", Op: "sum", Inputs: []string{"zz"}}} {
		if _, err := Derive(tab, []Derived{bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestLabels(t *testing.T) {
	y, err := BinaryLabels(strCol("y", []string{"yes", "no", "yes"}), "yes")
	if err != nil || !slices.Equal(y, []float64{1, 0, 1}) {
		t.Errorf("%v %v", y, err)
	}
	if _, err := BinaryLabels(intCol("y", []float64{0, 2}), ""); err == nil {
		t.Error("label 2 accepted")
	}
	if _, err := BinaryLabels(strCol("y", []string{"yes", ""}), "yes"); err == nil {
		t.Error("null label accepted")
	}
	if y, err := ClassLabels(intCol("t", []float64{0, 2, 1}), 3); err != nil || !slices.Equal(y, []float64{0, 2, 1}) {
		t.Errorf("%v %v", y, err)
	}
	if _, err := ClassLabels(intCol("t", []float64{0, 3}), 3); err == nil {
		t.Error("class 3 of 3 accepted")
	}
}

func TestPlanErrors(t *testing.T) {
	specs := []FeatureSpec{{Name: "x"}}
	if _, err := NewBinPlan(specs, nil, []float64{1, 2}, 2, BinConfig{}); err == nil {
		t.Error("short moments accepted")
	}
	if _, err := NewBinPlan(specs, nil, []float64{10, 5, 10}, 1, BinConfig{}); err == nil {
		t.Error("one class accepted")
	}
	p, err := NewBinPlan(specs, nil, []float64{10, 5, 10}, 2, BinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Refine(p, make([]float64, p.Len()-1)); err == nil {
		t.Error("short counts accepted")
	}
	bad := make([]float64, p.Len())
	bad[0] = -1
	if _, _, err := Refine(p, bad); err == nil {
		t.Error("negative count accepted")
	}
	bad[0] = math.NaN()
	if _, err := FitPipeline(p, bad, PipelineConfig{}); err == nil {
		t.Error("NaN count accepted")
	}
	// The plan is plain data: JSON round trip, and a participant rejects
	// a mangled one.
	data, _ := json.Marshal(p)
	var back BinPlan
	if err := json.Unmarshal(data, &back); err != nil || back.Len() != p.Len() || back.Validate() != nil {
		t.Fatalf("plan round trip: %v", err)
	}
	back.Features[0].Edges[1] = back.Features[0].Edges[0]
	if _, err := CountBins(table(floatCol("x", []float64{1})), []float64{0}, &back); err == nil {
		t.Error("plan with repeated edges accepted")
	}
}

func TestFmtNum(t *testing.T) {
	for x, want := range map[float64]string{math.Copysign(0, -1): "0", 1.5: "1.5", 123456.5: "123456.5", 0.1 + 0.2: "0.3"} {
		if got := fmtNum(x); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", x, got, want)
		}
	}
	for _, c := range []struct {
		x, step float64
		want    string
	}{{2417.3318, 2100, "2000"}, {0.3512, 0.05, "0.35"}, {-1234.5, 160, "-1230"}} {
		if got := strconv.FormatFloat(nice(c.x, c.step), 'g', -1, 64); got != c.want {
			t.Errorf("nice(%v, %v) = %s, want %s", c.x, c.step, got, c.want)
		}
	}
}

// TestMaxRounds: when the rounds run out, the cuts are the best the last
// candidates allow and the feature says so.
func TestMaxRounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	x, y := make([]float64, 5000), make([]float64, 5000)
	for i := range x {
		x[i] = math.Exp(3 * rng.NormFloat64())
		y[i] = float64(rng.IntN(2))
	}
	p, tr := fit(t, []*datasets.Table{table(floatCol("x", x))}, [][]float64{y}, BinningJob{Specs: []FeatureSpec{{Name: "x"}}, Classes: 2, Bins: BinConfig{MaxRounds: 1}})
	if tr.CountRounds != 1 || !p.Features[0].Approximate {
		t.Errorf("%d rounds, approximate %v", tr.CountRounds, p.Features[0].Approximate)
	}
	if len(p.Features[0].Cuts) < 5 {
		t.Errorf("cuts %v", p.Features[0].Cuts)
	}
}
