// Package program holds the job programs: for each model family, what the
// participants compute in each collection and what the coordinator does
// with the sum. Both sides live here, next to each other, so that what
// leaves a participant can be read in one place: for every collection it is
// a vector of counts and sums whose only use at the coordinator is to be
// added to the other participants' vectors.
package program

import (
	"errors"
	"fmt"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/datasets"
)

// Collection kinds.
const (
	KindScale = "scale" // magnitude of each feature, so masked sums keep precision
	KindStats = "stats" // counts, sums and sums of squares: the standardisation
	KindTrain = "train" // evaluate the global model, then train from it
	KindEval  = "eval"  // evaluate the final model
)

// ErrUnknownKind means a task names a collection this program lacks.
var ErrUnknownKind = errors.New("program: unknown collection kind")

// Default fixed-point encoding of real segments when masked: clip at 2^32
// with 20 fractional bits, so 2^11 participants' words cannot wrap 2^63.
const (
	defaultClip     = 1 << 32
	defaultFracBits = 20
)

func real(name string, n int) round.Segment {
	return round.Segment{Name: name, Len: n, Clip: defaultClip, FracBits: defaultFracBits}
}

func count(name string, n int) round.Segment {
	return round.Segment{Name: name, Len: n, Count: true}
}

// New returns the coordinator-side program for a job, restored from state
// when state is not nil.
func New(spec *fedscorepb.JobSpec, state []byte) (round.Program, error) {
	switch spec.GetModel() {
	case "", "logistic":
		return NewLogistic(spec, state)
	case ModelBenchSum:
		return newBenchSum(spec, state)
	case ModelScorecard, ModelSoftmax:
		return NewBinned(spec, state)
	}
	return nil, fmt.Errorf("program: model %q is not supported", spec.GetModel())
}

// Participant is one node's side of every program: it holds the node's
// table and answers collections from it.
type Participant interface {
	// Segments is the layout of a contribution of the given kind, as this
	// node's own copy of the program defines it.
	Segments(kind string) ([]round.Segment, error)
	Contribute(c round.Collection) ([]float64, error)
}

// PlannedSegments is a Participant whose layouts depend on the task's
// plan (the candidate bins, the fitted pipeline).
type PlannedSegments interface {
	SegmentsFor(c round.Collection) ([]round.Segment, error)
}

// Gatherer is a Participant with collections of metadata that are
// gathered, not summed.
type Gatherer interface {
	Gather(c round.Collection) ([]byte, error)
}

// NewParticipant prepares a node's data for a job.
func NewParticipant(id, source string, t *datasets.Table, spec *fedscorepb.JobSpec) (Participant, error) {
	switch spec.GetModel() {
	case "", "logistic":
		return newLogisticParticipant(id, source, t, spec)
	case ModelBenchSum:
		return newBenchParticipant(id, t, spec)
	case ModelScorecard, ModelSoftmax:
		return newBinnedParticipant(id, source, t, spec)
	}
	return nil, fmt.Errorf("program: model %q is not supported", spec.GetModel())
}
