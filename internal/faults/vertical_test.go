package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/secure/vertical"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// verticalFiles writes the bank's and the partner's aligned tables of syn
// (the same customers in the same order, as fedscore psi leaves them).
func verticalFiles(t *testing.T, dir string, syn *vertical.Synthetic) (bank, partner string) {
	t.Helper()
	n := syn.Bank.Rows
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("C%08d", i)
	}
	table := func(prefix string, m vertical.Matrix) *datasets.Table {
		tab := &datasets.Table{Columns: []*datasets.Column{{Name: "customer_id", Kind: datasets.String, String: ids}}}
		for j := range m.Cols {
			c := &datasets.Column{Name: fmt.Sprintf("%s%d", prefix, j), Kind: datasets.Float, Float: make([]float64, n)}
			for i := range n {
				c.Float[i] = m.Row(i)[j]
			}
			tab.Columns = append(tab.Columns, c)
		}
		return tab
	}
	bt, pt := table("b", syn.Bank), table("p", syn.Partner)
	bt.Columns = append(bt.Columns, &datasets.Column{Name: "default", Kind: datasets.Int, Float: syn.Labels})
	bank, partner = filepath.Join(dir, "bank.parquet"), filepath.Join(dir, "partner.parquet")
	for f, tab := range map[string]*datasets.Table{bank: bt, partner: pt} {
		if err := datasets.WriteParquet(f, tab); err != nil {
			t.Fatal(err)
		}
	}
	return bank, partner
}

func colNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// A vertical scorecard job through a real coordinator process, which is
// SIGKILLed mid-training (from the partner's side, right after its
// checkpoint of iteration 6) and restarted on the same store. The
// restarted coordinator fails the attempt it cannot continue (the relay
// and the streams died with the old process), naming no party; `job
// resume` starts attempt 2 from the parties' last common checkpoint, and
// the final halves equal the uninterrupted run's bit for bit (training is
// exact in Z_2^64).
func coordinatorKilledDuringVerticalJob(t *testing.T) {
	const rows, db, dp = 12000, 3, 5
	dir := t.TempDir()
	syn := vertical.NewSynthetic(rows, db, dp, 17)
	bankFile, partnerFile := verticalFiles(t, dir, syn)
	c := &coordinatorProcess{t: t, store: filepath.Join(dir, "co.db"), addr: freeAddr(t)}
	c.start()
	defer c.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	jobs := fedscoregrpc.NewJobsClient(conn)
	job, err := until(ctx, func(ctx context.Context) (*fedscorepb.Job, error) {
		return jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: &fedscorepb.JobSpec{Model: "vertical", Label: "default",
			Vertical: &fedscorepb.VerticalSpec{Bank: "bank", Partner: "partner-1", Helper: "coordinator",
				BankFeatures: colNames("b", db), PartnerFeatures: colNames("p", dp), Params: []byte(`{"Epochs": 20, "Momentum": 0.5}`)}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	jobID := job.GetId()
	stateBank, statePartner := filepath.Join(dir, "state-bank"), filepath.Join(dir, "state-partner")
	type outcome struct {
		res participant.VerticalJobResult
		err error
	}
	run := func(name, data, state string, rnd *rand.ChaCha8, after func(uint64)) <-chan outcome {
		out := make(chan outcome, 1)
		go func() {
			pc, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				out <- outcome{err: err}
				return
			}
			defer pc.Close()
			cfg := participant.VerticalJobConfig{Job: jobID, Self: name, Data: data, StateDir: state, AfterIteration: after}
			if rnd != nil {
				cfg.Rand = rnd
			}
			r, err := participant.RunVerticalJob(ctx, pc, cfg)
			out <- outcome{r, err}
		}()
		return out
	}
	seed := func() *rand.ChaCha8 { return rand.NewChaCha8([32]byte{9}) }

	const killAt = 6
	bankDone := run("bank", bankFile, stateBank, seed(), nil)
	partnerDone := run("partner-1", partnerFile, statePartner, nil, func(it uint64) {
		if it == killAt {
			c.kill() // SIGKILL: the coordinator gets no chance to clean up
		}
	})
	pr, br := <-partnerDone, <-bankDone
	if pr.err == nil || br.err == nil {
		t.Fatalf("after the coordinator's death: partner %v, bank %v", pr.err, br.err)
	}
	t.Logf("the parties after the coordinator's death: bank %v; partner %v", br.err, pr.err)

	c.start() // on the same store
	failed, err := until(ctx, func(ctx context.Context) (*fedscorepb.Job, error) {
		return jobs.GetJob(ctx, &fedscorepb.GetJobRequest{JobId: jobID})
	})
	if err != nil {
		t.Fatal(err)
	}
	if failed.GetState() != fedscorepb.JobState_JOB_STATE_FAILED || failed.GetVertical().GetFailedParty() != "" ||
		!strings.Contains(failed.GetError(), "coordinator restarted during attempt 1") || !strings.Contains(failed.GetError(), "fedscore job resume") {
		t.Fatalf("after the restart the job is %v (%q, failed party %q)", failed.GetState(), failed.GetError(), failed.GetVertical().GetFailedParty())
	}
	t.Logf("after the restart: %s", failed.GetError())
	for _, d := range []string{stateBank, statePartner} {
		cps, _ := filepath.Glob(filepath.Join(participant.VerticalStateDir(d, jobID), "checkpoint-*.bin"))
		if len(cps) == 0 || len(cps) > 2 {
			t.Fatalf("%s keeps checkpoints %v, want one or two", d, cps)
		}
	}

	if _, err := jobs.ResumeJob(ctx, &fedscorepb.ResumeJobRequest{JobId: jobID}); err != nil {
		t.Fatal(err)
	}
	bankDone = run("bank", bankFile, stateBank, nil, nil)
	partnerDone = run("partner-1", partnerFile, statePartner, nil, nil)
	pr, br = <-partnerDone, <-bankDone
	if pr.err != nil || br.err != nil {
		t.Fatalf("resumed: partner %v, bank %v", pr.err, br.err)
	}
	if br.res.Start == 0 || br.res.Start != pr.res.Start || br.res.Start+1 < killAt {
		t.Fatalf("resumed from iteration %d (bank) and %d (partner); the coordinator died after the partner's %d", br.res.Start, pr.res.Start, killAt)
	}
	if pr.res.BinRows != nil {
		t.Fatal("the resumed attempt counted the partner's bins again instead of reusing them")
	}
	done, err := jobs.GetJob(ctx, &fedscorepb.GetJobRequest{JobId: jobID})
	if err != nil {
		t.Fatal(err)
	}
	if done.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED || done.GetVertical().GetAttempt() != 2 || done.GetModel().GetValidation().GetAuc() < 0.7 {
		t.Fatalf("resumed job: %v %q, attempt %d, model %v", done.GetState(), done.GetError(), done.GetVertical().GetAttempt(), done.GetModel())
	}

	// The halves equal the uninterrupted run's, on the WOE columns of the
	// halves' own pipelines.
	woe := func(model, data string) (*participant.VerticalModelFile, vertical.Matrix) {
		m, err := participant.LoadVerticalModel(model)
		if err != nil {
			t.Fatal(err)
		}
		tab, err := datasets.ReadTable(data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Pipeline == nil {
			t.Fatalf("%s: a scorecard half without its pipeline", model)
		}
		x, err := m.Pipeline.Transform(tab)
		if err != nil {
			t.Fatal(err)
		}
		r, cols := x.Dims()
		return m, vertical.Matrix{Rows: r, Cols: cols, Data: x.RawMatrix().Data}
	}
	bm, xBank := woe(br.res.ModelPath, bankFile)
	pm, xPartner := woe(pr.res.ModelPath, partnerFile)
	train, _ := program.VerticalSplit(jobID, rows, done.GetSpec().GetValidationFraction())
	sub := func(m vertical.Matrix) vertical.Matrix {
		out := vertical.Matrix{Rows: len(train), Cols: m.Cols}
		for _, i := range train {
			out.Data = append(out.Data, m.Row(i)...)
		}
		return out
	}
	labels := make([]float64, len(train))
	for k, i := range train {
		labels[k] = syn.Labels[i]
	}
	var params vertical.Params
	if err := json.Unmarshal(done.GetSpec().GetVertical().GetParams(), &params); err != nil {
		t.Fatal(err)
	}
	params.Job, params.Rows, params.BankFeatures, params.PartnerFeatures = jobID, len(train), db, dp
	local, err := vertical.RunLocal(vertical.LocalConfig{Params: params, Bank: sub(xBank), Labels: labels, Partner: sub(xPartner), Rand: seed()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bm.Bank.Weights, local.Bank.Weights) || !slices.Equal(pm.Partner.Weights, local.Partner.Weights) {
		t.Fatalf("the resumed model differs from the uninterrupted one:\nbank    %v\nwant    %v\npartner %v\nwant    %v", bm.Bank.Weights, local.Bank.Weights, pm.Partner.Weights, local.Partner.Weights)
	}
	t.Logf("vertical job %s: coordinator killed after the partner's iteration %d, resumed at %d of %d, validation AUC %.4f; halves equal the uninterrupted run's",
		jobID, killAt, br.res.Start, done.GetVertical().GetIterations(), done.GetModel().GetValidation().GetAuc())
}
