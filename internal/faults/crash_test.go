package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/internal/federation"
	"github.com/fedscore/fedscore/participant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// coordinatorProcess is a real coordinator in a child process.
type coordinatorProcess struct {
	t     *testing.T
	store string
	addr  string
	cmd   *exec.Cmd
}

func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

func (c *coordinatorProcess) start() {
	c.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"=coordinator", "FEDSCORE_FAULTS_STORE="+c.store, "FEDSCORE_FAULTS_ADDR="+c.addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", c.addr, 100*time.Millisecond); err == nil {
			conn.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("coordinator child did not start listening")
}

func (c *coordinatorProcess) kill() {
	c.cmd.Process.Kill() // SIGKILL: no chance to clean up
	c.cmd.Wait()
}

func (c *coordinatorProcess) stop() {
	if c.cmd != nil && c.cmd.ProcessState == nil {
		c.kill()
	}
}

// federationFiles writes n participants' synthetic data.
func federationFiles(t *testing.T, n, rows int, seed int64) (map[string]string, []string) {
	t.Helper()
	w, err := datasets.Synthesize(datasets.SynthConfig{Customers: rows, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := datasets.SplitIID(w.Table, n, datasets.SynthLabel, seed)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{}
	var ids []string
	for i, p := range parts {
		id := fmt.Sprintf("node-%d", i+1)
		path := filepath.Join(dir, id+".parquet")
		if err := datasets.WriteParquet(path, p); err != nil {
			t.Fatal(err)
		}
		files[id] = path
		ids = append(ids, id)
	}
	return files, ids
}

func startParticipants(t *testing.T, ctx context.Context, addr string, files map[string]string) {
	t.Helper()
	for id, path := range files {
		node, err := participant.New(participant.Config{
			ID: id, Coordinator: addr, Data: path,
			DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
			MinBackoff:  10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { node.Run(ctx); close(done) }()
		t.Cleanup(func() { <-done })
	}
}

func crashSpec(ids []string) *fedscorepb.JobSpec {
	feats := []string{"age", "income", "tenure_months", "credit_limit", "utilization", "delinquencies_12m", "monthly_spend", "return_rate", "utility_late_payments"}
	return &fedscorepb.JobSpec{
		Label: datasets.SynthLabel, IdColumn: datasets.SynthID, Features: feats, Participants: ids,
		Rounds: 10, PhaseTimeoutMs: 5000, MaxAttempts: 1000, Seed: 5,
	}
}

// until retries f against a coordinator that may be restarting.
func until[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := f(cctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return v, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The coordinator is SIGKILLed at 20 random moments of a 10-round job and
// restarted each time on the same store. The job completes, every round
// appears exactly once in its history, and the model is the one an
// undisturbed run produces.
func coordinatorKilledTwentyTimes(t *testing.T) {
	files, ids := federationFiles(t, 3, 6000, 21)
	c := &coordinatorProcess{t: t, store: filepath.Join(t.TempDir(), "co.db"), addr: freeAddr(t)}
	c.start()
	defer c.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Participants reach the coordinator over a network with 15 ms of
	// latency per message, so the job lasts long enough to be killed 20
	// times while it runs.
	net := newProxy(t, c.addr)
	net.setDelay(15 * time.Millisecond)
	startParticipants(t, ctx, net.addr(), files)
	defer cancel()

	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	jobs := fedscoregrpc.NewJobsClient(conn)
	job, err := until(ctx, func(ctx context.Context) (*fedscorepb.Job, error) {
		return jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: crashSpec(ids)})
	})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	kills := 0
	var final *fedscorepb.Job
	for final == nil {
		if kills < 20 {
			time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
			c.kill()
			kills++
			c.start()
		}
		j, err := until(ctx, func(ctx context.Context) (*fedscorepb.Job, error) {
			return jobs.GetJob(ctx, &fedscorepb.GetJobRequest{JobId: job.GetId()})
		})
		if err != nil {
			t.Fatalf("after %d kills: %v", kills, err)
		}
		switch j.GetState() {
		case fedscorepb.JobState_JOB_STATE_SUCCEEDED:
			final = j
		case fedscorepb.JobState_JOB_STATE_FAILED, fedscorepb.JobState_JOB_STATE_CANCELLED:
			t.Fatalf("job %s after %d kills: %s", j.GetState(), kills, j.GetError())
		default:
			if kills >= 20 {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	t.Logf("job finished after %d kills", kills)
	if kills < 20 {
		t.Fatalf("job finished after only %d kills; the test wants 20 during the job", kills)
	}
	for i, r := range final.GetRounds() {
		if int(r.GetRound()) != i+1 {
			t.Fatalf("history rounds %v: round %d lost or duplicated", roundsOf(final), i+1)
		}
	}
	if len(final.GetRounds()) != 10 {
		t.Fatalf("history has %d rounds, want 10", len(final.GetRounds()))
	}

	// The same job, undisturbed, gives the same model quality.
	calm, err := federation.Start(federation.Options{Participants: files, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer calm.Close()
	ref, err := calm.Run(ctx, crashSpec(ids), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, want := final.GetModel().GetValidation().GetAuc(), ref.GetModel().GetValidation().GetAuc()
	if d := got - want; d > 0.002 || d < -0.002 {
		t.Fatalf("crashed run AUC %.4f vs undisturbed %.4f", got, want)
	}
	t.Logf("AUC after 20 crashes %.5f, undisturbed %.5f", got, want)
}

func roundsOf(j *fedscorepb.Job) []uint32 {
	var out []uint32
	for _, r := range j.GetRounds() {
		out = append(out, r.GetRound())
	}
	return out
}
