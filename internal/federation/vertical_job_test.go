package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models/eval"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/scores"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/fedscore/fedscore/secure/vertical"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// verticalTables writes the bank's and the partner's aligned tables (the
// same customers in the same order, as fedscore psi leaves them).
func verticalTables(t *testing.T, dir string, syn *vertical.Synthetic) (bank, partner string, ids []string) {
	t.Helper()
	n := syn.Bank.Rows
	ids = make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("C%08d", i)
	}
	cols := func(prefix string, m vertical.Matrix) []*datasets.Column {
		var out []*datasets.Column
		for j := range m.Cols {
			c := &datasets.Column{Name: fmt.Sprintf("%s%d", prefix, j), Kind: datasets.Float, Float: make([]float64, n)}
			for i := range n {
				c.Float[i] = m.Row(i)[j]
			}
			out = append(out, c)
		}
		return out
	}
	id := &datasets.Column{Name: "customer_id", Kind: datasets.String, String: ids}
	bt := &datasets.Table{Columns: append([]*datasets.Column{id}, cols("b", syn.Bank)...)}
	bt.Columns = append(bt.Columns, &datasets.Column{Name: "default", Kind: datasets.Int, Float: syn.Labels})
	pt := &datasets.Table{Columns: append([]*datasets.Column{id}, cols("p", syn.Partner)...)}
	return writeTable(t, dir, "bank.parquet", bt), writeTable(t, dir, "partner.parquet", pt), ids
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func seededReader(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

// A vertical job through a real coordinator over mutual TLS on loopback,
// with the coordinator's in-process helper: the partner is killed mid-
// training, the job fails naming it, the parties keep their checkpoints,
// `job resume` continues from them, and the final model is exactly the
// uninterrupted one (secure/vertical.RunLocal with the same job id, rows
// and bank randomness). The registry holds lineage and the bank's
// validation metrics but no weights, and scoring publishes every aligned
// customer's score, queryable by id.
//
// It runs twice. The scorecard (the default) adds missing values on both
// sides and a String column at the partner, and checks besides that the
// partner's bin counts from the vertical product equal the plaintext
// counts, that the resumed attempt reused the first attempt's bins, and
// that the published scores carry the job's points scale and reason codes.
// The logistic model ("logistic" in the spec) trains on the raw columns.
func TestVerticalJobDropResumeScore(t *testing.T) {
	for _, model := range []string{"scorecard", "logistic"} {
		t.Run(model, func(t *testing.T) { testVerticalJobDropResumeScore(t, model) })
	}
}

// withGaps rewrites the aligned tables for a scorecard: missing values in
// a bank column and in two partner columns (one with more rows than a
// counted bin needs, one with fewer, so the product counts it with a
// neighbour), and a partner column of String categories.
func withGaps(t *testing.T, bankFile, partnerFile string) {
	t.Helper()
	read := func(f string) *datasets.Table {
		tab, err := datasets.ReadTable(f)
		if err != nil {
			t.Fatal(err)
		}
		return tab
	}
	bt, pt := read(bankFile), read(partnerFile)
	gap := func(c *datasets.Column, every int) {
		for i := range c.Float {
			if i%every == 0 {
				c.Float[i] = math.NaN()
			}
		}
	}
	gap(bt.Column("b0"), 31)
	gap(pt.Column("p0"), 29)
	gap(pt.Column("p1"), 700)
	for j, c := range pt.Columns {
		if c.Name == "p5" {
			s := make([]string, len(c.Float))
			for i, v := range c.Float {
				s[i] = fmt.Sprintf("k%d", int(min(max(math.Floor(1.5*v), -3), 3)))
			}
			pt.Columns[j] = &datasets.Column{Name: "p5", Kind: datasets.String, String: s}
		}
	}
	for f, tab := range map[string]*datasets.Table{bankFile: bt, partnerFile: pt} {
		if err := datasets.WriteParquet(f, tab); err != nil {
			t.Fatal(err)
		}
	}
}

// woeMatrix is a pipeline's WOE columns of the table in file f.
func woeMatrix(t *testing.T, p *features.Pipeline, f string) (vertical.Matrix, *datasets.Table) {
	t.Helper()
	tab, err := datasets.ReadTable(f)
	if err != nil {
		t.Fatal(err)
	}
	x, err := p.Transform(tab)
	if err != nil {
		t.Fatal(err)
	}
	r, c := x.Dims()
	return vertical.Matrix{Rows: r, Cols: c, Data: x.RawMatrix().Data}, tab
}

func testVerticalJobDropResumeScore(t *testing.T, model string) {
	const rows, db, dp = 30000, 4, 6
	dir := t.TempDir()
	syn := vertical.NewSynthetic(rows, db, dp, 11)
	bankFile, partnerFile, ids := verticalTables(t, dir, syn)
	scorecard := model == "scorecard"
	if scorecard {
		withGaps(t, bankFile, partnerFile)
	}

	st, err := scores.Open(filepath.Join(dir, "scores.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	auditPath := filepath.Join(dir, "audit.jsonl")
	al, err := audit.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	fed, err := Start(Options{Participants: map[string]string{}, Scores: st, Audit: al, Identities: []pki.Identity{
		{Name: "bank", Role: pki.Participant}, {Name: "partner-1", Role: pki.Participant},
		{Name: "partner-2", Role: pki.Participant}, {Name: "helper", Role: pki.Helper},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	paramsJSON, _ := json.Marshal(vertical.Params{Epochs: 20, Momentum: 0.5})
	spec := func(bank, partner, helper string) *fedscorepb.JobSpec {
		s := &fedscorepb.JobSpec{Model: "vertical", Label: "default", Vertical: &fedscorepb.VerticalSpec{
			Bank: bank, Partner: partner, Helper: helper, BankFeatures: names("b", db), PartnerFeatures: names("p", dp), Params: paramsJSON}}
		if scorecard {
			// The default model; the points on the job's own scale.
			s.BaseScore, s.BaseOdds, s.Pdo = 700, 20, 40
		} else {
			s.Vertical.Model = "logistic"
		}
		return s
	}
	// Refusals, each audited: a helper that is a data party, a party that
	// is not provisioned, a helper provisioned as a participant.
	for _, c := range []struct {
		spec *fedscorepb.JobSpec
		code codes.Code
	}{
		{spec("bank", "partner-1", "bank"), codes.PermissionDenied},
		{spec("bank", "partner-9", "coordinator"), codes.PermissionDenied},
		{spec("bank", "partner-1", "partner-2"), codes.PermissionDenied},
		{spec("bank", "bank", "helper"), codes.InvalidArgument},
	} {
		_, err := fed.Jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: c.spec})
		if status.Code(err) != c.code {
			t.Fatalf("submit %v: %v, want %v", c.spec.GetVertical(), err, c.code)
		}
	}
	job, err := fed.Jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: spec("bank", "partner-1", "coordinator")})
	if err != nil {
		t.Fatal(err)
	}
	jobID := job.GetId()

	// An identity the job does not list may neither join it nor its relay
	// session.
	outsider, err := fed.DialAs(pki.Identity{Name: "partner-2", Role: pki.Participant})
	if err != nil {
		t.Fatal(err)
	}
	defer outsider.Close()
	if _, err := fedscoregrpc.NewVerticalClient(outsider).Join(ctx, &fedscorepb.VerticalJoinRequest{JobId: jobID}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("outsider join: %v", err)
	}
	rs, err := fedscoregrpc.NewRelayClient(outsider).Exchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs.Send(&fedscorepb.RelayEnvelope{Session: jobID, To: "bank"})
	if _, err := rs.Recv(); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("outsider relay: %v", err)
	}

	stateBank, statePartner := filepath.Join(dir, "state-bank"), filepath.Join(dir, "state-partner")
	type outcome struct {
		res participant.VerticalJobResult
		err error
	}
	run := func(name, data, state string, rnd *rand.ChaCha8, killAt uint64) <-chan outcome {
		out := make(chan outcome, 1)
		go func() {
			conn, err := fed.DialAs(pki.Identity{Name: name, Role: pki.Participant})
			if err != nil {
				out <- outcome{err: err}
				return
			}
			defer conn.Close()
			pctx, kill := context.WithCancel(ctx)
			defer kill()
			c := participant.VerticalJobConfig{Job: jobID, Self: name, Data: data, StateDir: state}
			if rnd != nil {
				c.Rand = rnd
			}
			if killAt > 0 {
				// The party's process dies here: its streams end without a
				// goodbye, as in a crash.
				c.AfterIteration = func(it uint64) {
					if it == killAt {
						kill()
						conn.Close()
					}
				}
			}
			r, err := participant.RunVerticalJob(pctx, conn, c)
			out <- outcome{r, err}
		}()
		return out
	}
	const killAt = 9
	bankDone := run("bank", bankFile, stateBank, seededReader(5), 0)
	partnerDone := run("partner-1", partnerFile, statePartner, nil, killAt)
	pr, br := <-partnerDone, <-bankDone
	if pr.err == nil || br.err == nil {
		t.Fatalf("after the partner's crash: partner %v, bank %v", pr.err, br.err)
	}
	firstBins := pr.res // the bin counts the partner learned in attempt 1
	if scorecard != (len(firstBins.BinRows) > 0) {
		t.Fatalf("attempt 1 counted %d partner bins", len(firstBins.BinRows))
	}
	t.Logf("bank after the partner's crash: %v", br.err)
	failed, err := fed.Jobs.GetJob(ctx, &fedscorepb.GetJobRequest{JobId: jobID})
	if err != nil {
		t.Fatal(err)
	}
	if failed.GetState() != fedscorepb.JobState_JOB_STATE_FAILED || failed.GetVertical().GetFailedParty() != "partner-1" ||
		!strings.Contains(failed.GetError(), "partner-1 dropped") {
		t.Fatalf("after the crash the job is %v (%q, failed party %q)", failed.GetState(), failed.GetError(), failed.GetVertical().GetFailedParty())
	}
	t.Logf("failed job: %s", failed.GetError())
	for _, d := range []string{stateBank, statePartner} {
		cps, _ := filepath.Glob(filepath.Join(participant.VerticalStateDir(d, jobID), "checkpoint-*.bin"))
		if len(cps) == 0 || len(cps) > 2 {
			t.Fatalf("%s keeps checkpoints %v, want one or two", d, cps)
		}
	}
	// Joining a failed job is refused until it is resumed.
	if _, err := participant.RunVerticalJob(ctx, outsiderAs(t, fed, "bank"), participant.VerticalJobConfig{Job: jobID, Self: "bank", Data: bankFile, StateDir: stateBank}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("joining a failed job: %v", err)
	}

	if _, err := fed.Jobs.ResumeJob(ctx, &fedscorepb.ResumeJobRequest{JobId: jobID}); err != nil {
		t.Fatal(err)
	}
	bankDone = run("bank", bankFile, stateBank, nil, 0)
	partnerDone = run("partner-1", partnerFile, statePartner, nil, 0)
	pr, br = <-partnerDone, <-bankDone
	if pr.err != nil || br.err != nil {
		t.Fatalf("resumed: partner %v, bank %v", pr.err, br.err)
	}
	if br.res.Start == 0 || br.res.Start != pr.res.Start || br.res.Start+1 < killAt {
		t.Fatalf("resumed from iteration %d (bank) and %d (partner), the partner died after %d", br.res.Start, pr.res.Start, killAt)
	}
	if pr.res.BinRows != nil {
		t.Fatal("the resumed attempt counted the partner's bins again instead of reusing them")
	}
	done, err := Watch(ctx, fed.Jobs, jobID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if done.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED || done.GetVertical().GetAttempt() != 2 || done.GetVertical().GetIteration() != done.GetVertical().GetIterations() {
		t.Fatalf("resumed job: %v %q, progress %+v", done.GetState(), done.GetError(), done.GetVertical())
	}

	// The model equals the uninterrupted run's, bit for bit.
	regConn, err := fed.DialAs(pki.Identity{Name: "ops", Role: pki.Admin})
	if err != nil {
		t.Fatal(err)
	}
	defer regConn.Close()
	rm, err := fedscoregrpc.NewRegistryClient(regConn).GetRegisteredModel(ctx, &fedscorepb.GetRegisteredModelRequest{Version: br.res.Version})
	if err != nil {
		t.Fatal(err)
	}
	var params vertical.Params
	if err := json.Unmarshal(rm.GetVertical().GetParams(), &params); err != nil {
		t.Fatal(err)
	}
	train, val := program.VerticalSplit(jobID, rows, done.GetSpec().GetValidationFraction())
	sub := func(m vertical.Matrix, idx []int) vertical.Matrix {
		out := vertical.Matrix{Rows: len(idx), Cols: m.Cols}
		for _, i := range idx {
			out.Data = append(out.Data, m.Row(i)...)
		}
		return out
	}
	labels := func(idx []int) []float64 {
		out := make([]float64, len(idx))
		for k, i := range idx {
			out[k] = syn.Labels[i]
		}
		return out
	}
	bm, err := participant.LoadVerticalModel(br.res.ModelPath)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := participant.LoadVerticalModel(pr.res.ModelPath)
	if err != nil {
		t.Fatal(err)
	}
	// Each side's model inputs, as its half of the model transforms them:
	// the WOE columns of its own pipeline, or the raw columns.
	xBank, xPartner := syn.Bank, syn.Partner
	if scorecard {
		if bm.Pipeline == nil || pm.Pipeline == nil || bm.Model != "scorecard" || pm.Model != "scorecard" {
			t.Fatalf("scorecard halves without their pipelines: bank %q %v, partner %q %v", bm.Model, bm.Pipeline != nil, pm.Model, pm.Pipeline != nil)
		}
		var partnerTable *datasets.Table
		xBank, _ = woeMatrix(t, bm.Pipeline, bankFile)
		xPartner, partnerTable = woeMatrix(t, pm.Pipeline, partnerFile)
		checkPartnerBinCounts(t, pm.Pipeline, partnerTable.Select(train), labels(train), firstBins)
	} else if bm.Pipeline != nil || pm.Pipeline != nil {
		t.Fatal("logistic halves with pipelines")
	}
	local, err := vertical.RunLocal(vertical.LocalConfig{Params: params, Bank: sub(xBank, train), Labels: labels(train), Partner: sub(xPartner, train), Rand: seededReader(5)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bm.Bank.Weights, local.Bank.Weights) || !slices.Equal(pm.Partner.Weights, local.Partner.Weights) {
		t.Fatalf("resumed model differs from the uninterrupted one:\nbank    %v\nwant    %v\npartner %v\nwant    %v", bm.Bank.Weights, local.Bank.Weights, pm.Partner.Weights, local.Partner.Weights)
	}

	// The registry: lineage, the bank's validation metrics (recomputed
	// here from the uninterrupted model), where the halves are, no weights.
	lps, _ := local.Partner.PartialScores(sub(xPartner, val))
	lpd, _ := local.Bank.PD(sub(xBank, val), lps)
	wantAUC, _ := eval.AUC(lpd, labels(val))
	if rm.GetKind() != "vertical" || rm.GetJobId() != jobID || len(rm.GetModel().GetWeights()) != 0 || rm.GetModel().GetIntercept() != 0 ||
		!strings.HasPrefix(rm.GetVertical().GetBankModel(), "bank:") || !strings.HasPrefix(rm.GetVertical().GetPartnerModel(), "partner-1:") ||
		rm.GetVertical().GetAttempts() != 2 || !slices.Equal(rm.GetParticipants(), []string{"bank", "partner-1"}) {
		t.Fatalf("registered model: %v", rm)
	}
	if got := rm.GetModel().GetValidation().GetAuc(); math.Abs(got-wantAUC) > 1e-12 || got < 0.7 || rm.GetModel().GetValidation().GetExamples() != uint64(len(val)) {
		t.Fatalf("validation AUC %v over %d rows, want %v over %d", got, rm.GetModel().GetValidation().GetExamples(), wantAUC, len(val))
	}
	t.Logf("vertical job %s: resumed at iteration %d of %d; validation AUC %.4f, KS %.4f; registered %s", jobID, br.res.Start, done.GetVertical().GetIterations(),
		wantAUC, rm.GetModel().GetValidation().GetKs(), rm.GetVersion())

	// Scoring: every aligned customer, published by the bank, queryable by id.
	scoreAs := func(name, data string, state string) <-chan error {
		out := make(chan error, 1)
		go func() {
			conn, err := fed.DialAs(pki.Identity{Name: name, Role: pki.Participant})
			if err != nil {
				out <- err
				return
			}
			defer conn.Close()
			r, err := participant.RunVerticalScore(ctx, conn, participant.VerticalScoreConfig{Job: jobID, Self: name, Data: data, IDColumn: "customer_id", StateDir: state})
			if err == nil && name == "bank" && r.Published != rows {
				err = fmt.Errorf("published %d of %d", r.Published, rows)
			}
			out <- err
		}()
		return out
	}
	be, pe := scoreAs("bank", bankFile, stateBank), scoreAs("partner-1", partnerFile, statePartner)
	if err := <-pe; err != nil {
		t.Fatal(err)
	}
	if err := <-be; err != nil {
		t.Fatal(err)
	}
	aps, _ := local.Partner.PartialScores(xPartner)
	apd, _ := local.Bank.PD(xBank, aps)
	base, odds, pdo := 600.0, 50.0, 20.0
	if scorecard {
		base, odds, pdo = 700, 20, 40
	}
	reasonNames := append(names("b", db), participant.PartnerReason("partner-1"))
	partnerReasons := 0
	creditConn, err := fed.DialAs(pki.Identity{Name: "credit", Role: pki.Credit})
	if err != nil {
		t.Fatal(err)
	}
	defer creditConn.Close()
	credit := scores.NewClient(creditConn)
	worst := 0
	for i, p := range apd {
		if p > apd[worst] {
			worst = i
		}
	}
	for _, i := range []int{0, 1, rows / 2, rows - 1, worst} {
		rec, err := credit.Get(ctx, ids[i], rm.GetVersion())
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(rec.PD-apd[i]) > 1e-9 || rec.JobID != jobID || rec.ModelVersion != rm.GetVersion() || rec.Tier == "" {
			t.Fatalf("score of %s: %+v, want PD %v of %s", ids[i], rec, apd[i], rm.GetVersion())
		}
		if i == worst && len(rec.Reasons) == 0 {
			t.Fatalf("the riskiest customer %s has no reason codes: %+v", ids[i], rec)
		}
		points := base + pdo/math.Ln2*(math.Log(1/apd[i]-1)-math.Log(odds))
		if math.Abs(rec.Points-points) > 1e-6 {
			t.Fatalf("points of %s: %v, want %v (%v at %v:1, %v to double)", ids[i], rec.Points, points, base, odds, pdo)
		}
		for _, r := range rec.Reasons {
			if !slices.Contains(reasonNames, r) {
				t.Fatalf("reason %q of %s is none of %v", r, ids[i], reasonNames)
			}
			if r == participant.PartnerReason("partner-1") {
				partnerReasons++
			}
		}
	}
	// The partner's columns as one reason, for some of the riskiest.
	if partnerReasons == 0 {
		for i := range 200 {
			rec, err := credit.Get(ctx, ids[i], rm.GetVersion())
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(rec.Reasons, participant.PartnerReason("partner-1")) {
				partnerReasons++
			}
		}
		if partnerReasons == 0 {
			t.Fatal("no customer of 200 has the partner's reason code")
		}
	}

	// Every refusal and the resume are in the audit log.
	b, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if n := strings.Count(log, `"job.refused"`); n != 4 {
		t.Fatalf("%d audited refusals of vertical jobs, want 4", n)
	}
	for _, want := range []string{`"job.resume"`, `"model.register"`, `"vertical.join"`} {
		if !strings.Contains(log, want) {
			t.Fatalf("audit log lacks %s", want)
		}
	}
}

// checkPartnerBinCounts checks what the partner learned from the bin-count
// product against the plaintext counts of its pipeline's bins on the
// training rows (which only a test can compute: it holds the labels and
// the partner's columns): per counted bin, the rows and the bad rows; and
// that every bin's counts in the partner's pipeline are those.
func checkPartnerBinCounts(t *testing.T, p *features.Pipeline, train *datasets.Table, y []float64, got participant.VerticalJobResult) {
	t.Helper()
	bins, err := p.Assign(train)
	if err != nil {
		t.Fatal(err)
	}
	var wantRows, wantBad []int
	merged := false
	for j, f := range p.Features {
		groups := got.BinGroups[j]
		n := slices.Max(groups) + 1
		r, b := make([]int, n), make([]int, n)
		binRows := make([]float64, len(f.Bins))
		binBad := make([]float64, len(f.Bins))
		for i, k := range bins[j] {
			r[groups[k]]++
			b[groups[k]] += int(y[i])
			binRows[k]++
			binBad[k] += y[i]
		}
		for k, bin := range f.Bins {
			if math.Abs(bin.Total()-binRows[k]) > 1e-9 {
				t.Fatalf("feature %s bin %d: the pipeline holds %v rows, the table %v", f.Name, k, bin.Total(), binRows[k])
			}
			alone := true
			for k2 := range f.Bins {
				alone = alone && (k2 == k || groups[k2] != groups[k] || binRows[k2] == 0)
			}
			if alone && bin.Counts[1] != binBad[k] {
				t.Fatalf("feature %s bin %d: %v bad rows in the pipeline, %v in the plaintext", f.Name, k, bin.Counts[1], binBad[k])
			}
			merged = merged || (!alone && binRows[k] > 0)
		}
		if f.Name == "p0" && (f.Bins[f.MissingBin()].Total() < vertical.MinBinCount || f.Bins[f.MissingBin()].Counts[1] != binBad[f.MissingBin()]) {
			t.Fatalf("p0's missing bin: %+v", f.Bins[f.MissingBin()])
		}
		wantRows, wantBad = append(wantRows, r...), append(wantBad, b...)
	}
	if !slices.Equal(got.BinRows, wantRows) || !slices.Equal(got.BinBad, wantBad) {
		t.Fatalf("the partner's bin counts from the product differ from the plaintext:\nrows %v\nwant %v\nbad  %v\nwant %v", got.BinRows, wantRows, got.BinBad, wantBad)
	}
	if !merged {
		t.Fatal("no bin too small to count alone (p1's missing values) was counted with a neighbour")
	}
	t.Logf("the partner's %d counted bins over %d features equal the plaintext counts (bad %v)", len(wantRows), len(p.Features), wantBad)
}

// outsiderAs dials as a participant, closed when the test ends.
func outsiderAs(t *testing.T, fed *Federation, name string) *grpc.ClientConn {
	t.Helper()
	c, err := fed.DialAs(pki.Identity{Name: name, Role: pki.Participant})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The same job with a standalone helper under its own identity (`fedscore
// helper --job`), as when the bank runs the coordinator: the helper joins
// the job, deals every iteration and keeps nothing; the job registers.
func TestVerticalJobStandaloneHelper(t *testing.T) {
	const rows, db, dp = 12000, 3, 5
	dir := t.TempDir()
	syn := vertical.NewSynthetic(rows, db, dp, 12)
	bankFile, partnerFile, _ := verticalTables(t, dir, syn)
	fed, err := Start(Options{Participants: map[string]string{}, Identities: []pki.Identity{
		{Name: "bank", Role: pki.Participant}, {Name: "partner-1", Role: pki.Participant}, {Name: "helper", Role: pki.Helper},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	job, err := fed.Jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: &fedscorepb.JobSpec{Model: "vertical", Label: "default",
		Vertical: &fedscorepb.VerticalSpec{Bank: "bank", Partner: "partner-1", Helper: "helper",
			BankFeatures: names("b", db), PartnerFeatures: names("p", dp), Params: []byte(`{"Epochs": 30}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		res participant.VerticalJobResult
		err error
	}
	results := map[string]chan outcome{}
	for _, p := range []struct {
		name, data string
		role       pki.Role
	}{{"bank", bankFile, pki.Participant}, {"partner-1", partnerFile, pki.Participant}, {"helper", "", pki.Helper}} {
		out := make(chan outcome, 1)
		results[p.name] = out
		go func() {
			conn, err := fed.DialAs(pki.Identity{Name: p.name, Role: p.role})
			if err != nil {
				out <- outcome{err: err}
				return
			}
			defer conn.Close()
			c := participant.VerticalJobConfig{Job: job.GetId(), Self: p.name, Data: p.data}
			if p.data != "" {
				c.StateDir = filepath.Join(dir, "state-"+p.name)
			}
			if p.name == "bank" {
				// Seeded secret initial weights make the run, and its AUC,
				// the same every time.
				c.Rand = seededReader(7)
			}
			r, err := participant.RunVerticalJob(ctx, conn, c)
			out <- outcome{r, err}
		}()
	}
	for name, ch := range results {
		if o := <-ch; o.err != nil {
			t.Fatalf("%s: %v", name, o.err)
		}
	}
	done, err := Watch(ctx, fed.Jobs, job.GetId(), nil)
	if err != nil {
		t.Fatal(err)
	}
	iters := done.GetVertical().GetIterations()
	if done.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED || iters == 0 || done.GetModel().GetValidation().GetAuc() < 0.7 {
		t.Fatalf("job %v %q: %+v, model %v", done.GetState(), done.GetError(), done.GetVertical(), done.GetModel())
	}
	if _, err := os.Stat(filepath.Join(dir, "state-helper")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the helper kept state: %v", err)
	}
}
