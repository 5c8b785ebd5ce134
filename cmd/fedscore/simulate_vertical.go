package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/models/eval"
	"github.com/fedscore/fedscore/secure/psi"
	"github.com/fedscore/fedscore/secure/vertical"
)

// simulate --vertical: the vertical federation on one table, in one
// process. The table's columns are split between a bank (its columns and
// the label) and a partner (its columns); a fraction of each side's
// customers is missing from the other side. The sides align with the real
// PSI (secure/psi), each bins its own columns, the partner learning its
// bins' bad counts through the vertical product, and the model is trained
// with the real secret-shared protocol (secure/vertical), every message
// through its wire encoding. The same split is then trained in plaintext on
// the joined table and on the bank's columns alone, to show what the
// partner's columns add and what the protocol costs.

// Training defaults, those of secure/vertical's Taiwan test: one full batch
// per epoch at the minimum batch on that table, and a large step with heavy-
// ball momentum, because WOE (and standardised) columns are well scaled, so
// 60 epochs converge where plain gradient descent at 0.5 would need
// hundreds.
const (
	simVerticalEpochs       = 60
	simVerticalLearningRate = 1.5
	simVerticalMomentum     = 0.8
	// simReferenceEpochs is the least number of epochs of the plaintext
	// references (joined and bank-only): they are cheap, and a reference
	// that has not converged would flatter the vertical model.
	simReferenceEpochs = 300
)

// simulateVerticalRequested reports whether simulate's arguments ask for
// the vertical mode, so that runSimulate can hand them over before parsing
// its own flags. A value that does not parse as a bool counts as a request,
// so that the vertical flag set reports it.
func simulateVerticalRequested(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "vertical" {
			continue
		}
		if !hasVal {
			return true
		}
		b, err := strconv.ParseBool(val)
		return err != nil || b
	}
	return false
}

func runSimulateVertical(args []string) error { return simulateVertical(args, os.Stdout, os.Stderr) }

// simulateVertical is runSimulateVertical writing its results to stdout and
// its progress to stderr (tests capture both).
func simulateVertical(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("simulate --vertical", "simulate --vertical --data FILE(.csv|.parquet) --label COL [--id COL] --bank-columns A,B,... --partner-columns C,D,... [--missing F] [--model scorecard|logistic] [--seed S] [--json]")
	fs.SetOutput(stderr)
	fs.Bool("vertical", true, "split the table by columns between a bank and a partner (this mode)")
	data := fs.String("data", "", "table to experiment on (required)")
	label := fs.String("label", "", "binary 0/1 label column, held by the bank (required)")
	id := fs.String("id", "", "customer id column the sides align on (default: the row number)")
	bankCols := fs.String("bank-columns", "", "comma-separated feature columns the bank holds (required)")
	partnerCols := fs.String("partner-columns", "", "comma-separated feature columns the partner holds (required)")
	missing := fs.Float64("missing", 0.1, "fraction of each side's customers absent from the other side, in [0, 1)")
	model := fs.String("model", "scorecard", "scorecard (quantile-binned WOE logistic) or logistic (standardised columns)")
	bins := fs.Int("bins", vertical.DefaultBins, "scorecard: quantile bins per feature")
	epochs := fs.Int("epochs", simVerticalEpochs, "passes over the aligned training rows")
	batch := fs.Int("batch-size", 0, "rows per mini-batch (default and minimum: the gradient-inversion bound, vertical.MinBatch)")
	lr := fs.Float64("learning-rate", simVerticalLearningRate, "learning rate")
	momentum := fs.Float64("momentum", simVerticalMomentum, "heavy-ball momentum in [0, 1)")
	l2 := fs.Float64("l2", 0, "L2 penalty (not on the intercept)")
	seed := fs.Int64("seed", 1, "seed for the missing customers, the holdout and the protocols' randomness")
	holdout := fs.Float64("holdout", 0.2, "stratified test fraction of the aligned customers")
	asJSON := fs.Bool("json", false, "print one JSON object with the results")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("simulate --vertical: unexpected argument %q", fs.Arg(0))
	}
	if *data == "" || *label == "" {
		fs.Usage()
		return errors.New("simulate --vertical: --data and --label are required")
	}
	table, err := datasets.ReadTable(*data)
	if err != nil {
		return err
	}
	sim := verticalSim{
		Table: table, Source: *data, Label: *label, ID: *id,
		BankColumns: splitList(*bankCols), PartnerColumns: splitList(*partnerCols),
		Missing: *missing, Holdout: *holdout, Seed: *seed, Model: *model, Bins: *bins,
		Params: vertical.Params{Epochs: *epochs, BatchSize: *batch, LearningRate: *lr, Momentum: *momentum, L2: *l2},
	}
	if !*asJSON {
		sim.Progress = func(msg string) { fmt.Fprintln(stderr, msg) }
	}
	res, err := sim.Run()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.print(stdout)
	return nil
}

// verticalSim is one simulated vertical federation.
type verticalSim struct {
	Table  *datasets.Table
	Source string // names the table in errors
	Label  string
	ID     string // empty: the row number is the id
	// BankColumns and PartnerColumns are each side's feature columns.
	BankColumns, PartnerColumns []string
	// Missing is the fraction of each side's customers absent from the
	// other side.
	Missing float64
	Holdout float64
	Seed    int64
	Model   string // "scorecard" or "logistic"
	Bins    int    // scorecard: quantile bins per feature; 0 means vertical.DefaultBins
	// Params holds the training settings (epochs, batch size, learning
	// rate, momentum, L2); Run fills in the job, the rows and the shapes.
	Params vertical.Params
	// Progress, if set, sees a line at each stage.
	Progress func(string)
}

// simMetrics are one model's figures on the test customers.
type simMetrics struct {
	AUC     float64 `json:"auc"`
	KS      float64 `json:"ks"`
	Gini    float64 `json:"gini"`
	LogLoss float64 `json:"logloss"`
}

// verticalSimResult is what a vertical simulation measured.
type verticalSimResult struct {
	Data           string   `json:"data"`
	Model          string   `json:"model"`
	BankColumns    []string `json:"bank_columns"`
	PartnerColumns []string `json:"partner_columns"`
	Missing        float64  `json:"missing"`
	BankRows       int      `json:"bank_rows"`
	PartnerRows    int      `json:"partner_rows"`
	Aligned        int      `json:"aligned"`
	TrainRows      int      `json:"train_rows"`
	TestRows       int      `json:"test_rows"`
	Epochs         int      `json:"epochs"`
	BatchSize      int      `json:"batch_size"`
	RoundTrips     int      `json:"round_trips"`
	// Bytes is the vertical training's traffic, setup included.
	Bytes int64 `json:"bytes"`
	// Vertical is the model trained by the protocol. Joined is the exact
	// logistic regression on the joined table; JoinedTaylor the protocol's
	// own model (Taylor residual, same initial weights) in plaintext, so
	// Vertical − JoinedTaylor is the cost of the secret sharing alone and
	// JoinedTaylor − Joined that of the sigmoid's approximation. BankOnly
	// is the exact logistic regression on the bank's columns alone.
	Vertical     simMetrics `json:"vertical"`
	Joined       simMetrics `json:"joined"`
	JoinedTaylor simMetrics `json:"joined_taylor"`
	BankOnly     simMetrics `json:"bank_only"`
	PSISeconds   float64    `json:"psi_s"`
	// BinsSeconds is the partner's vertical bad counts (scorecard only).
	BinsSeconds  float64 `json:"bins_s,omitempty"`
	TrainSeconds float64 `json:"train_s"`
}

// simRand is a deterministic stream for one purpose, so that a seed
// reproduces the run exactly. This is a simulation: a deployment's parties
// draw their keys from crypto/rand.
func simRand(seed int64, purpose string) io.Reader {
	return rand.NewChaCha8(sha256.Sum256([]byte(fmt.Sprintf("fedscore simulate --vertical %s %d", purpose, seed))))
}

// validate checks the configuration against the table, naming the flag at
// fault, before any data is split.
func (s *verticalSim) validate() error {
	const p = "simulate --vertical"
	switch {
	case s.Table == nil || s.Table.Rows() == 0:
		return fmt.Errorf("%s: %s has no rows", p, s.Source)
	case s.Label == "":
		return fmt.Errorf("%s: --label is required", p)
	case s.Table.Column(s.Label) == nil:
		return fmt.Errorf("%s: --label: no column %q in %s (its columns: %s)", p, s.Label, s.Source, strings.Join(s.Table.Names(), ", "))
	case s.ID != "" && s.Table.Column(s.ID) == nil:
		return fmt.Errorf("%s: --id: no column %q in %s (its columns: %s)", p, s.ID, s.Source, strings.Join(s.Table.Names(), ", "))
	case s.ID != "" && s.ID == s.Label:
		return fmt.Errorf("%s: --id and --label are both %q", p, s.ID)
	case len(s.BankColumns) == 0:
		return fmt.Errorf("%s: --bank-columns is empty: name the feature columns the bank holds", p)
	case len(s.PartnerColumns) == 0:
		return fmt.Errorf("%s: --partner-columns is empty: name the feature columns the partner holds", p)
	case !(s.Missing >= 0 && s.Missing < 1):
		return fmt.Errorf("%s: --missing %v is not in [0, 1)", p, s.Missing)
	case !(s.Holdout > 0 && s.Holdout < 1):
		return fmt.Errorf("%s: --holdout %v is not in (0, 1)", p, s.Holdout)
	case s.Model != "scorecard" && s.Model != "logistic":
		return fmt.Errorf("%s: --model %q: want scorecard or logistic", p, s.Model)
	case s.Bins < 0 || s.Bins == 1:
		return fmt.Errorf("%s: --bins %d: want at least 2", p, s.Bins)
	}
	side := map[string]string{}
	for _, l := range []struct {
		flag string
		cols []string
	}{{"--bank-columns", s.BankColumns}, {"--partner-columns", s.PartnerColumns}} {
		for _, c := range l.cols {
			switch {
			case c == s.Label && l.flag == "--partner-columns":
				return fmt.Errorf("%s: --partner-columns names the label %q, which only the bank holds", p, c)
			case c == s.Label:
				return fmt.Errorf("%s: --bank-columns names the label %q; the bank holds it as the label, not as a feature", p, c)
			case c == s.ID:
				return fmt.Errorf("%s: %s names the id column %q, which both sides hold to align on, not as a feature", p, l.flag, c)
			case side[c] == l.flag:
				return fmt.Errorf("%s: %s names %q twice", p, l.flag, c)
			case side[c] != "":
				return fmt.Errorf("%s: column %q is in both --bank-columns and --partner-columns; each column belongs to one side", p, c)
			case s.Table.Column(c) == nil:
				return fmt.Errorf("%s: %s: no column %q in %s (its columns: %s)", p, l.flag, c, s.Source, strings.Join(s.Table.Names(), ", "))
			}
			side[c] = l.flag
		}
	}
	return nil
}

// Run splits, aligns, bins, trains and measures.
func (s *verticalSim) Run() (*verticalSimResult, error) {
	const p = "simulate --vertical"
	if err := s.validate(); err != nil {
		return nil, err
	}
	progress := func(format string, a ...any) {
		if s.Progress != nil {
			s.Progress(fmt.Sprintf(format, a...))
		}
	}
	// Schema.Frame checks each side's columns (numeric, complete), the
	// label (0/1) and the ids (present, distinct) with errors that name
	// the file and the column.
	bankFrame, err := datasets.Schema{ID: s.ID, Label: s.Label, Features: s.BankColumns}.Frame(s.Table, s.Source)
	if err != nil {
		return nil, fmt.Errorf("%s: the bank's columns: %w", p, err)
	}
	partnerFrame, err := datasets.Schema{ID: s.ID, Features: s.PartnerColumns}.Frame(s.Table, s.Source)
	if err != nil {
		return nil, fmt.Errorf("%s: the partner's columns: %w", p, err)
	}
	n := s.Table.Rows()
	ids := bankFrame.IDs
	if ids == nil {
		ids = make([]string, n)
		for i := range ids {
			ids[i] = strconv.Itoa(i + 1)
		}
	}
	res := &verticalSimResult{Data: s.Source, Model: s.Model, BankColumns: s.BankColumns, PartnerColumns: s.PartnerColumns, Missing: s.Missing}

	// Who holds whom. Each side keeps n − only customers, only of whom the
	// other side lacks, so that only/(n − only) = Missing.
	only := int(math.Round(s.Missing * float64(n) / (1 + s.Missing)))
	perm := rand.New(rand.NewPCG(uint64(s.Seed), 0x5a11)).Perm(n)
	inBank, inPartner := make([]bool, n), make([]bool, n)
	for i := range n {
		inBank[i], inPartner[i] = true, true
	}
	for _, i := range perm[:only] {
		inPartner[i] = false // the bank's own customers
	}
	for _, i := range perm[only : 2*only] {
		inBank[i] = false // the partner's own customers
	}
	var bankRows, partnerRows []int // table rows each side holds, in file order
	for i := range n {
		if inBank[i] {
			bankRows = append(bankRows, i)
		}
		if inPartner[i] {
			partnerRows = append(partnerRows, i)
		}
	}
	res.BankRows, res.PartnerRows = len(bankRows), len(partnerRows)
	pick := func(rows []int) []string {
		out := make([]string, len(rows))
		for k, i := range rows {
			out[k] = ids[i]
		}
		return out
	}

	// Alignment by the real PSI: each side gives only its ids.
	progress("aligning %d bank and %d partner customers by PSI...", len(bankRows), len(partnerRows))
	start := time.Now()
	job := fmt.Sprintf("simulate-vertical-%d", s.Seed)
	ab, ap, err := psi.RunLocal(psi.Config{Job: job, Rand: simRand(s.Seed, "psi")}, pick(bankRows), pick(partnerRows), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: PSI: %w", p, err)
	}
	res.PSISeconds = time.Since(start).Seconds()
	if ab.Size != ap.Size || len(ab.Rows) != ab.Size || len(ap.Rows) != ap.Size || ab.Size != n-2*only {
		return nil, fmt.Errorf("%s: PSI found %d (bank) and %d (partner) common customers, want %d", p, ab.Size, ap.Size, n-2*only)
	}
	// Only a simulation can check that both sides put the same customer at
	// each agreed position: it knows both sides' rows.
	aligned := make([]int, ab.Size) // table row of each aligned customer
	for k := range aligned {
		aligned[k] = bankRows[ab.Rows[k]]
		if partnerRows[ap.Rows[k]] != aligned[k] {
			return nil, fmt.Errorf("%s: PSI: the sides hold different customers at position %d", p, k)
		}
	}
	// The test split is then drawn over the aligned customers in file
	// order, so that it depends on the data and the seed only, not on the
	// PSI's agreed order (a permutation both sides apply alike).
	slices.Sort(aligned)
	res.Aligned = len(aligned)

	// The held-out test customers: the same seeded, stratified procedure
	// as the horizontal simulate.
	labels := (&datasets.Table{Columns: []*datasets.Column{s.Table.Column(s.Label)}}).Select(aligned)
	trainPos, testPos, err := datasets.StratifiedHoldoutRows(labels, s.Label, s.Holdout, s.Seed)
	if err != nil {
		return nil, fmt.Errorf("%s: holdout of %d aligned customers: %w", p, len(aligned), err)
	}
	train, test := pickInts(aligned, trainPos), pickInts(aligned, testPos)
	res.TrainRows, res.TestRows = len(train), len(test)
	ytr, yte := pickFloats(bankFrame.Y, train), pickFloats(bankFrame.Y, test)
	bankAll, partnerAll := frameMatrix(bankFrame), frameMatrix(partnerFrame)
	bankTr, bankTe := pickMatrix(bankAll, train), pickMatrix(bankAll, test)
	partnerTr, partnerTe := pickMatrix(partnerAll, train), pickMatrix(partnerAll, test)

	params := s.Params
	params.Job = job
	params.Rows = len(train)
	params.BankFeatures, params.PartnerFeatures = len(s.BankColumns), len(s.PartnerColumns)
	if params.BatchSize == 0 {
		// Fixed here so that every model below trains on the same batches.
		params.BatchSize = vertical.MinBatch(params.BankFeatures+1, params.PartnerFeatures, params.LeakCorrelation)
	}
	if params.Rows < params.BatchSize {
		return nil, fmt.Errorf("%s: %d aligned training customers are fewer than one batch of %d rows, the minimum for %d bank columns (with the intercept) and %d partner columns, which keeps gradient inversion at chance; use a larger table, fewer bank columns or a smaller --missing",
			p, params.Rows, params.BatchSize, params.BankFeatures+1, params.PartnerFeatures)
	}
	res.BatchSize = params.BatchSize

	if s.Model == "scorecard" {
		// Each side bins its own columns on its training rows. The bank
		// counts its bins' bads itself; the partner, without labels,
		// through the vertical product (bins.go).
		progress("binning: %d bank and %d partner columns...", params.BankFeatures, params.PartnerFeatures)
		bb, err := vertical.FitBinning(bankTr, s.Bins, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: the bank's bins: %w", p, err)
		}
		rows, bad, err := bb.Counts(bankTr, ytr)
		if err == nil {
			err = bb.SetCounts(rows, bad)
		}
		if err == nil {
			bankTr, bankTe, err = transformBoth(bb, bankTr, bankTe)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: the bank's WOE: %w", p, err)
		}
		pb, err := vertical.FitBinning(partnerTr, s.Bins, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: the partner's bins: %w", p, err)
		}
		assign, err := pb.Assign(partnerTr)
		if err != nil {
			return nil, fmt.Errorf("%s: the partner's bins: %w", p, err)
		}
		start := time.Now()
		rows, bad, err = vertical.BinCountsLocal(vertical.BinParams{Job: job + "-bins", Rows: len(train), Bins: pb.Total()},
			ytr, pb.Bins(), assign, simRand(s.Seed, "bins"), nil)
		if err != nil {
			return nil, fmt.Errorf("%s: the partner's vertical bad counts: %w", p, err)
		}
		res.BinsSeconds = time.Since(start).Seconds()
		// As with the PSI, only a simulation can check the product against
		// the plaintext counts; a wrong count would skew both the vertical
		// and the joined model alike, so no metric would show it.
		if pr, pbad, err := pb.Counts(partnerTr, ytr); err != nil || !slices.Equal(pr, rows) || !slices.Equal(pbad, bad) {
			return nil, fmt.Errorf("%s: the partner's vertical bad counts differ from the plaintext ones (%v)", p, err)
		}
		if err := pb.SetCounts(rows, bad); err != nil {
			return nil, fmt.Errorf("%s: the partner's WOE: %w", p, err)
		}
		if partnerTr, partnerTe, err = transformBoth(pb, partnerTr, partnerTe); err != nil {
			return nil, fmt.Errorf("%s: the partner's WOE: %w", p, err)
		}
	}

	progress("training vertically: %d rows, %d epochs, batch %d...", params.Rows, params.Epochs, params.BatchSize)
	start = time.Now()
	vr, err := vertical.RunLocal(vertical.LocalConfig{Params: params, Bank: bankTr, Labels: ytr, Partner: partnerTr, Rand: simRand(s.Seed, "train")})
	if err != nil {
		return nil, fmt.Errorf("%s: vertical training: %w", p, err)
	}
	res.TrainSeconds = time.Since(start).Seconds()
	res.Epochs, res.RoundTrips, res.Bytes = max(params.Epochs, 1), vr.RoundTrips, vr.SetupBytes+vr.Bytes

	score := func(b *vertical.BankModel, pm *vertical.PartnerModel, xb, xp vertical.Matrix) (simMetrics, error) {
		ps, err := pm.PartialScores(xp)
		if err != nil {
			return simMetrics{}, err
		}
		z, err := b.Logits(xb, ps)
		if err != nil {
			return simMetrics{}, err
		}
		return simMetricsOf(z, yte)
	}
	if res.Vertical, err = score(vr.Bank, vr.Partner, bankTe, partnerTe); err != nil {
		return nil, fmt.Errorf("%s: scoring the vertical model: %w", p, err)
	}

	progress("training the plaintext references...")
	taylor, err := vertical.TrainPlain(vertical.PlainConfig{Params: params, Bank: bankTr, Labels: ytr, Partner: partnerTr, BankInit: vr.BankInit})
	if err == nil {
		res.JoinedTaylor, err = score(taylor.Bank, taylor.Partner, bankTe, partnerTe)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: the joined table (Taylor): %w", p, err)
	}
	ref := params
	ref.Epochs = max(params.Epochs, simReferenceEpochs)
	joined, err := vertical.TrainPlain(vertical.PlainConfig{Params: ref, Bank: bankTr, Labels: ytr, Partner: partnerTr, Sigmoid: true})
	if err == nil {
		res.Joined, err = score(joined.Bank, joined.Partner, bankTe, partnerTe)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: the joined table: %w", p, err)
	}
	// The bank alone: TrainPlain wants a partner column, and a constant
	// zero column standardises to zero, so it adds nothing to the logit.
	zero := func(rows int) vertical.Matrix {
		return vertical.Matrix{Rows: rows, Cols: 1, Data: make([]float64, rows)}
	}
	ref.PartnerFeatures = 1
	bankOnly, err := vertical.TrainPlain(vertical.PlainConfig{Params: ref, Bank: bankTr, Labels: ytr, Partner: zero(len(train)), Sigmoid: true})
	if err == nil {
		res.BankOnly, err = score(bankOnly.Bank, bankOnly.Partner, bankTe, zero(len(test)))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: the bank's columns alone: %w", p, err)
	}
	return res, nil
}

// transformBoth replaces the training and test values by their WOE.
func transformBoth(b *vertical.Binning, tr, te vertical.Matrix) (vertical.Matrix, vertical.Matrix, error) {
	wtr, err := b.Transform(tr)
	if err != nil {
		return tr, te, err
	}
	wte, err := b.Transform(te)
	return wtr, wte, err
}

// simMetricsOf measures logits z against the test labels.
func simMetricsOf(z, y []float64) (simMetrics, error) {
	pd := make([]float64, len(z))
	for i, v := range z {
		pd[i] = 1 / (1 + math.Exp(-v))
	}
	b, err := eval.BinaryMetrics(pd, y)
	if err != nil {
		return simMetrics{}, err
	}
	gini, err := eval.Gini(z, y)
	if err != nil {
		return simMetrics{}, err
	}
	return simMetrics{AUC: b.AUC, KS: b.KS, Gini: gini, LogLoss: b.LogLoss}, nil
}

// frameMatrix views a frame's design matrix as the protocol's row-major
// matrix (mat.NewDense lays its rows out contiguously).
func frameMatrix(f *datasets.Frame) vertical.Matrix {
	r, c := f.X.Dims()
	return vertical.Matrix{Rows: r, Cols: c, Data: f.X.RawMatrix().Data}
}

func pickMatrix(m vertical.Matrix, rows []int) vertical.Matrix {
	out := vertical.Matrix{Rows: len(rows), Cols: m.Cols, Data: make([]float64, 0, len(rows)*m.Cols)}
	for _, i := range rows {
		out.Data = append(out.Data, m.Row(i)...)
	}
	return out
}

func pickFloats(v []float64, rows []int) []float64 {
	out := make([]float64, len(rows))
	for k, i := range rows {
		out[k] = v[i]
	}
	return out
}

func pickInts(v []int, pos []int) []int {
	out := make([]int, len(pos))
	for k, i := range pos {
		out[k] = v[i]
	}
	return out
}

func (r *verticalSimResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s split vertically: the bank holds %d columns and the label, the partner %d columns; %.0f%% of each side's customers are absent from the other\n",
		r.Data, len(r.BankColumns), len(r.PartnerColumns), 100*r.Missing)
	fmt.Fprintf(w, "bank %d rows, partner %d rows; PSI aligned %d customers in %.1fs; %d train, %d test (stratified)\n",
		r.BankRows, r.PartnerRows, r.Aligned, r.PSISeconds, r.TrainRows, r.TestRows)
	what := "logistic regression on standardised columns"
	if r.Model == "scorecard" {
		what = fmt.Sprintf("scorecard (WOE of quantile bins; the partner's bad counts by the vertical product in %.1fs)", r.BinsSeconds)
	}
	fmt.Fprintf(w, "%s; vertical training %d epochs, batch %d, %d round trips, %.1f MB, %.1fs\n",
		what, r.Epochs, r.BatchSize, r.RoundTrips, float64(r.Bytes)/1e6, r.TrainSeconds)
	fmt.Fprintf(w, "%-15s %8s %8s %8s %8s\n", "", "AUC", "KS", "Gini", "logloss")
	for _, row := range []struct {
		name string
		m    simMetrics
	}{{"vertical", r.Vertical}, {"joined", r.Joined}, {"joined (Taylor)", r.JoinedTaylor}, {"bank only", r.BankOnly}} {
		fmt.Fprintf(w, "%-15s %8.4f %8.4f %8.4f %8.4f\n", row.name, row.m.AUC, row.m.KS, row.m.Gini, row.m.LogLoss)
	}
}
