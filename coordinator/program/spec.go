package program

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/strategy"
	"google.golang.org/protobuf/proto"
)

// ErrInvalidSpec means a submitted job spec cannot run.
var ErrInvalidSpec = errors.New("program: invalid job spec")

// Defaults applied to a job spec's unset fields.
const (
	DefaultRounds             = 10
	DefaultLocalEpochs        = 1
	DefaultBatchSize          = 64
	DefaultLearningRate       = 0.01
	DefaultL2                 = 1e-4
	DefaultValidationFraction = 0.2
	DefaultPhaseTimeout       = 2 * time.Minute
	DefaultMaxAttempts        = 3
)

// NormalizeSpec returns a copy of spec with defaults filled in, or an error
// listing every problem at once, so a user fixes the spec in one go.
func NormalizeSpec(in *fedscorepb.JobSpec) (*fedscorepb.JobSpec, error) {
	if in == nil {
		return nil, fmt.Errorf("%w: no spec", ErrInvalidSpec)
	}
	s := proto.Clone(in).(*fedscorepb.JobSpec)
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if s.Model == "" {
		s.Model = "logistic"
	}
	bench := s.Model == ModelBenchSum || s.Model == ModelScore
	binned := s.Model == ModelScorecard || s.Model == ModelSoftmax
	if binned {
		// FedAvg of a few full-batch gradient steps per round averages to
		// the pooled optimum on non-IID splits, where local Adam (whose
		// state restarts every round) settles short of it.
		if s.Optimizer == "" {
			s.Optimizer = "sgd"
		}
		if s.Optimizer == "sgd" {
			if s.LearningRate == 0 {
				s.LearningRate = 1
			}
			if s.LocalEpochs == 0 {
				s.LocalEpochs = 10
			}
		}
		if s.Rounds == 0 {
			s.Rounds = 30
		}
		if s.L2 == 0 {
			s.L2 = 1e-3
		}
		if s.Model == ModelSoftmax && s.Classes < 2 {
			bad("softmax needs classes >= 2")
		}
	}
	switch {
	case s.Model == "logistic", binned:
	case s.Model == ModelScore:
		if len(s.Participants) == 0 {
			bad("a scoring job lists the participants that score")
		}
		if s.Reasons == 0 {
			s.Reasons = 3
		}
		s.PlainAggregation = true // nothing is summed: results go to the score store
	case bench:
		if s.BenchDim == 0 {
			bad("%s needs bench_dim", ModelBenchSum)
		}
	default:
		bad("model %q is not supported (supported: logistic, scorecard, softmax)", s.Model)
	}
	if s.Label == "" && !bench {
		bad("label column is required")
	}
	if len(s.Features) == 0 && !bench {
		bad("at least one feature column is required")
	}
	seen := map[string]bool{}
	for _, f := range s.Features {
		switch {
		case f == "":
			bad("empty feature name")
		case seen[f]:
			bad("feature %q listed twice", f)
		case f == s.Label:
			bad("label %q is also listed as a feature", f)
		case f == s.IdColumn:
			bad("id column %q is also listed as a feature", f)
		}
		seen[f] = true
	}
	seenP := map[string]bool{}
	for _, p := range s.Participants {
		if p == "" || seenP[p] {
			bad("participant list has an empty or repeated id %q", p)
		}
		seenP[p] = true
	}
	if s.MinParticipants == 0 {
		least := 2 // a secure sum needs someone to hide among
		if s.PlainAggregation {
			least = 1
		}
		s.MinParticipants = uint32(max(least, len(s.Participants)))
	}
	if len(s.Participants) > 0 && int(s.MinParticipants) > len(s.Participants) {
		bad("min_participants %d exceeds the %d listed participants", s.MinParticipants, len(s.Participants))
	}
	if !s.PlainAggregation && s.MinParticipants < 2 {
		bad("secure aggregation needs min_participants >= 2, since a sum over one participant is that participant's update (set plain_aggregation to train alone)")
	}
	if s.Rounds == 0 {
		s.Rounds = DefaultRounds
	}
	if s.LocalEpochs == 0 {
		s.LocalEpochs = DefaultLocalEpochs
	}
	if s.BatchSize == 0 && !(binned && s.Optimizer == "sgd") {
		s.BatchSize = DefaultBatchSize
	}
	if s.LearningRate == 0 {
		s.LearningRate = DefaultLearningRate
	}
	if s.LearningRate < 0 || math.IsNaN(s.LearningRate) || math.IsInf(s.LearningRate, 0) {
		bad("learning_rate %v must be positive", s.LearningRate)
	}
	if s.L2 == 0 {
		s.L2 = DefaultL2
	}
	if s.L2 < 0 || math.IsNaN(s.L2) {
		bad("l2 %v must not be negative", s.L2)
	}
	switch s.Optimizer {
	case "":
		s.Optimizer = "adam"
	case "adam", "sgd":
	default:
		bad("optimizer %q is not supported (adam, sgd)", s.Optimizer)
	}
	if s.Strategy == "" {
		s.Strategy = "fedavg"
	}
	if _, err := strategy.ByName(s.Strategy, s.ProxMu); err != nil {
		bad("%v", err)
	}
	if s.ValidationFraction == 0 {
		s.ValidationFraction = DefaultValidationFraction
	}
	if !(s.ValidationFraction > 0 && s.ValidationFraction < 1) {
		bad("validation_fraction %v must be in (0, 1)", s.ValidationFraction)
	}
	if s.PhaseTimeoutMs == 0 {
		s.PhaseTimeoutMs = uint32(DefaultPhaseTimeout / time.Millisecond)
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidSpec, strings.Join(problems, "; "))
	}
	return s, nil
}
