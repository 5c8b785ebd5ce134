package program

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
)

// scorecardPlan fits a scorecard pooled on synthetic customers, as a
// registry would hold it, and returns its scoring plan and the table.
func scorecardPlan(tb testing.TB, rows int) ([]byte, *datasets.Table) {
	tb.Helper()
	w, err := datasets.Synthesize(datasets.SynthConfig{Customers: rows, Seed: 3})
	if err != nil {
		tb.Fatal(err)
	}
	var specs []features.FeatureSpec
	for _, f := range []string{"age", "income", "utilization", "delinquencies_12m", "employment", "monthly_spend", "return_rate"} {
		specs = append(specs, features.FeatureSpec{Name: f})
	}
	y, err := features.BinaryLabels(w.Table.Column(datasets.SynthLabel), "")
	if err != nil {
		tb.Fatal(err)
	}
	pipe, _, err := features.FitBinning([]*datasets.Table{w.Table}, [][]float64{y}, features.BinningJob{Specs: specs, Classes: 2})
	if err != nil {
		tb.Fatal(err)
	}
	x, err := pipe.Transform(w.Table)
	if err != nil {
		tb.Fatal(err)
	}
	lr := models.NewLogistic(x.RawMatrix().Cols)
	if _, err := lr.Fit(x, y, models.TrainConfig{Epochs: 3, BatchSize: 256}); err != nil {
		tb.Fatal(err)
	}
	sc, err := models.NewScorecard(pipe, lr, models.ScorecardConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	scJSON, _ := json.Marshal(sc)
	plan, err := NewScorePlan("job-x", &fedscorepb.RegisteredModel{Version: "v7", JobId: "job-train",
		Model: &fedscorepb.Model{Kind: ModelScorecard, Scorecard: scJSON, Rounds: 4}}, 3)
	if err != nil {
		tb.Fatal(err)
	}
	return plan, w.Table
}

func TestScorerScorecard(t *testing.T) {
	plan, tab := scorecardPlan(t, 5000)
	s, err := NewScorer(plan)
	if err != nil {
		t.Fatal(err)
	}
	if s.Plan.Version != "v7" || s.Plan.JobID != "job-train" || s.Plan.Round != 4 || s.Plan.Batch != "job-x" {
		t.Fatalf("lineage %+v", s.Plan)
	}
	out, err := s.Score(tab, "wallet.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != tab.Rows() {
		t.Fatalf("%d scores for %d rows", len(out), tab.Rows())
	}
	for i, o := range out[:200] {
		if !(o.PD > 0 && o.PD < 1) || len(o.Reasons) > 3 {
			t.Fatalf("row %d: %+v", i, o)
		}
		// Higher points mean lower risk.
		if i > 0 && (o.Points-out[0].Points)*(o.PD-out[0].PD) > 1e-9 {
			t.Fatalf("points and PD move together: %+v vs %+v", o, out[0])
		}
	}
	// The batch path agrees with the scorecard's own row-by-row scoring.
	want, err := s.card.Score(tab, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(want[i].Score-out[i].Points) > 1e-9 || math.Abs(want[i].PD-out[i].PD) > 1e-12 || len(want[i].Reasons) != len(out[i].Reasons) {
			t.Fatalf("row %d: batch %+v, scorecard %+v", i, out[i], want[i])
		}
		for j, r := range want[i].Reasons {
			if r.Feature != out[i].Reasons[j] {
				t.Fatalf("row %d reason %d: batch %q, scorecard %q", i, j, out[i].Reasons[j], r.Feature)
			}
		}
	}
	// A table without the features is refused with the file named.
	if _, err := s.Score(&datasets.Table{Columns: []*datasets.Column{{Name: "x", Kind: datasets.Float, Float: []float64{1}}}}, "other.parquet"); err == nil {
		t.Fatal("scored a table without the model's features")
	}
}

// BenchmarkScoreScorecard measures batch scoring at a participant: rows
// per second for a logistic scorecard with reason codes.
func BenchmarkScoreScorecard(b *testing.B) {
	plan, tab := scorecardPlan(b, 1_000_000)
	s, err := NewScorer(plan)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := s.Score(tab, "wallet.parquet"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tab.Rows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
