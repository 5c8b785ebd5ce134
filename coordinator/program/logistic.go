package program

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
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

// Exponent range of the scale collection: |x| < 2^e for e in [minExp, maxExp].
const (
	minExp = -64
	maxExp = 64
	nExp   = maxExp - minExp + 1
)

// The logistic program: scale → stats → train × Rounds → eval.
//
//   - scale: per feature, a one-hot of the participant's largest binary
//     exponent. The sum tells the coordinator only how many participants
//     have each magnitude, from which it picks a power-of-two scale per
//     feature so that masked fixed-point sums keep their precision.
//   - stats: row count, positives, and per feature Σx/s and Σ(x/s)².
//     The coordinator fits the standardisation (federated StandardScaler).
//   - train: the participant first measures the global model on its
//     validation rows (a class-wise score histogram and a log-loss sum),
//     then trains locally from it and returns n·θ and n. FedAvg divides.
//   - eval: the validation measurement of the final model.
type logisticState struct {
	Params  []float64              `json:"params"`
	Scales  []float64              `json:"scales,omitempty"`
	Scaler  *features.Standardizer `json:"scaler,omitempty"`
	History []round.Record         `json:"history,omitempty"`
}

// logisticPlan is what a task carries besides the parameters.
type logisticPlan struct {
	Scales []float64              `json:"scales,omitempty"`
	Scaler *features.Standardizer `json:"scaler,omitempty"`
}

// Logistic is the coordinator side of the logistic program.
type Logistic struct {
	spec     *fedscorepb.JobSpec
	dim      int
	strategy strategy.Strategy
	st       logisticState
}

var _ round.Program = (*Logistic)(nil)

// NewLogistic returns the program for spec, restored from state if given.
func NewLogistic(spec *fedscorepb.JobSpec, state []byte) (*Logistic, error) {
	strat, err := strategy.ByName(spec.GetStrategy(), spec.GetProxMu())
	if err != nil {
		return nil, err
	}
	d := len(spec.GetFeatures())
	if d == 0 {
		return nil, fmt.Errorf("program: logistic job has no features")
	}
	if spec.GetRounds() == 0 {
		return nil, fmt.Errorf("program: logistic job has no rounds")
	}
	p := &Logistic{spec: spec, dim: d, strategy: strat, st: logisticState{Params: make([]float64, d+1)}}
	if state != nil {
		if err := json.Unmarshal(state, &p.st); err != nil {
			return nil, fmt.Errorf("program: logistic state: %w", err)
		}
		if len(p.st.Params) != d+1 {
			return nil, fmt.Errorf("program: logistic state has %d parameters, job needs %d", len(p.st.Params), d+1)
		}
	}
	return p, nil
}

// LogisticSegments is the layout of a contribution to a logistic job's
// collection of the given kind; both sides use it.
func LogisticSegments(kind string, dim int) ([]round.Segment, error) {
	val := []round.Segment{count("val_hist", 2*eval.DefaultBins), real("val_loss_sum", 1), count("val_examples", 1)}
	switch kind {
	case KindScale:
		return []round.Segment{count("max_exponent", dim*nExp)}, nil
	case KindStats:
		return []round.Segment{count("rows", 1), count("positives", 1), real("sum", dim), real("sum_sq", dim)}, nil
	case KindTrain:
		return append([]round.Segment{real("weighted_params", dim+1), count("weight", 1), count("examples", 1), real("loss_sum", 1)}, val...), nil
	case KindEval:
		return val, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKind, kind)
}

func (p *Logistic) collection(kind string, rnd int, plan logisticPlan) (round.Collection, error) {
	segs, err := LogisticSegments(kind, p.dim)
	if err != nil {
		return round.Collection{}, err
	}
	b, err := json.Marshal(plan)
	if err != nil {
		return round.Collection{}, err
	}
	return round.Collection{Kind: kind, Round: rnd, Params: slices.Clone(p.st.Params), Plan: b, Segments: segs}, nil
}

// Start implements round.Program.
func (p *Logistic) Start() (round.Collection, error) {
	return p.collection(KindScale, 0, logisticPlan{})
}

// History implements round.Program.
func (p *Logistic) History() []round.Record { return slices.Clone(p.st.History) }

// MarshalState implements round.Program.
func (p *Logistic) MarshalState() ([]byte, error) { return json.Marshal(p.st) }

// Params are the current global parameters, [w..., b].
func (p *Logistic) Params() []float64 { return slices.Clone(p.st.Params) }

// Scaler is the fitted standardisation, nil before the stats collection.
func (p *Logistic) Scaler() *features.Standardizer { return p.st.Scaler }

// Close implements round.Program.
func (p *Logistic) Close(c round.Collection, o round.Outcome) (*round.Collection, error) {
	seg, err := c.Split(o.Sum)
	if err != nil {
		return nil, err
	}
	next := func(kind string, rnd int, plan logisticPlan) (*round.Collection, error) {
		n, err := p.collection(kind, rnd, plan)
		return &n, err
	}
	switch c.Kind {
	case KindScale:
		p.st.Scales = scalesFromExponents(seg[0], p.dim)
		return next(KindStats, 0, logisticPlan{Scales: p.st.Scales})
	case KindStats:
		rows, pos := seg[0][0], seg[1][0]
		if rows == 0 || pos <= 0 || pos >= rows {
			return nil, fmt.Errorf("the label has one class only across the cohort (%v positives of %v rows)", pos, rows)
		}
		mo := features.Moments{Count: rows, Sum: make([]float64, p.dim), SumSq: make([]float64, p.dim)}
		for j, s := range p.st.Scales {
			mo.Sum[j] = seg[2][j] * s
			mo.SumSq[j] = seg[3][j] * s * s
		}
		sc, err := mo.Standardizer()
		if err != nil {
			return nil, err
		}
		p.st.Scaler = &sc
		return next(KindTrain, 1, logisticPlan{Scaler: p.st.Scaler})
	case KindTrain:
		weighted, weight, examples, lossSum := seg[0], seg[1][0], seg[2][0], seg[3][0]
		params, err := p.strategy.Aggregate(p.st.Params, strategy.Aggregate{
			WeightedParams: weighted, Weight: weight, Contributors: len(o.Contributors),
		}, failures(o.Dropped))
		if err != nil {
			return nil, err
		}
		// Participants measured the model they received: the one the
		// previous round produced.
		if n := len(p.st.History); n > 0 {
			if met, ok := validationMetrics(seg[4], seg[5][0], seg[6][0]); ok {
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
			return next(KindEval, c.Round, logisticPlan{Scaler: p.st.Scaler})
		}
		return next(KindTrain, c.Round+1, logisticPlan{Scaler: p.st.Scaler})
	case KindEval:
		met, ok := validationMetrics(seg[0], seg[1][0], seg[2][0])
		if !ok {
			return nil, fmt.Errorf("no participant had validation rows with both classes")
		}
		if n := len(p.st.History); n > 0 {
			p.st.History[n-1].Validation = &met
		}
		return nil, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKind, c.Kind)
}

func failures(dropped []string) []strategy.Failure {
	out := make([]strategy.Failure, len(dropped))
	for i, id := range dropped {
		out[i] = strategy.Failure{Participant: id, Reason: "dropped"}
	}
	return out
}

// scalesFromExponents picks, per feature, 2^e for the largest exponent any
// participant reported, so every scaled value lies in (-1, 1).
func scalesFromExponents(counts []float64, dim int) []float64 {
	scales := make([]float64, dim)
	for j := range dim {
		scales[j] = 1
		for e := nExp - 1; e >= 0; e-- {
			if counts[j*nExp+e] > 0 {
				scales[j] = math.Ldexp(1, e+minExp)
				break
			}
		}
	}
	return scales
}

// validationMetrics turns summed validation histograms into metrics; ok is
// false when the validation rows lack a class.
func validationMetrics(hist []float64, lossSum, examples float64) (round.Metrics, bool) {
	h, err := eval.ScoreHistogramFromVector(hist)
	if err != nil || examples == 0 {
		return round.Metrics{}, false
	}
	m := round.Metrics{Examples: examples, LogLoss: lossSum / examples}
	for _, c := range h.Pos {
		m.Positives += c
	}
	auc, err1 := h.AUC()
	ks, err2 := h.KS()
	if err1 != nil || err2 != nil {
		return m, false
	}
	m.AUC, m.KS = auc, ks
	return m, true
}

// logisticParticipant is one node's side of the logistic program.
type logisticParticipant struct {
	id, source string
	spec       *fedscorepb.JobSpec
	train, val *datasets.Frame
	scaler     *features.Standardizer // the one trainX and valX were made with
	trainX     *mat.Dense
	valX       *mat.Dense
}

func newLogisticParticipant(id, source string, t *datasets.Table, spec *fedscorepb.JobSpec) (*logisticParticipant, error) {
	schema := datasets.Schema{ID: spec.GetIdColumn(), Label: spec.GetLabel(), Features: spec.GetFeatures()}
	// Validate the whole table first, so errors name the file, not a split.
	if _, err := schema.Frame(t, source); err != nil {
		return nil, err
	}
	train, val, err := LocalSplit(spec, id, t)
	if err != nil {
		return nil, err
	}
	p := &logisticParticipant{id: id, source: source, spec: spec}
	if p.train, err = schema.Frame(train, source); err != nil {
		return nil, err
	}
	if val.Rows() > 0 {
		if p.val, err = schema.Frame(val, source); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// LocalSplit is how participant id divides its table into the rows it
// trains on and the rows it validates the global model on: seeded by the
// job and the participant, stratified on the label. Baselines that train
// "on the same rows, pooled" use it too.
func LocalSplit(spec *fedscorepb.JobSpec, id string, t *datasets.Table) (train, val *datasets.Table, err error) {
	return datasets.StratifiedHoldout(t, spec.GetLabel(), spec.GetValidationFraction(), int64(participantSeed(spec, id)))
}

func participantSeed(spec *fedscorepb.JobSpec, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return spec.GetSeed() ^ h.Sum64()
}

// Segments implements Participant.
func (p *logisticParticipant) Segments(kind string) ([]round.Segment, error) {
	return LogisticSegments(kind, len(p.train.Features))
}

// Contribute implements Participant.
func (p *logisticParticipant) Contribute(c round.Collection) ([]float64, error) {
	d := len(p.train.Features)
	segs, err := LogisticSegments(c.Kind, d)
	if err != nil {
		return nil, err
	}
	c.Segments = segs
	var plan logisticPlan
	if len(c.Plan) > 0 {
		if err := json.Unmarshal(c.Plan, &plan); err != nil {
			return nil, fmt.Errorf("program: task plan: %w", err)
		}
	}
	out := make([]float64, c.Len())
	seg, _ := c.Split(out)
	switch c.Kind {
	case KindScale:
		for j := range d {
			seg[0][j*nExp+maxExponent(p.train.X, j)-minExp] = 1
		}
	case KindStats:
		if len(plan.Scales) != d {
			return nil, fmt.Errorf("program: stats task carries %d scales for %d features", len(plan.Scales), d)
		}
		seg[0][0] = float64(len(p.train.Y))
		seg[1][0] = positives(p.train.Y)
		rows, _ := p.train.X.Dims()
		for i := range rows {
			row := p.train.X.RawRowView(i)
			for j, x := range row {
				v := x / plan.Scales[j]
				seg[2][j] += v
				seg[3][j] += v * v
			}
		}
	case KindTrain, KindEval:
		if err := p.standardise(plan.Scaler); err != nil {
			return nil, err
		}
		model := models.NewLogistic(d)
		if err := model.SetParams(c.Params); err != nil {
			return nil, fmt.Errorf("program: global parameters: %w", err)
		}
		valSegs := seg[len(seg)-3:]
		if err := p.validate(model, valSegs); err != nil {
			return nil, err
		}
		if c.Kind == KindEval {
			return out, nil
		}
		cfg, err := TrainConfig(p.spec, int(p.spec.GetLocalEpochs()), participantSeed(p.spec, p.id)^uint64(c.Round)*0x9e3779b97f4a7c15)
		if err != nil {
			return nil, err
		}
		fit, err := model.Fit(p.trainX, p.train.Y, cfg)
		if err != nil {
			return nil, fmt.Errorf("program: local training: %w", err)
		}
		n := float64(len(p.train.Y))
		for i, w := range model.Params() {
			seg[0][i] = n * w
		}
		seg[1][0], seg[2][0], seg[3][0] = n, n, fit.Loss*n
	}
	return out, nil
}

// maxExponent is the e with |x| < 2^e for every value of column j (the
// smallest exponent for an all-zero column).
func maxExponent(x *mat.Dense, j int) int {
	rows, _ := x.Dims()
	e := minExp
	for i := range rows {
		v := x.At(i, j)
		if v == 0 {
			continue
		}
		_, ex := math.Frexp(v)
		e = max(e, ex)
	}
	return min(e, maxExp)
}

func positives(y []float64) float64 {
	var s float64
	for _, v := range y {
		s += v
	}
	return s
}

// validate fills the validation segments (histogram, log-loss sum,
// examples) for model on the node's validation rows.
func (p *logisticParticipant) validate(model *models.Logistic, seg [][]float64) error {
	if p.val == nil || len(p.val.Y) == 0 {
		return nil
	}
	probs := model.Predict(p.valX, nil)
	h := eval.NewScoreHistogram(eval.DefaultBins)
	if err := h.AddAll(probs, p.val.Y); err != nil {
		return err
	}
	copy(seg[0], h.Vector())
	ll, err := eval.LogLoss(probs, p.val.Y)
	if err != nil {
		return err
	}
	seg[1][0] = ll * float64(len(probs))
	seg[2][0] = float64(len(probs))
	return nil
}

func (p *logisticParticipant) standardise(s *features.Standardizer) error {
	d := len(p.train.Features)
	if s == nil || len(s.Mean) != d || len(s.Std) != d {
		return fmt.Errorf("program: task carries no standardisation for %d features", d)
	}
	if p.scaler != nil && slices.Equal(p.scaler.Mean, s.Mean) && slices.Equal(p.scaler.Std, s.Std) {
		return nil
	}
	p.trainX = s.Transform(p.train.X)
	if p.val != nil {
		p.valX = s.Transform(p.val.X)
	}
	p.scaler = s
	return nil
}

// TrainConfig is the local training a job spec asks for; the pooled
// baseline uses it too, so both sides run the same code.
func TrainConfig(spec *fedscorepb.JobSpec, epochs int, seed uint64) (models.TrainConfig, error) {
	s, err := strategy.ByName(spec.GetStrategy(), spec.GetProxMu())
	if err != nil {
		return models.TrainConfig{}, err
	}
	return models.TrainConfig{
		Epochs: epochs, BatchSize: int(spec.GetBatchSize()), LearningRate: spec.GetLearningRate(),
		L2: spec.GetL2(), Optimizer: models.Optimizer(spec.GetOptimizer()), Seed: seed, ProxMu: s.LocalProx(),
	}, nil
}

// Model is the trained model as the API serves it.
func (p *Logistic) Model(jobID string) *fedscorepb.Model {
	d := p.dim
	m := &fedscorepb.Model{
		JobId: jobID, Kind: "logistic", Features: p.spec.GetFeatures(),
		Weights: slices.Clone(p.st.Params[:d]), Intercept: p.st.Params[d], Rounds: uint32(len(p.st.History)),
	}
	if p.st.Scaler != nil {
		m.Scaler = &fedscorepb.Standardizer{Mean: p.st.Scaler.Mean, Std: p.st.Scaler.Std}
	}
	if n := len(p.st.History); n > 0 {
		if v := p.st.History[n-1].Validation; v != nil {
			m.Validation = &fedscorepb.Metrics{Auc: v.AUC, Ks: v.KS, Logloss: v.LogLoss, Examples: uint64(v.Examples), Positives: uint64(v.Positives)}
		}
	}
	return m
}
