package models

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models/eval"
)

// creditTable draws applicants with an income, a utilisation, a region and
// a default flag that depends on all three.
func creditTable(rng *rand.Rand, n int) (*datasets.Table, []float64) {
	income, util := make([]float64, n), make([]float64, n)
	region := make([]string, n)
	y := make([]float64, n)
	for i := range n {
		income[i] = math.Round(math.Exp(10 + 0.5*rng.NormFloat64()))
		util[i] = math.Round(100*rng.Float64()) / 100
		if rng.IntN(25) == 0 {
			util[i] = math.NaN()
		}
		region[i] = []string{"north", "south", "east"}[rng.IntN(3)]
		z := -1.5 - 0.8*(math.Log(income[i])-10) + 2*(util[i]-0.5)
		if math.IsNaN(util[i]) {
			z = -1.5 + 1
		}
		if region[i] == "south" {
			z += 0.6
		}
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y[i] = 1
		}
	}
	nulls := make([]bool, n)
	for i, v := range util {
		nulls[i] = math.IsNaN(v)
	}
	return &datasets.Table{Columns: []*datasets.Column{
		{Name: "income", Kind: datasets.Int, Float: income},
		{Name: "util", Kind: datasets.Float, Float: util, Null: nulls},
		{Name: "region", Kind: datasets.String, String: region},
	}}, y
}

func fitScorecard(t *testing.T, c ScorecardConfig) (*Scorecard, *Logistic, *features.Pipeline, *datasets.Table) {
	t.Helper()
	rng := rand.New(rand.NewPCG(31, 32))
	tab, y := creditTable(rng, 5000)
	p, _, err := features.FitBinning([]*datasets.Table{tab}, [][]float64{y}, features.BinningJob{
		Specs: []features.FeatureSpec{{Name: "income"}, {Name: "util"}, {Name: "region"}}, Classes: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	X, err := p.Transform(tab)
	if err != nil {
		t.Fatal(err)
	}
	m := NewLogistic(p.NumColumns())
	if _, err := m.Fit(X, y, TrainConfig{Epochs: 20, BatchSize: 128, LearningRate: 0.01}); err != nil {
		t.Fatal(err)
	}
	s, err := NewScorecard(p, m, c)
	if err != nil {
		t.Fatal(err)
	}
	return s, m, p, tab
}

func TestScorecard(t *testing.T) {
	s, m, p, tab := fitScorecard(t, ScorecardConfig{})
	// Defaults: 600 points at 50:1, 20 points to double the odds.
	if s.BaseScore != 600 || s.BaseOdds != 50 || s.PDO != 20 {
		t.Errorf("defaults %v %v %v", s.BaseScore, s.BaseOdds, s.PDO)
	}
	if got := s.ScoreOf(1.0 / 51); math.Abs(got-600) > 1e-9 {
		t.Errorf("score at 50:1 = %v", got)
	}
	if got := s.PD(620); math.Abs(got-1.0/101) > 1e-15 {
		t.Errorf("PD at 620 = %v, want 1/101", got)
	}
	X, _ := p.Transform(tab)
	pd := m.Predict(X, nil)
	scored, err := s.Score(tab, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, sc := range scored {
		want := s.Offset - s.Factor*math.Log(pd[i]/(1-pd[i]))
		if math.Abs(sc.Score-want) > 1e-9 || math.Abs(sc.PD-pd[i]) > 1e-12 {
			t.Fatalf("row %d: score %v PD %v, model says %v and %v", i, sc.Score, sc.PD, want, pd[i])
		}
		if len(sc.Reasons) > 2 {
			t.Fatalf("row %d: %d reasons", i, len(sc.Reasons))
		}
		for k, r := range sc.Reasons {
			if !(r.Lost > 0) || (k > 0 && r.Lost > sc.Reasons[k-1].Lost) {
				t.Fatalf("row %d: reasons %+v", i, sc.Reasons)
			}
		}
	}
	// Hand check of the reasons from their definition: a characteristic
	// (a feature with its cross characteristics) loses what the row would
	// gain by moving to the characteristic's best bin with training rows,
	// its segments unchanged.
	if len(s.Features) == 3 {
		t.Fatal("no cross characteristics: the test data should give the region crosses")
	}
	all, err := p.Assign(tab)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		row := make([]int, len(s.Features))
		for q, f := range s.Features {
			row[q] = all[f.Index][i]
		}
		total := func(r []int) float64 {
			var v float64
			for q, b := range r {
				v += s.Features[q].Points[b]
			}
			return v
		}
		var want []Reason
		for _, f := range s.Features {
			pf := p.Features[f.Index]
			if pf.Cross != nil {
				continue
			}
			best := math.Inf(-1)
			for v, bin := range pf.Bins {
				if bin.Total() == 0 {
					continue
				}
				moved := slices.Clone(row)
				for q, g := range s.Features {
					gf := p.Features[g.Index]
					if g.Name == f.Name || gf.Cross != nil && gf.Cross.Feature == f.Name && row[q] != gf.OutsideBin() {
						moved[q] = v
					}
				}
				best = max(best, total(moved))
			}
			var pts float64
			for q, g := range s.Features {
				if gf := p.Features[g.Index]; g.Name == f.Name || gf.Cross != nil && gf.Cross.Feature == f.Name {
					pts += g.Points[row[q]]
				}
			}
			b := all[f.Index][i]
			if lost := best - total(row); lost > 1e-9 {
				want = append(want, Reason{Feature: f.Name, Bin: pf.Bins[b].Label, Points: pts, Lost: lost})
			}
		}
		slices.SortStableFunc(want, func(a, b Reason) int {
			switch {
			case a.Lost > b.Lost:
				return -1
			case a.Lost < b.Lost:
				return 1
			}
			return 0
		})
		if len(want) > 2 {
			want = want[:2]
		}
		got := scored[i].Reasons
		if len(got) != len(want) {
			t.Fatalf("row %d: reasons %+v, want %+v", i, got, want)
		}
		for k := range want {
			if got[k].Feature != want[k].Feature || got[k].Bin != want[k].Bin ||
				math.Abs(got[k].Points-want[k].Points) > 1e-9 || math.Abs(got[k].Lost-want[k].Lost) > 1e-9 {
				t.Fatalf("row %d: reasons %+v, want %+v", i, got, want)
			}
		}
	}
	// Unseen category and missing values score with the neutral points of
	// an empty bin (WOE 0): the intercept's share alone.
	share := (s.Offset - s.Factor*s.Intercept) / float64(len(s.Features))
	odd := &datasets.Table{Columns: []*datasets.Column{
		{Name: "income", Kind: datasets.Int, Float: []float64{30000}},
		{Name: "util", Kind: datasets.Float, Float: []float64{0.5}},
		{Name: "region", Kind: datasets.String, String: []string{"atlantis"}},
	}}
	o, err := s.Score(odd, 3)
	if err != nil {
		t.Fatal(err)
	}
	bins, _ := p.AssignFeature(odd, s.Features[2].Index)
	if pts := s.Features[2].Points[bins[0]]; math.Abs(pts-share) > 1e-9 || math.IsNaN(o[0].Score) {
		t.Errorf("unseen category: %v points, neutral %v", pts, share)
	}
	// The scorecard is plain data.
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Scorecard
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, err := back.Score(tab, 2)
	if err != nil || !slices.EqualFunc(again, scored, func(a, b Scored) bool { return a.Score == b.Score && slices.Equal(a.Reasons, b.Reasons) }) {
		t.Errorf("decoded scorecard scores differently: %v", err)
	}
	back.Version = 9
	if back.Validate() == nil {
		t.Error("version 9 accepted")
	}
}

func TestScorecardScaling(t *testing.T) {
	s, _, _, tab := fitScorecard(t, ScorecardConfig{BaseScore: 500, BaseOdds: 20, PDO: 40})
	d, _, _, _ := fitScorecard(t, ScorecardConfig{})
	a, _ := s.Score(tab, 0)
	b, _ := d.Score(tab, 0)
	// Same model, another scale: 500 at 20:1 with 40 per doubling.
	for i := range a {
		lnOdds := (b[i].Score - d.Offset) / d.Factor
		want := 500 + 40/math.Ln2*(lnOdds-math.Log(20))
		if math.Abs(a[i].Score-want) > 1e-9 || math.Abs(a[i].PD-b[i].PD) > 1e-12 {
			t.Fatalf("row %d: %v, want %v", i, a[i].Score, want)
		}
	}
	if _, err := NewScorecard(s.Pipeline, NewLogistic(1), ScorecardConfig{}); err == nil {
		t.Error("model of the wrong size accepted")
	}
	if _, err := NewScorecard(s.Pipeline, NewLogistic(3), ScorecardConfig{PDO: -1}); err == nil {
		t.Error("negative PDO accepted")
	}
}

func TestTiers(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	h := eval.NewScoreHistogram(eval.DefaultBins)
	var probs, labels []float64
	for range 20000 {
		p := 1 / (1 + math.Exp(-(-2 + 1.2*rng.NormFloat64())))
		y := 0.0
		if rng.Float64() < p {
			y = 1
		}
		probs, labels = append(probs, p), append(labels, y)
	}
	if err := h.AddAll(probs, labels); err != nil {
		t.Fatal(err)
	}
	for _, c := range []TierConfig{{}, {HighFirst: true}, {EqualShares: true}, {EqualShares: true, HighFirst: true}} {
		high := c.HighFirst
		tr, err := FitTiers(h, c)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tr.Names, []string{"A", "B", "C", "D", "E"}) {
			t.Fatalf("names %v", tr.Names)
		}
		for i := 1; i < len(tr.Rate); i++ {
			if high && !(tr.Rate[i] < tr.Rate[i-1]) || !high && !(tr.Rate[i] > tr.Rate[i-1]) {
				t.Errorf("%+v: rates %v not strictly monotone", c, tr.Rate)
			}
		}
		// Assigning the rows again reproduces the tier counts.
		rows := make([]float64, len(tr.Names))
		for _, p := range probs {
			rows[tr.Tier(p)]++
		}
		if !slices.Equal(rows, tr.Rows) {
			t.Errorf("rows by Tier %v, fitted %v", rows, tr.Rows)
		}
		for _, r := range tr.Rows {
			if c.EqualShares && math.Abs(r/20000-0.2) > 0.02 || r/20000 < 0.05 {
				t.Errorf("%+v: tier rows %v", c, tr.Rows)
			}
		}
		if tr.Name(math.NaN()) != "" || tr.Tier(2) != -1 {
			t.Error("not a probability got a tier")
		}
	}
	// Scores unrelated to the outcome: tiers merge until strictly
	// monotone; fewer of them, never NaN.
	noise := eval.NewScoreHistogram(eval.DefaultBins)
	for i := range 5000 {
		noise.Add(rng.Float64(), float64(i%2))
	}
	tr, err := FitTiers(noise, TierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(tr.Rate); i++ {
		if !(tr.Rate[i] > tr.Rate[i-1]) {
			t.Errorf("noise rates %v", tr.Rate)
		}
	}
	if len(tr.Names) == 5 {
		t.Logf("noise kept 5 tiers: %v", tr.Rate)
	}
	// No events at all: one tier, rate 0.
	none := eval.NewScoreHistogram(eval.DefaultBins)
	for range 100 {
		none.Add(rng.Float64(), 0)
	}
	if tr, err := FitTiers(none, TierConfig{}); err != nil || len(tr.Names) != 1 || tr.Rate[0] != 0 {
		t.Errorf("no events: %+v, %v", tr, err)
	}
	if _, err := FitTiers(eval.NewScoreHistogram(10), TierConfig{}); err == nil {
		t.Error("empty histogram accepted")
	}
	if _, err := FitTiers(h, TierConfig{Tiers: 12}); err == nil {
		t.Error("12 tiers with 10 names accepted")
	}
}

// TestCSI: the characteristic stability of each feature, from bin counts a
// participant computes on its scoring population (summable, no labels)
// against the training counts the pipeline keeps.
func TestCSI(t *testing.T) {
	_, _, p, tab := fitScorecard(t, ScorecardConfig{})
	half := make([]int, 0, tab.Rows()/2)
	for i := 0; i < tab.Rows(); i += 2 {
		half = append(half, i)
	}
	a, err := p.BinCounts(tab.Select(half))
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.BinCounts(tab.Select(half[:len(half)-1]))
	if err != nil || len(a) != p.BinCountsLen() {
		t.Fatal(err)
	}
	sum := make([]float64, len(a))
	for i := range a {
		sum[i] = a[i] + b[i]
	}
	cur, err := p.SplitBinCounts(sum)
	if err != nil {
		t.Fatal(err)
	}
	csi, err := eval.CSI(p.TrainingBinCounts(), cur)
	if err != nil {
		t.Fatal(err)
	}
	for j, v := range csi {
		if v > 0.01 {
			t.Errorf("%s: CSI %v on a sample of the training rows", p.Features[j].Name, v)
		}
	}
	// Incomes doubled: a large shift in income, none in region.
	shifted := tab.Select(half)
	inc := shifted.Column("income")
	for i := range inc.Float {
		inc.Float[i] *= 2
	}
	c, _ := p.BinCounts(shifted)
	cur, _ = p.SplitBinCounts(c)
	csi, _ = eval.CSI(p.TrainingBinCounts(), cur)
	if !(csi[0] > 0.25) || csi[2] > 0.01 {
		t.Errorf("CSI after doubling incomes: %v", csi)
	}
}

// statusTable draws card holders whose balance means opposite things by
// payment status: a high balance is a good sign for a current customer and
// a bad one for a customer in arrears, an interaction an additive
// scorecard cannot express.
func statusTable(rng *rand.Rand, n int) (*datasets.Table, []float64) {
	status, balance := make([]float64, n), make([]float64, n)
	y := make([]float64, n)
	for i := range n {
		status[i] = float64(rng.IntN(3))
		balance[i] = math.Round(math.Exp(8 + rng.NormFloat64()))
		z := []float64{-2, -1.2, -0.2}[int(status[i])] + []float64{-0.6, 0, 0.7}[int(status[i])]*(math.Log(balance[i])-8)
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y[i] = 1
		}
	}
	return &datasets.Table{Columns: []*datasets.Column{
		{Name: "status", Kind: datasets.Int, Float: status},
		{Name: "balance", Kind: datasets.Int, Float: balance},
	}}, y
}

// TestScorecardCrosses fits a scorecard with and without the default
// segment crosses on data with an interaction: the crosses recover it,
// their points follow the scorecard's rules (the outside bin is neutral
// and never a reason), and reason codes name the characteristic.
func TestScorecardCrosses(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	train, ytr := statusTable(rng, 20000)
	test, yte := statusTable(rng, 10000)
	fitAUC := func(c features.PipelineConfig) (*Scorecard, float64) {
		p, _, err := features.FitBinning([]*datasets.Table{train}, [][]float64{ytr}, features.BinningJob{
			Specs: []features.FeatureSpec{{Name: "status"}, {Name: "balance"}}, Classes: 2, Pipeline: c,
		})
		if err != nil {
			t.Fatal(err)
		}
		X, _ := p.Transform(train)
		m := NewLogistic(p.NumColumns())
		if _, err := m.Fit(X, ytr, TrainConfig{Epochs: 300, LearningRate: 1, Optimizer: SGD, L2: 1e-3}); err != nil {
			t.Fatal(err)
		}
		s, err := NewScorecard(p, m, ScorecardConfig{})
		if err != nil {
			t.Fatal(err)
		}
		Xte, _ := p.Transform(test)
		met, err := eval.BinaryMetrics(m.Predict(Xte, nil), yte)
		if err != nil {
			t.Fatal(err)
		}
		return s, met.AUC
	}
	_, flat := fitAUC(features.PipelineConfig{Crosses: features.CrossConfig{Segmenters: -1}})
	s, crossed := fitAUC(features.PipelineConfig{})
	t.Logf("test AUC without crosses %.4f, with %.4f", flat, crossed)
	if crossed < flat+0.02 {
		t.Errorf("crosses do not recover the interaction: AUC %.4f without, %.4f with", flat, crossed)
	}
	if len(s.Features) != 2+3 {
		t.Fatalf("%d scorecard features, want status, balance and balance in each of 3 statuses", len(s.Features))
	}
	share := (s.Offset - s.Factor*s.Intercept) / float64(len(s.Features))
	for _, f := range s.Features[2:] {
		pf := s.Pipeline.Features[f.Index]
		if pf.Cross == nil || pf.Cross.Feature != "balance" || pf.Cross.Segmenter != "status" {
			t.Fatalf("%s is not a cross of balance by status", f.Name)
		}
		out := f.Points[pf.OutsideBin()]
		if math.Abs(out-share) > 1e-9 {
			t.Errorf("%s: outside points %v, want the intercept's share %v", f.Name, out, share)
		}
		best := math.Inf(-1)
		for b, bin := range pf.Bins[:pf.OutsideBin()] {
			if bin.Total() > 0 {
				best = max(best, f.Points[b])
			}
		}
		if f.Best != best {
			t.Errorf("%s: best %v, want %v (its bins with rows, outside excluded)", f.Name, f.Best, best)
		}
	}
	scored, err := s.Score(test, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, sc := range scored {
		if len(sc.Reasons) > 2 {
			t.Fatalf("row %d: %d reasons from 2 characteristics", i, len(sc.Reasons))
		}
		for _, r := range sc.Reasons {
			if r.Feature != "status" && r.Feature != "balance" || r.Bin == features.OutsideLabel || !(r.Lost > 0) {
				t.Fatalf("row %d: reason %+v", i, r)
			}
		}
	}
	// A customer in arrears with the largest balance loses points on the
	// balance; a current one with the same balance does not.
	two := &datasets.Table{Columns: []*datasets.Column{
		{Name: "status", Kind: datasets.Int, Float: []float64{2, 0}},
		{Name: "balance", Kind: datasets.Int, Float: []float64{1e6, 1e6}},
	}}
	r, err := s.Score(two, 3)
	if err != nil {
		t.Fatal(err)
	}
	lost := func(sc Scored) float64 {
		for _, x := range sc.Reasons {
			if x.Feature == "balance" {
				return x.Lost
			}
		}
		return 0
	}
	if !(lost(r[0]) > 10 && lost(r[1]) < 1) {
		t.Errorf("balance lost %v points in arrears, %v when current", lost(r[0]), lost(r[1]))
	}
}
