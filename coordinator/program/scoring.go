package program

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
	"google.golang.org/protobuf/proto"
)

// ModelScore is a scoring job: every participant scores its own customers
// with a registered model version and publishes only the results (id, PD,
// points, tier, reason codes) to the score store. Raw features never leave
// a participant. It is one gathered collection whose answers are the
// participants' publication summaries.
const ModelScore = "score"

// KindScore is the scoring collection.
const KindScore = "score"

// ScorePlan is what a scoring task carries: the model and its lineage.
type ScorePlan struct {
	Version string `json:"version"`
	JobID   string `json:"job_id"`
	Round   int    `json:"round"`
	Model   []byte `json:"model"` // fedscorepb.Model, binary
	Reasons int    `json:"reasons"`
	// Batch names this scoring run; publications under it are idempotent.
	Batch string `json:"batch"`
}

// ScoreSummary is a participant's answer to a scoring task.
type ScoreSummary struct {
	Participant string         `json:"participant"`
	Rows        int            `json:"rows"`
	Published   int            `json:"published"`
	Seconds     float64        `json:"seconds"`
	Tiers       map[string]int `json:"tiers,omitempty"`
}

// NewScorePlan is the plan of a scoring job for registered model rm.
func NewScorePlan(job string, rm *fedscorepb.RegisteredModel, reasons int) ([]byte, error) {
	m, err := proto.Marshal(rm.GetModel())
	if err != nil {
		return nil, err
	}
	return json.Marshal(ScorePlan{Version: rm.GetVersion(), JobID: rm.GetJobId(), Round: int(rm.GetModel().GetRounds()),
		Model: m, Reasons: reasons, Batch: job})
}

type scoringState struct {
	Plan      []byte         `json:"plan"`
	Summaries []ScoreSummary `json:"summaries,omitempty"`
	Records   []round.Record `json:"records,omitempty"`
}

// Scoring is the coordinator side of a scoring job.
type Scoring struct{ st scoringState }

// NewScoring returns a scoring program for a plan (from NewScorePlan), or
// restored from state.
func NewScoring(plan, state []byte) (*Scoring, error) {
	p := &Scoring{st: scoringState{Plan: plan}}
	if state != nil {
		if err := json.Unmarshal(state, &p.st); err != nil {
			return nil, err
		}
	}
	if len(p.st.Plan) == 0 {
		return nil, fmt.Errorf("program: scoring job without a model")
	}
	return p, nil
}

// Start implements round.Program.
func (p *Scoring) Start() (round.Collection, error) {
	return round.Collection{Kind: KindScore, Round: 1, Plan: p.st.Plan, Gather: true}, nil
}

// Close implements round.Program.
func (p *Scoring) Close(c round.Collection, o round.Outcome) (*round.Collection, error) {
	var rows float64
	for _, g := range o.Gathered {
		var s ScoreSummary
		if err := json.Unmarshal(g, &s); err != nil {
			return nil, fmt.Errorf("a participant's scoring summary: %w", err)
		}
		p.st.Summaries = append(p.st.Summaries, s)
		rows += float64(s.Published)
	}
	p.st.Records = append(p.st.Records, round.Record{Round: 1, Participants: o.Contributors, Dropped: o.Dropped, Examples: rows})
	return nil, nil
}

// History implements round.Program.
func (p *Scoring) History() []round.Record { return slices.Clone(p.st.Records) }

// MarshalState implements round.Program.
func (p *Scoring) MarshalState() ([]byte, error) { return json.Marshal(p.st) }

// Scored is one customer's score.
type Scored struct {
	PD      float64
	Points  float64
	Tier    string
	Reasons []string
}

// Scorer scores tables with one model version.
type Scorer struct {
	Plan    ScorePlan
	model   *fedscorepb.Model
	card    *models.Scorecard
	why     *models.ReasonIndex
	tiers   *models.Tiering
	lr      *models.Logistic
	scaler  features.Standardizer
	factor  float64
	offset  float64
	reasons int
}

// NewScorer reads a scoring plan.
func NewScorer(plan []byte) (*Scorer, error) {
	s := &Scorer{}
	if err := json.Unmarshal(plan, &s.Plan); err != nil {
		return nil, fmt.Errorf("program: scoring plan: %w", err)
	}
	s.model = &fedscorepb.Model{}
	if err := proto.Unmarshal(s.Plan.Model, s.model); err != nil {
		return nil, fmt.Errorf("program: scoring plan's model: %w", err)
	}
	s.reasons = s.Plan.Reasons
	if len(s.model.GetTiers()) > 0 {
		s.tiers = &models.Tiering{}
		if err := json.Unmarshal(s.model.GetTiers(), s.tiers); err != nil {
			return nil, err
		}
	}
	switch s.model.GetKind() {
	case ModelScorecard:
		s.card = &models.Scorecard{}
		if err := json.Unmarshal(s.model.GetScorecard(), s.card); err != nil {
			return nil, fmt.Errorf("program: scorecard: %w", err)
		}
		if err := s.card.Validate(); err != nil {
			return nil, err
		}
		s.why = s.card.ReasonIndex()
	case "logistic", "":
		// Points on the default scale: 600 at 50:1, 20 to double.
		s.factor = models.DefaultPDO / math.Ln2
		s.offset = models.DefaultBaseScore - s.factor*math.Log(models.DefaultBaseOdds)
		s.lr = models.NewLogistic(len(s.model.GetWeights()))
		if err := s.lr.SetParams(append(slices.Clone(s.model.GetWeights()), s.model.GetIntercept())); err != nil {
			return nil, err
		}
		s.scaler = features.Standardizer{Mean: s.model.GetScaler().GetMean(), Std: s.model.GetScaler().GetStd()}
	default:
		return nil, fmt.Errorf("program: cannot score with a %s model", s.model.GetKind())
	}
	return s, nil
}

// Score scores every row of t.
func (s *Scorer) Score(t *datasets.Table, source string) ([]Scored, error) {
	out := make([]Scored, t.Rows())
	if s.card != nil {
		if err := s.scoreCard(t, source, out); err != nil {
			return nil, err
		}
	} else {
		f, err := datasets.Schema{Features: s.model.GetFeatures()}.Frame(t, source)
		if err != nil {
			return nil, err
		}
		for i, p := range s.lr.Predict(s.scaler.Transform(f.X), nil) {
			p = min(max(p, 1e-12), 1-1e-12)
			out[i] = Scored{PD: p, Points: s.offset - s.factor*math.Log(p/(1-p))}
		}
	}
	if s.tiers != nil {
		for i := range out {
			out[i].Tier = s.tiers.Name(out[i].PD)
		}
	}
	return out, nil
}

// ScoredAt stamps a scoring run.
func ScoredAt() time.Time { return time.Now().UTC() }

// scoreCard is the scorecard's batch path: bins are assigned a column at a
// time, then each row sums its points and keeps its top reason codes in a
// fixed array, so scoring a million rows allocates a few slices, not
// millions. It gives what models.Scorecard.Score gives (a test checks):
// reasons are the characteristics that lost points against their best bin
// (a feature together with its cross characteristics, models.ReasonIndex),
// largest loss first, ties in feature order; a reason code names the
// characteristic.
func (s *Scorer) scoreCard(t *datasets.Table, source string, out []Scored) error {
	feats := s.card.Features
	pipe := s.card.Pipeline
	// A cross characteristic's bin is its feature's bin inside its segment
	// and the outside bin elsewhere: read off the two plain columns per
	// row rather than materialising a column per cross.
	type binSource struct{ x, seg, segment, outside int }
	at := make(map[string]int, len(pipe.Features))
	for j := range pipe.Features {
		at[pipe.Features[j].Name] = j
	}
	need := make([]bool, len(pipe.Features))
	src := make([]binSource, len(feats))
	for q, f := range feats {
		pf := &pipe.Features[f.Index]
		if pf.Cross == nil {
			need[f.Index] = true
			src[q] = binSource{x: f.Index, seg: -1}
			continue
		}
		xi, xok := at[pf.Cross.Feature]
		si, sok := at[pf.Cross.Segmenter]
		if !xok || !sok {
			return fmt.Errorf("file %s: cross %q names a feature the pipeline lacks", source, pf.Name)
		}
		need[xi], need[si] = true, true
		src[q] = binSource{x: xi, seg: si, segment: pf.Cross.Segment, outside: pf.OutsideBin()}
	}
	bins, err := pipe.AssignSome(t, need)
	if err != nil {
		return fmt.Errorf("file %s: %w", source, err)
	}
	for j, ok := range need {
		if ok && len(bins[j]) != len(out) {
			return fmt.Errorf("file %s: column %q has %d rows, table %d", source, pipe.Features[j].Name, len(bins[j]), len(out))
		}
	}
	const maxReasons = 8
	k := min(s.reasons, maxReasons)
	backing := make([]string, len(out)*k)
	row := make([]int, len(feats))
	chars := s.why.Len()
	for i := range out {
		var score float64
		for q := range feats {
			f, sq := &feats[q], &src[q]
			b := bins[sq.x][i]
			if sq.seg >= 0 && bins[sq.seg][i] != sq.segment {
				b = sq.outside
			}
			if b < 0 || b >= len(f.Points) {
				return fmt.Errorf("file %s: row %d: bin %d out of range for %q", source, i, b, f.Name)
			}
			row[q] = b
			score += f.Points[b]
		}
		var top [maxReasons]int
		var lost [maxReasons]float64
		n := 0
		for g := 0; k > 0 && g < chars; g++ {
			_, l := s.why.Row(g, row)
			if !(l > 0) {
				continue
			}
			// Insert g by loss, after equal losses (feature order breaks ties).
			j := min(n, k)
			for j > 0 && lost[j-1] < l {
				j--
			}
			if j >= k {
				continue
			}
			copy(top[j+1:k], top[j:k-1])
			copy(lost[j+1:k], lost[j:k-1])
			top[j], lost[j] = g, l
			n = min(n+1, k)
		}
		r := backing[i*k : i*k+n : i*k+n]
		for j := range n {
			r[j] = s.why.Name(top[j])
		}
		out[i] = Scored{PD: s.card.PD(score), Points: score, Reasons: r}
	}
	return nil
}
