package program

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"google.golang.org/protobuf/proto"
)

// driveBinned runs a binned program with the given participants, gathering
// or summing their contributions the way the machine does. When restart
// names a collection kind, the program is rebuilt from its state as that
// collection goes out, as a coordinator restarting would. It returns the
// program and the kinds of the collections in order.
func driveBinned(t *testing.T, spec *fedscorepb.JobSpec, parts []Participant, restart string) (*Binned, []string) {
	t.Helper()
	p, err := NewBinned(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for step := 0; ; step++ {
		if step > 200 {
			t.Fatal("program does not end")
		}
		kinds = append(kinds, c.Kind)
		if c.Kind == restart {
			state, err := p.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			if p, err = NewBinned(spec, state); err != nil {
				t.Fatal(err)
			}
			restart = ""
		}
		task := round.Collection{Kind: c.Kind, Round: c.Round, Params: c.Params, Plan: c.Plan, Gather: c.Gather}
		var o round.Outcome
		if c.Gather {
			for _, part := range parts {
				b, err := part.(Gatherer).Gather(task)
				if err != nil {
					t.Fatal(err)
				}
				o.Gathered = append(o.Gathered, b)
			}
			slices.SortFunc(o.Gathered, bytes.Compare)
		} else {
			o.Sum = make([]float64, c.Len())
			for _, part := range parts {
				segs, err := part.(PlannedSegments).SegmentsFor(task)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(segs, c.Segments) {
					t.Fatalf("%s: participant's layout %v, coordinator's %v", c.Kind, segs, c.Segments)
				}
				v, err := part.Contribute(task)
				if err != nil {
					t.Fatal(err)
				}
				if len(v) != c.Len() {
					t.Fatalf("%s: participant sent %d values, layout says %d", c.Kind, len(v), c.Len())
				}
				for i, x := range v {
					o.Sum[i] += x
				}
			}
		}
		o.Contributors = []string{"p"}
		next, err := p.Close(c, o)
		if err != nil {
			t.Fatal(err)
		}
		if next == nil {
			return p, kinds
		}
		c = *next
	}
}

// A scorecard job crosses characteristics in one extra collection of
// summed counts: the crossed pipeline is the one fitted on the pooled
// training rows, survives a coordinator restart mid-crossing, and the
// registered scorecard scores at a participant with reason codes that name
// characteristics.
func TestBinnedCrossesMatchPooled(t *testing.T) {
	spec, err := NormalizeSpec(&fedscorepb.JobSpec{
		Model: ModelScorecard, Label: datasets.SynthLabel, IdColumn: datasets.SynthID, Rounds: 3,
		Features: []string{"age", "income", "utilization", "delinquencies_12m", "employment", "monthly_spend"},
	})
	if err != nil {
		t.Fatal(err)
	}
	table := wallet(t, 15000, 8)
	parts, err := datasets.SplitIID(table, 3, datasets.SynthLabel, 8)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []Participant
	var pooled *datasets.Table
	for i, part := range parts {
		id := []string{"a", "b", "c"}[i]
		n, err := NewParticipant(id, "part.parquet", part, spec)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		train, _, err := LocalSplit(spec, id, part)
		if err != nil {
			t.Fatal(err)
		}
		if pooled, err = datasets.Concat(pooled, train); err != nil {
			t.Fatal(err)
		}
	}
	p, kinds := driveBinned(t, spec, nodes, KindCross)
	if i := slices.Index(kinds, KindCross); i < 0 || kinds[i-1] != KindCount || kinds[i+1] != KindTrain || slices.Contains(kinds[i+1:], KindCross) {
		t.Fatalf("collections %v: want one cross collection between counting and training", kinds)
	}

	job, err := newBinnedJob(spec)
	if err != nil {
		t.Fatal(err)
	}
	y, err := Labels(spec, pooled, "pooled")
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := features.FitBinning([]*datasets.Table{pooled}, [][]float64{y}, job.job)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(p.st.Pipeline)
	b, _ := json.Marshal(want)
	if !bytes.Equal(a, b) {
		t.Fatal("federated crossed pipeline differs from the pooled one")
	}
	crosses := 0
	for _, f := range p.st.Pipeline.Features {
		if f.Cross != nil {
			crosses++
		}
	}
	if crosses == 0 {
		t.Fatal("no cross characteristics: the synthetic wallet should give delinquency segments")
	}

	// The registered model scores at a participant.
	m := p.Model("job-1")
	if len(m.GetScorecard()) == 0 || len(m.GetWeights()) != p.st.Pipeline.NumColumns() {
		t.Fatalf("model without a scorecard, or %d weights for %d columns", len(m.GetWeights()), p.st.Pipeline.NumColumns())
	}
	plan, err := NewScorePlan("job-2", &fedscorepb.RegisteredModel{Version: "v1", JobId: "job-1", Model: m}, 3)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(plan)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Score(parts[0], "a.parquet")
	if err != nil {
		t.Fatal(err)
	}
	reasons := 0
	for i, o := range out {
		if !(o.PD > 0 && o.PD < 1) {
			t.Fatalf("row %d: %+v", i, o)
		}
		for _, r := range o.Reasons {
			if strings.Contains(r, " | ") || !slices.Contains(spec.Features, r) {
				t.Fatalf("row %d: reason %q is not a characteristic", i, r)
			}
			reasons++
		}
	}
	if reasons == 0 {
		t.Error("no reason codes")
	}
	// Turned off in the job's pipeline config, no cross collection runs.
	off := proto.Clone(spec).(*fedscorepb.JobSpec)
	off.PipelineConfig, _ = json.Marshal(features.PipelineConfig{Crosses: features.CrossConfig{Segmenters: -1}})
	var offNodes []Participant
	for i, part := range parts {
		n, err := NewParticipant([]string{"a", "b", "c"}[i], "part.parquet", part, off)
		if err != nil {
			t.Fatal(err)
		}
		offNodes = append(offNodes, n)
	}
	q, kinds := driveBinned(t, off, offNodes, "")
	if slices.Contains(kinds, KindCross) || q.st.Pipeline.NumColumns() != len(spec.Features) {
		t.Errorf("crosses off: collections %v, %d columns", kinds, q.st.Pipeline.NumColumns())
	}
}
