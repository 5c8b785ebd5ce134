package faults

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/internal/federation"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/secure/pki"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestFaults runs every scenario and prints a table of what passed.
func TestFaults(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"participant killed during advertise-keys", participantKilledAt(fedscorepb.SecAggStep_SEC_AGG_STEP_ADVERTISE)},
		{"participant killed during share-keys", participantKilledAt(fedscorepb.SecAggStep_SEC_AGG_STEP_SHARE)},
		{"participant killed during masked-input", participantKilledAt(fedscorepb.SecAggStep_SEC_AGG_STEP_MASK)},
		{"participant killed during unmasking", participantKilledAt(fedscorepb.SecAggStep_SEC_AGG_STEP_UNMASK)},
		{"coordinator SIGKILLed 20 times and restarted", coordinatorKilledTwentyTimes},
		{"coordinator SIGKILLed in a vertical job, restarted, resumed", coordinatorKilledDuringVerticalJob},
		{"participant slower than the phase timeout", slowParticipant},
		{"network to a participant cut and restored", networkCut},
		{"unknown, expired, wrong-role and missing certificates", authenticationAndRoles},
		{"revoked identity, without restart", revocationWithoutRestart},
		{"malformed protobuf message", malformedProtobuf},
		{"oversized message", oversizedMessage},
		{"NaN, infinite, wrong-length and replayed plain updates", roguePlainUpdates},
		{"garbage and replayed secure-aggregation messages", rogueSecureMessages},
		{"Parquet schema differs from the job's", schemaMismatch},
		{"truncated Parquet file", truncatedParquet},
	}
	results := make([]bool, len(scenarios))
	for i, s := range scenarios {
		results[i] = t.Run(s.name, s.run)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-60s %s\n", "SCENARIO", "RESULT")
	for i, s := range scenarios {
		r := "PASS"
		if !results[i] {
			r = "FAIL"
		}
		fmt.Fprintf(&b, "%-60s %s\n", s.name, r)
	}
	t.Log(b.String())
}

var (
	refOnce sync.Once
	refAUC  float64
	refErr  error
)

// fiveNodes is the federation most scenarios use: five participants, a
// quorum of four, so one may fail at any step of secure aggregation.
func fiveNodes(t *testing.T) (map[string]string, []string) {
	return federationFiles(t, 5, 10000, 33)
}

func fiveSpec(ids []string) *fedscorepb.JobSpec {
	s := crashSpec(ids)
	s.Rounds, s.MinParticipants, s.PhaseTimeoutMs, s.MaxAttempts = 10, 4, 10000, 5
	return s
}

var (
	testOnce  sync.Once
	testFrame *datasets.Frame
)

// testAUC measures a job's model on held-out customers drawn from the same
// population, the same for every run, whoever took part.
func testAUC(t *testing.T, job *fedscorepb.Job) float64 {
	t.Helper()
	testOnce.Do(func() {
		w, err := datasets.Synthesize(datasets.SynthConfig{Customers: 20000, Seed: 99})
		if err != nil {
			t.Fatal(err)
		}
		testFrame, err = datasets.Schema{Label: datasets.SynthLabel, Features: job.GetSpec().GetFeatures()}.Frame(w.Table, "test")
		if err != nil {
			t.Fatal(err)
		}
	})
	m, st, err := federation.ModelFromProto(job.GetModel())
	if err != nil {
		t.Fatal(err)
	}
	met, err := federation.Evaluate(m, st, testFrame)
	if err != nil {
		t.Fatal(err)
	}
	return met.AUC
}

// referenceAUC is the undisturbed run of fiveSpec.
func referenceAUC(t *testing.T) float64 {
	refOnce.Do(func() {
		files, ids := fiveNodes(t)
		fed, err := federation.Start(federation.Options{Participants: files})
		if err != nil {
			refErr = err
			return
		}
		defer fed.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		job, err := fed.Run(ctx, fiveSpec(ids), nil)
		if err != nil {
			refErr = err
			return
		}
		refAUC = testAUC(t, job)
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refAUC
}

func requireSucceededNear(t *testing.T, job *fedscorepb.Job, want float64) {
	t.Helper()
	if job.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", job.GetState(), job.GetError())
	}
	got := testAUC(t, job)
	if math.Abs(got-want) > 0.002 {
		t.Fatalf("AUC %.4f, undisturbed %.4f: differ by more than 0.002", got, want)
	}
}

// participantKilledAt crashes one participant when the coordinator asks it
// for the given step of round 2's secure aggregation, and restarts it a
// moment later.
func participantKilledAt(step fedscorepb.SecAggStep) func(t *testing.T) {
	return func(t *testing.T) {
		want := referenceAUC(t)
		files, ids := fiveNodes(t)
		var (
			fed  *federation.Federation
			once sync.Once
			done = make(chan struct{})
		)
		tap := federation.TaskTap(func(to string, task *fedscorepb.Task) bool {
			if to != "node-3" || task.GetKind() != "train" || task.GetRound() != 2 || task.GetSecaggStep() != step {
				return false
			}
			killed := false
			once.Do(func() {
				killed = true
				go func() {
					fed.StopParticipant("node-3")
					time.Sleep(300 * time.Millisecond)
					fed.StartParticipant("node-3")
					close(done)
				}()
			})
			return killed // the node dies before it sees the task
		})
		var err error
		fed, err = federation.Start(federation.Options{Participants: files, ServerOptions: []grpc.ServerOption{tap}})
		if err != nil {
			t.Fatal(err)
		}
		defer fed.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		job, err := fed.Run(ctx, fiveSpec(ids), nil)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("the crash never happened (job %s: %s)", job.GetState(), job.GetError())
		}
		requireSucceededNear(t, job, want)
		if r := job.GetRounds()[1]; !strings.Contains(strings.Join(r.GetDropped(), ","), "node-3") && step != fedscorepb.SecAggStep_SEC_AGG_STEP_UNMASK {
			t.Fatalf("round 2 dropped %v, want node-3", r.GetDropped())
		}
	}
}

// startNodeVia runs one participant of fed that reaches the coordinator
// through p.
func startNodeVia(t *testing.T, ctx context.Context, fed *federation.Federation, p *proxy, id, data string) {
	t.Helper()
	creds, err := fed.Credentials(pki.Identity{Name: id, Role: pki.Participant})
	if err != nil {
		t.Fatal(err)
	}
	node, err := participant.New(participant.Config{ID: id, Coordinator: p.addr(), Data: data,
		DialOptions: []grpc.DialOption{creds}, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { node.Run(ctx); close(done) }()
	t.Cleanup(func() { <-done })
}

func slowParticipant(t *testing.T) {
	files, ids := fiveNodes(t)
	slow := files["node-5"]
	delete(files, "node-5")
	fed, err := federation.Start(federation.Options{Participants: files})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newProxy(t, fed.Addr)
	p.setDelay(1500 * time.Millisecond)
	startNodeVia(t, ctx, fed, p, "node-5", slow)
	spec := fiveSpec(ids)
	spec.PhaseTimeoutMs = 1000
	job, err := fed.Run(ctx, spec, nil)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if job.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", job.GetState(), job.GetError())
	}
	for _, r := range job.GetRounds() {
		if len(r.GetParticipants()) != 4 {
			t.Fatalf("round %d had %v: the slow node should have been left out", r.GetRound(), r.GetParticipants())
		}
	}
}

func networkCut(t *testing.T) {
	want := referenceAUC(t)
	files, ids := fiveNodes(t)
	far := files["node-5"]
	delete(files, "node-5")
	fed, err := federation.Start(federation.Options{Participants: files})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newProxy(t, fed.Addr)
	p.setDelay(10 * time.Millisecond)
	startNodeVia(t, ctx, fed, p, "node-5", far)
	go func() {
		time.Sleep(400 * time.Millisecond)
		p.setCut(true)
		time.Sleep(1500 * time.Millisecond)
		p.setCut(false)
	}()
	job, err := fed.Run(ctx, fiveSpec(ids), nil)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	requireSucceededNear(t, job, want)
}

func malformedProtobuf(t *testing.T) {
	fed, _ := startAudited(t)
	conn := dialWith(t, fed.Addr, issueTLS(t, fed, pki.Identity{Name: "bank", Role: pki.Participant}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc := &grpc.StreamDesc{StreamName: "Connect", ClientStreams: true, ServerStreams: true}
	st, err := conn.NewStream(ctx, desc, "/fedscore.v1.Federation/Connect", grpc.ForceCodec(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	// Field 1, wire type 2, claiming 200 bytes that never come.
	if err := st.SendMsg([]byte{0x0a, 0xc8, 0x01, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	var out []byte
	err = st.RecvMsg(&out)
	if code := status.Code(err); code != codes.Internal && code != codes.InvalidArgument {
		t.Fatalf("malformed message: %v, want Internal or InvalidArgument", err)
	}
	healthy(t, fed)
}

func oversizedMessage(t *testing.T) {
	fed, _ := startAudited(t)
	conn := dialWith(t, fed.Addr, issueTLS(t, fed, pki.Identity{Name: "bank", Role: pki.Participant}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := fedscoregrpc.NewFederationClient(conn).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Hello{Hello: &fedscorepb.Hello{ParticipantId: "bank"}}})
	st.Recv()
	huge := make([]float64, 9<<20) // 72 MiB, over the coordinator's 64 MiB limit
	st.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Result{Result: &fedscorepb.TaskResult{Contribution: huge}}})
	for {
		if _, err = st.Recv(); err != nil {
			break
		}
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized message: %v, want ResourceExhausted", err)
	}
	healthy(t, fed)
}

func healthy(t *testing.T, fed *federation.Federation) {
	t.Helper()
	conn := dialWith(t, fed.Addr, issueTLS(t, fed, pki.Identity{Name: "ops", Role: pki.Admin}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("coordinator unhealthy after the fault: %v %v", res, err)
	}
}

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// rogue connects as a participant and answers every task with answer.
func rogue(t *testing.T, ctx context.Context, fed *federation.Federation, id string, answer func(task *fedscorepb.Task, last *fedscorepb.TaskResult) *fedscorepb.TaskResult) {
	t.Helper()
	conn := dialWith(t, fed.Addr, issueTLS(t, fed, pki.Identity{Name: id, Role: pki.Participant}))
	st, err := fedscoregrpc.NewFederationClient(conn).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Hello{Hello: &fedscorepb.Hello{ParticipantId: id}}})
	go func() {
		var last *fedscorepb.TaskResult
		for {
			m, err := st.Recv()
			if err != nil {
				return
			}
			if task := m.GetTask(); task != nil {
				res := answer(task, last)
				last = &fedscorepb.TaskResult{JobId: task.GetJobId(), Seq: task.GetSeq(), Kind: task.GetKind(), SecaggStep: task.GetSecaggStep(), Secagg: res.GetSecagg(), Contribution: res.GetContribution()}
				st.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Result{Result: res}})
			}
		}
	}()
}

func auditedFederation(t *testing.T, files map[string]string) (*federation.Federation, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "audit.jsonl")
	al, err := audit.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	fed, err := federation.Start(federation.Options{Participants: files, Audit: al, Log: debugLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fed.Close)
	return fed, logPath
}

func roguePlainUpdates(t *testing.T) {
	files, ids := federationFiles(t, 3, 6000, 8)
	fed, logPath := auditedFederation(t, files)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := 0
	rogue(t, ctx, fed, "mallory", func(task *fedscorepb.Task, last *fedscorepb.TaskResult) *fedscorepb.TaskResult {
		n++
		res := &fedscorepb.TaskResult{JobId: task.GetJobId(), Seq: task.GetSeq(), Kind: task.GetKind()}
		switch n % 4 {
		case 0:
			res.Contribution = []float64{math.NaN(), 1}
		case 1:
			res.Contribution = []float64{1, 2, 3}
		case 2:
			res.Contribution = []float64{math.Inf(1)}
		case 3:
			if last != nil {
				res = last // replay of the previous round's answer
			}
		}
		return res
	})
	spec := crashSpec(append(ids, "mallory"))
	spec.PlainAggregation, spec.MinParticipants, spec.Rounds, spec.PhaseTimeoutMs = true, 3, 4, 1000
	job, err := fed.Run(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", job.GetState(), job.GetError())
	}
	for _, r := range job.GetRounds() {
		if strings.Contains(strings.Join(r.GetParticipants(), ","), "mallory") {
			t.Fatalf("round %d summed mallory's update", r.GetRound())
		}
	}
	requireAudit(t, logPath, `"actor":"mallory","role":"participant","action":"message.refused"`)
}

func rogueSecureMessages(t *testing.T) {
	files, ids := federationFiles(t, 4, 8000, 9)
	fed, logPath := auditedFederation(t, files)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var first *fedscorepb.TaskResult
	rogue(t, ctx, fed, "mallory", func(task *fedscorepb.Task, last *fedscorepb.TaskResult) *fedscorepb.TaskResult {
		res := &fedscorepb.TaskResult{JobId: task.GetJobId(), Seq: task.GetSeq(), Kind: task.GetKind(), SecaggStep: task.GetSecaggStep()}
		if first == nil {
			res.Secagg = []byte("not a protocol message")
			first = res
			return res
		}
		// Replay the first message into a later round and step.
		res.Secagg = []byte{1, 1, 0, 0, 0, 0}
		return res
	})
	spec := crashSpec(append(ids, "mallory"))
	spec.MinParticipants, spec.Rounds = 4, 3
	job, err := fed.Run(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", job.GetState(), job.GetError())
	}
	requireAudit(t, logPath, `"actor":"mallory","role":"participant","action":"message.refused"`)
}

func requireAudit(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), want) {
		t.Fatalf("audit log lacks %s", want)
	}
	if _, err := audit.Verify(strings.NewReader(string(b))); err != nil {
		t.Fatal(err)
	}
}

func schemaMismatch(t *testing.T) {
	files, ids := federationFiles(t, 3, 3000, 4)
	bad := filepath.Join(t.TempDir(), "other-schema.parquet")
	tab, err := datasets.ReadParquet(files["node-2"])
	if err != nil {
		t.Fatal(err)
	}
	var kept []*datasets.Column
	for _, c := range tab.Columns {
		if c.Name != "utilization" {
			kept = append(kept, c)
		}
	}
	if err := datasets.WriteParquet(bad, &datasets.Table{Columns: kept}); err != nil {
		t.Fatal(err)
	}
	files["node-2"] = bad
	fed, _ := auditedFederation(t, files)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := crashSpec(ids)
	spec.MinParticipants, spec.MaxAttempts = 3, 1
	job, err := fed.Run(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.GetState() != fedscorepb.JobState_JOB_STATE_FAILED {
		t.Fatalf("job %s, want failed", job.GetState())
	}
	for _, want := range []string{"other-schema.parquet", `"utilization"`, "node-2"} {
		if !strings.Contains(job.GetError(), want) {
			t.Fatalf("job error %q does not name %s", job.GetError(), want)
		}
	}
}

func truncatedParquet(t *testing.T) {
	files, _ := federationFiles(t, 1, 3000, 4)
	b, err := os.ReadFile(files["node-1"])
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []int{len(b) / 2, len(b) - 9, 12, 0} {
		p := filepath.Join(t.TempDir(), "truncated.parquet")
		os.WriteFile(p, b[:keep], 0o644)
		_, err := participant.New(participant.Config{ID: "p", Coordinator: "127.0.0.1:1", Data: p})
		if err == nil || !strings.Contains(err.Error(), "truncated.parquet") {
			t.Fatalf("%d of %d bytes: err = %v, want an error naming the file", keep, len(b), err)
		}
	}
}

func debugLog() *slog.Logger {
	if os.Getenv("FEDSCORE_FAULTS_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
