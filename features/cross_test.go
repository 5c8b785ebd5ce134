package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/datasets"
)

// statusTable draws card holders with a payment status (0 current, 1
// revolving, 2 in arrears: a strong, coarse characteristic), a balance
// whose meaning flips with the status (a large balance is a good sign for a
// current customer and a bad one in arrears), an age, a region, and a
// default flag.
func statusTable(rng *rand.Rand, n int) (*datasets.Table, []float64) {
	status, balance, age := make([]float64, n), make([]float64, n), make([]float64, n)
	region := make([]string, n)
	y := make([]float64, n)
	for i := range n {
		switch r := rng.Float64(); {
		case r < 0.6:
			status[i] = 0
		case r < 0.88:
			status[i] = 1
		default:
			status[i] = 2
		}
		balance[i] = math.Round(math.Exp(8 + rng.NormFloat64()))
		if rng.IntN(50) == 0 {
			balance[i] = math.NaN()
		}
		age[i] = float64(20 + rng.IntN(50))
		region[i] = []string{"north", "south", "east"}[rng.IntN(3)]
		lb := 0.0
		if !math.IsNaN(balance[i]) {
			lb = math.Log(balance[i]) - 8
		}
		z := []float64{-2.2, -1.1, 0.2}[int(status[i])] + []float64{-0.5, 0, 0.8}[int(status[i])]*lb - 0.01*(age[i]-45)
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y[i] = 1
		}
	}
	return table(intCol("status", status), floatCol("balance", balance), intCol("age", age), strCol("region", region)), y
}

var statusSpecs = []FeatureSpec{{Name: "status"}, {Name: "balance"}, {Name: "age"}, {Name: "region"}}

// TestSegmentWOE checks the smoothed within-segment weights of evidence
// against values worked out by hand (in Python, from the formula in the
// documentation) and its limits.
func TestSegmentWOE(t *testing.T) {
	cases := []struct {
		name              string
		good, bad, pg, pb []float64
		alpha, m          float64
		wantWOE           []float64
		wantIV            float64
	}{
		{"a bin without rows in the segment has WOE 0", []float64{30, 10, 0}, []float64{10, 10, 0}, []float64{300, 100, 40}, []float64{50, 50, 10}, 0.5, 30,
			[]float64{0.35851079531111957, -0.5956780435645693, 0}, 0.1875157942787608},
		{"a segment without bads takes the portfolio's shape", []float64{40, 20}, []float64{0, 0}, []float64{400, 100}, []float64{100, 100}, 0.5, 30,
			[]float64{0.8152807587672066, -0.7025495421637601}, 0.5469210567832126},
		{"a small prior keeps the segment's own evidence", []float64{40, 20}, []float64{5, 0}, []float64{400, 100}, []float64{100, 100}, 0.5, 1,
			[]float64{-0.3153948295729977, 1.3392677420699748}, 0.40836195853428986},
		{"a single-class portfolio gives no evidence", []float64{4, 2}, []float64{0, 0}, []float64{40, 20}, []float64{0, 0}, 0.5, 30,
			[]float64{0, 0}, 0},
		{"mismatched lengths give no evidence", []float64{4, 2}, []float64{1}, []float64{40, 20}, []float64{5, 5}, 0.5, 30,
			[]float64{0, 0}, 0},
	}
	for _, c := range cases {
		woe, iv := SegmentWOE(c.good, c.bad, c.pg, c.pb, c.alpha, c.m)
		for b := range woe {
			if math.Abs(woe[b]-c.wantWOE[b]) > 1e-12 {
				t.Errorf("%s: WOE %v, want %v", c.name, woe, c.wantWOE)
				break
			}
		}
		if math.Abs(iv-c.wantIV) > 1e-12 {
			t.Errorf("%s: IV %v, want %v", c.name, iv, c.wantIV)
		}
	}
	// A vanishing prior gives the segment's raw weights of evidence; a
	// huge one the portfolio's bin log-odds, recentred on the segment.
	good, bad := []float64{50, 30, 20}, []float64{10, 15, 25}
	pg, pb := []float64{500, 300, 200}, []float64{50, 60, 90}
	woe, _ := SegmentWOE(good, bad, pg, pb, 0, 1e-9)
	for b := range good {
		if want := math.Log((good[b] / 100) / (bad[b] / 50)); math.Abs(woe[b]-want) > 1e-9 {
			t.Errorf("prior 1e-9, bin %d: WOE %v, want %v", b, woe[b], want)
		}
	}
	woe, _ = SegmentWOE(good, bad, pg, pb, 0, 1e12)
	for b := range good {
		q := pb[b] / (pg[b] + pb[b])
		var sg, sd float64
		for v := range good {
			qv := pb[v] / (pg[v] + pb[v])
			sg += 1 - qv
			sd += qv
		}
		if want := math.Log(((1 - q) / sg) / (q / sd)); math.Abs(woe[b]-want) > 1e-6 {
			t.Errorf("prior 1e12, bin %d: WOE %v, want %v", b, woe[b], want)
		}
	}
}

func fitStatus(t *testing.T, n int, c PipelineConfig) (*Pipeline, BinningTrace, *datasets.Table, []float64) {
	t.Helper()
	tab, y := statusTable(rand.New(rand.NewPCG(11, 12)), n)
	p, tr := fit(t, []*datasets.Table{tab}, [][]float64{y}, BinningJob{Specs: statusSpecs, Classes: 2, Pipeline: c})
	return p, tr, tab, y
}

// TestPlanCrosses checks which characteristics segment: the strongest
// coarse ones, on bins with enough rows of each class.
func TestPlanCrosses(t *testing.T) {
	off := PipelineConfig{Crosses: CrossConfig{Segmenters: -1}}
	p, tr, _, _ := fitStatus(t, 20000, off)
	if tr.Crosses != nil || p.hasCrosses() || p.Version != PipelineVersion1 {
		t.Fatal("crosses turned off, but the pipeline has some")
	}
	cases := []struct {
		name string
		c    CrossConfig
		want *CrossPlan
	}{
		// status (3 bins with rows, IV far above 0.1) is the one coarse
		// strong characteristic; region is coarse but weak, balance and
		// age are fine.
		{"defaults", CrossConfig{}, &CrossPlan{Segmenters: []CrossSegmenter{{Feature: "status", Segments: []int{0, 1, 2}}}, Crossed: []string{"status", "balance", "age", "region"}}},
		{"thin bins are not segments", CrossConfig{MinClassRows: 1200}, &CrossPlan{Segmenters: []CrossSegmenter{{Feature: "status", Segments: []int{0, 1}}}, Crossed: []string{"status", "balance", "age", "region"}}},
		{"a segmenter needs two segments", CrossConfig{MinClassRows: 1300}, nil},
		{"weak characteristics segment when allowed", CrossConfig{MinIV: -1, MinClassRows: 10, Segmenters: 5},
			&CrossPlan{Segmenters: []CrossSegmenter{{Feature: "status", Segments: []int{0, 1, 2}}, {Feature: "region", Segments: []int{0, 1, 2}}}, Crossed: []string{"status", "balance", "age", "region"}}},
		{"fine characteristics segment when allowed", CrossConfig{MaxSegments: 11, MinIV: 0.02, Segmenters: 2},
			&CrossPlan{Segmenters: []CrossSegmenter{{Feature: "status", Segments: []int{0, 1, 2}}, {Feature: "age", Segments: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}}, Crossed: []string{"status", "balance", "age", "region"}}},
		{"crosses off", CrossConfig{Segmenters: -1}, nil},
	}
	for _, c := range cases {
		got, err := PlanCrosses(p, PipelineConfig{Crosses: c.c})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(c.want)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: plan %s, want %s", c.name, a, b)
		}
	}
	// Not for a one-hot (softmax) pipeline, nor twice.
	tab, y := statusTable(rand.New(rand.NewPCG(11, 12)), 5000)
	oh, _ := fit(t, []*datasets.Table{tab}, [][]float64{y}, BinningJob{Specs: statusSpecs, Classes: 2, Pipeline: PipelineConfig{Encoding: OneHot}})
	if cp, err := PlanCrosses(oh, PipelineConfig{}); cp != nil || err != nil {
		t.Errorf("one-hot pipeline: plan %+v, %v", cp, err)
	}
	crossed, _, _, _ := fitStatus(t, 20000, PipelineConfig{})
	if cp, err := PlanCrosses(crossed, PipelineConfig{}); cp != nil || err != nil {
		t.Errorf("crossed pipeline crossed again: plan %+v, %v", cp, err)
	}
	if _, err := PlanCrosses(p, PipelineConfig{Crosses: CrossConfig{Prior: -1}}); err == nil {
		t.Error("negative prior accepted")
	}
}

// TestCountCrossesLayout counts a handful of rows by hand.
func TestCountCrossesLayout(t *testing.T) {
	p, _, _, _ := fitStatus(t, 20000, PipelineConfig{Crosses: CrossConfig{Segmenters: -1}})
	tab := table(
		intCol("status", []float64{0, 1, 1, 2, math.NaN(), 1}),
		floatCol("balance", []float64{1, 1e9, math.NaN(), 5, 5, 1}),
		intCol("age", []float64{30, 30, 30, 30, 30, 30}),
		strCol("region", []string{"north", "atlantis", "", "south", "east", "north"}),
	)
	y := []float64{0, 1, 1, 0, 1, 1}
	cp := &CrossPlan{Segmenters: []CrossSegmenter{{Feature: "status", Segments: []int{1, 3}}}, Crossed: []string{"status", "balance", "region"}}
	got, err := CountCrosses(tab, y, p, cp)
	if err != nil {
		t.Fatal(err)
	}
	bal, reg := p.Feature("balance"), p.Feature("region")
	nb, nr := len(bal.Bins), len(reg.Bins)
	if n, _ := cp.Len(p); len(got) != n || n != 2*2*(nb+nr) {
		t.Fatalf("length %d, plan says %d, want %d", len(got), n, 2*2*(nb+nr))
	}
	want := make([]float64, len(got))
	// Segment status = 1 (bin 1): rows 1, 2 and 5.
	last := len(bal.Cuts)
	want[2*last+1]++                                      // row 1: balance 1e9 in the top bin, a bad
	want[2*bal.MissingBin()+1]++                          // row 2: balance missing, a bad
	want[2*0+1]++                                         // row 5: balance 1 in the bottom bin, a bad
	off := 2 * nb                                         // region block of segment 1
	want[off+2*reg.OtherBin()+1]++                        // row 1: an unseen region is "other"
	want[off+2*reg.MissingBin()+1]++                      // row 2: region missing
	want[off+2*slices.Index(reg.Categories, "north")+1]++ // row 5
	// Segment bin 3 of status is its missing bin: row 4.
	off = 2 * (nb + nr)
	want[off+2*0+1]++ // balance 5, bottom bin
	want[off+2*nb+2*slices.Index(reg.Categories, "east")+1]++
	if !slices.Equal(got, want) {
		t.Errorf("counts\n%v, want\n%v", got, want)
	}
	// Bad plans and tables are refused.
	for name, bad := range map[string]*CrossPlan{
		"unknown segmenter":       {Segmenters: []CrossSegmenter{{Feature: "nope", Segments: []int{0}}}, Crossed: []string{"age"}},
		"segment out of range":    {Segmenters: []CrossSegmenter{{Feature: "status", Segments: []int{7}}}, Crossed: []string{"age"}},
		"segments not increasing": {Segmenters: []CrossSegmenter{{Feature: "status", Segments: []int{1, 1}}}, Crossed: []string{"age"}},
		"no segments":             {Segmenters: []CrossSegmenter{{Feature: "status"}}, Crossed: []string{"age"}},
		"unknown crossed":         {Segmenters: []CrossSegmenter{{Feature: "status", Segments: []int{0}}}, Crossed: []string{"nope"}},
		"repeated crossed":        {Segmenters: []CrossSegmenter{{Feature: "status", Segments: []int{0}}}, Crossed: []string{"age", "age"}},
	} {
		if _, err := CountCrosses(tab, y, p, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := CountCrosses(tab, y[:3], p, cp); err == nil {
		t.Error("labels of the wrong length accepted")
	}
	if _, err := CountCrosses(table(intCol("status", []float64{0})), []float64{0}, p, cp); !errors.Is(err, ErrMissingFeature) {
		t.Errorf("missing column: %v", err)
	}
}

// TestCrossesFederatedEqualsPooled splits the rows at random among up to
// eight participants (some empty, one holding goods only) and checks that
// the crossed pipeline from summed counts is exactly the pooled one.
func TestCrossesFederatedEqualsPooled(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	tab, y := statusTable(rng, 12000)
	job := BinningJob{Specs: statusSpecs, Classes: 2}
	pooled, ptr := fit(t, []*datasets.Table{tab}, [][]float64{y}, job)
	if ptr.Crosses == nil || !pooled.hasCrosses() || pooled.Version != PipelineVersion {
		t.Fatal("no crosses on data made for them")
	}
	want, _ := json.Marshal(pooled)
	for trial := range 12 {
		k := 1 + rng.IntN(8)
		assign := make([][]int, k)
		for i := range y {
			j := rng.IntN(k)
			if trial%2 == 0 && y[i] == 1 {
				j = rng.IntN(max(k-1, 1))
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
		fed, tr := fit(t, parts, ys, job)
		if got, _ := json.Marshal(fed); !bytes.Equal(got, want) {
			t.Fatalf("trial %d with %d participants: federated crossed pipeline differs from pooled", trial, k)
		}
		if n := len(tr.VectorLens); tr.VectorLens[n-1] != ptr.VectorLens[len(ptr.VectorLens)-1] {
			t.Fatalf("trial %d: crossing vector of %d, pooled %d", trial, tr.VectorLens[n-1], ptr.VectorLens[len(ptr.VectorLens)-1])
		}
	}
}

// TestCrossPipeline checks the crossed pipeline: its cross
// characteristics, their counts, the transform, JSON, and the rules for
// rows outside a segment, unseen categories and missing values.
func TestCrossPipeline(t *testing.T) {
	p, _, tab, y := fitStatus(t, 20000, PipelineConfig{})
	st := p.Feature("status")
	var names []string
	for _, f := range p.Features {
		if f.Cross != nil {
			names = append(names, f.Name)
		}
	}
	wantNames := []string{
		"balance | status: <= 0", "age | status: <= 0", "region | status: <= 0",
		"balance | status: 1", "age | status: 1", "region | status: 1",
		"balance | status: >= 2", "age | status: >= 2", "region | status: >= 2",
	}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("cross characteristics %q, want %q", names, wantNames)
	}
	if p.NumColumns() != 4+9 {
		t.Errorf("%d columns, want 13", p.NumColumns())
	}
	// Counts: inside the segment per bin, and outside, add up to the
	// feature's counts.
	for _, f := range p.Features {
		if f.Cross == nil {
			continue
		}
		x := p.Feature(f.Cross.Feature)
		var in, all [2]float64
		for b, bin := range f.Bins[:len(f.Bins)-1] {
			for k := range 2 {
				in[k] += bin.Counts[k]
				all[k] += x.Bins[b].Counts[k]
			}
		}
		seg := st.Bins[f.Cross.Segment].Counts
		out := f.Bins[f.OutsideBin()].Counts
		for k := range 2 {
			if in[k] != seg[k] || in[k]+out[k] != all[k] {
				t.Fatalf("%s class %d: %v in the segment (segmenter bin %v), %v outside, %v in all", f.Name, k, in[k], seg[k], out[k], all[k])
			}
		}
		if f.Bins[f.OutsideBin()].Label != OutsideLabel || f.Bins[f.OutsideBin()].WOE != 0 || !(f.IV >= 0) {
			t.Fatalf("%s: outside bin %+v, IV %v", f.Name, f.Bins[f.OutsideBin()], f.IV)
		}
	}
	// The balance says opposite things in the two ends: its top bin is
	// good for current customers and bad in arrears.
	cur, arr := p.Feature("balance | status: <= 0"), p.Feature("balance | status: >= 2")
	top := len(p.Feature("balance").Cuts)
	if !(cur.Bins[top].WOE > 0.2 && arr.Bins[top].WOE < -0.2) {
		t.Errorf("top balance bin: WOE %v for current customers, %v in arrears", cur.Bins[top].WOE, arr.Bins[top].WOE)
	}
	// Transform: a cross column is the bin's WOE inside the segment and 0
	// outside it.
	odd := table(
		intCol("status", []float64{0, 2, math.NaN(), 9}),
		floatCol("balance", []float64{1e9, 1e9, 1e9, math.NaN()}),
		intCol("age", []float64{30, 30, 30, 30}),
		strCol("region", []string{"north", "atlantis", "", "south"}),
	)
	X, err := p.Transform(odd)
	if err != nil {
		t.Fatal(err)
	}
	cols := p.Columns()
	at := func(i int, name string) float64 { return X.At(i, slices.Index(cols, name)) }
	if at(0, "balance | status: <= 0") != cur.Bins[top].WOE || at(0, "balance | status: >= 2") != 0 || at(1, "balance | status: >= 2") != arr.Bins[top].WOE {
		t.Errorf("cross columns of a current and an arrears customer: %v", X.RawRowView(0))
	}
	// A missing status is in no segment (its bin had no rows); 9 is in
	// the top status bin; an unseen region is "other" inside the segment.
	for _, name := range wantNames {
		if v := at(2, name); v != 0 {
			t.Errorf("missing status: %s = %v, want 0", name, v)
		}
	}
	reg := p.Feature("region | status: >= 2")
	if at(1, "region | status: >= 2") != reg.Bins[p.Feature("region").OtherBin()].WOE {
		t.Error("unseen region in the segment does not take the other bin")
	}
	if at(3, "balance | status: >= 2") != arr.Bins[arr.MissingBin()].WOE {
		t.Error("missing balance in the segment does not take the missing bin")
	}
	// Transform equals Assign's bins looked up, feature by feature.
	bins, err := p.Assign(tab)
	if err != nil {
		t.Fatal(err)
	}
	Xt, _ := p.Transform(tab)
	for j, f := range p.Features {
		for i := range 200 {
			if got := Xt.At(i, f.Column); got != f.Bins[bins[j][i]].WOE {
				t.Fatalf("%s row %d: column %v, bin WOE %v", f.Name, i, got, f.Bins[bins[j][i]].WOE)
			}
		}
	}
	one, err := p.AssignFeature(tab, len(p.Features)-1)
	if err != nil || !slices.Equal(one, bins[len(p.Features)-1]) {
		t.Errorf("AssignFeature of a cross: %v", err)
	}
	// Columns the selected features do not need may be absent; the
	// segmenter's may not.
	if _, err := p.Transform(table(floatCol("balance", []float64{1}), intCol("age", []float64{1}), strCol("region", []string{"x"}))); !errors.Is(err, ErrMissingFeature) {
		t.Errorf("table without the segmenter: %v", err)
	}
	// Plain data: JSON round trip, and a count of bins per feature
	// including the outside bin.
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePipeline(data)
	if err != nil {
		t.Fatal(err)
	}
	Xb, _ := back.Transform(tab)
	if !slices.Equal(Xb.RawMatrix().Data, Xt.RawMatrix().Data) {
		t.Error("decoded pipeline transforms differently")
	}
	bc, err := p.BinCounts(tab)
	if err != nil || len(bc) != p.BinCountsLen() {
		t.Fatalf("bin counts: %v", err)
	}
	if !strings.Contains(p.String(), "balance | status: 1 IV=") {
		t.Error("binning table lacks the cross characteristics")
	}
	_ = y
}

// TestCrossValidate rejects malformed cross characteristics.
func TestCrossValidate(t *testing.T) {
	p, _, _, _ := fitStatus(t, 20000, PipelineConfig{})
	last := len(p.Features) - 1
	for name, edit := range map[string]func(q *Pipeline){
		"version 1":            func(q *Pipeline) { q.Version = PipelineVersion1 },
		"unknown feature":      func(q *Pipeline) { q.Features[last].Cross.Feature = "nope" },
		"crossed with itself":  func(q *Pipeline) { q.Features[last].Cross.Feature = "status" },
		"cross of a cross":     func(q *Pipeline) { q.Features[last].Cross.Segmenter = q.Features[last-1].Name },
		"segment out of range": func(q *Pipeline) { q.Features[last].Cross.Segment = 99 },
		"a bin too few":        func(q *Pipeline) { q.Features[last].Bins = q.Features[last].Bins[1:] },
		"relabelled bin":       func(q *Pipeline) { q.Features[last].Bins[0].Label = "elsewhere" },
		"evidence outside":     func(q *Pipeline) { q.Features[last].Bins[q.Features[last].OutsideBin()].WOE = 0.3 },
		"cuts of its own":      func(q *Pipeline) { q.Features[last].Cuts = []float64{1} },
		"one-hot":              func(q *Pipeline) { q.Encoding = OneHot },
	} {
		q := p.clone()
		edit(q)
		if q.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("the edits changed the original: %v", err)
	}
	// AddCrosses refuses counts that contradict the pipeline.
	flat, _, _, _ := fitStatus(t, 20000, PipelineConfig{Crosses: CrossConfig{Segmenters: -1}})
	cp, err := PlanCrosses(flat, PipelineConfig{})
	if err != nil || cp == nil {
		t.Fatal(cp, err)
	}
	n, _ := cp.Len(flat)
	tooMany := make([]float64, n)
	tooMany[0] = 1e9
	if _, err := AddCrosses(flat, cp, tooMany, PipelineConfig{}); err == nil {
		t.Error("counts above the feature's accepted")
	}
	if _, err := AddCrosses(flat, cp, tooMany[1:], PipelineConfig{}); err == nil {
		t.Error("short count vector accepted")
	}
	if _, err := AddCrosses(flat, cp, append(make([]float64, n-1), math.NaN()), PipelineConfig{}); err == nil {
		t.Error("NaN count accepted")
	}
}
