// Package coordinator is the coordinator service: it accepts participants'
// outbound streams, keeps the job queue, drives one round machine per job
// (coordinator/round) over gRPC, persists every step in the job store and
// serves the data scientist's Jobs API.
//
// The round machines are pure; this package is the thin shell around them
// that owns the goroutines, the timers, the network and the disk.
package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/coordinator/store"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Version is reported to participants in Welcome.
const Version = "fedscore-coordinator/0.1"

// Config wires a Coordinator.
type Config struct {
	Store store.Store
	Log   *slog.Logger
	// Now stamps jobs; nil means time.Now.
	Now func() time.Time
	// Insecure turns authentication off: every caller may do everything.
	// It must be asked for explicitly (fedscore coordinator --insecure);
	// otherwise every call must come with a verified client certificate
	// whose role the policy allows.
	Insecure bool
	// Audit, if set, receives a record of every action and refusal.
	Audit *audit.Log
	// MaxStreamsPerIdentity caps an identity's concurrent streams (8).
	MaxStreamsPerIdentity int
	// Metrics, if set, registers the coordinator's Prometheus series.
	Metrics prometheus.Registerer
	// OnRegister, if set, hears of every model version registered (the
	// score store learns the versions it may accept scores for).
	OnRegister func(*fedscorepb.RegisteredModel)
	// ConsoleLogin, if set, issues a web-console login link for an
	// identity (the console lives beside the coordinator, in cmd).
	ConsoleLogin func(id pki.Identity, ttl time.Duration) (string, error)
	// Identities looks up a provisioned identity's role. Vertical jobs
	// name their parties, and a job whose parties are not provisioned
	// with the right roles is refused; without a directory (and without
	// Insecure) vertical jobs are refused altogether.
	Identities func(name string) (pki.Role, bool)
	// VerticalJoinTimeout bounds how long a vertical job's attempt waits,
	// once both data parties have joined, for each of its parties (the
	// helper too) to open its stream in the job's relay session
	// (DefaultVerticalJoinTimeout if zero). VerticalIdleTimeout bounds how
	// long a running attempt's session may carry nothing
	// (DefaultVerticalIdleTimeout if zero). Past either, the attempt fails
	// naming the party, the others' streams are aborted, and the job can
	// be resumed.
	VerticalJoinTimeout, VerticalIdleTimeout time.Duration
}

func (c *Config) validate() error {
	if c.Store == nil {
		return errors.New("coordinator: config needs a store")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxStreamsPerIdentity <= 0 {
		c.MaxStreamsPerIdentity = 8
	}
	if c.VerticalJoinTimeout <= 0 {
		c.VerticalJoinTimeout = DefaultVerticalJoinTimeout
	}
	if c.VerticalIdleTimeout <= 0 {
		c.VerticalIdleTimeout = DefaultVerticalIdleTimeout
	}
	return nil
}

// Coordinator serves the Federation and Jobs services.
type Coordinator struct {
	fedscoregrpc.UnimplementedFederationServer
	fedscoregrpc.UnimplementedJobsServer
	fedscoregrpc.UnimplementedAdminServer
	fedscoregrpc.UnimplementedRegistryServer
	fedscoregrpc.UnimplementedConsoleServer
	fedscoregrpc.UnimplementedRelayServer
	fedscoregrpc.UnimplementedVerticalServer

	cfg    Config
	log    *slog.Logger
	health *health.Server
	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup

	guard   *guard
	metrics *metrics
	relay   relay

	mu       sync.Mutex
	sessions map[string]*session
	jobs     map[string]*jobRun
	vjobs    map[string]*verticalRun
	seen     map[string]*fedscorepb.ParticipantInfo
}

// session is one participant's live stream.
type session struct {
	id   string
	out  chan *fedscorepb.CoordinatorMessage
	done chan struct{}
	once sync.Once
}

func (s *session) close() { s.once.Do(func() { close(s.done) }) }

// send queues a message without blocking the caller; a participant that
// lets its queue fill is too far behind to be useful and is disconnected.
func (s *session) send(m *fedscorepb.CoordinatorMessage) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.out <- m:
		return true
	default:
		s.close()
		return false
	}
}

// New returns a coordinator and resumes every unfinished job in the store.
func New(c Config) (*Coordinator, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	co := &Coordinator{
		cfg: c, log: c.Log, health: health.NewServer(), ctx: ctx, stop: stop,
		sessions: map[string]*session{}, jobs: map[string]*jobRun{}, vjobs: map[string]*verticalRun{}, seen: map[string]*fedscorepb.ParticipantInfo{},
		metrics: newMetrics(c.Metrics),
	}
	revoked, err := c.Store.Revoked()
	if err != nil {
		stop()
		return nil, fmt.Errorf("coordinator: load revocations: %w", err)
	}
	co.guard = &guard{co: co, insecure: c.Insecure, policy: DefaultPolicy, maxStreams: c.MaxStreamsPerIdentity,
		streams: map[string]int{}, revoked: revoked}
	jobs, err := c.Store.ListJobs()
	if err != nil {
		stop()
		return nil, fmt.Errorf("coordinator: load jobs: %w", err)
	}
	for _, j := range jobs {
		if terminal(j.GetState()) {
			continue
		}
		if j.GetSpec().GetModel() == ModelVertical {
			co.resumeVertical(j)
			continue
		}
		if err := co.startJob(j); err != nil {
			co.log.Error("cannot resume job", "job", j.GetId(), "err", err)
			continue
		}
		co.log.Info("resumed job", "job", j.GetId(), "phase", j.GetPhase(), "round", j.GetRound())
	}
	co.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	return co, nil
}

// Register adds the coordinator's services, and the gRPC health service, to s.
func (co *Coordinator) Register(s *grpc.Server) {
	fedscoregrpc.RegisterFederationServer(s, co)
	fedscoregrpc.RegisterJobsServer(s, co)
	fedscoregrpc.RegisterAdminServer(s, co)
	fedscoregrpc.RegisterRegistryServer(s, co)
	fedscoregrpc.RegisterConsoleServer(s, co)
	fedscoregrpc.RegisterRelayServer(s, co)
	fedscoregrpc.RegisterVerticalServer(s, co)
	healthpb.RegisterHealthServer(s, co.health)
}

// Close stops every job runner. Jobs stay in the store as they were.
func (co *Coordinator) Close() {
	co.health.Shutdown()
	co.stop()
	co.wg.Wait()
}

func terminal(s fedscorepb.JobState) bool {
	return s == fedscorepb.JobState_JOB_STATE_SUCCEEDED || s == fedscorepb.JobState_JOB_STATE_FAILED || s == fedscorepb.JobState_JOB_STATE_CANCELLED
}

// Connect implements fedscoregrpc.FederationServer: one participant's stream.
func (co *Coordinator) Connect(stream grpc.BidiStreamingServer[fedscorepb.ParticipantMessage, fedscorepb.CoordinatorMessage]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	id := first.GetHello().GetParticipantId()
	if id == "" {
		return status.Error(codes.InvalidArgument, "coordinator: the first message must be a Hello with a participant id")
	}
	if who, _ := IdentityFrom(stream.Context()); !co.cfg.Insecure && who.Name != id {
		// A participant speaks only for itself.
		err := fmt.Errorf("%w: %s may not connect as participant %q", ErrDenied, who, id)
		co.guard.deny(who, "/fedscore.v1.Federation/Connect", err)
		return status.Error(codes.PermissionDenied, err.Error())
	}
	log := co.log.With("participant", id)
	sess := &session{id: id, out: make(chan *fedscorepb.CoordinatorMessage, 64), done: make(chan struct{})}
	// Welcome goes first in the queue, before the session is visible to
	// job runners, so no task can overtake it.
	sess.send(&fedscorepb.CoordinatorMessage{Body: &fedscorepb.CoordinatorMessage_Welcome{Welcome: &fedscorepb.Welcome{CoordinatorVersion: Version}}})
	co.wg.Add(1)
	defer co.wg.Done()

	co.mu.Lock()
	if old := co.sessions[id]; old != nil {
		// A reconnect replaces a stream the node has given up on.
		old.close()
	}
	co.sessions[id] = sess
	co.seen[id] = &fedscorepb.ParticipantInfo{Id: id, Connected: true, LastSeen: timestamppb.New(co.cfg.Now()), Version: first.GetHello().GetVersion()}
	runs := co.activeJobsLocked()
	co.mu.Unlock()
	log.Info("participant connected", "version", first.GetHello().GetVersion())
	co.metrics.participants.Inc()
	defer co.metrics.participants.Dec()
	co.audit(audit.Record{Actor: id, Role: string(pki.Participant), Action: "participant.connect"})

	sendErr := make(chan error, 1)
	go func() {
		sendErr <- co.pump(stream, sess)
	}()
	for _, jr := range runs {
		jr.post(round.Join{Participant: id})
	}

	recvErr := make(chan error, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			co.handleParticipantMessage(id, msg)
		}
	}()

	select {
	case err = <-recvErr:
	case err = <-sendErr:
	case <-sess.done:
		err = status.Error(codes.Aborted, "coordinator: session replaced or too slow")
	case <-co.ctx.Done():
		err = status.Error(codes.Unavailable, "coordinator: shutting down")
	}
	sess.close()
	co.mu.Lock()
	if co.sessions[id] == sess {
		delete(co.sessions, id)
		co.seen[id].Connected = false
		co.seen[id].LastSeen = timestamppb.New(co.cfg.Now())
		runs = co.activeJobsLocked()
	} else {
		runs = nil // replaced: the new session carries on for this id
	}
	co.mu.Unlock()
	for _, jr := range runs {
		jr.post(round.Leave{Participant: id})
	}
	log.Info("participant disconnected", "err", err)
	co.audit(audit.Record{Actor: id, Role: string(pki.Participant), Action: "participant.disconnect", Detail: fmt.Sprint(err)})
	return err
}

func (co *Coordinator) pump(stream grpc.BidiStreamingServer[fedscorepb.ParticipantMessage, fedscorepb.CoordinatorMessage], sess *session) error {
	for {
		select {
		case m := <-sess.out:
			if err := stream.Send(m); err != nil {
				return err
			}
		case <-sess.done:
			return nil
		}
	}
}

func (co *Coordinator) handleParticipantMessage(id string, msg *fedscorepb.ParticipantMessage) {
	res := msg.GetResult()
	if res != nil {
		co.metrics.bytesIn.WithLabelValues(stepLabel(res.GetSecaggStep())).Add(float64(8*len(res.GetContribution()) + len(res.GetSecagg())))
	}
	if res == nil {
		co.log.Warn("unexpected message from participant", "participant", id, "type", fmt.Sprintf("%T", msg.GetBody()))
		return
	}
	co.mu.Lock()
	jr := co.jobs[res.GetJobId()]
	if info := co.seen[id]; info != nil {
		info.LastSeen = timestamppb.New(co.cfg.Now())
	}
	co.mu.Unlock()
	if jr == nil {
		co.log.Warn("result for unknown or finished job", "participant", id, "job", res.GetJobId())
		return
	}
	jr.post(round.Reply{
		Participant: id, Seq: res.GetSeq(), Vector: res.GetContribution(), Err: res.GetError(),
		Step: round.SecStep(res.GetSecaggStep()), Payload: payload(res),
	})
}

func (co *Coordinator) activeJobsLocked() []*jobRun {
	out := make([]*jobRun, 0, len(co.jobs))
	for _, jr := range co.jobs {
		out = append(out, jr)
	}
	return out
}

func (co *Coordinator) session(id string) *session {
	co.mu.Lock()
	defer co.mu.Unlock()
	return co.sessions[id]
}

func (co *Coordinator) connectedIDs() []string {
	co.mu.Lock()
	defer co.mu.Unlock()
	ids := make([]string, 0, len(co.sessions))
	for id := range co.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// SubmitJob implements fedscoregrpc.JobsServer.
func (co *Coordinator) SubmitJob(ctx context.Context, req *fedscorepb.SubmitJobRequest) (*fedscorepb.Job, error) {
	if req.GetSpec().GetModel() == ModelVertical {
		return co.submitVertical(ctx, req.GetSpec())
	}
	spec, err := program.NormalizeSpec(req.GetSpec())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if spec.GetModel() == program.ModelScore {
		// Record the version actually scored with, champion or named.
		rm, err := co.cfg.Store.Model(spec.GetScoreVersion())
		if err != nil {
			return nil, registryError(err)
		}
		spec.ScoreVersion = rm.GetVersion()
	}
	who, _ := IdentityFrom(ctx)
	job := &fedscorepb.Job{
		Id:          newJobID(co.cfg.Now()),
		Spec:        spec,
		State:       fedscorepb.JobState_JOB_STATE_WAITING,
		Phase:       string(round.Waiting),
		Created:     timestamppb.New(co.cfg.Now()),
		SubmittedBy: who.Name,
	}
	if err := co.cfg.Store.PutJob(job); err != nil {
		return nil, status.Errorf(codes.Internal, "coordinator: persist job: %v", err)
	}
	if err := co.startJob(job); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	co.log.Info("job submitted", "job", job.Id, "participants", spec.Participants, "rounds", spec.Rounds, "by", who.Name)
	co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "job.submit", Object: job.Id,
		Detail: fmt.Sprintf("model %s, participants %v, rounds %d, secure aggregation %v", spec.GetModel(), spec.GetParticipants(), spec.GetRounds(), !spec.GetPlainAggregation())})
	return proto.Clone(job).(*fedscorepb.Job), nil
}

func newJobID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "job-" + now.UTC().Format("20060102-150405.000") + "-" + hex.EncodeToString(b[:])
}

// GetJob implements fedscoregrpc.JobsServer.
func (co *Coordinator) GetJob(ctx context.Context, req *fedscorepb.GetJobRequest) (*fedscorepb.Job, error) {
	return co.job(req.GetJobId())
}

func (co *Coordinator) job(id string) (*fedscorepb.Job, error) {
	co.mu.Lock()
	jr := co.jobs[id]
	vr := co.vjobs[id]
	co.mu.Unlock()
	if jr != nil {
		return jr.snapshot(), nil
	}
	if vr != nil {
		return vr.snapshot(), nil
	}
	j, err := co.cfg.Store.GetJob(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "coordinator: no job %q", id)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return j, nil
}

// ListJobs implements fedscoregrpc.JobsServer.
func (co *Coordinator) ListJobs(ctx context.Context, _ *fedscorepb.ListJobsRequest) (*fedscorepb.ListJobsResponse, error) {
	jobs, err := co.cfg.Store.ListJobs()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	for i, j := range jobs {
		co.mu.Lock()
		jr := co.jobs[j.GetId()]
		vr := co.vjobs[j.GetId()]
		co.mu.Unlock()
		if jr != nil {
			jobs[i] = jr.snapshot()
		} else if vr != nil {
			jobs[i] = vr.snapshot()
		}
	}
	return &fedscorepb.ListJobsResponse{Jobs: jobs}, nil
}

// WatchJob implements fedscoregrpc.JobsServer.
func (co *Coordinator) WatchJob(req *fedscorepb.GetJobRequest, stream grpc.ServerStreamingServer[fedscorepb.Job]) error {
	co.mu.Lock()
	jr := co.jobs[req.GetJobId()]
	co.mu.Unlock()
	var ch <-chan *fedscorepb.Job
	var cancel func()
	if jr != nil {
		ch, cancel = jr.watch()
	} else if vr := co.vjob(req.GetJobId()); vr != nil {
		ch, cancel = vr.watch()
	} else {
		j, err := co.job(req.GetJobId())
		if err != nil {
			return err
		}
		return stream.Send(j) // already finished
	}
	defer cancel()
	for {
		select {
		case j, ok := <-ch:
			if !ok {
				return nil
			}
			if err := stream.Send(j); err != nil {
				return err
			}
			if terminal(j.GetState()) {
				return nil
			}
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-co.ctx.Done():
			return status.Error(codes.Unavailable, "coordinator: shutting down")
		}
	}
}

// CancelJob implements fedscoregrpc.JobsServer.
func (co *Coordinator) CancelJob(ctx context.Context, req *fedscorepb.CancelJobRequest) (*fedscorepb.Job, error) {
	co.mu.Lock()
	jr := co.jobs[req.GetJobId()]
	co.mu.Unlock()
	if vr := co.vjob(req.GetJobId()); jr == nil && vr != nil {
		who, _ := IdentityFrom(ctx)
		reason := req.GetReason()
		if reason == "" {
			reason = "cancelled by " + who.Name
		}
		j, err := vr.cancel(reason)
		if err == nil {
			co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "job.cancel", Object: req.GetJobId(), Detail: reason})
		}
		return j, err
	}
	if jr == nil {
		j, err := co.job(req.GetJobId())
		if err != nil {
			return nil, err
		}
		return nil, status.Errorf(codes.FailedPrecondition, "coordinator: job %s already %s", j.GetId(), j.GetState())
	}
	who, _ := IdentityFrom(ctx)
	reason := req.GetReason()
	if reason == "" {
		reason = "cancelled by " + who.Name
	}
	co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "job.cancel", Object: req.GetJobId(), Detail: reason})
	ch, stop := jr.watch()
	defer stop()
	jr.post(round.Cancel{Reason: reason})
	for {
		select {
		case j, ok := <-ch:
			if !ok || terminal(j.GetState()) {
				return co.job(req.GetJobId())
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// GetModel implements fedscoregrpc.JobsServer.
func (co *Coordinator) GetModel(ctx context.Context, req *fedscorepb.GetJobRequest) (*fedscorepb.Model, error) {
	j, err := co.job(req.GetJobId())
	if err != nil {
		return nil, err
	}
	if j.GetModel() == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "coordinator: job %s has no model yet (state %s)", j.GetId(), j.GetState())
	}
	return j.GetModel(), nil
}

// startJob builds the job's round machine and its runner goroutine.
func (co *Coordinator) startJob(job *fedscorepb.Job) error {
	spec := job.GetSpec()
	cp := job.GetCheckpoint()
	var prog round.Program
	var err error
	if spec.GetModel() == program.ModelScore {
		prog, err = co.scoringProgram(job, cp.GetProgramState())
	} else {
		prog, err = program.New(spec, cp.GetProgramState())
	}
	if err != nil {
		return err
	}
	cfg := round.Config{
		Job:             job.GetId(),
		Eligible:        spec.GetParticipants(),
		MinParticipants: int(spec.GetMinParticipants()),
		PhaseTimeout:    time.Duration(spec.GetPhaseTimeoutMs()) * time.Millisecond,
		MaxAttempts:     int(spec.GetMaxAttempts()),
		Program:         prog,
	}
	if !spec.GetPlainAggregation() {
		cfg.Secure = &round.SecureConfig{Workers: runtime.GOMAXPROCS(0)}
	}
	var m *round.Machine
	if cp != nil {
		m, err = round.Restore(cfg, snapshotFromProto(job))
	} else {
		m, err = round.New(cfg)
	}
	if err != nil {
		return err
	}
	jr := &jobRun{
		co: co, m: m, prog: prog, job: proto.Clone(job).(*fedscorepb.Job),
		events:   make(chan round.Event, 1024),
		done:     make(chan struct{}),
		watchers: map[chan *fedscorepb.Job]struct{}{},
		log:      co.log.With("job", job.GetId()),
	}
	co.mu.Lock()
	co.jobs[job.GetId()] = jr
	co.mu.Unlock()
	co.wg.Add(1)
	go jr.run()
	for _, id := range co.connectedIDs() {
		jr.post(round.Join{Participant: id})
	}
	return nil
}

// audit appends a record when the coordinator keeps an audit log.
func (co *Coordinator) audit(r audit.Record) {
	if co.cfg.Audit == nil {
		return
	}
	if err := co.cfg.Audit.Append(r); err != nil {
		co.log.Error("audit log", "err", err)
	}
}

// IsRevoked reports whether an identity has been revoked; TLS handshakes
// consult it so a revoked certificate is refused before any call.
func (co *Coordinator) IsRevoked(name string) bool { return co.guard.isRevoked(name) }

// RevokeIdentity implements fedscoregrpc.AdminServer.
func (co *Coordinator) RevokeIdentity(ctx context.Context, req *fedscorepb.RevokeIdentityRequest) (*fedscorepb.RevokeIdentityResponse, error) {
	who, _ := IdentityFrom(ctx)
	name := req.GetName()
	if err := (pki.Identity{Name: name, Role: pki.Participant}).Validate(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	reason := req.GetReason()
	if reason == "" {
		reason = "revoked by " + who.Name
	}
	if err := co.cfg.Store.Revoke(name, reason); err != nil {
		return nil, status.Errorf(codes.Internal, "coordinator: persist revocation: %v", err)
	}
	co.guard.revoke(name, reason)
	co.mu.Lock()
	if s := co.sessions[name]; s != nil {
		s.close() // its stream ends now; a reconnect is refused
	}
	co.mu.Unlock()
	co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "identity.revoke", Object: name, Detail: reason})
	co.log.Warn("identity revoked", "name", name, "reason", reason, "by", who.Name)
	rev, err := co.cfg.Store.Revoked()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	out := &fedscorepb.RevokeIdentityResponse{}
	for n := range rev {
		out.Revoked = append(out.Revoked, n)
	}
	slices.Sort(out.Revoked)
	return out, nil
}

// ListParticipants implements fedscoregrpc.AdminServer.
func (co *Coordinator) ListParticipants(context.Context, *fedscorepb.ListParticipantsRequest) (*fedscorepb.ListParticipantsResponse, error) {
	co.mu.Lock()
	defer co.mu.Unlock()
	out := &fedscorepb.ListParticipantsResponse{}
	for _, p := range co.seen {
		out.Participants = append(out.Participants, proto.Clone(p).(*fedscorepb.ParticipantInfo))
	}
	slices.SortFunc(out.Participants, func(a, b *fedscorepb.ParticipantInfo) int { return strings.Compare(a.Id, b.Id) })
	return out, nil
}

func stepLabel(s fedscorepb.SecAggStep) string {
	return round.SecStep(s).String()
}

// payload is a reply's bytes: a secure-aggregation message, or a gather
// collection's answer.
func payload(res *fedscorepb.TaskResult) []byte {
	if res.GetSecaggStep() != fedscorepb.SecAggStep_SEC_AGG_STEP_NONE {
		return res.GetSecagg()
	}
	return res.GetGathered()
}

// Login implements fedscoregrpc.ConsoleServer: a ten-minute, one-time link
// for the caller's own identity.
func (co *Coordinator) Login(ctx context.Context, _ *fedscorepb.ConsoleLoginRequest) (*fedscorepb.ConsoleLoginResponse, error) {
	if co.cfg.ConsoleLogin == nil {
		return nil, status.Error(codes.Unavailable, "coordinator: no web console (start the coordinator with --http)")
	}
	who, _ := IdentityFrom(ctx)
	if co.cfg.Insecure {
		who = pki.Identity{Name: "insecure", Role: pki.Admin}
	}
	const ttl = 10 * time.Minute
	url, err := co.cfg.ConsoleLogin(who, ttl)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "console.login"})
	return &fedscorepb.ConsoleLoginResponse{Url: url, Expires: timestamppb.New(co.cfg.Now().Add(ttl))}, nil
}

// scoringProgram resolves a scoring job's model version (the champion when
// none is named) and makes sure the score store will take its scores.
func (co *Coordinator) scoringProgram(job *fedscorepb.Job, state []byte) (round.Program, error) {
	if state != nil {
		return program.NewScoring(nil, state)
	}
	rm, err := co.cfg.Store.Model(job.GetSpec().GetScoreVersion())
	if err != nil {
		return nil, fmt.Errorf("scoring job: %w", err)
	}
	if co.cfg.OnRegister != nil {
		co.cfg.OnRegister(rm)
	}
	plan, err := program.NewScorePlan(job.GetId(), rm, int(job.GetSpec().GetReasons()))
	if err != nil {
		return nil, err
	}
	return program.NewScoring(plan, nil)
}
