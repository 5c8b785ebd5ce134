package program

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/coordinator/strategy"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/models/eval"
	"gonum.org/v1/gonum/mat"
)

// Binned models.
const (
	ModelScorecard = "scorecard" // binary: WOE binning, logistic regression, points and reason codes, tiers
	ModelSoftmax   = "softmax"   // multi-class: one-hot binning, multinomial regression
)

// Collection kinds of binned programs, besides scale, train and eval.
const (
	KindDescribe = "describe" // gathered: each participant's columns and category names
	KindMoments  = "moments"  // counts, sums and sums of squares that seed the bin grid
	KindCount    = "count"    // per-bin, per-class counts over the current candidate cuts
	KindCross    = "cross"    // per-segment, per-bin, per-class counts of the cross characteristics
)

// The binned program: describe → scale → moments → count × (1..MaxRounds)
// → [cross] → train × Rounds → eval.
//
//   - describe is the one collection gathered in clear: column kinds and
//     the names of categories (features.Describe). Declaring a column's
//     categories in the job skips it for that column.
//   - scale and moments work as in the logistic program; the moments only
//     seed the first candidate grid, so their precision never decides a
//     cut.
//   - count returns exact integer counts per candidate bin and class; the
//     coordinator refines the candidates around the target quantiles until
//     every cut is within tolerance (features.Refine), then fits the
//     pipeline: bins, WOE and IV from the summed counts (features.FitPipeline).
//   - cross (scorecards, unless the pipeline config turns crosses off)
//     returns exact integer counts per segment of the strongest coarse
//     characteristics, per bin of every other characteristic and per
//     class (features.PlanCrosses, CountCrosses); the coordinator adds the
//     cross characteristics to the pipeline (features.AddCrosses). It is
//     skipped when no characteristic qualifies as a segmenter.
//   - train and eval carry the pipeline; participants transform their own
//     rows with it, train from the global parameters and return n·θ, n,
//     a loss sum and a summary of the incoming model on validation rows
//     (a class-wise score histogram, or a confusion matrix).
type binnedState struct {
	Descs    []features.Description `json:"descs,omitempty"`
	Scales   []float64              `json:"scales,omitempty"`
	Plan     *features.BinPlan      `json:"plan,omitempty"`
	Pipeline *features.Pipeline     `json:"pipeline,omitempty"`
	Crosses  *features.CrossPlan    `json:"crosses,omitempty"` // while the cross collection runs
	Params   []float64              `json:"params,omitempty"`
	History  []round.Record         `json:"history,omitempty"`
	// Summary is the final model's validation summary, summed.
	Summary []float64 `json:"summary,omitempty"`
}

type binnedPlan struct {
	Scales   []float64           `json:"scales,omitempty"`
	Plan     *features.BinPlan   `json:"plan,omitempty"`
	Pipeline *features.Pipeline  `json:"pipeline,omitempty"`
	Crosses  *features.CrossPlan `json:"crosses,omitempty"`
}

// binnedJob is what both sides derive from the job spec.
type binnedJob struct {
	spec    *fedscorepb.JobSpec
	classes int
	job     features.BinningJob
}

func newBinnedJob(spec *fedscorepb.JobSpec) (*binnedJob, error) {
	b := &binnedJob{spec: spec, classes: 2}
	if spec.GetModel() == ModelSoftmax {
		b.classes = int(spec.GetClasses())
		if b.classes < 2 {
			return nil, fmt.Errorf("program: softmax needs classes >= 2, got %d", b.classes)
		}
	}
	cat := map[string]bool{}
	for _, c := range spec.GetCategorical() {
		cat[c] = true
	}
	var pcfg features.PipelineConfig
	if len(spec.GetPipelineConfig()) > 0 {
		if err := json.Unmarshal(spec.GetPipelineConfig(), &pcfg); err != nil {
			return nil, fmt.Errorf("program: pipeline_config: %w", err)
		}
	}
	var bcfg features.BinConfig
	if len(spec.GetBinConfig()) > 0 {
		if err := json.Unmarshal(spec.GetBinConfig(), &bcfg); err != nil {
			return nil, fmt.Errorf("program: bin_config: %w", err)
		}
	}
	var specs []features.FeatureSpec
	for _, f := range spec.GetFeatures() {
		specs = append(specs, features.FeatureSpec{Name: f, Categorical: cat[f]})
	}
	for _, d := range pcfg.Derived {
		specs = append(specs, features.FeatureSpec{Name: d.Name})
	}
	b.job = features.BinningJob{Specs: specs, Classes: b.classes, Bins: bcfg, Pipeline: pcfg}
	return b, nil
}

func (b *binnedJob) numParams(cols int) int {
	if b.classes > 2 {
		return b.classes * (cols + 1)
	}
	return cols + 1
}

func (b *binnedJob) summarySegments() []round.Segment {
	if b.classes > 2 {
		return []round.Segment{count("val_confusion", b.classes*b.classes), real("val_loss_sum", 1)}
	}
	bins := eval.DefaultBins
	return []round.Segment{count("val_hist", 2*bins), real("val_sum_prob", bins), real("val_sum_sq_err", 1), real("val_loss_sum", 1)}
}

// segments is the layout of a binned collection. Counting and training
// layouts depend on the plan and the pipeline, which both sides hold.
func (b *binnedJob) segments(kind string, plan binnedPlan) ([]round.Segment, error) {
	d := len(b.job.Specs)
	switch kind {
	case KindScale:
		return []round.Segment{count("max_exponent", d*nExp)}, nil
	case KindMoments:
		return []round.Segment{count("present", d), real("sum", d), real("sum_sq", d)}, nil
	case KindCount:
		if plan.Plan == nil {
			return nil, fmt.Errorf("program: count task without a plan")
		}
		return []round.Segment{count("bin_counts", plan.Plan.Len())}, nil
	case KindCross:
		if plan.Pipeline == nil || plan.Crosses == nil {
			return nil, fmt.Errorf("program: cross task without a pipeline and a cross plan")
		}
		n, err := plan.Crosses.Len(plan.Pipeline)
		if err != nil {
			return nil, err
		}
		return []round.Segment{count("cross_counts", n)}, nil
	case KindTrain, KindEval:
		if plan.Pipeline == nil {
			return nil, fmt.Errorf("program: %s task without a pipeline", kind)
		}
		val := b.summarySegments()
		if kind == KindEval {
			return val, nil
		}
		p := b.numParams(plan.Pipeline.NumColumns())
		return append([]round.Segment{real("weighted_params", p), count("weight", 1), count("examples", 1), real("loss_sum", 1)}, val...), nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKind, kind)
}

// Binned is the coordinator side of the binned program.
type Binned struct {
	*binnedJob
	strategy strategy.Strategy
	st       binnedState
}

var _ round.Program = (*Binned)(nil)

// NewBinned returns the program for spec, restored from state if given.
func NewBinned(spec *fedscorepb.JobSpec, state []byte) (*Binned, error) {
	b, err := newBinnedJob(spec)
	if err != nil {
		return nil, err
	}
	strat, err := strategy.ByName(spec.GetStrategy(), spec.GetProxMu())
	if err != nil {
		return nil, err
	}
	p := &Binned{binnedJob: b, strategy: strat}
	if state != nil {
		if err := json.Unmarshal(state, &p.st); err != nil {
			return nil, fmt.Errorf("program: binned state: %w", err)
		}
	}
	return p, nil
}

func (p *Binned) collection(kind string, rnd int, plan binnedPlan) (*round.Collection, error) {
	c := &round.Collection{Kind: kind, Round: rnd, Params: slices.Clone(p.st.Params)}
	if kind == KindDescribe {
		c.Gather = true
		return c, nil
	}
	segs, err := p.segments(kind, plan)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(plan)
	if err != nil {
		return nil, err
	}
	c.Plan, c.Segments = b, segs
	return c, nil
}

// Start implements round.Program.
func (p *Binned) Start() (round.Collection, error) {
	c, err := p.collection(KindDescribe, 0, binnedPlan{})
	return *c, err
}

// History implements round.Program.
func (p *Binned) History() []round.Record { return slices.Clone(p.st.History) }

// MarshalState implements round.Program.
func (p *Binned) MarshalState() ([]byte, error) { return json.Marshal(p.st) }

// Close implements round.Program.
func (p *Binned) Close(c round.Collection, o round.Outcome) (*round.Collection, error) {
	if c.Kind == KindDescribe {
		p.st.Descs = p.st.Descs[:0]
		for _, g := range o.Gathered {
			var d features.Description
			if err := json.Unmarshal(g, &d); err != nil {
				return nil, fmt.Errorf("a participant's description: %w", err)
			}
			p.st.Descs = append(p.st.Descs, d)
		}
		return p.collection(KindScale, 0, binnedPlan{})
	}
	seg, err := c.Split(o.Sum)
	if err != nil {
		return nil, err
	}
	d := len(p.job.Specs)
	switch c.Kind {
	case KindScale:
		p.st.Scales = scalesFromExponents(seg[0], d)
		return p.collection(KindMoments, 0, binnedPlan{Scales: p.st.Scales})
	case KindMoments:
		moments := make([]float64, features.MomentsLen(d))
		for j, s := range p.st.Scales {
			moments[j], moments[d+j], moments[2*d+j] = seg[0][j], seg[1][j]*s, seg[2][j]*s*s
		}
		plan, err := features.NewBinPlan(p.job.Specs, p.st.Descs, moments, p.classes, p.job.Bins)
		if err != nil {
			return nil, err
		}
		p.st.Plan = plan
		return p.collection(KindCount, 1, binnedPlan{Plan: plan})
	case KindCount:
		next, done, err := features.Refine(p.st.Plan, seg[0])
		if err != nil {
			return nil, err
		}
		if !done {
			p.st.Plan = next
			return p.collection(KindCount, c.Round+1, binnedPlan{Plan: next})
		}
		pipe, err := features.FitPipeline(p.st.Plan, seg[0], p.job.Pipeline)
		if err != nil {
			return nil, err
		}
		p.st.Pipeline, p.st.Plan = pipe, nil
		cp, err := features.PlanCrosses(pipe, p.job.Pipeline)
		if err != nil {
			return nil, err
		}
		if cp != nil {
			p.st.Crosses = cp
			return p.collection(KindCross, 1, binnedPlan{Pipeline: pipe, Crosses: cp})
		}
		return p.startTraining()
	case KindCross:
		pipe, err := features.AddCrosses(p.st.Pipeline, p.st.Crosses, seg[0], p.job.Pipeline)
		if err != nil {
			return nil, err
		}
		p.st.Pipeline, p.st.Crosses = pipe, nil
		return p.startTraining()
	case KindTrain:
		weighted, weight, examples, lossSum := seg[0], seg[1][0], seg[2][0], seg[3][0]
		params, err := p.strategy.Aggregate(p.st.Params, strategy.Aggregate{
			WeightedParams: weighted, Weight: weight, Contributors: len(o.Contributors),
		}, failures(o.Dropped))
		if err != nil {
			return nil, err
		}
		if n := len(p.st.History); n > 0 {
			if met, ok := p.metrics(flatten(seg[4:])); ok {
				p.st.History[n-1].Validation = &met
			}
		}
		rec := round.Record{Round: c.Round, Participants: o.Contributors, Dropped: o.Dropped, Examples: examples}
		if examples > 0 {
			rec.TrainLoss = lossSum / examples
		}
		p.st.History = append(p.st.History, rec)
		p.st.Params = params
		if c.Round >= int(p.spec.GetRounds()) {
			return p.collection(KindEval, c.Round, binnedPlan{Pipeline: p.st.Pipeline})
		}
		return p.collection(KindTrain, c.Round+1, binnedPlan{Pipeline: p.st.Pipeline})
	case KindEval:
		sum := flatten(seg)
		met, ok := p.metrics(sum)
		if !ok {
			return nil, fmt.Errorf("no participant had validation rows of every class")
		}
		if n := len(p.st.History); n > 0 {
			p.st.History[n-1].Validation = &met
		}
		p.st.Summary = sum
		return nil, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKind, c.Kind)
}

// startTraining starts the training rounds from the fitted pipeline.
func (p *Binned) startTraining() (*round.Collection, error) {
	p.st.Params = make([]float64, p.numParams(p.st.Pipeline.NumColumns()))
	return p.collection(KindTrain, 1, binnedPlan{Pipeline: p.st.Pipeline})
}

func flatten(segs [][]float64) []float64 {
	var out []float64
	for _, s := range segs {
		out = append(out, s...)
	}
	return out
}

// metrics reads a summed validation summary.
func (b *binnedJob) metrics(v []float64) (round.Metrics, bool) {
	if b.classes > 2 {
		s, err := eval.MulticlassSummaryFromVector(v, b.classes)
		if err != nil {
			return round.Metrics{}, false
		}
		m, err := s.Metrics()
		if err != nil {
			return round.Metrics{}, false
		}
		return round.Metrics{Accuracy: m.Accuracy, MacroF1: m.MacroF1, LogLoss: m.LogLoss, Examples: m.N}, true
	}
	s, err := eval.BinarySummaryFromVector(v)
	if err != nil {
		return round.Metrics{}, false
	}
	m, err := s.Metrics()
	if err != nil {
		return round.Metrics{}, false
	}
	return round.Metrics{AUC: m.AUC, KS: m.KS, Gini: m.Gini, Brier: m.Brier, LogLoss: m.LogLoss, Examples: m.N, Positives: m.Positives}, true
}

// Model is the trained model as the API serves it: the pipeline, the
// scorecard and tiers of a binary model, every parameter.
func (p *Binned) Model(jobID string) *fedscorepb.Model {
	m := &fedscorepb.Model{JobId: jobID, Kind: p.spec.GetModel(), Features: p.spec.GetFeatures(),
		Params: slices.Clone(p.st.Params), Classes: uint32(p.classes), Rounds: uint32(len(p.st.History)),
		ValidationSummary: slices.Clone(p.st.Summary)}
	if p.st.Pipeline != nil {
		m.Pipeline, _ = json.Marshal(p.st.Pipeline)
	}
	if n := len(p.st.History); n > 0 {
		if v := p.st.History[n-1].Validation; v != nil {
			m.Validation = &fedscorepb.Metrics{Auc: v.AUC, Ks: v.KS, Logloss: v.LogLoss, Examples: uint64(v.Examples), Positives: uint64(v.Positives),
				Gini: v.Gini, Brier: v.Brier, Accuracy: v.Accuracy, MacroF1: v.MacroF1}
		}
	}
	if p.classes > 2 || p.st.Pipeline == nil || len(p.st.Params) == 0 {
		return m
	}
	k := len(p.st.Params) - 1
	m.Weights, m.Intercept = slices.Clone(p.st.Params[:k]), p.st.Params[k]
	lr := models.NewLogistic(k)
	if err := lr.SetParams(p.st.Params); err == nil {
		if sc, err := models.NewScorecard(p.st.Pipeline, lr, models.ScorecardConfig{
			BaseScore: p.spec.GetBaseScore(), BaseOdds: p.spec.GetBaseOdds(), PDO: p.spec.GetPdo(),
		}); err == nil {
			m.Scorecard, _ = json.Marshal(sc)
		}
	}
	if s, err := eval.BinarySummaryFromVector(p.st.Summary); err == nil {
		if t, err := models.FitTiers(s.Hist, models.TierConfig{Tiers: int(p.spec.GetTiers()), HighFirst: p.spec.GetPropensity()}); err == nil {
			m.Tiers, _ = json.Marshal(t)
		}
	}
	return m
}

// binnedParticipant is one node's side of the binned program.
type binnedParticipant struct {
	*binnedJob
	id         string
	train, val *datasets.Table // derived features included
	yTrain     []float64
	yVal       []float64

	pipeKey      string // JSON of the pipeline trainX was made with
	trainX, valX *mat.Dense
}

// Labels reads a binned job's label column: 0/1 for a binary model (with
// positive_label naming the event of a String label), class indexes for a
// softmax model.
func Labels(spec *fedscorepb.JobSpec, t *datasets.Table, source string) ([]float64, error) {
	c := t.Column(spec.GetLabel())
	if c == nil {
		return nil, fmt.Errorf("datasets: file %s: column %q: %w", source, spec.GetLabel(), datasets.ErrMissingColumn)
	}
	var y []float64
	var err error
	if spec.GetModel() == ModelSoftmax {
		y, err = features.ClassLabels(c, int(spec.GetClasses()))
	} else {
		y, err = features.BinaryLabels(c, spec.GetPositiveLabel())
	}
	if err != nil {
		return nil, fmt.Errorf("file %s: label %q: %w", source, spec.GetLabel(), err)
	}
	return y, nil
}

func newBinnedParticipant(id, source string, t *datasets.Table, spec *fedscorepb.JobSpec) (*binnedParticipant, error) {
	b, err := newBinnedJob(spec)
	if err != nil {
		return nil, err
	}
	for _, f := range spec.GetFeatures() {
		if t.Column(f) == nil {
			return nil, fmt.Errorf("datasets: file %s: column %q: %w", source, f, datasets.ErrMissingColumn)
		}
	}
	if _, err := Labels(spec, t, source); err != nil {
		return nil, err
	}
	if len(b.job.Pipeline.Derived) > 0 {
		if t, err = features.Derive(t, b.job.Pipeline.Derived); err != nil {
			return nil, fmt.Errorf("file %s: %w", source, err)
		}
	}
	p := &binnedParticipant{binnedJob: b, id: id}
	if p.train, p.val, err = LocalSplit(spec, id, t); err != nil {
		return nil, fmt.Errorf("file %s: %w", source, err)
	}
	if p.yTrain, err = Labels(spec, p.train, source); err != nil {
		return nil, err
	}
	if p.yVal, err = Labels(spec, p.val, source); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *binnedParticipant) plan(c round.Collection) (binnedPlan, error) {
	var plan binnedPlan
	if len(c.Plan) > 0 {
		if err := json.Unmarshal(c.Plan, &plan); err != nil {
			return plan, fmt.Errorf("program: task plan: %w", err)
		}
	}
	return plan, nil
}

// Segments implements Participant; binned layouts need the task's plan,
// which the participant learns with the task, so secure middleware asks
// SegmentsFor instead.
func (p *binnedParticipant) Segments(kind string) ([]round.Segment, error) {
	return nil, fmt.Errorf("program: binned segments depend on the task's plan")
}

// SegmentsFor is the layout of a contribution to c.
func (p *binnedParticipant) SegmentsFor(c round.Collection) ([]round.Segment, error) {
	plan, err := p.plan(c)
	if err != nil {
		return nil, err
	}
	return p.segments(c.Kind, plan)
}

// Gather implements Gatherer: the describe collection.
func (p *binnedParticipant) Gather(c round.Collection) ([]byte, error) {
	if c.Kind != KindDescribe {
		return nil, fmt.Errorf("%w %q to gather", ErrUnknownKind, c.Kind)
	}
	d, err := features.Describe(p.train, p.job.Specs, p.job.DiscoveryRows)
	if err != nil {
		return nil, err
	}
	return json.Marshal(d)
}

// Contribute implements Participant.
func (p *binnedParticipant) Contribute(c round.Collection) ([]float64, error) {
	plan, err := p.plan(c)
	if err != nil {
		return nil, err
	}
	segs, err := p.segments(c.Kind, plan)
	if err != nil {
		return nil, err
	}
	c.Segments = segs
	out := make([]float64, c.Len())
	seg, _ := c.Split(out)
	d := len(p.job.Specs)
	switch c.Kind {
	case KindScale:
		for j, s := range p.job.Specs {
			seg[0][j*nExp+columnExponent(p.train.Column(s.Name))-minExp] = 1
		}
	case KindMoments:
		if len(plan.Scales) != d {
			return nil, fmt.Errorf("program: moments task carries %d scales for %d features", len(plan.Scales), d)
		}
		m, err := features.ColumnMoments(p.train, p.job.Specs)
		if err != nil {
			return nil, err
		}
		for j, s := range plan.Scales {
			seg[0][j], seg[1][j], seg[2][j] = m[j], m[d+j]/s, m[2*d+j]/(s*s)
		}
	case KindCount:
		v, err := features.CountBins(p.train, p.yTrain, plan.Plan)
		if err != nil {
			return nil, err
		}
		copy(seg[0], v)
	case KindCross:
		v, err := features.CountCrosses(p.train, p.yTrain, plan.Pipeline, plan.Crosses)
		if err != nil {
			return nil, err
		}
		copy(seg[0], v)
	case KindTrain, KindEval:
		if err := p.transform(plan.Pipeline); err != nil {
			return nil, err
		}
		model, err := p.model(c.Params)
		if err != nil {
			return nil, err
		}
		summary, err := p.summarise(model)
		if err != nil {
			return nil, err
		}
		if c.Kind == KindEval {
			copy(out, summary)
			return out, nil
		}
		copy(out[len(out)-len(summary):], summary)
		cfg, err := TrainConfig(p.spec, int(p.spec.GetLocalEpochs()), participantSeed(p.spec, p.id)^uint64(c.Round)*0x9e3779b97f4a7c15)
		if err != nil {
			return nil, err
		}
		fit, err := model.Fit(p.trainX, p.yTrain, cfg)
		if err != nil {
			return nil, fmt.Errorf("program: local training: %w", err)
		}
		n := float64(len(p.yTrain))
		for i, w := range model.Params() {
			seg[0][i] = n * w
		}
		seg[1][0], seg[2][0], seg[3][0] = n, n, fit.Loss*n
	}
	return out, nil
}

// columnExponent is the binary exponent bounding a numeric column's
// present values (minExp for text, empty or all-zero columns).
func columnExponent(c *datasets.Column) int {
	e := minExp
	if c == nil || c.Kind == datasets.String {
		return e
	}
	for i, v := range c.Float {
		if c.IsNull(i) || v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		_, ex := math.Frexp(v)
		e = max(e, ex)
	}
	return min(e, maxExp)
}

// binnedModel is a logistic or softmax model behind one interface.
type binnedModel interface {
	Params() []float64
	SetParams([]float64) error
	Fit(X *mat.Dense, y []float64, c models.TrainConfig) (models.FitResult, error)
}

func (p *binnedParticipant) model(params []float64) (binnedModel, error) {
	cols := p.trainX.RawMatrix().Cols
	var m binnedModel
	if p.classes > 2 {
		m = models.NewSoftmax(p.classes, cols)
	} else {
		m = models.NewLogistic(cols)
	}
	if err := m.SetParams(params); err != nil {
		return nil, fmt.Errorf("program: global parameters: %w", err)
	}
	return m, nil
}

func (p *binnedParticipant) transform(pipe *features.Pipeline) error {
	if pipe == nil {
		return fmt.Errorf("program: task carries no pipeline")
	}
	key, err := json.Marshal(pipe)
	if err != nil {
		return err
	}
	if string(key) == p.pipeKey {
		return nil
	}
	if p.trainX, err = pipe.Transform(p.train); err != nil {
		return err
	}
	if p.valX, err = pipe.Transform(p.val); err != nil {
		return err
	}
	p.pipeKey = string(key)
	return nil
}

// summarise measures a model on the node's validation rows.
func (p *binnedParticipant) summarise(m binnedModel) ([]float64, error) {
	if sm, ok := m.(*models.Softmax); ok {
		s := eval.NewMulticlassSummary(p.classes)
		if len(p.yVal) > 0 {
			if err := s.AddAll(sm.Predict(p.valX, nil), p.yVal); err != nil {
				return nil, err
			}
		}
		return s.Vector(), nil
	}
	s := eval.NewBinarySummary(eval.DefaultBins)
	if len(p.yVal) > 0 {
		if err := s.AddAll(m.(*models.Logistic).Predict(p.valX, nil), p.yVal); err != nil {
			return nil, err
		}
	}
	return s.Vector(), nil
}
