package report

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/models/eval"
	"gonum.org/v1/gonum/mat"
)

// fullReport fits a small scorecard on synthetic applicants and fills
// every part of a Report, with a few NaNs where a real job may have them.
func fullReport(t *testing.T) Report {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	n := 3000
	income, flat := make([]float64, n), make([]float64, n)
	region := make([]string, n)
	y := make([]float64, n)
	for i := range n {
		income[i] = math.Round(math.Exp(10 + 0.6*rng.NormFloat64()))
		flat[i] = 1 // a constant feature
		region[i] = []string{"north", "south", "east", "<west & co>"}[rng.IntN(4)]
		z := -1.2 - 0.9*(math.Log(income[i])-10)
		if region[i] == "south" {
			z += 0.7
		}
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y[i] = 1
		}
	}
	tab := &datasets.Table{Columns: []*datasets.Column{
		{Name: "income", Kind: datasets.Int, Float: income},
		{Name: "flat", Kind: datasets.Float, Float: flat},
		{Name: "region", Kind: datasets.String, String: region},
	}}
	p, _, err := features.FitBinning([]*datasets.Table{tab}, [][]float64{y}, features.BinningJob{
		Specs: []features.FeatureSpec{{Name: "income"}, {Name: "flat"}, {Name: "region"}}, Classes: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	X, err := p.Transform(tab)
	if err != nil {
		t.Fatal(err)
	}
	m := models.NewLogistic(p.NumColumns())
	if _, err := m.Fit(X, y, models.TrainConfig{Epochs: 10, BatchSize: 100}); err != nil {
		t.Fatal(err)
	}
	sc, err := models.NewScorecard(p, m, models.ScorecardConfig{})
	if err != nil {
		t.Fatal(err)
	}
	probs := m.Predict(X, nil)
	test := eval.NewBinarySummary(eval.DefaultBins)
	if err := test.AddAll(probs, y); err != nil {
		t.Fatal(err)
	}
	tiers, err := models.FitTiers(test.Hist, models.TierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mc := eval.NewMulticlassSummary(3)
	P := mat.NewDense(4, 3, []float64{0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.2, 0.2, 0.6, 0.5, 0.4, 0.1})
	if err := mc.AddAll(P, []float64{0, 1, 2, 1}); err != nil {
		t.Fatal(err)
	}
	met, _ := test.Metrics()
	return Report{
		Title: "Test scorecard", JobID: "job-1", Model: "scorecard", Dataset: "synthetic", Generated: "today",
		Notes:         []string{"A note with <html> in it."},
		MetricColumns: []string{"federated", "pooled"},
		Metrics: []Metric{
			{Name: "AUC", Values: []float64{met.AUC, met.AUC}},
			{Name: "KS", Values: []float64{met.KS, math.NaN()}},
			{Name: "Gini", Values: []float64{met.Gini}}, // a missing value
		},
		Rounds: []Round{
			{Round: 1, TrainLoss: 0.6, ValAUC: math.NaN(), ValLoss: 0.61},
			{Round: 2, TrainLoss: 0.5, ValAUC: 0.7, ValLoss: math.Inf(1)},
			{Round: 3, TrainLoss: 0.45, ValAUC: 0.72, ValLoss: 0.47},
		},
		Test: &test, Pipeline: p, Scorecard: sc, Tiers: tiers,
		Multiclass: &mc, ClassNames: []string{"current", "1 month late", "2+ late"},
	}
}

func readPage(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteFullReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := fullReport(t)
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	html := readPage(t, dir)
	for _, s := range Sections {
		if !strings.Contains(html, ">"+s+"</h2>") {
			t.Errorf("section %q missing", s)
		}
	}
	for _, f := range []string{ROCFile, KSFile, ScoresFile, CalibrationFile, TrainingLossFile, TrainingAUCFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG")) || len(b) < 5000 {
			t.Errorf("%s is not a PNG chart (%d bytes)", f, len(b))
		}
		if !strings.Contains(html, `src="`+f+`"`) {
			t.Errorf("page does not show %s", f)
		}
	}
	for _, want := range []string{"income", "region", "flat", "IV ", "(missing)", "(other)", "600 points", "current", "macro-F1", "n/a", "&lt;west &amp; co&gt;", "&lt;html&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"NaN", "Inf", "<html> in"} {
		if strings.Contains(html, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// Writing again into the same directory replaces the report.
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
}

func TestWriteEmptyReport(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, Report{}); err != nil {
		t.Fatal(err)
	}
	html := readPage(t, dir)
	for _, s := range Sections {
		if !strings.Contains(html, ">"+s+"</h2>") {
			t.Errorf("section %q missing", s)
		}
	}
	if strings.Count(html, "Not available") < 8 || strings.Contains(html, "NaN") {
		t.Errorf("empty report:\n%s", html)
	}
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".png") {
			t.Errorf("empty report drew %s", f.Name())
		}
	}
	// A one-class test summary: no ROC, no NaN, no crash.
	one := eval.NewBinarySummary(eval.DefaultBins)
	_ = one.AddAll([]float64{0.2, 0.3, 0.9}, []float64{0, 0, 0})
	if err := Write(dir, Report{Test: &one, Rounds: []Round{{Round: 1, TrainLoss: math.NaN(), ValAUC: math.NaN(), ValLoss: math.NaN()}}}); err != nil {
		t.Fatal(err)
	}
	if html := readPage(t, dir); strings.Contains(html, "NaN") {
		t.Error("one-class report shows NaN")
	}
	if err := Write("", Report{}); err == nil {
		t.Error("empty directory accepted")
	}
}

// TestWriteCrossReport writes the report of a scorecard with cross
// characteristics: one table per characteristic and segmenter, bins down,
// segments across, with the points; the plain tables leave them out.
func TestWriteCrossReport(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 12000
	status, balance, y := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		status[i] = float64(rng.IntN(3))
		balance[i] = math.Round(math.Exp(8 + rng.NormFloat64()))
		z := []float64{-2, -1.2, -0.2}[int(status[i])] + []float64{-0.6, 0, 0.7}[int(status[i])]*(math.Log(balance[i])-8)
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y[i] = 1
		}
	}
	tab := &datasets.Table{Columns: []*datasets.Column{
		{Name: "status", Kind: datasets.Int, Float: status},
		{Name: "balance", Kind: datasets.Int, Float: balance},
	}}
	p, _, err := features.FitBinning([]*datasets.Table{tab}, [][]float64{y}, features.BinningJob{
		Specs: []features.FeatureSpec{{Name: "status"}, {Name: "balance"}}, Classes: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	X, _ := p.Transform(tab)
	m := models.NewLogistic(p.NumColumns())
	if _, err := m.Fit(X, y, models.TrainConfig{Epochs: 5, BatchSize: 100}); err != nil {
		t.Fatal(err)
	}
	sc, err := models.NewScorecard(p, m, models.ScorecardConfig{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Write(dir, Report{Pipeline: p, Scorecard: sc}); err != nil {
		t.Fatal(err)
	}
	html := readPage(t, dir)
	for _, want := range []string{"<h3>balance by status</h3>", "status: &lt;= 0 (", "status: &gt;= 2 (", "weight ", "outside "} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(html, "<h3>balance | status") || strings.Contains(html, "NaN") {
		t.Error("cross characteristics listed as plain features, or NaN")
	}
	// The points are found when the scorecard and the pipeline are decoded
	// separately from a model, as fedscore report does.
	pj, _ := json.Marshal(p)
	sj, _ := json.Marshal(sc)
	p2, err := features.ParsePipeline(pj)
	if err != nil {
		t.Fatal(err)
	}
	var sc2 models.Scorecard
	if err := json.Unmarshal(sj, &sc2); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, Report{Pipeline: p2, Scorecard: &sc2}); err != nil {
		t.Fatal(err)
	}
	if again := readPage(t, dir); again != html {
		t.Error("decoded pipeline and scorecard give another page")
	}
	// Without the scorecard the cross tables show the binning, points n/a.
	if err := Write(dir, Report{Pipeline: p}); err != nil {
		t.Fatal(err)
	}
	if html := readPage(t, dir); !strings.Contains(html, "<h3>balance by status</h3>") || strings.Contains(html, "NaN") {
		t.Error("cross tables without a scorecard")
	}
}
