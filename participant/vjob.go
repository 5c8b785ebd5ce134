package participant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/models/eval"
	"github.com/fedscore/fedscore/secure/vertical"
	"google.golang.org/grpc"
)

// VerticalJobConfig is one party's side of a vertical job that a
// scientist submitted to the coordinator: the party joins it, takes its
// columns and parameters from the job, trains over the relay and keeps
// its checkpoints and its half of the model in its own state directory.
type VerticalJobConfig struct {
	Job string
	// Self is the party's identity (its certificate name).
	Self string
	// Data is the data party's aligned table (from fedscore psi); the
	// helper has none.
	Data string
	// StateDir holds the party's checkpoints and model half, under
	// vertical/<job>/. Required for data parties.
	StateDir string
	// Rand supplies session keys and the bank's initial weights; nil means
	// crypto/rand.
	Rand io.Reader
	Log  *slog.Logger
	// AfterIteration, if set, is called after each iteration the data
	// party completes (tests stop a party there).
	AfterIteration func(iteration uint64)
}

// VerticalJobResult is what a party's run of a vertical job ended with.
type VerticalJobResult struct {
	Role vertical.Role
	// Start is the iteration the attempt started from (0, or the
	// checkpoint it resumed); Iterations the job's total.
	Start, Iterations uint64
	// ModelPath is where the data party keeps its half of the model.
	ModelPath string
	// Bank: the validation metrics it reported and the version the job
	// registered.
	Validation *fedscorepb.Metrics
	Version    string
	// BinRows and BinBad are what the partner learned from the bin-count
	// product (rows and bad rows of each of its counted bins), when this
	// attempt ran it; BinGroups gives, per feature of the partner's
	// pipeline, the counted bin of each of its bins (feature 0's counted
	// bins come first, and so on).
	BinRows, BinBad []int
	BinGroups       [][]int
}

// VerticalModelFile is a data party's half of a vertical model as kept on
// its own host: the bank's holds the tiers too. It never leaves the party.
type VerticalModelFile struct {
	Job  string `json:"job"`
	Role string `json:"role"`
	// Model is "scorecard" or "logistic" (empty in files of before the
	// scorecard: logistic).
	Model    string   `json:"model,omitempty"`
	Features []string `json:"features"`
	// Pipeline is a scorecard's fitted binning of this party's columns
	// (plain data): scoring transforms the party's table with it, as
	// training did, before the half-model sees it.
	Pipeline *features.Pipeline `json:"pipeline,omitempty"`
	// Scaling (bank) is the job's points scale: base score at base odds,
	// points to double the odds; zero fields take models' defaults.
	Scaling *models.ScorecardConfig `json:"scaling,omitempty"`
	Bank    *vertical.BankModel     `json:"bank,omitempty"`
	Partner *vertical.PartnerModel  `json:"partner,omitempty"`
	Tiers   *models.Tiering         `json:"tiers,omitempty"`
}

// VerticalStateDir is where a party keeps a vertical job's state.
func VerticalStateDir(stateDir, job string) string {
	return filepath.Join(stateDir, "vertical", safeName(job))
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, s)
}

const checkpointPrefix, checkpointSuffix = "checkpoint-", ".bin"

// keptCheckpoints is how many checkpoints a party keeps: the bank and the
// partner are never more than one iteration apart (see
// VerticalConfig.Checkpoint), so the last two always include one both
// hold.
const keptCheckpoints = 2

// checkpoints lists the iterations of the job's checkpoints in dir that
// decode and belong to the job, in ascending order.
func checkpoints(dir, job string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, checkpointPrefix) || !strings.HasSuffix(name, checkpointSuffix) {
			continue
		}
		it, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, checkpointPrefix), checkpointSuffix), 10, 64)
		if err != nil {
			continue
		}
		if cp, err := loadCheckpoint(dir, it); err == nil && cp.Job == job {
			out = append(out, it)
		}
	}
	slices.Sort(out)
	return out, nil
}

func checkpointPath(dir string, it uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%d%s", checkpointPrefix, it, checkpointSuffix))
}

func loadCheckpoint(dir string, it uint64) (*vertical.Checkpoint, error) {
	b, err := os.ReadFile(checkpointPath(dir, it))
	if err != nil {
		return nil, err
	}
	cp := new(vertical.Checkpoint)
	if err := cp.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("participant: checkpoint %s: %w", checkpointPath(dir, it), err)
	}
	if cp.Iteration != it {
		return nil, fmt.Errorf("participant: checkpoint %s holds iteration %d", checkpointPath(dir, it), cp.Iteration)
	}
	return cp, nil
}

// writeFileSync writes a file whole or not at all: a crash leaves the old
// one, never a torn one.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// dropCheckpoints removes the job's checkpoints from dir.
func dropCheckpoints(dir, job string) error {
	its, err := checkpoints(dir, job)
	if err != nil {
		return err
	}
	for _, it := range its {
		if err := os.Remove(checkpointPath(dir, it)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// saveCheckpoint writes cp and removes all but the latest kept ones.
func saveCheckpoint(dir string, cp *vertical.Checkpoint) error {
	b, err := cp.MarshalBinary()
	if err != nil {
		return err
	}
	if err := writeFileSync(checkpointPath(dir, cp.Iteration), b); err != nil {
		return err
	}
	its, err := checkpoints(dir, cp.Job)
	if err != nil {
		return err
	}
	for _, it := range its {
		if it+keptCheckpoints <= cp.Iteration {
			if err := os.Remove(checkpointPath(dir, it)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// rowsOf returns the rows idx of m.
func rowsOf(m vertical.Matrix, idx []int) vertical.Matrix {
	out := vertical.Matrix{Rows: len(idx), Cols: m.Cols, Data: make([]float64, 0, len(idx)*m.Cols)}
	for _, i := range idx {
		out.Data = append(out.Data, m.Row(i)...)
	}
	return out
}

func pick(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for k, i := range idx {
		out[k] = v[i]
	}
	return out
}

func matrixOf(f *datasets.Frame) vertical.Matrix {
	r, c := f.X.Dims()
	return vertical.Matrix{Rows: r, Cols: c, Data: f.X.RawMatrix().Data}
}

// roleIn names self's role in a vertical job.
func roleIn(v *fedscorepb.VerticalSpec, self string) (vertical.Role, error) {
	switch self {
	case v.GetBank():
		return vertical.RoleBank, nil
	case v.GetPartner():
		return vertical.RolePartner, nil
	case v.GetHelper():
		return vertical.RoleHelper, nil
	}
	return 0, fmt.Errorf("participant: %s is not a party of this vertical job (bank %s, partner %s, helper %s)", self, v.GetBank(), v.GetPartner(), v.GetHelper())
}

// RunVerticalJob runs one attempt of a vertical job as Self: it joins the
// job (waiting for the other data party), resumes from the checkpoint the
// coordinator picks, trains, and, at the bank, validates and reports the
// metrics that complete the job. If the attempt fails (a party dropped),
// the checkpoints stay in StateDir; after `fedscore job resume`, run it
// again to continue.
func RunVerticalJob(ctx context.Context, conn grpc.ClientConnInterface, c VerticalJobConfig) (VerticalJobResult, error) {
	var res VerticalJobResult
	if c.Job == "" || c.Self == "" {
		return res, errors.New("participant: vertical job: the job id and the party's own name are required")
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("job", c.Job, "party", c.Self)
	client := fedscoregrpc.NewVerticalClient(conn)
	join := &fedscorepb.VerticalJoinRequest{JobId: c.Job, Party: c.Self}
	var table *datasets.Table
	dir := ""
	if c.Data != "" {
		if c.StateDir == "" {
			return res, errors.New("participant: vertical job: a data party needs a state directory for its checkpoints")
		}
		var err error
		if table, err = datasets.ReadTable(c.Data); err != nil {
			return res, err
		}
		dir = VerticalStateDir(c.StateDir, c.Job)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return res, err
		}
		if join.Checkpoints, err = checkpoints(dir, c.Job); err != nil {
			return res, err
		}
		join.Rows = uint64(table.Rows())
	}
	// A data party reads the spec first: a scorecard's parties bin their
	// columns before joining, the partner to give its number of bins.
	var prep *dataPrep
	if table != nil {
		pre, err := client.Join(ctx, &fedscorepb.VerticalJoinRequest{JobId: c.Job, Party: c.Self, Prepare: true})
		if err != nil {
			return res, fmt.Errorf("participant: vertical job %s: %w", c.Job, err)
		}
		role, err := roleIn(pre.GetJob().GetSpec().GetVertical(), c.Self)
		if err != nil {
			return res, err
		}
		if prep, err = prepareData(c.Job, c.Data, table, dir, pre.GetJob().GetSpec(), role); err != nil {
			return res, err
		}
		if prep.bins != nil {
			join.Bins = uint32(prep.bins.total())
		}
		join.Binned = prep.pipe != nil && prep.persisted
	}
	ans, err := client.Join(ctx, join)
	if err != nil {
		return res, fmt.Errorf("participant: joining vertical job %s: %w", c.Job, err)
	}
	spec := ans.GetJob().GetSpec()
	v := spec.GetVertical()
	var params vertical.Params
	if err := json.Unmarshal(ans.GetParams(), &params); err != nil {
		return res, fmt.Errorf("participant: vertical job %s: params: %w", c.Job, err)
	}
	role, err := roleIn(v, c.Self)
	if err != nil {
		return res, err
	}
	res.Role, res.Start, res.Iterations = role, ans.GetStart(), params.Iterations()
	log.Info("joined vertical job", "role", role, "start", ans.GetStart(), "iterations", res.Iterations, "bins", ans.GetBins())
	vc := VerticalConfig{Session: ans.GetSession(), Role: role, Bank: v.GetBank(), Partner: v.GetPartner(), Helper: v.GetHelper(),
		Params: params, Rand: c.Rand, Start: ans.GetStart(), Bins: int(ans.GetBins())}
	report := func(r *fedscorepb.VerticalReport) (*fedscorepb.VerticalReportResponse, error) {
		r.JobId, r.Party = c.Job, c.Self
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return client.Report(rctx, r)
	}
	if role == vertical.RoleHelper {
		r, err := RunVertical(ctx, conn, vc)
		res.Iterations = r.Iterations
		return res, err
	}
	if prep == nil {
		return res, fmt.Errorf("participant: vertical job %s: the %v needs its aligned table", c.Job, role)
	}
	fail := func(err error) (VerticalJobResult, error) {
		// Tell the coordinator why, unless the job already failed (a
		// peer's drop is what stopped this party).
		if _, rerr := report(&fedscorepb.VerticalReport{Error: err.Error()}); rerr != nil {
			log.Debug("report failure", "err", rerr)
		}
		return res, err
	}
	vc.Labels, vc.X, vc.Validation = prep.ytrain, prep.x, prep.xv
	yv := prep.yval
	pipe := prep.pipe
	if vc.Bins > 0 && prep.bins == nil {
		// The bank: an attempt that counts the bins again trains from the
		// start (the coordinator said so), and the checkpoints of an
		// earlier attempt must not be offered to a later one.
		if err := dropCheckpoints(dir, c.Job); err != nil {
			return fail(err)
		}
	}
	if prep.bins != nil {
		switch {
		case vc.Bins > 0:
			if err := dropCheckpoints(dir, c.Job); err != nil {
				return fail(err)
			}
			pb := prep.bins
			vc.BinSizes, vc.BinAssign = pb.sizes, pb.assign
			vc.Binned = func(rows, bad []int) (vertical.Matrix, *vertical.Matrix, error) {
				p, err := pb.finish(rows, bad)
				if err != nil {
					return vertical.Matrix{}, nil, err
				}
				// Kept before training starts, so that every checkpoint
				// of this attempt has the bins it was trained on.
				if err := savePipeline(dir, p); err != nil {
					return vertical.Matrix{}, nil, err
				}
				pipe = p
				x, xv, err := prep.transform(p)
				res.BinRows, res.BinBad, res.BinGroups = rows, bad, pb.group
				return x, xv, err
			}
		case pipe == nil:
			return fail(fmt.Errorf("participant: vertical job %s: the coordinator skipped the bin counts, but this partner holds no bins in %s", c.Job, dir))
		}
	}
	if vc.Bins == 0 && slices.Contains(join.GetCheckpoints(), ans.GetStart()) {
		// Even at iteration 0: the bank's secret initial weights are in it.
		if vc.Resume, err = loadCheckpoint(dir, ans.GetStart()); err != nil {
			return fail(err)
		}
	} else if ans.GetStart() > 0 {
		return fail(fmt.Errorf("participant: vertical job %s: no checkpoint of iteration %d in %s", c.Job, ans.GetStart(), dir))
	}
	lastReport := time.Time{}
	vc.Checkpoint = func(cp *vertical.Checkpoint) error {
		if err := saveCheckpoint(dir, cp); err != nil {
			return err
		}
		if role == vertical.RoleBank && time.Since(lastReport) > 250*time.Millisecond {
			lastReport = time.Now()
			if _, err := report(&fedscorepb.VerticalReport{Iteration: cp.Iteration}); err != nil {
				log.Warn("progress report", "err", err)
			}
		}
		if c.AfterIteration != nil && cp.Iteration > ans.GetStart() {
			c.AfterIteration(cp.Iteration)
		}
		return nil
	}
	modelPath := filepath.Join(dir, "model.json")
	res.ModelPath = modelPath
	feats := v.GetPartnerFeatures()
	if role == vertical.RoleBank {
		feats = v.GetBankFeatures()
	}
	half := func() VerticalModelFile {
		return VerticalModelFile{Job: c.Job, Role: role.String(), Model: program.VerticalModel(v), Features: feats, Pipeline: pipe}
	}
	vc.Trained = func(r VerticalResult) error {
		if role != vertical.RolePartner {
			return nil // the bank saves its half with the tiers, after validation
		}
		m := half()
		m.Partner = r.Partner
		if err := saveModel(modelPath, m); err != nil {
			return err
		}
		// Before the validation scores go to the bank, so the coordinator
		// knows where the partner's half is by the time the bank's report
		// completes the job.
		_, err := report(&fedscorepb.VerticalReport{Iteration: r.Iterations, Done: true, ModelLocation: modelPath})
		return err
	}
	r, err := RunVertical(ctx, conn, vc)
	if err != nil {
		return fail(err)
	}
	if role == vertical.RolePartner {
		log.Info("vertical training done", "iterations", r.Iterations, "model", modelPath)
		return res, nil
	}
	metrics, tiers, err := validationMetrics(r.ValidationPD, yv, int(spec.GetTiers()))
	if err != nil {
		return fail(err)
	}
	m := half()
	m.Bank, m.Tiers = r.Bank, tiers
	m.Scaling = &models.ScorecardConfig{BaseScore: spec.GetBaseScore(), BaseOdds: spec.GetBaseOdds(), PDO: spec.GetPdo()}
	if err := saveModel(modelPath, m); err != nil {
		return fail(err)
	}
	tb, err := json.Marshal(tiers)
	if err != nil {
		return fail(err)
	}
	ack, err := report(&fedscorepb.VerticalReport{Iteration: r.Iterations, Done: true, Validation: metrics, ModelLocation: modelPath, Tiers: tb})
	if err != nil {
		return res, fmt.Errorf("participant: reporting the end of vertical job %s: %w", c.Job, err)
	}
	res.Validation, res.Version = metrics, ack.GetModelVersion()
	log.Info("vertical training done", "iterations", r.Iterations, "auc", metrics.GetAuc(), "version", res.Version, "model", modelPath)
	return res, nil
}

func saveModel(path string, m VerticalModelFile) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileSync(path, b)
}

// LoadVerticalModel reads a party's half of a vertical model.
func LoadVerticalModel(path string) (*VerticalModelFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("participant: this party's half of the model: %w", err)
	}
	m := &VerticalModelFile{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("participant: %s: %w", path, err)
	}
	return m, nil
}

// dataPrep is a data party's training and validation rows, prepared
// before it joins.
type dataPrep struct {
	train, val   *datasets.Table
	x            vertical.Matrix
	xv           *vertical.Matrix
	ytrain, yval []float64
	pipe         *features.Pipeline // scorecard: the party's binning, once known
	persisted    bool               // pipe comes from an earlier attempt
	bins         *partnerBins       // scorecard partner: its bins before the counts
}

// transform sets the training and validation matrices to the WOE columns
// of p.
func (d *dataPrep) transform(p *features.Pipeline) (vertical.Matrix, *vertical.Matrix, error) {
	x, err := transformMatrix(p, d.train)
	if err != nil {
		return x, nil, err
	}
	xv, err := transformMatrix(p, d.val)
	if err != nil {
		return x, nil, err
	}
	d.x, d.xv = x, &xv
	return x, &xv, nil
}

// prepareData splits the party's aligned table into the job's training
// and validation rows and builds what it trains on: standardised columns
// (logistic) or, for a scorecard, its binning, fitted now or kept from an
// earlier attempt (the bank's with its WOE; the partner's without, until
// the bin counts arrive, unless it kept them).
func prepareData(job, source string, table *datasets.Table, dir string, spec *fedscorepb.JobSpec, role vertical.Role) (*dataPrep, error) {
	v := spec.GetVertical()
	cols := v.GetPartnerFeatures()
	if role == vertical.RoleBank {
		cols = v.GetBankFeatures()
	}
	trainIdx, valIdx := program.VerticalSplit(job, table.Rows(), spec.GetValidationFraction())
	d := &dataPrep{}
	if program.VerticalModel(v) != program.VerticalScorecard {
		schema := datasets.Schema{Features: cols}
		if role == vertical.RoleBank {
			schema.Label = spec.GetLabel()
		}
		frame, err := schema.Frame(table, source)
		if err != nil {
			return nil, err
		}
		x := matrixOf(frame)
		xv := rowsOf(x, valIdx)
		d.x, d.xv = rowsOf(x, trainIdx), &xv
		if role == vertical.RoleBank {
			d.ytrain, d.yval = pick(frame.Y, trainIdx), pick(frame.Y, valIdx)
		}
		return d, nil
	}
	d.train, d.val = table.Select(trainIdx), table.Select(valIdx)
	specs, bc, pc, err := verticalBinning(spec, cols)
	if err != nil {
		return nil, err
	}
	if d.pipe, err = loadPipeline(dir); err != nil {
		return nil, err
	}
	d.persisted = d.pipe != nil
	if role == vertical.RoleBank {
		y, err := features.BinaryLabels(table.Column(spec.GetLabel()), spec.GetPositiveLabel())
		if err != nil {
			return nil, fmt.Errorf("participant: %s: label %q: %w", source, spec.GetLabel(), err)
		}
		d.ytrain, d.yval = pick(y, trainIdx), pick(y, valIdx)
		if d.pipe == nil {
			if d.pipe, err = fitBankPipeline(d.train, d.ytrain, specs, bc, pc); err != nil {
				return nil, err
			}
			if err := savePipeline(dir, d.pipe); err != nil {
				return nil, err
			}
		}
		if _, _, err := d.transform(d.pipe); err != nil {
			return nil, err
		}
		return d, nil
	}
	// The partner always fits its bins' structure, which is cheap and
	// fixed by its data: the coordinator runs the bin counts again if the
	// bank lost its binning, and needs their number.
	if d.bins, err = fitPartnerBins(d.train, specs, bc, pc); err != nil {
		return nil, err
	}
	if d.pipe != nil {
		if _, _, err := d.transform(d.pipe); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// validationMetrics are the bank's figures on its validation rows, and the
// tiers cut on the same predictions.
func validationMetrics(pd, y []float64, tiers int) (*fedscorepb.Metrics, *models.Tiering, error) {
	b, err := eval.BinaryMetrics(pd, y)
	if err != nil {
		return nil, nil, fmt.Errorf("participant: validation metrics: %w", err)
	}
	h := eval.NewScoreHistogram(eval.DefaultBins)
	if err := h.AddAll(pd, y); err != nil {
		return nil, nil, err
	}
	t, err := models.FitTiers(h, models.TierConfig{Tiers: tiers})
	if err != nil {
		return nil, nil, fmt.Errorf("participant: validation tiers: %w", err)
	}
	var brier float64
	for i, p := range pd {
		brier += (p - y[i]) * (p - y[i])
	}
	return &fedscorepb.Metrics{Auc: b.AUC, Ks: b.KS, Logloss: b.LogLoss, Examples: uint64(b.N), Positives: uint64(b.Positives),
		Gini: 2*b.AUC - 1, Brier: brier / float64(len(pd))}, t, nil
}
