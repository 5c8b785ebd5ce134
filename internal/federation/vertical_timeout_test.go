package federation

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/fedscore/fedscore/secure/vertical"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// relayOutOfReach is a party's connection on which the coordinator's
// Join and Report work but opening a relay stream hangs, as for a party
// whose route to the relay is broken after it joined: the call blocks
// until the test releases it.
type relayOutOfReach struct {
	grpc.ClientConnInterface
	once    sync.Once
	tried   chan struct{} // closed when the party first tries
	release chan struct{}
}

func (c *relayOutOfReach) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if method != fedscoregrpc.Relay_Exchange_FullMethodName {
		return c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	}
	c.once.Do(func() { close(c.tried) })
	select {
	case <-c.release:
	case <-ctx.Done():
	}
	return nil, status.Error(codes.Unavailable, "test: the relay is out of reach")
}

// A vertical job whose parties do not keep their part, over mutual TLS on
// loopback with the coordinator's helper and short timeouts:
//   - attempt 1: the partner joins the job, then never opens its relay
//     stream. Within the join timeout the attempt fails naming it, the
//     bank's stream is aborted with the reason, and the timeout is audited.
//   - attempt 2 (after `job resume`): the partner stops sending mid-
//     training without its stream ending. Within the idle timeout the
//     attempt fails naming it, the bank's stream is aborted with the reason.
//   - attempt 3 resumes from the checkpoints and completes; the model
//     equals the uninterrupted run's.
func TestVerticalJobTimeouts(t *testing.T) {
	const rows, db, dp = 12000, 3, 5
	const joinTimeout, idleTimeout = 2 * time.Second, 3 * time.Second
	dir := t.TempDir()
	syn := vertical.NewSynthetic(rows, db, dp, 13)
	bankFile, partnerFile, _ := verticalTables(t, dir, syn)
	auditPath := filepath.Join(dir, "audit.jsonl")
	al, err := audit.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	fed, err := Start(Options{Participants: map[string]string{}, Audit: al, Identities: []pki.Identity{
		{Name: "bank", Role: pki.Participant}, {Name: "partner-1", Role: pki.Participant},
	}, VerticalJoinTimeout: joinTimeout, VerticalIdleTimeout: idleTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	job, err := fed.Jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: &fedscorepb.JobSpec{Model: "vertical", Label: "default",
		Vertical: &fedscorepb.VerticalSpec{Bank: "bank", Partner: "partner-1", Helper: "coordinator",
			BankFeatures: names("b", db), PartnerFeatures: names("p", dp), Params: []byte(`{"Epochs": 20, "Momentum": 0.5}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	jobID := job.GetId()
	stateBank, statePartner := filepath.Join(dir, "state-bank"), filepath.Join(dir, "state-partner")

	type outcome struct {
		res participant.VerticalJobResult
		err error
	}
	run := func(name, data, state string, rnd *rand.ChaCha8, wrap func(grpc.ClientConnInterface) grpc.ClientConnInterface, after func(uint64)) <-chan outcome {
		out := make(chan outcome, 1)
		go func() {
			conn, err := fed.DialAs(pki.Identity{Name: name, Role: pki.Participant})
			if err != nil {
				out <- outcome{err: err}
				return
			}
			defer conn.Close()
			var cc grpc.ClientConnInterface = conn
			if wrap != nil {
				cc = wrap(conn)
			}
			c := participant.VerticalJobConfig{Job: jobID, Self: name, Data: data, StateDir: state, AfterIteration: after}
			if rnd != nil {
				c.Rand = rnd
			}
			r, err := participant.RunVerticalJob(ctx, cc, c)
			out <- outcome{r, err}
		}()
		return out
	}
	// failedWithin waits for the job to fail, within limit of since.
	failedWithin := func(since time.Time, limit time.Duration, want string) *fedscorepb.Job {
		t.Helper()
		j, err := Watch(ctx, fed.Jobs, jobID, nil)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(since)
		if j.GetState() != fedscorepb.JobState_JOB_STATE_FAILED || j.GetVertical().GetFailedParty() != "partner-1" || !strings.Contains(j.GetError(), want) {
			t.Fatalf("job %v, failed party %q: %q; want it failed naming partner-1 with %q", j.GetState(), j.GetVertical().GetFailedParty(), j.GetError(), want)
		}
		if took > limit {
			t.Fatalf("the job failed %v after the partner stopped; the timeout allows %v", took, limit)
		}
		t.Logf("failed after %v: %s", took.Round(time.Millisecond), j.GetError())
		return j
	}
	// aborted checks that the bank's stream was aborted with the reason.
	aborted := func(o outcome, want string) {
		t.Helper()
		if o.err == nil || !strings.Contains(o.err.Error(), "aborted") || !strings.Contains(o.err.Error(), want) {
			t.Fatalf("the bank ended with %v; want its stream aborted with %q", o.err, want)
		}
	}

	// Attempt 1: the partner joins but never reaches the relay session.
	cut := &relayOutOfReach{tried: make(chan struct{}), release: make(chan struct{})}
	bankDone := run("bank", bankFile, stateBank, seededReader(5), nil, nil)
	partnerDone := run("partner-1", partnerFile, statePartner, nil, func(c grpc.ClientConnInterface) grpc.ClientConnInterface {
		cut.ClientConnInterface = c
		return cut
	}, nil)
	select {
	case <-cut.tried:
	case o := <-partnerDone:
		t.Fatalf("the partner ended before opening its relay stream: %v", o.err)
	}
	tried := time.Now()
	failedWithin(tried, joinTimeout+2*time.Second, "partner-1 has not opened a stream in the job's relay session")
	aborted(<-bankDone, "join timeout")
	close(cut.release)
	if o := <-partnerDone; o.err == nil {
		t.Fatal("the partner whose relay was out of reach succeeded")
	}

	// Attempt 2: the partner stops after iteration 5, its stream open.
	if _, err := fed.Jobs.ResumeJob(ctx, &fedscorepb.ResumeJobRequest{JobId: jobID}); err != nil {
		t.Fatal(err)
	}
	const stallAt = 5
	stalled, unstall := make(chan time.Time, 1), make(chan struct{})
	// The first attempt never counted the partner's bins, so this one
	// counts them and trains from iteration 0, with the bank's seeded
	// initial weights.
	bankDone = run("bank", bankFile, stateBank, seededReader(5), nil, nil)
	partnerDone = run("partner-1", partnerFile, statePartner, nil, nil, func(it uint64) {
		if it == stallAt {
			stalled <- time.Now()
			<-unstall // a hung process: nothing sent, nothing closed
		}
	})
	var stallTime time.Time
	select {
	case stallTime = <-stalled:
	case o := <-partnerDone:
		t.Fatalf("the partner ended before stalling: %v", o.err)
	}
	failedWithin(stallTime, idleTimeout+2*time.Second, "idle timeout")
	aborted(<-bankDone, "idle timeout")
	close(unstall)
	if o := <-partnerDone; o.err == nil {
		t.Fatal("the stalled partner succeeded")
	}

	// Attempt 3 resumes from the checkpoints and completes.
	if _, err := fed.Jobs.ResumeJob(ctx, &fedscorepb.ResumeJobRequest{JobId: jobID}); err != nil {
		t.Fatal(err)
	}
	bankDone = run("bank", bankFile, stateBank, nil, nil, nil)
	partnerDone = run("partner-1", partnerFile, statePartner, nil, nil, nil)
	pr, br := <-partnerDone, <-bankDone
	if pr.err != nil || br.err != nil {
		t.Fatalf("attempt 3: partner %v, bank %v", pr.err, br.err)
	}
	if br.res.Start == 0 || br.res.Start != pr.res.Start || br.res.Start+1 < stallAt {
		t.Fatalf("attempt 3 started at iteration %d (bank) and %d (partner); the partner stalled after %d", br.res.Start, pr.res.Start, stallAt)
	}
	done, err := Watch(ctx, fed.Jobs, jobID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if done.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED || done.GetVertical().GetAttempt() != 3 {
		t.Fatalf("job %v %q after attempt %d", done.GetState(), done.GetError(), done.GetVertical().GetAttempt())
	}
	checkUninterrupted(t, jobID, done, syn, bankFile, partnerFile, br.res.ModelPath, pr.res.ModelPath, seededReader(5))

	b, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var timeouts []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"vertical.timeout"`) {
			var r audit.Record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			if r.Object != jobID || !strings.HasPrefix(r.Detail, "partner-1: ") {
				t.Fatalf("audited timeout %+v", r)
			}
			timeouts = append(timeouts, r.Detail)
		}
	}
	if len(timeouts) != 2 || !strings.Contains(timeouts[0], "join timeout") || !strings.Contains(timeouts[1], "idle timeout") {
		t.Fatalf("audited timeouts %q, want the join timeout and the idle timeout", timeouts)
	}
}

// checkUninterrupted checks that a finished scorecard job's two halves
// equal secure/vertical.RunLocal's uninterrupted run on the WOE columns of
// the halves' pipelines, with the bank's initial weights from rnd.
func checkUninterrupted(t *testing.T, jobID string, done *fedscorepb.Job, syn *vertical.Synthetic, bankFile, partnerFile, bankModel, partnerModel string, rnd *rand.ChaCha8) {
	t.Helper()
	bm, err := participant.LoadVerticalModel(bankModel)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := participant.LoadVerticalModel(partnerModel)
	if err != nil {
		t.Fatal(err)
	}
	if bm.Pipeline == nil || pm.Pipeline == nil {
		t.Fatal("scorecard halves without their pipelines")
	}
	xBank, _ := woeMatrix(t, bm.Pipeline, bankFile)
	xPartner, _ := woeMatrix(t, pm.Pipeline, partnerFile)
	train, _ := program.VerticalSplit(jobID, syn.Bank.Rows, done.GetSpec().GetValidationFraction())
	var params vertical.Params
	if err := json.Unmarshal(done.GetSpec().GetVertical().GetParams(), &params); err != nil {
		t.Fatal(err)
	}
	params.Job, params.Rows = jobID, len(train)
	params.BankFeatures, params.PartnerFeatures = xBank.Cols, xPartner.Cols
	labels := make([]float64, len(train))
	for k, i := range train {
		labels[k] = syn.Labels[i]
	}
	local, err := vertical.RunLocal(vertical.LocalConfig{Params: params, Bank: rowsOfMatrix(xBank, train), Labels: labels, Partner: rowsOfMatrix(xPartner, train), Rand: rnd})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bm.Bank.Weights, local.Bank.Weights) || !slices.Equal(pm.Partner.Weights, local.Partner.Weights) {
		t.Fatalf("the model differs from the uninterrupted one:\nbank    %v\nwant    %v\npartner %v\nwant    %v", bm.Bank.Weights, local.Bank.Weights, pm.Partner.Weights, local.Partner.Weights)
	}
}

func rowsOfMatrix(m vertical.Matrix, idx []int) vertical.Matrix {
	out := vertical.Matrix{Rows: len(idx), Cols: m.Cols}
	for _, i := range idx {
		out.Data = append(out.Data, m.Row(i)...)
	}
	return out
}
