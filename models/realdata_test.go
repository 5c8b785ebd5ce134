package models_test

// Evidence on the real data sets in FEDSCORE_DATASETS (skipped without
// it): each model is fitted pooled and federated through the same code,
// on the split simulate makes (a 20% stratified test set with seed 1, the
// training rows split among participants as the acceptance script splits
// them). Binning runs the participant-side counting on each part and sums,
// and must give exactly the pooled pipeline; training then runs FedAvg over
// the parts in process. Set FEDSCORE_REPORT_DIR to also write the HTML
// reports there.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/models/eval"
	"github.com/fedscore/fedscore/report"
	"gonum.org/v1/gonum/mat"
)

// realData returns the path of a file under FEDSCORE_DATASETS, skipping
// the test when the variable is unset or the file absent.
func realData(t *testing.T, rel string) *datasets.Table {
	t.Helper()
	dir := os.Getenv("FEDSCORE_DATASETS")
	if dir == "" {
		t.Skip("FEDSCORE_DATASETS not set")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s: %v", p, err)
	}
	tab, err := datasets.ReadCSV(p)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// split holds a data set cut as simulate cuts it.
type split struct {
	train, test *datasets.Table
	parts       []*datasets.Table
}

func holdout(t *testing.T, tab *datasets.Table, label string, parts int, by string) split {
	t.Helper()
	train, test, err := datasets.StratifiedHoldout(tab, label, 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := datasets.SplitHorizontal(train, parts, by, label, 1)
	if err != nil {
		t.Fatal(err)
	}
	return split{train: train, test: test, parts: ps}
}

func specsOf(tab *datasets.Table, skip ...string) []features.FeatureSpec {
	drop := map[string]bool{}
	for _, s := range skip {
		drop[s] = true
	}
	var out []features.FeatureSpec
	for _, c := range tab.Columns {
		if !drop[c.Name] {
			out = append(out, features.FeatureSpec{Name: c.Name})
		}
	}
	return out
}

type labeler func(*datasets.Table) []float64

func binaryLabel(col, pos string) labeler {
	return func(tab *datasets.Table) []float64 {
		y, err := features.BinaryLabels(tab.Column(col), pos)
		if err != nil {
			panic(err)
		}
		return y
	}
}

// binBoth fits the binning on the pooled training rows and, through the
// participant-side steps, on the parts; the two pipelines must be equal.
func binBoth(t *testing.T, s split, lab labeler, job features.BinningJob) *features.Pipeline {
	t.Helper()
	pooled, ptr, err := features.FitBinning([]*datasets.Table{s.train}, [][]float64{lab(s.train)}, job)
	if err != nil {
		t.Fatal(err)
	}
	var ys [][]float64
	for _, p := range s.parts {
		ys = append(ys, lab(p))
	}
	fed, _, err := features.FitBinning(s.parts, ys, job)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(pooled)
	b, _ := json.Marshal(fed)
	if !bytes.Equal(a, b) {
		t.Fatal("binning from summed per-participant counts differs from pooled binning")
	}
	t.Logf("binning: %d participants, %d counting rounds, summed vector lengths %v (moments first), %d model inputs",
		len(s.parts), ptr.CountRounds, ptr.VectorLens, pooled.NumColumns())
	return pooled
}

func transform(t *testing.T, p *features.Pipeline, tab *datasets.Table) *mat.Dense {
	t.Helper()
	X, err := p.Transform(tab)
	if err != nil {
		t.Fatal(err)
	}
	return X
}

// model is what FedAvg needs of a model.
type model interface {
	Params() []float64
	SetParams([]float64) error
	Fit(*mat.Dense, []float64, models.TrainConfig) (models.FitResult, error)
}

// fedAvg trains federated: each round every part trains from the global
// parameters and the coordinator averages them weighted by rows. It
// returns the global parameters and each round's mean training loss.
func fedAvg(t *testing.T, newModel func() model, Xs []*mat.Dense, ys [][]float64, rounds int, c models.TrainConfig) ([]float64, []float64) {
	t.Helper()
	global := newModel().Params()
	var losses []float64
	for r := range rounds {
		sum := make([]float64, len(global))
		var n, loss float64
		for i, X := range Xs {
			m := newModel()
			if err := m.SetParams(global); err != nil {
				t.Fatal(err)
			}
			cc := c
			cc.Seed = uint64(1000*r + i)
			res, err := m.Fit(X, ys[i], cc)
			if err != nil {
				t.Fatal(err)
			}
			w := float64(len(ys[i]))
			for j, v := range m.Params() {
				sum[j] += w * v
			}
			n += w
			loss += w * res.Loss
		}
		for j := range sum {
			global[j] = sum[j] / n
		}
		losses = append(losses, loss/n)
	}
	return global, losses
}

func summary(t *testing.T, probs, y []float64) (eval.BinarySummary, eval.SummaryMetrics) {
	t.Helper()
	s := eval.NewBinarySummary(eval.DefaultBins)
	if err := s.AddAll(probs, y); err != nil {
		t.Fatal(err)
	}
	m, err := s.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// binaryRun fits a logistic model on the pipeline's output pooled and
// federated and returns both models with their test summaries.
type binaryRun struct {
	pooled, fed   *models.Logistic
	pooledS, fedS eval.BinarySummary
	pooledM, fedM eval.SummaryMetrics
	trainS        eval.BinarySummary
	rounds        []report.Round
	X, Xte        *mat.Dense
	ytrain, ytest []float64
	pipeline      *features.Pipeline
}

func fitBinary(t *testing.T, s split, lab labeler, p *features.Pipeline, pooledC, localC models.TrainConfig, rounds int) *binaryRun {
	t.Helper()
	r := &binaryRun{pipeline: p, X: transform(t, p, s.train), Xte: transform(t, p, s.test), ytrain: lab(s.train), ytest: lab(s.test)}
	d := p.NumColumns()
	r.pooled = models.NewLogistic(d)
	if _, err := r.pooled.Fit(r.X, r.ytrain, pooledC); err != nil {
		t.Fatal(err)
	}
	var Xs []*mat.Dense
	var ys [][]float64
	for _, part := range s.parts {
		Xs, ys = append(Xs, transform(t, p, part)), append(ys, lab(part))
	}
	params, losses := fedAvg(t, func() model { return models.NewLogistic(d) }, Xs, ys, rounds, localC)
	r.fed = models.NewLogistic(d)
	if err := r.fed.SetParams(params); err != nil {
		t.Fatal(err)
	}
	r.pooledS, r.pooledM = summary(t, r.pooled.Predict(r.Xte, nil), r.ytest)
	r.fedS, r.fedM = summary(t, r.fed.Predict(r.Xte, nil), r.ytest)
	r.trainS, _ = summary(t, r.fed.Predict(r.X, nil), r.ytrain)
	for i, l := range losses {
		r.rounds = append(r.rounds, report.Round{Round: i + 1, TrainLoss: l, ValAUC: math.NaN(), ValLoss: math.NaN()})
	}
	return r
}

func (r *binaryRun) log(t *testing.T, name string) {
	t.Logf("%s pooled:    AUC %.4f  KS %.4f  Gini %.4f  log loss %.4f  Brier %.4f", name, r.pooledM.AUC, r.pooledM.KS, r.pooledM.Gini, r.pooledM.LogLoss, r.pooledM.Brier)
	t.Logf("%s federated: AUC %.4f  KS %.4f  Gini %.4f  log loss %.4f  Brier %.4f", name, r.fedM.AUC, r.fedM.KS, r.fedM.Gini, r.fedM.LogLoss, r.fedM.Brier)
}

func writeReport(t *testing.T, name string, rep report.Report) {
	dir := os.Getenv("FEDSCORE_REPORT_DIR")
	if dir == "" {
		return
	}
	if err := report.Write(filepath.Join(dir, name), rep); err != nil {
		t.Fatal(err)
	}
}

func metricsRows(f, p eval.SummaryMetrics) []report.Metric {
	return []report.Metric{
		{Name: "AUC", Values: []float64{f.AUC, p.AUC}},
		{Name: "KS", Values: []float64{f.KS, p.KS}},
		{Name: "Gini", Values: []float64{f.Gini, p.Gini}},
		{Name: "log loss", Values: []float64{f.LogLoss, p.LogLoss}},
		{Name: "Brier", Values: []float64{f.Brier, p.Brier}},
	}
}

// checkTiers fits tiers on the training predictions and checks that the
// event rates are strictly monotone on the test set too.
func checkTiers(t *testing.T, name string, train eval.BinarySummary, testProbs, ytest []float64, c models.TierConfig) *models.Tiering {
	t.Helper()
	tr, err := models.FitTiers(train.Hist, c)
	if err != nil {
		t.Fatal(err)
	}
	rows, pos := make([]float64, len(tr.Names)), make([]float64, len(tr.Names))
	for i, p := range testProbs {
		k := tr.Tier(p)
		rows[k]++
		pos[k] += ytest[i]
	}
	rates := make([]float64, len(rows))
	for k := range rows {
		rates[k] = pos[k] / rows[k]
	}
	t.Logf("%s tiers %v: training rates %.4f, test rates %.4f, test rows %v", name, tr.Names, tr.Rate, rates, rows)
	if len(tr.Names) < 4 {
		t.Errorf("%s: only %d tiers", name, len(tr.Names))
	}
	for k := 1; k < len(rates); k++ {
		if c.HighFirst && !(rates[k] < rates[k-1]) || !c.HighFirst && !(rates[k] > rates[k-1]) {
			t.Errorf("%s: test rates %v not strictly monotone across tiers", name, rates)
		}
	}
	return tr
}

// taiwanDerived are row-wise features a risk analyst would add to the
// Taiwan file: months in arrears, worst arrears, utilisation of the limit,
// payment against the previous bill, totals. Without cross
// characteristics the scorecard on raw columns alone tops out near 0.762
// AUC on this split (sklearn's 10-bin one-hot reference reaches 0.7608 on
// it, and gradient boosting 0.7712); the default segment crosses take it
// past 0.770 without them.
func taiwanDerived() []features.Derived {
	pays := []string{"PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"}
	var payAmts, bills, utils []string
	for i := 1; i <= 6; i++ {
		payAmts = append(payAmts, fmt.Sprintf("PAY_AMT%d", i))
		bills = append(bills, fmt.Sprintf("BILL_AMT%d", i))
		utils = append(utils, fmt.Sprintf("util%d", i))
	}
	d := []features.Derived{
		{Name: "n_delay", Op: "count_positive", Inputs: pays},
		{Name: "max_delay", Op: "max", Inputs: pays},
		{Name: "pay_sum", Op: "sum", Inputs: payAmts},
		{Name: "bill_mean", Op: "mean", Inputs: bills},
		{Name: "avail", Op: "diff", Inputs: []string{"LIMIT_BAL", "BILL_AMT1"}},
	}
	for i := 1; i <= 6; i++ {
		d = append(d, features.Derived{Name: utils[i-1], Op: "ratio", Inputs: []string{bills[i-1], "LIMIT_BAL"}})
	}
	for i := 1; i <= 5; i++ {
		d = append(d, features.Derived{Name: fmt.Sprintf("pr%d", i), Op: "ratio", Inputs: []string{payAmts[i-1], bills[i]}})
	}
	return append(d,
		features.Derived{Name: "util_max", Op: "max", Inputs: utils},
		features.Derived{Name: "util_mean", Op: "mean", Inputs: utils},
		features.Derived{Name: "bill_sum", Op: "sum", Inputs: bills},
		features.Derived{Name: "pay_to_bill", Op: "ratio", Inputs: []string{"pay_sum", "bill_sum"}},
		features.Derived{Name: "n_paid", Op: "count_positive", Inputs: payAmts},
		features.Derived{Name: "bill_growth", Op: "diff", Inputs: []string{"BILL_AMT1", "BILL_AMT6"}},
	)
}

// Training of binary models on WOE inputs. Pooled: mini-batch Adam.
// Federated: FedAvg of full-batch gradient descent, 10 local steps per
// round for 30 rounds. (Local Adam, whose state restarts every round,
// settles about 0.002 AUC short of the pooled optimum on the non-IID
// Taiwan split; plain gradient steps average to the pooled optimum.)
var (
	scorecardPooled = models.TrainConfig{Epochs: 20, BatchSize: 256, LearningRate: 0.005, L2: 1e-3}
	scorecardLocal  = models.TrainConfig{Epochs: 10, LearningRate: 1, Optimizer: models.SGD, L2: 1e-3}
)

const scorecardRounds = 30

func TestTaiwanScorecard(t *testing.T) {
	tab := realData(t, "taiwan_default/default_of_credit_card_clients.csv")
	const label = "default_payment_next_month"
	s := holdout(t, tab, label, 5, "EDUCATION")
	lab := binaryLabel(label, "")

	flat := binBoth(t, s, lab, features.BinningJob{Specs: specsOf(tab, "ID", label), Classes: 2,
		Pipeline: features.PipelineConfig{Crosses: features.CrossConfig{Segmenters: -1}}})
	rf := fitBinary(t, s, lab, flat, scorecardPooled, scorecardLocal, scorecardRounds)
	rf.log(t, "taiwan raw columns, no crosses")

	// The default: segment crosses of the strongest coarse characteristics
	// (the payment statuses) with every other one.
	raw := binBoth(t, s, lab, features.BinningJob{Specs: specsOf(tab, "ID", label), Classes: 2})
	r0 := fitBinary(t, s, lab, raw, scorecardPooled, scorecardLocal, scorecardRounds)
	r0.log(t, "taiwan raw columns")
	var segmenters []string
	for _, f := range raw.Features {
		if f.Cross != nil && !slices.Contains(segmenters, f.Cross.Segmenter) {
			segmenters = append(segmenters, f.Cross.Segmenter)
		}
	}
	t.Logf("segmenters %v, %d model inputs", segmenters, raw.NumColumns())
	if !slices.Equal(segmenters, []string{"PAY_0", "PAY_2", "PAY_3"}) {
		t.Errorf("segmenters %v, want the three strongest payment statuses", segmenters)
	}
	if r0.pooledM.AUC < 0.770 || r0.fedM.AUC < 0.770 || r0.fedM.AUC < rf.fedM.AUC+0.005 {
		t.Errorf("Taiwan scorecard with crosses: AUC pooled %.4f federated %.4f (without crosses %.4f), want >= 0.770", r0.pooledM.AUC, r0.fedM.AUC, rf.fedM.AUC)
	}

	derived := taiwanDerived()
	specs := specsOf(tab, "ID", label)
	for _, d := range derived {
		specs = append(specs, features.FeatureSpec{Name: d.Name})
	}
	p := binBoth(t, s, lab, features.BinningJob{Specs: specs, Classes: 2,
		Bins: features.BinConfig{MinBinShare: 0.002}, Pipeline: features.PipelineConfig{Derived: derived}})
	r := fitBinary(t, s, lab, p, scorecardPooled, scorecardLocal, scorecardRounds)
	r.log(t, "taiwan with derived")
	if r.pooledM.AUC < 0.770 || r.fedM.AUC < 0.770 {
		t.Errorf("Taiwan scorecard AUC pooled %.4f federated %.4f, want >= 0.770", r.pooledM.AUC, r.fedM.AUC)
	}

	sc, err := models.NewScorecard(p, r.fed, models.ScorecardConfig{})
	if err != nil {
		t.Fatal(err)
	}
	scored, err := sc.Score(s.test, 3)
	if err != nil {
		t.Fatal(err)
	}
	fedProbs := r.fed.Predict(r.Xte, nil)
	for i := range scored {
		if d := scored[i].PD - fedProbs[i]; d > 1e-9 || d < -1e-9 {
			t.Fatalf("row %d: scorecard PD %v, model %v", i, scored[i].PD, fedProbs[i])
		}
	}
	t.Logf("first test applicant: score %.1f, PD %.4f, reasons %+v", scored[0].Score, scored[0].PD, scored[0].Reasons)
	tiers := checkTiers(t, "taiwan", r.trainS, fedProbs, r.ytest, models.TierConfig{})
	fm := metricsRows(r.fedM, r.pooledM)
	writeReport(t, "taiwan-scorecard", report.Report{
		Title: "Taiwan default scorecard", Model: "scorecard", Dataset: "taiwan_default, 5 participants split by EDUCATION",
		MetricColumns: []string{"federated", "pooled"}, Metrics: fm, Rounds: r.rounds,
		Test: &r.fedS, Pipeline: p, Scorecard: sc, Tiers: tiers,
	})
}

func TestGermanScorecard(t *testing.T) {
	tab := realData(t, "german_credit/german_credit.csv")
	s := holdout(t, tab, "bad", 3, "iid")
	lab := binaryLabel("bad", "")
	// String columns (checking_status "A11", ...) are binned by category
	// with no encoding declared.
	p := binBoth(t, s, lab, features.BinningJob{Specs: specsOf(tab, "class", "bad"), Classes: 2})
	cats := 0
	for _, f := range p.Features {
		if f.Categorical {
			cats++
		}
	}
	pooledC := models.TrainConfig{Epochs: 200, BatchSize: 64, LearningRate: 0.005, L2: 1e-2}
	localC := models.TrainConfig{Epochs: 2, BatchSize: 64, LearningRate: 0.005, L2: 1e-2}
	r := fitBinary(t, s, lab, p, pooledC, localC, 100)
	r.log(t, fmt.Sprintf("german (%d categorical features)", cats))
	if cats != 13 {
		t.Errorf("%d categorical features, want the 13 String columns", cats)
	}
	if d := r.fedM.AUC - r.pooledM.AUC; d < -0.01 || d > 0.01 {
		t.Errorf("federated AUC %.4f vs pooled %.4f", r.fedM.AUC, r.pooledM.AUC)
	}
	if r.pooledM.AUC < 0.75 {
		t.Errorf("pooled AUC %.4f", r.pooledM.AUC)
	}
	sc, err := models.NewScorecard(p, r.fed, models.ScorecardConfig{})
	if err != nil {
		t.Fatal(err)
	}
	writeReport(t, "german-scorecard", report.Report{
		Title: "German credit scorecard", Model: "scorecard", Dataset: "german_credit, 3 participants iid",
		MetricColumns: []string{"federated", "pooled"}, Metrics: metricsRows(r.fedM, r.pooledM), Rounds: r.rounds,
		Test: &r.fedS, Pipeline: p, Scorecard: sc,
	})
}

func TestBankPropensityTiers(t *testing.T) {
	tab := realData(t, "bank_marketing/bank-full.csv")
	s := holdout(t, tab, "y", 4, "job")
	lab := binaryLabel("y", "yes")
	p := binBoth(t, s, lab, features.BinningJob{Specs: specsOf(tab, "duration", "y"), Classes: 2})
	r := fitBinary(t, s, lab, p, scorecardPooled, scorecardLocal, scorecardRounds)
	r.log(t, "bank propensity")
	if r.pooledM.AUC < 0.76 || r.fedM.AUC < 0.76 {
		t.Errorf("bank AUC pooled %.4f federated %.4f, want >= 0.76", r.pooledM.AUC, r.fedM.AUC)
	}
	tiers := checkTiers(t, "bank", r.trainS, r.fed.Predict(r.Xte, nil), r.ytest, models.TierConfig{HighFirst: true})
	writeReport(t, "bank-propensity", report.Report{
		Title: "Bank marketing propensity", Model: "logistic on WOE", Dataset: "bank-full without duration, 4 participants split by job",
		MetricColumns: []string{"federated", "pooled"}, Metrics: metricsRows(r.fedM, r.pooledM), Rounds: r.rounds,
		Test: &r.fedS, Pipeline: p, Tiers: tiers,
	})
}

func TestTaiwanSoftmaxTier(t *testing.T) {
	tab := realData(t, "taiwan_default/default_of_credit_card_clients.csv")
	// tier = 0 if PAY_0 <= 0, 1 if PAY_0 == 1, 2 if PAY_0 >= 2, as the
	// acceptance script derives it; PAY_0 and the default label are not
	// features.
	tier := &datasets.Column{Name: "tier", Kind: datasets.Int, Float: make([]float64, tab.Rows())}
	for i, v := range tab.Column("PAY_0").Float {
		switch {
		case v == 1:
			tier.Float[i] = 1
		case v >= 2:
			tier.Float[i] = 2
		}
	}
	tab.Columns = append(tab.Columns, tier)
	s := holdout(t, tab, "tier", 5, "EDUCATION")
	lab := func(tb *datasets.Table) []float64 {
		y, err := features.ClassLabels(tb.Column("tier"), 3)
		if err != nil {
			panic(err)
		}
		return y
	}
	p := binBoth(t, s, lab, features.BinningJob{Specs: specsOf(tab, "ID", "PAY_0", "default_payment_next_month", "tier"), Classes: 3})
	X, Xte := transform(t, p, s.train), transform(t, p, s.test)
	y, yte := lab(s.train), lab(s.test)
	d := p.NumColumns()
	pooled := models.NewSoftmax(3, d)
	if _, err := pooled.Fit(X, y, models.TrainConfig{Epochs: 10, BatchSize: 256, LearningRate: 0.01}); err != nil {
		t.Fatal(err)
	}
	var Xs []*mat.Dense
	var ys [][]float64
	for _, part := range s.parts {
		Xs, ys = append(Xs, transform(t, p, part)), append(ys, lab(part))
	}
	params, losses := fedAvg(t, func() model { return models.NewSoftmax(3, d) }, Xs, ys, 10, models.TrainConfig{Epochs: 1, BatchSize: 256, LearningRate: 0.01})
	fed := models.NewSoftmax(3, d)
	if err := fed.SetParams(params); err != nil {
		t.Fatal(err)
	}
	eval3 := func(m *models.Softmax) (eval.Multiclass, eval.MulticlassSummary) {
		ms := eval.NewMulticlassSummary(3)
		if err := ms.AddAll(m.Predict(Xte, nil), yte); err != nil {
			t.Fatal(err)
		}
		mc, err := ms.Metrics()
		if err != nil {
			t.Fatal(err)
		}
		return mc, ms
	}
	pm, _ := eval3(pooled)
	fm, fs := eval3(fed)
	t.Logf("taiwan tier softmax pooled:    macro-F1 %.4f  log loss %.4f  accuracy %.4f  recall %.3f", pm.MacroF1, pm.LogLoss, pm.Accuracy, pm.Recall)
	t.Logf("taiwan tier softmax federated: macro-F1 %.4f  log loss %.4f  accuracy %.4f  recall %.3f", fm.MacroF1, fm.LogLoss, fm.Accuracy, fm.Recall)
	for name, m := range map[string]eval.Multiclass{"pooled": pm, "federated": fm} {
		if m.MacroF1 < 0.70 || m.LogLoss > 0.35 {
			t.Errorf("%s softmax: macro-F1 %.4f (want >= 0.70), log loss %.4f (want <= 0.35)", name, m.MacroF1, m.LogLoss)
		}
	}
	var rounds []report.Round
	for i, l := range losses {
		rounds = append(rounds, report.Round{Round: i + 1, TrainLoss: l, ValAUC: math.NaN(), ValLoss: math.NaN()})
	}
	writeReport(t, "taiwan-tier-softmax", report.Report{
		Title: "Taiwan repayment tier (softmax)", Model: "softmax on one-hot bins", Dataset: "taiwan_default, 5 participants split by EDUCATION",
		MetricColumns: []string{"federated", "pooled"},
		Metrics: []report.Metric{
			{Name: "accuracy", Values: []float64{fm.Accuracy, pm.Accuracy}},
			{Name: "macro-F1", Values: []float64{fm.MacroF1, pm.MacroF1}},
			{Name: "log loss", Values: []float64{fm.LogLoss, pm.LogLoss}},
		},
		Rounds: rounds, Pipeline: p, Multiclass: &fs, ClassNames: []string{"PAY_0 <= 0", "PAY_0 = 1", "PAY_0 >= 2"},
	})
}
