package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"google.golang.org/grpc"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/models/eval"
)

// Experiment is a data scientist's question in one call: how does a model
// trained federated across N participants compare with the same model
// trained on the pooled rows?
type Experiment struct {
	Table  *datasets.Table
	Source string // names the table in errors
	Label  string
	ID     string
	// Split is "iid" or a column whose values assign rows to participants.
	Split        string
	Participants int
	// Holdout is the stratified test fraction held out before splitting.
	Holdout float64
	Seed    int64
	// Spec is the job; empty Features means every numeric column.
	Spec *fedscorepb.JobSpec
	// Progress, if set, sees every job update.
	Progress func(*fedscorepb.Job)
	Log      *slog.Logger
	// ServerOptions are passed to the coordinator's gRPC server.
	ServerOptions []grpc.ServerOption
}

// Metrics are test-set figures of one model.
type Metrics struct {
	AUC       float64 `json:"auc"`
	KS        float64 `json:"ks"`
	Gini      float64 `json:"gini"`
	LogLoss   float64 `json:"logloss"`
	Brier     float64 `json:"brier,omitempty"`
	N         int     `json:"n"`
	Positives int     `json:"positives,omitempty"`
	// Binned models: information value per feature.
	IV map[string]float64 `json:"iv,omitempty"`
	// Score-band tiers (binary binned models): observed event rates on
	// the test rows, tier A first.
	Tiers []TierRate `json:"tiers,omitempty"`
	// Multi-class models.
	Accuracy float64   `json:"accuracy,omitempty"`
	MacroF1  float64   `json:"macro_f1,omitempty"`
	Recall   []float64 `json:"recall,omitempty"`
}

// TierRate is one tier's population and event rate on test rows.
type TierRate struct {
	Tier string  `json:"tier"`
	Rows int     `json:"rows"`
	Rate float64 `json:"rate"`
}

// RoundSummary is one training round as the coordinator recorded it.
type RoundSummary struct {
	Round     uint32  `json:"round"`
	TrainLoss float64 `json:"train_loss"`
	ValAUC    float64 `json:"val_auc"`
}

// Result is what an experiment measured.
type Result struct {
	Data         string         `json:"data"`
	Split        string         `json:"split"`
	SecureAgg    bool           `json:"secure_aggregation"`
	Rounds       int            `json:"rounds"`
	Participants int            `json:"participants"`
	PartRows     []int          `json:"participant_rows"`
	TestRows     int            `json:"test_rows"`
	Features     []string       `json:"features"`
	Federated    Metrics        `json:"federated"`
	Pooled       Metrics        `json:"pooled"`
	JobID        string         `json:"job_id"`
	WallSeconds  float64        `json:"wall_s"`
	RoundHistory []RoundSummary `json:"round_history"`
}

// Run holds out a test set, splits the rest among the participants, writes
// each part to its own Parquet file, starts a real federation over loopback
// gRPC, runs the job, and measures the federated and the pooled model on
// the test set.
func (e Experiment) Run(ctx context.Context) (*Result, error) {
	start := time.Now()
	spec, err := e.spec()
	if err != nil {
		return nil, err
	}
	schema := datasets.Schema{ID: e.ID, Label: e.Label, Features: spec.Features}
	binned := spec.GetModel() != "logistic"
	if binned {
		if _, err := program.Labels(spec, e.Table, e.Source); err != nil {
			return nil, err
		}
	} else if _, err := schema.Frame(e.Table, e.Source); err != nil {
		return nil, err
	}
	train, test, err := datasets.StratifiedHoldout(e.Table, e.Label, e.Holdout, e.Seed)
	if err != nil {
		return nil, err
	}
	parts, err := datasets.SplitHorizontal(train, e.Participants, e.Split, e.Label, e.Seed)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fedscore-experiment-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	res := &Result{Data: e.Source, Split: e.Split, SecureAgg: !spec.PlainAggregation, Participants: e.Participants, TestRows: test.Rows(), Features: spec.Features}
	files := map[string]string{}
	// The pooled baseline trains on exactly the rows the participants
	// train on (each keeps a validation share back), in one place.
	var pooledRows *datasets.Table
	for i, p := range parts {
		id := fmt.Sprintf("p%d", i+1)
		path := filepath.Join(dir, id+".parquet")
		if err := datasets.WriteParquet(path, p); err != nil {
			return nil, err
		}
		files[id] = path
		res.PartRows = append(res.PartRows, p.Rows())
		spec.Participants = append(spec.Participants, id)
		localTrain, _, err := program.LocalSplit(spec, id, p)
		if err != nil {
			return nil, fmt.Errorf("participant %s: %w", id, err)
		}
		if pooledRows, err = datasets.Concat(pooledRows, localTrain); err != nil {
			return nil, err
		}
	}
	spec.MinParticipants = uint32(len(parts))

	fed, err := Start(Options{Participants: files, Log: e.Log, ServerOptions: e.ServerOptions})
	if err != nil {
		return nil, err
	}
	defer fed.Close()
	job, err := fed.Run(ctx, spec, e.Progress)
	if err != nil {
		return nil, err
	}
	if job.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		return nil, fmt.Errorf("federation: job %s ended %s: %s", job.GetId(), job.GetState(), job.GetError())
	}
	res.JobID = job.GetId()
	res.Rounds = len(job.GetRounds())
	for _, r := range job.GetRounds() {
		res.RoundHistory = append(res.RoundHistory, RoundSummary{Round: r.GetRound(), TrainLoss: r.GetTrainLoss(), ValAUC: r.GetValidation().GetAuc()})
	}

	if binned {
		if res.Federated, err = EvaluateBinned(job.GetModel(), spec, test, e.Source); err != nil {
			return nil, err
		}
		pooled, err := TrainPooledBinned(pooledRows, spec, e.Source)
		if err != nil {
			return nil, err
		}
		if res.Pooled, err = EvaluateBinned(pooled, spec, test, e.Source); err != nil {
			return nil, err
		}
		res.WallSeconds = time.Since(start).Seconds()
		return res, nil
	}
	testFrame, err := schema.Frame(test, e.Source)
	if err != nil {
		return nil, err
	}
	fedModel, scaler, err := ModelFromProto(job.GetModel())
	if err != nil {
		return nil, err
	}
	if res.Federated, err = Evaluate(fedModel, scaler, testFrame); err != nil {
		return nil, err
	}
	pooled, pooledScaler, err := TrainPooled(pooledRows, schema, e.Source, spec)
	if err != nil {
		return nil, err
	}
	if res.Pooled, err = Evaluate(pooled, pooledScaler, testFrame); err != nil {
		return nil, err
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

func (e Experiment) spec() (*fedscorepb.JobSpec, error) {
	spec := e.Spec
	if spec == nil {
		spec = &fedscorepb.JobSpec{}
	}
	spec.Label, spec.IdColumn = e.Label, e.ID
	spec.MinParticipants = uint32(e.Participants)
	binned := spec.GetModel() == program.ModelScorecard || spec.GetModel() == program.ModelSoftmax
	if len(spec.Features) == 0 {
		if binned {
			for _, c := range e.Table.Columns {
				if c.Name != e.ID && c.Name != e.Label {
					spec.Features = append(spec.Features, c.Name)
				}
			}
		} else {
			f, err := NumericFeatures(e.Table, e.ID, e.Label)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Source, err)
			}
			spec.Features = f
		}
	}
	if spec.GetModel() == program.ModelSoftmax && spec.Classes == 0 {
		if c := e.Table.Column(e.Label); c != nil && c.Kind != datasets.String {
			for _, v := range c.Float {
				if v+1 > float64(spec.Classes) && v < 1000 {
					spec.Classes = uint32(v + 1)
				}
			}
		}
	}
	return program.NormalizeSpec(spec)
}

// NumericFeatures lists a table's numeric columns other than id and label.
func NumericFeatures(t *datasets.Table, id, label string) ([]string, error) {
	var out []string
	for _, c := range t.Columns {
		if c.Name == id || c.Name == label || c.Kind == datasets.String {
			continue
		}
		out = append(out, c.Name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("federation: no numeric columns besides id and label")
	}
	return out, nil
}

// TrainPooled trains the job's model with the same code on rows pooled in
// one place: the baseline that federated training is measured against.
func TrainPooled(train *datasets.Table, schema datasets.Schema, source string, spec *fedscorepb.JobSpec) (*models.Logistic, features.Standardizer, error) {
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
	m := models.NewLogistic(len(f.Features))
	tc, err := program.TrainConfig(spec, int(spec.GetRounds()*spec.GetLocalEpochs()), spec.GetSeed())
	if err != nil {
		return nil, st, err
	}
	if _, err := m.Fit(st.Transform(f.X), f.Y, tc); err != nil {
		return nil, st, err
	}
	return m, st, nil
}

// ModelFromProto rebuilds a trained logistic model and its standardisation.
func ModelFromProto(pm *fedscorepb.Model) (*models.Logistic, features.Standardizer, error) {
	st := features.Standardizer{Mean: pm.GetScaler().GetMean(), Std: pm.GetScaler().GetStd()}
	m := models.NewLogistic(len(pm.GetWeights()))
	if err := m.SetParams(append(append([]float64(nil), pm.GetWeights()...), pm.GetIntercept())); err != nil {
		return nil, st, err
	}
	return m, st, nil
}

// Evaluate measures a model on a frame.
func Evaluate(m *models.Logistic, st features.Standardizer, f *datasets.Frame) (Metrics, error) {
	probs := m.Predict(st.Transform(f.X), nil)
	b, err := eval.BinaryMetrics(probs, f.Y)
	return Metrics{AUC: b.AUC, KS: b.KS, Gini: 2*b.AUC - 1, LogLoss: b.LogLoss, N: b.N, Positives: b.Positives}, err
}

// binningJobOf is the binning both sides of a binned job run.
func binningJobOf(spec *fedscorepb.JobSpec) (features.BinningJob, error) {
	var pcfg features.PipelineConfig
	if len(spec.GetPipelineConfig()) > 0 {
		if err := json.Unmarshal(spec.GetPipelineConfig(), &pcfg); err != nil {
			return features.BinningJob{}, err
		}
	}
	var bcfg features.BinConfig
	if len(spec.GetBinConfig()) > 0 {
		if err := json.Unmarshal(spec.GetBinConfig(), &bcfg); err != nil {
			return features.BinningJob{}, err
		}
	}
	cat := map[string]bool{}
	for _, c := range spec.GetCategorical() {
		cat[c] = true
	}
	job := features.BinningJob{Classes: 2, Bins: bcfg, Pipeline: pcfg}
	if spec.GetModel() == program.ModelSoftmax {
		job.Classes = int(spec.GetClasses())
	}
	for _, f := range spec.GetFeatures() {
		job.Specs = append(job.Specs, features.FeatureSpec{Name: f, Categorical: cat[f]})
	}
	for _, d := range pcfg.Derived {
		job.Specs = append(job.Specs, features.FeatureSpec{Name: d.Name})
	}
	return job, nil
}

// TrainPooledBinned bins and trains a binned job's model on rows pooled in
// one place, with the same code the participants run.
func TrainPooledBinned(train *datasets.Table, spec *fedscorepb.JobSpec, source string) (*fedscorepb.Model, error) {
	job, err := binningJobOf(spec)
	if err != nil {
		return nil, err
	}
	y, err := program.Labels(spec, train, source)
	if err != nil {
		return nil, err
	}
	pipe, _, err := features.FitBinning([]*datasets.Table{train}, [][]float64{y}, job)
	if err != nil {
		return nil, err
	}
	x, err := pipe.Transform(train)
	if err != nil {
		return nil, err
	}
	tc, err := program.TrainConfig(spec, int(spec.GetRounds()*spec.GetLocalEpochs()), spec.GetSeed())
	if err != nil {
		return nil, err
	}
	cols := x.RawMatrix().Cols
	m := &fedscorepb.Model{Kind: spec.GetModel(), Classes: uint32(job.Classes)}
	if m.Pipeline, err = json.Marshal(pipe); err != nil {
		return nil, err
	}
	if job.Classes > 2 {
		sm := models.NewSoftmax(job.Classes, cols)
		if _, err := sm.Fit(x, y, tc); err != nil {
			return nil, err
		}
		m.Params = sm.Params()
		return m, nil
	}
	lr := models.NewLogistic(cols)
	if _, err := lr.Fit(x, y, tc); err != nil {
		return nil, err
	}
	m.Params = lr.Params()
	return m, nil
}

// EvaluateBinned measures a binned model on a test table.
func EvaluateBinned(pm *fedscorepb.Model, spec *fedscorepb.JobSpec, test *datasets.Table, source string) (Metrics, error) {
	pipe, err := features.ParsePipeline(pm.GetPipeline())
	if err != nil {
		return Metrics{}, err
	}
	x, err := pipe.Transform(test)
	if err != nil {
		return Metrics{}, err
	}
	y, err := program.Labels(spec, test, source)
	if err != nil {
		return Metrics{}, err
	}
	cols := x.RawMatrix().Cols
	if k := int(pm.GetClasses()); k > 2 {
		sm := models.NewSoftmax(k, cols)
		if err := sm.SetParams(pm.GetParams()); err != nil {
			return Metrics{}, err
		}
		mc, err := eval.MulticlassMetrics(sm.Predict(x, nil), y)
		if err != nil {
			return Metrics{}, err
		}
		return Metrics{Accuracy: mc.Accuracy, MacroF1: mc.MacroF1, LogLoss: mc.LogLoss, Recall: mc.Recall, N: int(mc.N)}, nil
	}
	lr := models.NewLogistic(cols)
	if err := lr.SetParams(pm.GetParams()); err != nil {
		return Metrics{}, err
	}
	probs := lr.Predict(x, nil)
	b, err := eval.BinaryMetrics(probs, y)
	if err != nil {
		return Metrics{}, err
	}
	brier, _ := eval.Brier(probs, y)
	out := Metrics{AUC: b.AUC, KS: b.KS, Gini: 2*b.AUC - 1, LogLoss: b.LogLoss, Brier: brier, N: b.N, Positives: b.Positives, IV: map[string]float64{}}
	for _, f := range pipe.Features {
		out.IV[f.Name] = f.IV
	}
	if len(pm.GetTiers()) > 0 {
		var tiering models.Tiering
		if err := json.Unmarshal(pm.GetTiers(), &tiering); err != nil {
			return out, err
		}
		rows := make([]int, len(tiering.Names))
		events := make([]float64, len(tiering.Names))
		for i, p := range probs {
			if k := tiering.Tier(p); k >= 0 && k < len(rows) {
				rows[k]++
				events[k] += y[i]
			}
		}
		for k, name := range tiering.Names {
			tr := TierRate{Tier: name, Rows: rows[k]}
			if rows[k] > 0 {
				tr.Rate = events[k] / float64(rows[k])
			}
			out.Tiers = append(out.Tiers, tr)
		}
	}
	return out, nil
}
