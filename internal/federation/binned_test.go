package federation

import (
	"context"
	"math"
	"testing"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
)

// A scorecard trained federated, with secure aggregation, binning a text
// column (employment) and numeric ones from summed counts, lands within
// 0.01 AUC of the same scorecard trained on the pooled rows, and its tiers
// have monotone bad rates on held-out rows.
func TestScorecardMatchesPooled(t *testing.T) {
	res, err := Experiment{
		Table: synthetic(t, 20000, 12), Source: "synthetic", Label: datasets.SynthLabel, ID: datasets.SynthID,
		Split: "iid", Participants: 3, Holdout: 0.2, Seed: 12,
		Spec: &fedscorepb.JobSpec{Model: "scorecard", Rounds: 15},
	}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scorecard federated %.4f pooled %.4f, tiers %+v", res.Federated.AUC, res.Pooled.AUC, res.Federated.Tiers)
	if d := math.Abs(res.Federated.AUC - res.Pooled.AUC); d > 0.01 {
		t.Fatalf("federated %.4f vs pooled %.4f", res.Federated.AUC, res.Pooled.AUC)
	}
	if res.Federated.IV["employment"] <= 0 {
		t.Fatalf("employment (text) has IV %v: it was not binned", res.Federated.IV["employment"])
	}
	if len(res.Federated.Tiers) < 3 {
		t.Fatalf("tiers %+v", res.Federated.Tiers)
	}
	for i := 1; i < len(res.Federated.Tiers); i++ {
		// Credit risk: tier A is the safest, so bad rates rise through the tiers.
		if res.Federated.Tiers[i].Rate < res.Federated.Tiers[i-1].Rate {
			t.Fatalf("bad rates not monotone across tiers: %+v", res.Federated.Tiers)
		}
	}
}

// Softmax tiering trained as one federated model: a three-class label made
// from the true default probability.
func TestSoftmaxMatchesPooled(t *testing.T) {
	w, err := datasets.Synthesize(datasets.SynthConfig{Customers: 12000, Seed: 13})
	if err != nil {
		t.Fatal(err)
	}
	tier := &datasets.Column{Name: "tier", Kind: datasets.Int, Float: make([]float64, len(w.TruePD))}
	for i, p := range w.TruePD {
		switch {
		case p < 0.05:
			tier.Float[i] = 0
		case p < 0.15:
			tier.Float[i] = 1
		default:
			tier.Float[i] = 2
		}
	}
	tab := &datasets.Table{}
	for _, c := range w.Table.Columns {
		if c.Name != datasets.SynthLabel {
			tab.Columns = append(tab.Columns, c)
		}
	}
	tab.Columns = append(tab.Columns, tier)
	res, err := Experiment{
		Table: tab, Source: "synthetic", Label: "tier", ID: datasets.SynthID,
		Split: "iid", Participants: 3, Holdout: 0.2, Seed: 13,
		Spec: &fedscorepb.JobSpec{Model: "softmax", Rounds: 10},
	}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("softmax federated %+v pooled %+v", res.Federated, res.Pooled)
	if res.Federated.MacroF1 < 0.4 || math.Abs(res.Federated.MacroF1-res.Pooled.MacroF1) > 0.02 {
		t.Fatalf("macro-F1 federated %.4f pooled %.4f", res.Federated.MacroF1, res.Pooled.MacroF1)
	}
	if math.Abs(res.Federated.LogLoss-res.Pooled.LogLoss) > 0.01 {
		t.Fatalf("log loss federated %.4f pooled %.4f", res.Federated.LogLoss, res.Pooled.LogLoss)
	}
}
