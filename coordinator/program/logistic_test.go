package program

import (
	"math"
	"slices"
	"testing"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
)

func testSpec(t *testing.T, rounds uint32) *fedscorepb.JobSpec {
	t.Helper()
	spec, err := NormalizeSpec(&fedscorepb.JobSpec{
		Label: datasets.SynthLabel, IdColumn: datasets.SynthID, Rounds: rounds,
		Features: []string{"age", "income", "utilization", "delinquencies_12m", "monthly_spend"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func wallet(t *testing.T, n int, seed int64) *datasets.Table {
	t.Helper()
	w, err := datasets.Synthesize(datasets.SynthConfig{Customers: n, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return w.Table
}

// drive runs the program with the given participants, summing their
// contributions the way the machine does, and returns the program.
func drive(t *testing.T, spec *fedscorepb.JobSpec, parts []Participant) *Logistic {
	t.Helper()
	p, err := NewLogistic(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; ; step++ {
		if step > 100 {
			t.Fatal("program does not end")
		}
		sum := make([]float64, c.Len())
		for _, part := range parts {
			v, err := part.Contribute(round.Collection{Kind: c.Kind, Round: c.Round, Params: c.Params, Plan: c.Plan})
			if err != nil {
				t.Fatal(err)
			}
			if len(v) != c.Len() {
				t.Fatalf("%s: participant sent %d values, layout says %d", c.Kind, len(v), c.Len())
			}
			for i, x := range v {
				sum[i] += x
			}
		}
		next, err := p.Close(c, round.Outcome{Sum: sum, Contributors: []string{"p"}})
		if err != nil {
			t.Fatal(err)
		}
		if next == nil {
			return p
		}
		c = *next
	}
}

// The standardisation fitted from summed, scaled statistics equals the one
// fitted on the pooled rows.
func TestFederatedStandardisationMatchesPooled(t *testing.T) {
	spec := testSpec(t, 1)
	table := wallet(t, 6000, 4)
	parts, err := datasets.SplitIID(table, 3, datasets.SynthLabel, 4)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []Participant
	var trainRows []*datasets.Table
	for i, part := range parts {
		id := []string{"a", "b", "c"}[i]
		n, err := NewParticipant(id, "part.parquet", part, spec)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		train, _, _ := datasets.StratifiedHoldout(part, spec.Label, spec.ValidationFraction, int64(participantSeed(spec, id)))
		trainRows = append(trainRows, train)
	}
	p := drive(t, spec, nodes)

	var pooled *datasets.Table
	for _, tr := range trainRows {
		pooled, _ = datasets.Concat(pooled, tr)
	}
	f, err := datasets.Schema{Label: spec.Label, Features: spec.Features}.Frame(pooled, "pooled")
	if err != nil {
		t.Fatal(err)
	}
	mo := features.NewMoments(len(spec.Features))
	mo.AddMatrix(f.X)
	want, err := mo.Standardizer()
	if err != nil {
		t.Fatal(err)
	}
	got := p.Scaler()
	for j := range want.Mean {
		if math.Abs(got.Mean[j]-want.Mean[j]) > 1e-9*math.Max(1, math.Abs(want.Mean[j])) ||
			math.Abs(got.Std[j]-want.Std[j]) > 1e-9*math.Max(1, want.Std[j]) {
			t.Fatalf("feature %s: federated mean/std %v/%v, pooled %v/%v", spec.Features[j], got.Mean[j], got.Std[j], want.Mean[j], want.Std[j])
		}
	}
	hist := p.History()
	if len(hist) != 1 || hist[0].Validation == nil || hist[0].Validation.AUC < 0.6 {
		t.Fatalf("history %+v lacks a sensible validation", hist)
	}
}

// FedAvg on the summed contributions is the example-weighted mean of the
// participants' parameters; validation measured in round r+1 belongs to
// round r's model.
func TestLogisticCloseArithmetic(t *testing.T) {
	spec := testSpec(t, 2)
	p, err := NewLogistic(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := len(spec.Features)
	p.st.Scaler = &features.Standardizer{Mean: make([]float64, d), Std: slices.Repeat([]float64{1}, d)}
	train := func(rnd int, weighted []float64, weight float64, valAUCPositiveBin bool) round.Outcome {
		c, _ := p.collection(KindTrain, rnd, logisticPlan{})
		v := make([]float64, c.Len())
		seg, _ := c.Split(v)
		copy(seg[0], weighted)
		seg[1][0], seg[2][0], seg[3][0] = weight, weight, 0.5*weight
		if valAUCPositiveBin {
			seg[4][len(seg[4])/2-1] = 10 // positives in the top bin
			seg[4][len(seg[4])/2] = 10   // negatives in the bottom bin
			seg[5][0], seg[6][0] = 2, 20
		}
		return round.Outcome{Sum: v}
	}
	// Two participants: θ=1 everywhere with 300 rows, θ=3 with 100 rows.
	w := make([]float64, d+1)
	for i := range w {
		w[i] = 300*1 + 100*3
	}
	c1, _ := p.collection(KindTrain, 1, logisticPlan{})
	next, err := p.Close(c1, train(1, w, 400, false))
	if err != nil || next.Kind != KindTrain || next.Round != 2 {
		t.Fatalf("after round 1: %+v, %v", next, err)
	}
	for i, x := range p.Params() {
		if math.Abs(x-1.5) > 1e-12 {
			t.Fatalf("param %d = %v, want 1.5", i, x)
		}
	}
	if p.History()[0].TrainLoss != 0.5 || p.History()[0].Validation != nil {
		t.Fatalf("round 1 record %+v", p.History()[0])
	}
	next, err = p.Close(*next, train(2, w, 400, true))
	if err != nil || next.Kind != KindEval {
		t.Fatalf("after round 2: %+v, %v", next, err)
	}
	if v := p.History()[0].Validation; v == nil || v.AUC != 1 || v.LogLoss != 0.1 {
		t.Fatalf("round 1 validation %+v, want AUC 1 and log loss 0.1 from round 2's measurements", v)
	}
}

func TestParticipantRefusesBadPlans(t *testing.T) {
	spec := testSpec(t, 1)
	n, err := NewParticipant("a", "a.parquet", wallet(t, 500, 1), spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []round.Collection{
		{Kind: "nope"},
		{Kind: KindStats, Plan: []byte(`{"scales":[1]}`)},
		{Kind: KindTrain, Plan: []byte(`{}`)},
		{Kind: KindTrain, Plan: []byte(`not json`)},
	} {
		if _, err := n.Contribute(c); err == nil {
			t.Errorf("collection %+v accepted", c)
		}
	}
}

func TestScalesFromExponents(t *testing.T) {
	counts := make([]float64, 2*nExp)
	counts[0*nExp+(3-minExp)] = 1  // feature 0: some participant has |x| < 2^3
	counts[0*nExp+(10-minExp)] = 2 // ... and two have |x| < 2^10
	// feature 1: all zero columns report nothing above minExp
	got := scalesFromExponents(counts, 2)
	if got[0] != 1024 || got[1] != 1 {
		t.Fatalf("scales %v, want [1024 1]", got)
	}
}
