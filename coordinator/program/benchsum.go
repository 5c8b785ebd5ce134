package program

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/datasets"
)

// ModelBenchSum is a one-collection program that only sums synthetic
// vectors of length JobSpec.bench_dim: it measures aggregation, plain or
// secure, with nothing else in the way (fedscore bench secagg).
const ModelBenchSum = "bench-sum"

const kindSum = "sum"

// benchSum is the coordinator side of ModelBenchSum.
type benchSum struct {
	dim     int
	Sum     []float64      `json:"sum,omitempty"`
	Records []round.Record `json:"records,omitempty"`
}

func newBenchSum(spec *fedscorepb.JobSpec, state []byte) (*benchSum, error) {
	p := &benchSum{dim: int(spec.GetBenchDim())}
	if p.dim < 1 {
		return nil, fmt.Errorf("program: %s needs bench_dim >= 1", ModelBenchSum)
	}
	if state != nil {
		if err := json.Unmarshal(state, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func benchSegments(dim int) []round.Segment { return []round.Segment{real("values", dim)} }

func (p *benchSum) Start() (round.Collection, error) {
	return round.Collection{Kind: kindSum, Round: 1, Segments: benchSegments(p.dim)}, nil
}

func (p *benchSum) Close(c round.Collection, o round.Outcome) (*round.Collection, error) {
	p.Sum = o.Sum
	p.Records = append(p.Records, round.Record{Round: 1, Participants: o.Contributors, Dropped: o.Dropped})
	return nil, nil
}

func (p *benchSum) History() []round.Record        { return p.Records }
func (p *benchSum) MarshalState() ([]byte, error)  { return json.Marshal(p) }
func (p *benchSum) Result() []float64              { return p.Sum }
func (p *benchSum) Model(string) *fedscorepb.Model { return nil }

// benchParticipant contributes a vector drawn from a seed of its id.
type benchParticipant struct {
	id  string
	dim int
}

func newBenchParticipant(id string, _ *datasets.Table, spec *fedscorepb.JobSpec) (*benchParticipant, error) {
	if spec.GetBenchDim() < 1 {
		return nil, fmt.Errorf("program: %s needs bench_dim >= 1", ModelBenchSum)
	}
	return &benchParticipant{id: id, dim: int(spec.GetBenchDim())}, nil
}

func (p *benchParticipant) Segments(kind string) ([]round.Segment, error) {
	if kind != kindSum {
		return nil, fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	return benchSegments(p.dim), nil
}

// BenchVector is participant id's contribution to a bench-sum job.
func BenchVector(id string, dim int) []float64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0))
	v := make([]float64, dim)
	for i := range v {
		v[i] = 2*rng.Float64() - 1
	}
	return v
}

func (p *benchParticipant) Contribute(c round.Collection) ([]float64, error) {
	if c.Kind != kindSum {
		return nil, fmt.Errorf("%w %q", ErrUnknownKind, c.Kind)
	}
	return BenchVector(p.id, p.dim), nil
}
