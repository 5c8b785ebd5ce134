package round

import "fmt"

// Program is the meaning of a job: which vectors to collect from the
// participants, in what order, and what to do with each sum. The machine
// handles who takes part, quorum, timeouts, retries and (later) masking; a
// Program never sees a single participant's contribution, only the sum over
// the cohort, so every program is compatible with secure aggregation.
type Program interface {
	// Start returns the first collection.
	Start() (Collection, error)
	// Close consumes the outcome of collection c and returns the next
	// collection, or nil when the job is complete.
	Close(c Collection, o Outcome) (*Collection, error)
	// History is the per-round record so far.
	History() []Record
	// MarshalState returns the program's durable state; the coordinator
	// rebuilds the program from it after a restart.
	MarshalState() ([]byte, error)
}

// Collection is one request to every cohort member for a contribution.
type Collection struct {
	// Kind names what participants compute ("stats", "train", "eval"...).
	Kind  string
	Round int
	// Params are the global model parameters participants start from.
	Params []float64
	// Plan is program-specific instruction (JSON), e.g. the fitted
	// standardisation or candidate bin edges.
	Plan []byte
	// Segments lay out the contribution; their lengths sum to its length.
	Segments []Segment
	// Gather marks a collection of metadata that cannot be summed (the
	// category names each participant holds, say): every participant
	// answers with bytes, in clear even in a secure job, and the program
	// gets them all. Programs use it only for what the README's security
	// model lists as revealed.
	Gather bool
}

// Len is the length of a contribution to c.
func (c Collection) Len() int {
	n := 0
	for _, s := range c.Segments {
		n += s.Len
	}
	return n
}

// Segment is a run of a contribution's coordinates with one encoding.
type Segment struct {
	Name string
	Len  int
	// Count marks non-negative integer counts, summed exactly; other
	// segments are reals, encoded when masked as fixed-point numbers with
	// FracBits fractional bits, clipped to [-Clip, Clip].
	Count    bool
	Clip     float64
	FracBits uint
}

// Split cuts a contribution into its segments.
func (c Collection) Split(v []float64) ([][]float64, error) {
	if len(v) != c.Len() {
		return nil, fmt.Errorf("%w: %s contribution has %d values, want %d", ErrBadContribution, c.Kind, len(v), c.Len())
	}
	out := make([][]float64, len(c.Segments))
	off := 0
	for i, s := range c.Segments {
		out[i] = v[off : off+s.Len]
		off += s.Len
	}
	return out, nil
}

// Outcome is what a closed collection yields.
type Outcome struct {
	// Sum is the sum of the contributors' vectors.
	Sum []float64
	// Contributors and Dropped partition the cohort.
	Contributors, Dropped []string
	// Gathered holds a Gather collection's answers, sorted by content so
	// that their order says nothing about who sent which.
	Gathered [][]byte
}

// Record is the outcome of one training round, as the API reports it.
type Record struct {
	Round        int
	Participants []string
	Dropped      []string
	Examples     float64
	TrainLoss    float64
	// Validation is of the global model this round produced; nil until the
	// next collection has measured it.
	Validation *Metrics
}

// Metrics summarise a model on validation rows.
type Metrics struct {
	AUC, KS, LogLoss    float64
	Examples, Positives float64
	Gini, Brier         float64
	Accuracy, MacroF1   float64 // multi-class models
}
