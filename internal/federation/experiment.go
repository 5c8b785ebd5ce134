package federation

import (
	"context"
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
	LogLoss   float64 `json:"logloss"`
	N         int     `json:"n"`
	Positives int     `json:"positives"`
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
	if _, err := schema.Frame(e.Table, e.Source); err != nil {
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
	pooled, pooledScaler, err := TrainPooled(train, schema, e.Source, spec)
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
	if len(spec.Features) == 0 {
		f, err := NumericFeatures(e.Table, e.ID, e.Label)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Source, err)
		}
		spec.Features = f
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
	return Metrics{AUC: b.AUC, KS: b.KS, LogLoss: b.LogLoss, N: b.N, Positives: b.Positives}, err
}
