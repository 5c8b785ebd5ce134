// Package participant is the participant node: it dials the coordinator,
// holds one long-lived stream, and answers each task from its own local
// data. Raw rows never leave the node; what it sends is a contribution
// vector that the coordinator only sums (coordinator/round.Layout).
package participant

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/coordinator/strategy"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/models/eval"
	"gonum.org/v1/gonum/mat"
	"google.golang.org/grpc"
)

// Version is sent to the coordinator in Hello.
const Version = "fedscore-participant/0.1"

// Config wires a Node.
type Config struct {
	// ID names the participant; jobs list participants by it.
	ID string
	// Coordinator is the coordinator's gRPC address.
	Coordinator string
	// Data is the node's local table (.parquet or .csv).
	Data string
	// DialOptions carry transport credentials and the like.
	DialOptions []grpc.DialOption
	Log         *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnects.
	MinBackoff, MaxBackoff time.Duration
}

func (c *Config) validate() error {
	switch {
	case c.ID == "":
		return errors.New("participant: config needs an id")
	case c.Coordinator == "":
		return errors.New("participant: config needs a coordinator address")
	case c.Data == "":
		return errors.New("participant: config needs a data file")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(c.MinBackoff, 10*time.Second)
	}
	return nil
}

// Node is a running participant.
type Node struct {
	cfg   Config
	log   *slog.Logger
	table *datasets.Table

	mu   sync.Mutex
	jobs map[string]*jobData
}

// jobData is a job's view of the local table, prepared once.
type jobData struct {
	spec       *fedscorepb.JobSpec
	train, val *datasets.Frame
	scaler     *fedscorepb.Standardizer
	trainX     *mat.Dense // standardised with scaler
	valX       *mat.Dense
}

// New loads the node's data, so a bad file is reported before the node
// ever connects.
func New(c Config) (*Node, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	t, err := datasets.ReadTable(c.Data)
	if err != nil {
		return nil, err
	}
	if t.Rows() == 0 {
		return nil, fmt.Errorf("participant: %s: %w", c.Data, datasets.ErrEmpty)
	}
	return &Node{cfg: c, log: c.Log.With("participant", c.ID), table: t, jobs: map[string]*jobData{}}, nil
}

// Rows is the number of rows in the node's table.
func (n *Node) Rows() int { return n.table.Rows() }

// Run serves the coordinator until ctx ends, reconnecting with jittered
// exponential backoff whenever the stream breaks or the coordinator is
// unreachable.
func (n *Node) Run(ctx context.Context) error {
	backoff := n.cfg.MinBackoff
	for {
		start := time.Now()
		err := n.serve(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 30*time.Second {
			backoff = n.cfg.MinBackoff // it was a working session, not a crash loop
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		n.log.Warn("coordinator stream ended; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, n.cfg.MaxBackoff)
	}
}

func (n *Node) serve(ctx context.Context) error {
	conn, err := grpc.NewClient(n.cfg.Coordinator, n.cfg.DialOptions...)
	if err != nil {
		return fmt.Errorf("participant: dial %s: %w", n.cfg.Coordinator, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := fedscorepb.NewFederationClient(conn).Connect(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Hello{Hello: &fedscorepb.Hello{
		ParticipantId: n.cfg.ID, Version: Version,
	}}}); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetWelcome() == nil {
		return fmt.Errorf("participant: coordinator did not welcome us (got %T)", first.GetBody())
	}
	n.log.Info("connected to coordinator", "coordinator", n.cfg.Coordinator, "version", first.GetWelcome().GetCoordinatorVersion())

	// Tasks run one at a time on a worker so that the receive loop keeps
	// reading (job ends, cancellations) while a long training step runs.
	tasks := make(chan *fedscorepb.Task, 64)
	workerErr := make(chan error, 1)
	go func() {
		for t := range tasks {
			res := n.Handle(t)
			if err := stream.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Result{Result: res}}); err != nil {
				workerErr <- err
				cancel()
				for range tasks {
				}
				return
			}
		}
		workerErr <- nil
	}()
	defer func() { close(tasks) }()
	for {
		msg, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("participant: coordinator closed the stream")
			}
			return err
		}
		switch b := msg.GetBody().(type) {
		case *fedscorepb.CoordinatorMessage_Task:
			select {
			case tasks <- b.Task:
			default:
				return errors.New("participant: task queue full")
			}
		case *fedscorepb.CoordinatorMessage_JobEnded:
			n.log.Info("job ended", "job", b.JobEnded.GetJobId(), "state", b.JobEnded.GetState(), "reason", b.JobEnded.GetReason())
			n.mu.Lock()
			delete(n.jobs, b.JobEnded.GetJobId())
			n.mu.Unlock()
		}
	}
}

// Handle computes the answer to one task. It never fails outright: a
// problem with the local data becomes the result's error, so the
// coordinator learns why this node sat the phase out.
func (n *Node) Handle(t *fedscorepb.Task) *fedscorepb.TaskResult {
	res := &fedscorepb.TaskResult{JobId: t.GetJobId(), Seq: t.GetSeq(), Kind: t.GetKind()}
	log := n.log.With("job", t.GetJobId(), "round", t.GetRound(), "kind", t.GetKind())
	start := time.Now()
	v, err := n.compute(t)
	if err != nil {
		log.Warn("task failed", "err", err)
		res.Error = err.Error()
		return res
	}
	log.Debug("task done", "took", time.Since(start))
	res.Contribution = v
	return res
}

func (n *Node) compute(t *fedscorepb.Task) ([]float64, error) {
	jd, err := n.job(t.GetJobId(), t.GetSpec())
	if err != nil {
		return nil, err
	}
	layout := round.Layout{Dim: len(jd.train.Features), Bins: eval.DefaultBins}
	switch t.GetKind() {
	case fedscorepb.TaskKind_TASK_KIND_STATS:
		m := features.NewMoments(layout.Dim)
		m.AddMatrix(jd.train.X)
		return layout.PackStats(round.StatsContribution{Moments: m, Positives: positives(jd.train.Y)})
	case fedscorepb.TaskKind_TASK_KIND_TRAIN:
		if err := n.standardise(jd, t.GetScaler()); err != nil {
			return nil, err
		}
		model := models.NewLogistic(layout.Dim)
		if err := model.SetParams(t.GetParams()); err != nil {
			return nil, fmt.Errorf("participant: global parameters: %w", err)
		}
		val, err := validate(model, jd, layout.Bins)
		if err != nil {
			return nil, err
		}
		cfg, err := trainConfig(t.GetSpec(), t.GetRound(), n.cfg.ID)
		if err != nil {
			return nil, err
		}
		fit, err := model.Fit(jd.trainX, jd.train.Y, cfg)
		if err != nil {
			return nil, fmt.Errorf("participant: local training: %w", err)
		}
		nTrain := float64(len(jd.train.Y))
		wp := model.Params()
		for i := range wp {
			wp[i] *= nTrain
		}
		return layout.PackTrain(round.TrainContribution{
			WeightedParams: wp, Weight: nTrain, Examples: nTrain, LossSum: fit.Loss * nTrain, Validation: val,
		})
	case fedscorepb.TaskKind_TASK_KIND_EVAL:
		if err := n.standardise(jd, t.GetScaler()); err != nil {
			return nil, err
		}
		model := models.NewLogistic(layout.Dim)
		if err := model.SetParams(t.GetParams()); err != nil {
			return nil, fmt.Errorf("participant: global parameters: %w", err)
		}
		val, err := validate(model, jd, layout.Bins)
		if err != nil {
			return nil, err
		}
		return layout.PackEval(val)
	}
	return nil, fmt.Errorf("participant: unknown task kind %v", t.GetKind())
}

// TrainConfig is the local training a job spec asks for in a given round;
// simulate uses it for the pooled baseline so both sides run the same code.
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

func trainConfig(spec *fedscorepb.JobSpec, round uint32, id string) (models.TrainConfig, error) {
	h := fnv.New64a()
	h.Write([]byte(id))
	return TrainConfig(spec, int(spec.GetLocalEpochs()), spec.GetSeed()^h.Sum64()^uint64(round)*0x9e3779b97f4a7c15)
}

func positives(y []float64) float64 {
	var p float64
	for _, v := range y {
		p += v
	}
	return p
}

// validate measures a model on the node's validation rows.
func validate(model *models.Logistic, jd *jobData, bins int) (round.Validation, error) {
	hist := eval.NewScoreHistogram(bins)
	val := round.Validation{Hist: hist}
	if jd.val == nil || len(jd.val.Y) == 0 {
		return val, nil
	}
	probs := model.Predict(jd.valX, nil)
	if err := val.Hist.AddAll(probs, jd.val.Y); err != nil {
		return val, err
	}
	ll, err := eval.LogLoss(probs, jd.val.Y)
	if err != nil {
		return val, err
	}
	val.LossSum = ll * float64(len(probs))
	val.Examples = float64(len(probs))
	return val, nil
}

// job prepares (once per job) the node's train and validation frames.
func (n *Node) job(id string, spec *fedscorepb.JobSpec) (*jobData, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if jd := n.jobs[id]; jd != nil {
		return jd, nil
	}
	schema := datasets.Schema{ID: spec.GetIdColumn(), Label: spec.GetLabel(), Features: spec.GetFeatures()}
	// Validate the whole table first, so errors name the file, not a split.
	if _, err := schema.Frame(n.table, n.cfg.Data); err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(n.cfg.ID))
	train, val, err := datasets.StratifiedHoldout(n.table, spec.GetLabel(), spec.GetValidationFraction(), int64(spec.GetSeed()^h.Sum64()))
	if err != nil {
		return nil, err
	}
	jd := &jobData{spec: spec}
	if jd.train, err = schema.Frame(train, n.cfg.Data); err != nil {
		return nil, err
	}
	if val.Rows() > 0 {
		if jd.val, err = schema.Frame(val, n.cfg.Data); err != nil {
			return nil, err
		}
	}
	n.jobs[id] = jd
	return jd, nil
}

// standardise applies the job's federated standardisation once.
func (n *Node) standardise(jd *jobData, s *fedscorepb.Standardizer) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s == nil || len(s.GetMean()) != len(jd.train.Features) || len(s.GetStd()) != len(jd.train.Features) {
		return fmt.Errorf("participant: task carries no standardisation for %d features", len(jd.train.Features))
	}
	if jd.scaler != nil && equal(jd.scaler.GetMean(), s.GetMean()) && equal(jd.scaler.GetStd(), s.GetStd()) {
		return nil
	}
	st := features.Standardizer{Mean: s.GetMean(), Std: s.GetStd()}
	jd.trainX = st.Transform(jd.train.X)
	if jd.val != nil {
		jd.valX = st.Transform(jd.val.X)
	}
	jd.scaler = s
	return nil
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
