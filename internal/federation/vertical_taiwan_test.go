package federation

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/models/eval"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/fedscore/fedscore/secure/vertical"
)

// Issue 7's Taiwan split as a vertical job through a real coordinator over
// mutual TLS on loopback: the bank holds LIMIT_BAL, PAY_0, PAY_2..PAY_6
// and the label, the partner SEX, EDUCATION, MARRIAGE, AGE, BILL_AMT1..6
// and PAY_AMT1..6, and 10% of each side's customers are absent from the
// other. The sides are aligned by construction (the intersection in file
// order; PSI itself is tested in secure/psi and cmd/fedscore), and the
// job holds out its own validation rows. The registry's validation AUC
// must be within 0.005 of the same scorecard trained in plaintext on the
// joined columns: the WOE of the two halves' own pipelines (the same
// bins), the job's training rows, exact logistic regression.
func TestVerticalJobTaiwan(t *testing.T) {
	dir := os.Getenv("FEDSCORE_DATASETS") // the Makefile points it at ../shared/datasets
	if dir == "" {
		t.Skip("FEDSCORE_DATASETS not set")
	}
	if testing.Short() {
		t.Skip("Taiwan run skipped in -short")
	}
	full, err := datasets.ReadTable(filepath.Join(dir, "taiwan_default", "default_of_credit_card_clients.csv"))
	if err != nil {
		t.Fatal(err)
	}
	const label = "default_payment_next_month"
	bankCols := []string{"LIMIT_BAL", "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"}
	partnerCols := []string{"SEX", "EDUCATION", "MARRIAGE", "AGE",
		"BILL_AMT1", "BILL_AMT2", "BILL_AMT3", "BILL_AMT4", "BILL_AMT5", "BILL_AMT6",
		"PAY_AMT1", "PAY_AMT2", "PAY_AMT3", "PAY_AMT4", "PAY_AMT5", "PAY_AMT6"}

	// 10% of each side's customers are the other's unknowns: n/11 of the
	// n·10/11 each side holds. The aligned customers are the rest, in file
	// order, as both sides would hold them after fedscore psi.
	n := full.Rows()
	only := n / 11
	perm := rand.New(rand.NewPCG(7, 7)).Perm(n)
	absent := make([]bool, n)
	for _, i := range perm[:2*only] {
		absent[i] = true
	}
	var aligned []int
	for i := range n {
		if !absent[i] {
			aligned = append(aligned, i)
		}
	}
	joined := full.Select(aligned)
	side := func(name string, cols ...string) string {
		tab := &datasets.Table{}
		for _, c := range append([]string{"ID"}, cols...) {
			tab.Columns = append(tab.Columns, joined.Column(c))
		}
		return writeTable(t, t.TempDir(), name, tab)
	}
	bankFile := side("bank.parquet", append(bankCols, label)...)
	partnerFile := side("partner.parquet", partnerCols...)

	fed, err := Start(Options{Participants: map[string]string{}, Identities: []pki.Identity{
		{Name: "bank", Role: pki.Participant}, {Name: "partner-1", Role: pki.Participant}, {Name: "ops", Role: pki.Admin},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// simulate --vertical's training settings: 60 epochs, a large step
	// with heavy-ball momentum (WOE columns are well scaled).
	job, err := fed.Jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: &fedscorepb.JobSpec{Model: "vertical", Label: label,
		Vertical: &fedscorepb.VerticalSpec{Bank: "bank", Partner: "partner-1", Helper: "coordinator",
			BankFeatures: bankCols, PartnerFeatures: partnerCols, Params: []byte(`{"Epochs": 60, "LearningRate": 1.5, "Momentum": 0.8}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	jobID := job.GetId()
	type outcome struct {
		res participant.VerticalJobResult
		err error
	}
	start := time.Now()
	run := func(name, data string) <-chan outcome {
		out := make(chan outcome, 1)
		go func() {
			conn, err := fed.DialAs(pki.Identity{Name: name, Role: pki.Participant})
			if err != nil {
				out <- outcome{err: err}
				return
			}
			defer conn.Close()
			r, err := participant.RunVerticalJob(ctx, conn, participant.VerticalJobConfig{Job: jobID, Self: name, Data: data,
				StateDir: filepath.Join(filepath.Dir(data), "state"), Rand: seededReader(3)})
			out <- outcome{r, err}
		}()
		return out
	}
	bankDone, partnerDone := run("bank", bankFile), run("partner-1", partnerFile)
	pr, br := <-partnerDone, <-bankDone
	if pr.err != nil || br.err != nil {
		t.Fatalf("partner %v, bank %v", pr.err, br.err)
	}
	took := time.Since(start)
	regConn, err := fed.DialAs(pki.Identity{Name: "ops", Role: pki.Admin})
	if err != nil {
		t.Fatal(err)
	}
	defer regConn.Close()
	rm, err := fedscoregrpc.NewRegistryClient(regConn).GetRegisteredModel(ctx, &fedscorepb.GetRegisteredModelRequest{Version: br.res.Version})
	if err != nil {
		t.Fatal(err)
	}
	jobAUC := rm.GetModel().GetValidation().GetAuc()
	var params vertical.Params
	if err := json.Unmarshal(rm.GetVertical().GetParams(), &params); err != nil {
		t.Fatal(err)
	}

	// The plaintext references on the same bins and the same split.
	bm, err := participant.LoadVerticalModel(br.res.ModelPath)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := participant.LoadVerticalModel(pr.res.ModelPath)
	if err != nil {
		t.Fatal(err)
	}
	xBank, bankTable := woeMatrix(t, bm.Pipeline, bankFile)
	xPartner, _ := woeMatrix(t, pm.Pipeline, partnerFile)
	y, err := datasets.Schema{Label: label, Features: bankCols}.Frame(bankTable, bankFile)
	if err != nil {
		t.Fatal(err)
	}
	train, val := program.VerticalSplit(jobID, len(aligned), rm.GetSpec().GetValidationFraction())
	if rm.GetModel().GetValidation().GetExamples() != uint64(len(val)) {
		t.Fatalf("the registry's metrics cover %d rows, the job's validation split %d", rm.GetModel().GetValidation().GetExamples(), len(val))
	}
	pick := func(v []float64, idx []int) []float64 {
		out := make([]float64, len(idx))
		for k, i := range idx {
			out[k] = v[i]
		}
		return out
	}
	ytr, yval := pick(y.Y, train), pick(y.Y, val)
	ref := params
	ref.Epochs = max(params.Epochs, 300) // as simulate --vertical: cheap, and converged
	auc := func(partner vertical.Matrix, partnerVal vertical.Matrix) float64 {
		p := ref
		p.PartnerFeatures = partner.Cols
		m, err := vertical.TrainPlain(vertical.PlainConfig{Params: p, Bank: rowsOfMatrix(xBank, train), Labels: ytr, Partner: partner, Sigmoid: true})
		if err != nil {
			t.Fatal(err)
		}
		ps, err := m.Partner.PartialScores(partnerVal)
		if err != nil {
			t.Fatal(err)
		}
		z, err := m.Bank.Logits(rowsOfMatrix(xBank, val), ps)
		if err != nil {
			t.Fatal(err)
		}
		a, err := eval.AUC(z, yval)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	joinedAUC := auc(rowsOfMatrix(xPartner, train), rowsOfMatrix(xPartner, val))
	// The bank alone: a constant zero partner column adds nothing.
	zero := func(rows int) vertical.Matrix {
		return vertical.Matrix{Rows: rows, Cols: 1, Data: make([]float64, rows)}
	}
	bankAUC := auc(zero(len(train)), zero(len(val)))
	t.Logf("Taiwan vertical job: %d aligned (%d train, %d validation), %d iterations, %.1fs; validation AUC: job (registry) %.4f, joined plaintext %.4f, bank only %.4f (gain %+.4f, joined %+.4f)",
		len(aligned), len(train), len(val), rm.GetVertical().GetIterations(), took.Seconds(), jobAUC, joinedAUC, bankAUC, jobAUC-bankAUC, joinedAUC-bankAUC)
	if d := math.Abs(jobAUC - joinedAUC); d > 0.005 {
		t.Fatalf("the job's validation AUC %.4f is %.4f from the joined table's %.4f (issue 7: within 0.005)", jobAUC, d, joinedAUC)
	}
}
