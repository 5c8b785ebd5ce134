package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/internal/federation"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/models/eval"
	"github.com/fedscore/fedscore/participant"
)

// simulateConfig is one experiment: a table, how to split it, and the job.
type simulateConfig struct {
	Data, Label, ID, Split string
	Participants           int
	Holdout                float64
	Seed                   int64
	Spec                   *fedscorepb.JobSpec
	Progress               io.Writer // nil: quiet
}

// SimulateResult is what simulate --json prints.
type SimulateResult struct {
	Data         string         `json:"data"`
	Split        string         `json:"split"`
	Rounds       int            `json:"rounds"`
	Participants int            `json:"participants"`
	PartRows     []int          `json:"participant_rows"`
	TestRows     int            `json:"test_rows"`
	Features     []string       `json:"features"`
	Federated    binaryJSON     `json:"federated"`
	Pooled       binaryJSON     `json:"pooled"`
	JobID        string         `json:"job_id"`
	WallSeconds  float64        `json:"wall_s"`
	RoundHistory []roundSummary `json:"round_history"`
}

type binaryJSON struct {
	AUC       float64 `json:"auc"`
	KS        float64 `json:"ks"`
	LogLoss   float64 `json:"logloss"`
	N         int     `json:"n"`
	Positives int     `json:"positives"`
}

type roundSummary struct {
	Round     uint32  `json:"round"`
	TrainLoss float64 `json:"train_loss"`
	ValAUC    float64 `json:"val_auc"`
}

func runSimulate(args []string) error {
	fs := newFlags("simulate", "simulate --data FILE(.csv|.parquet) --label COL [--id COL] --participants N --split iid|COLUMN --model logistic [--rounds R] [--seed S] [--json]")
	data := fs.String("data", "", "table to experiment on (required)")
	label := fs.String("label", "", "binary label column (required)")
	id := fs.String("id", "", "id column (not a feature)")
	n := fs.Int("participants", 3, "number of participants")
	split := fs.String("split", "iid", "iid, or a column whose values assign rows to participants (non-IID)")
	model := fs.String("model", "logistic", "model family")
	rounds := fs.Uint("rounds", 20, "training rounds")
	epochs := fs.Uint("local-epochs", 1, "local epochs per round")
	lr := fs.Float64("learning-rate", 0, "local learning rate (default 0.01)")
	batch := fs.Uint("batch-size", 0, "local mini-batch size (default 64)")
	strat := fs.String("strategy", "fedavg", "fedavg or fedprox")
	mu := fs.Float64("prox-mu", 0, "FedProx proximal coefficient")
	seed := fs.Int64("seed", 1, "seed for the holdout, the split and training")
	holdout := fs.Float64("holdout", 0.2, "stratified test fraction held out before splitting")
	asJSON := fs.Bool("json", false, "print one JSON object with the results")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *label == "" {
		fs.Usage()
		return errors.New("simulate: --data and --label are required")
	}
	cfg := simulateConfig{
		Data: *data, Label: *label, ID: *id, Split: *split, Participants: *n, Holdout: *holdout, Seed: *seed,
		Spec: &fedscorepb.JobSpec{
			Name: "simulate", Model: *model, Label: *label, IdColumn: *id, Rounds: uint32(*rounds),
			LocalEpochs: uint32(*epochs), LearningRate: *lr, BatchSize: uint32(*batch),
			Strategy: *strat, ProxMu: *mu, Seed: uint64(*seed),
		},
	}
	if !*asJSON {
		cfg.Progress = os.Stderr
	}
	res, err := simulate(context.Background(), cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("%d participants (%s split), %d rounds, %d test rows, %.1fs\n", res.Participants, res.Split, res.Rounds, res.TestRows, res.WallSeconds)
	fmt.Printf("%-10s %8s %8s %8s\n", "", "AUC", "KS", "logloss")
	fmt.Printf("%-10s %8.4f %8.4f %8.4f\n", "federated", res.Federated.AUC, res.Federated.KS, res.Federated.LogLoss)
	fmt.Printf("%-10s %8.4f %8.4f %8.4f\n", "pooled", res.Pooled.AUC, res.Pooled.KS, res.Pooled.LogLoss)
	return nil
}

func simulate(ctx context.Context, c simulateConfig) (*SimulateResult, error) {
	start := time.Now()
	table, err := datasets.ReadTable(c.Data)
	if err != nil {
		return nil, err
	}
	if len(c.Spec.Features) == 0 {
		if c.Spec.Features, err = numericFeatures(c.Data, c.ID, c.Label); err != nil {
			return nil, err
		}
	}
	spec, err := coordinator.NormalizeSpec(c.Spec)
	if err != nil {
		return nil, err
	}
	schema := datasets.Schema{ID: c.ID, Label: c.Label, Features: spec.Features}
	if _, err := schema.Frame(table, c.Data); err != nil {
		return nil, err
	}
	train, test, err := datasets.StratifiedHoldout(table, c.Label, c.Holdout, c.Seed)
	if err != nil {
		return nil, err
	}
	parts, err := datasets.SplitHorizontal(train, c.Participants, c.Split, c.Label, c.Seed)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fedscore-simulate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{}
	res := &SimulateResult{Data: c.Data, Split: c.Split, Participants: c.Participants, TestRows: test.Rows(), Features: spec.Features}
	for i, p := range parts {
		id := fmt.Sprintf("p%d", i+1)
		path := filepath.Join(dir, id+".parquet")
		if err := datasets.WriteParquet(path, p); err != nil {
			return nil, err
		}
		files[id] = path
		res.PartRows = append(res.PartRows, p.Rows())
		spec.Participants = append(spec.Participants, id)
	}
	spec.MinParticipants = uint32(len(parts))

	fed, err := federation.Start(federation.Options{Participants: files})
	if err != nil {
		return nil, err
	}
	defer fed.Close()
	var progress func(*fedscorepb.Job)
	if c.Progress != nil {
		p := newProgress(c.Progress)
		defer p.done()
		progress = p.update
	}
	job, err := fed.Run(ctx, spec, progress)
	if err != nil {
		return nil, err
	}
	if job.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		return nil, fmt.Errorf("simulate: job %s %s: %s", job.GetId(), stateName(job.GetState()), job.GetError())
	}
	res.JobID = job.GetId()
	res.Rounds = len(job.GetRounds())
	for _, r := range job.GetRounds() {
		res.RoundHistory = append(res.RoundHistory, roundSummary{Round: r.GetRound(), TrainLoss: r.GetTrainLoss(), ValAUC: r.GetValidation().GetAuc()})
	}

	testFrame, err := schema.Frame(test, c.Data)
	if err != nil {
		return nil, err
	}
	fedModel, scaler, err := modelFromProto(job.GetModel())
	if err != nil {
		return nil, err
	}
	if res.Federated, err = evaluate(fedModel, scaler, testFrame); err != nil {
		return nil, err
	}
	pooled, pooledScaler, err := trainPooled(train, schema, c.Data, spec)
	if err != nil {
		return nil, err
	}
	if res.Pooled, err = evaluate(pooled, pooledScaler, testFrame); err != nil {
		return nil, err
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// trainPooled trains the same model with the same code on the union of the
// participants' rows: the baseline federated learning is measured against.
func trainPooled(train *datasets.Table, schema datasets.Schema, source string, spec *fedscorepb.JobSpec) (*models.Logistic, features.Standardizer, error) {
	f, err := schema.Frame(train, source)
	if err != nil {
		return nil, features.Standardizer{}, err
	}
	mo := features.NewMoments(len(f.Features))
	mo.AddMatrix(f.X)
	st, err := mo.Standardizer()
	if err != nil {
		return nil, st, err
	}
	x := st.Transform(f.X)
	m := models.NewLogistic(len(f.Features))
	tc, err := participant.TrainConfig(spec, int(spec.GetRounds()*spec.GetLocalEpochs()), spec.GetSeed())
	if err != nil {
		return nil, st, err
	}
	if _, err := m.Fit(x, f.Y, tc); err != nil {
		return nil, st, err
	}
	return m, st, nil
}

func modelFromProto(pm *fedscorepb.Model) (*models.Logistic, features.Standardizer, error) {
	st := features.Standardizer{Mean: pm.GetScaler().GetMean(), Std: pm.GetScaler().GetStd()}
	m := models.NewLogistic(len(pm.GetWeights()))
	if err := m.SetParams(append(append([]float64(nil), pm.GetWeights()...), pm.GetIntercept())); err != nil {
		return nil, st, err
	}
	return m, st, nil
}

func evaluate(m *models.Logistic, st features.Standardizer, f *datasets.Frame) (binaryJSON, error) {
	probs := m.Predict(st.Transform(f.X), nil)
	b, err := eval.BinaryMetrics(probs, f.Y)
	return binaryJSON{AUC: b.AUC, KS: b.KS, LogLoss: b.LogLoss, N: b.N, Positives: b.Positives}, err
}
